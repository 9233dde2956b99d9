"""Native deposits sent as a transaction's own value."""

import pytest
from eth_utils import to_checksum_address

from pools.indexer.base import BlockHeader, BlockWindow, ChainBlocks, WatchedPool, WatchedPools
from pools.indexer.native import NativeTransfer, NativeTxIndexer
from pools.models import Deposit
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, eth_transfer, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def test_a_transfer_to_a_pool_address_is_recorded_pending_with_its_sender_and_place(chain, cursor, eth_pool):
    alice, bob = fresh_address("alice"), fresh_address("bob")
    chain.fund([alice, bob])
    hashes = chain.block(
        [eth_transfer(alice, eth_pool.deposit_address, 3 * ETHER), eth_transfer(bob, eth_pool.deposit_address, ETHER)]
    )

    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    assert report.deposits_new == 2
    deposits = list(Deposit.objects.order_by("tx_index"))
    block = chain.w3.eth.get_block(chain.head())
    assert [(d.tx_hash, d.position, d.kind, d.sender, d.amount) for d in deposits] == [
        (hashes[0], "tx", Deposit.Kind.NATIVE_TX, alice, 3 * ETHER),
        (hashes[1], "tx", Deposit.Kind.NATIVE_TX, bob, ETHER),
    ]
    assert {d.block_number for d in deposits} == {block["number"]}
    assert {d.block_hash for d in deposits} == {block["hash"].to_0x_hex()}
    assert [d.tx_index for d in deposits] == [0, 1]
    assert {int(d.block_timestamp.timestamp()) for d in deposits} == {block["timestamp"]}
    assert {d.status for d in deposits} == {Deposit.Status.PENDING}, "two confirmations are not there yet"


def test_transfers_elsewhere_and_zero_value_transfers_are_not_deposits(chain, cursor, eth_pool):
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.block(
        [eth_transfer(alice, fresh_address("somebody else"), ETHER), eth_transfer(alice, eth_pool.deposit_address, 0)]
    )

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert not Deposit.objects.exists()


def test_a_draft_pool_is_not_watched_but_a_launched_one_still_is(chain, cursor, make_pool):
    """A deposit that arrives after the launch is seen, so that it can be owed back, never silently kept."""
    draft = make_pool("draft", status="draft")
    launched = make_pool("launched", status="launched")
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.block([eth_transfer(alice, draft.deposit_address, ETHER), eth_transfer(alice, launched.deposit_address, 1)])

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert list(Deposit.objects.values_list("pool_id", "amount")) == [(launched.pk, 1)]


def test_a_failed_transaction_is_not_a_deposit():
    """An EOA pool address cannot make a plain transfer fail on anvil, so the receipt is given."""
    pool = WatchedPool(id=7, address="0x" + "11" * 20, raise_asset="", confirmations=2)
    pools = WatchedPools(native={pool.address: pool})
    blocks = ChainBlocks(
        window=BlockWindow(5, 5), headers={5: BlockHeader(number=5, hash="0xb5", parent_hash="0xb4", timestamp=1)}
    )
    tx = {
        "hash": "0xaa",
        "from": "0x" + "22" * 20,
        "to": to_checksum_address(pool.address),
        "value": "0x1",
        "blockNumber": "0x5",
        "transactionIndex": "0x0",
    }

    def elements(status: str) -> list[NativeTransfer]:
        return [NativeTransfer(transaction=tx, receipt={"status": status, "blockHash": "0xb5"})]

    indexer = NativeTxIndexer()
    assert indexer.process_elements(pools=pools, blocks=blocks, elements=elements("0x0")) == []
    assert len(indexer.process_elements(pools=pools, blocks=blocks, elements=elements("0x1"))) == 1
