"""Confirmations: nothing counts until the pool's confirmations are on top of it."""

import pytest

from pools.models import Deposit
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, eth_transfer, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def test_a_deposit_counts_only_after_the_pools_confirmations(chain, cursor, make_pool):
    pool = make_pool("slow", confirmations=3)
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.block([eth_transfer(alice, pool.deposit_address, 2 * ETHER)])

    for blocks_on_top in range(3):
        if blocks_on_top:
            chain.mine()
        index_chain(chain_id=ANVIL_CHAIN_ID)
        pool.refresh_from_db()
        assert Deposit.objects.get().status == Deposit.Status.PENDING
        assert pool.raised == 0, f"credited with {blocks_on_top} block(s) on top"

    chain.mine()
    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    pool.refresh_from_db()
    assert report.confirmed == 1
    assert Deposit.objects.get().status == Deposit.Status.CONFIRMED
    assert pool.raised == 2 * ETHER


def test_each_pool_waits_for_its_own_confirmations(chain, cursor, make_pool):
    quick, slow = make_pool("quick", confirmations=0), make_pool("slow", confirmations=5)
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.block([eth_transfer(alice, quick.deposit_address, ETHER), eth_transfer(alice, slow.deposit_address, ETHER)])

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert dict(Deposit.objects.values_list("pool_id", "status")) == {
        quick.id: Deposit.Status.CONFIRMED,
        slow.id: Deposit.Status.PENDING,
    }
