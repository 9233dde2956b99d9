"""Reorganisations: found by block hash, rolled back to the fork point, deposits un-credited."""

import pytest

from pools.indexer.errors import ReorgTooDeep
from pools.indexer.reorg import check_reorgs
from pools.models import Deposit, IndexedBlock, IndexerCursor
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, eth_transfer, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def test_no_reorg_is_found_while_the_chain_keeps_our_blocks(chain, cursor, eth_pool):
    chain.mine(5)
    index_chain(chain_id=ANVIL_CHAIN_ID)
    chain.mine(3)

    assert check_reorgs(rpc=chain.rpc, cursor=IndexerCursor.objects.get(), head=chain.head()) is None


def test_a_three_block_reorg_uncredits_a_confirmed_deposit_and_reindexes(chain, cursor, eth_pool):
    alice, bob = fresh_address("alice"), fresh_address("bob")
    chain.fund([alice, bob])
    chain.block([eth_transfer(alice, eth_pool.deposit_address, 2 * ETHER)])
    (reorged,) = chain.block([eth_transfer(bob, eth_pool.deposit_address, 3 * ETHER)])
    doomed_block = chain.head()
    chain.mine(2)
    index_chain(chain_id=ANVIL_CHAIN_ID)
    eth_pool.refresh_from_db()
    assert Deposit.objects.get(tx_hash=reorged).status == Deposit.Status.CONFIRMED
    assert eth_pool.raised == 5 * ETHER

    chain.anvil.rpc("anvil_reorg", [3, []])  # replaces the deposit's block and the two on top with empty ones
    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    assert report.reorgs == [doomed_block]
    assert not Deposit.objects.filter(tx_hash=reorged).exists()
    eth_pool.refresh_from_db()
    assert eth_pool.raised == 2 * ETHER
    cursor = IndexerCursor.objects.get()
    assert cursor.last_block == chain.head()
    new_hash = chain.w3.eth.get_block(doomed_block)["hash"].to_0x_hex()
    assert IndexedBlock.objects.get(number=doomed_block).hash == new_hash


def test_a_node_behind_our_cursor_is_waited_for_and_new_blocks_in_place_of_ours_are_a_reorg(chain, cursor, eth_pool):
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.mine()
    chain.block([eth_transfer(alice, eth_pool.deposit_address, ETHER)])
    index_chain(chain_id=ANVIL_CHAIN_ID)
    indexed_to = IndexerCursor.objects.get().last_block

    chain.anvil.rpc("anvil_rollback", [1])  # the node's head is now one below our cursor, as a lagging node's
    index_chain(chain_id=ANVIL_CHAIN_ID)
    assert Deposit.objects.exists(), "a node that is merely behind is waited for"
    assert IndexerCursor.objects.get().last_block == indexed_to

    chain.mine()  # a different block where the deposit's was
    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    assert report.reorgs == [indexed_to]
    assert not Deposit.objects.exists()
    assert IndexerCursor.objects.get().last_block == chain.head()


def test_a_deposit_that_comes_back_in_another_block_is_recorded_there(chain, cursor, eth_pool):
    alice = fresh_address("alice")
    chain.fund([alice])
    (tx,) = chain.block([eth_transfer(alice, eth_pool.deposit_address, ETHER)])
    index_chain(chain_id=ANVIL_CHAIN_ID)
    raw = chain.w3.eth.get_transaction(tx)

    chain.anvil.rpc("anvil_rollback", [1])
    chain.mine()
    chain.block([eth_transfer(alice, raw["to"], ETHER)])
    index_chain(chain_id=ANVIL_CHAIN_ID)

    (deposit,) = Deposit.objects.all()
    assert deposit.block_number == chain.head()
    assert deposit.block_hash == chain.w3.eth.get_block("latest")["hash"].to_0x_hex()


def test_a_fork_below_every_kept_hash_stops_the_indexer(chain, cursor, eth_pool):
    chain.mine(3)
    index_chain(chain_id=ANVIL_CHAIN_ID)
    cursor = IndexerCursor.objects.get()
    IndexedBlock.objects.update(hash="0x" + "00" * 32)  # as if every kept block had been replaced
    IndexerCursor.objects.update(first_block=0)  # with history below them that cannot be checked

    with pytest.raises(ReorgTooDeep):
        index_chain(chain_id=ANVIL_CHAIN_ID)  # nothing is forgotten: an operator has to look
    assert cursor.last_block == IndexerCursor.objects.get().last_block
