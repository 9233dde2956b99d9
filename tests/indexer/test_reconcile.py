"""Reconciliation: the pool address's balance against credited + owed back (− paid out)."""

import pytest

from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, USDC, contract_call, eth_transfer, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def test_a_pool_whose_deposits_are_all_seen_has_no_difference(chain, cursor, make_pool):
    pool = make_pool("capped", hard_cap=3 * ETHER, soft_cap=0)  # the part over the cap is owed, still held
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.block([eth_transfer(alice, pool.deposit_address, 5 * ETHER)])
    chain.mine(2)

    index_chain(chain_id=ANVIL_CHAIN_ID)

    pool.refresh_from_db()
    assert (pool.raised, pool.refund_owed) == (3 * ETHER, 2 * ETHER)
    assert pool.balance_difference == 0
    assert pool.balance_checked_at is not None


def test_ether_that_arrived_unseen_is_flagged_as_a_difference(chain, cursor, eth_pool):
    chain.rpc.call("anvil_setBalance", [eth_pool.deposit_address, hex(7 * ETHER)])  # no transaction to index
    chain.mine(3)

    index_chain(chain_id=ANVIL_CHAIN_ID)

    eth_pool.refresh_from_db()
    assert eth_pool.balance_difference == 7 * ETHER


def test_a_pending_deposit_is_on_neither_side(chain, cursor, eth_pool, usdc_pool, dev_chain):
    from chain.artifacts import load_artifact

    usdc = chain.w3.eth.contract(address=dev_chain.usdc, abi=load_artifact("TestUSDC").abi)
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.block([contract_call(usdc, "mint", [alice, 10 * USDC], sender=alice)])
    chain.block(
        [
            eth_transfer(alice, eth_pool.deposit_address, ETHER),
            contract_call(usdc, "transfer", [usdc_pool.deposit_address, 10 * USDC], sender=alice),
        ]
    )

    index_chain(chain_id=ANVIL_CHAIN_ID)  # one block on top of nothing: both deposits still pending

    for pool in (eth_pool, usdc_pool):
        pool.refresh_from_db()
        assert (pool.raised, pool.balance_difference) == (0, 0)
