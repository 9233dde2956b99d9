"""Deposits found with their confirmations already on top are stored CONFIRMED and credited as they are stored
(ChainIndexer.store with credit_at_once): the same decisions, events and totals as storing them and recomputing."""

import random

import pytest
from eth_utils import to_checksum_address

from pools.indexer.base import checksum_address
from pools.models import Deposit, Pool, PoolEvent
from pools.services.crediting import pool_recompute_credits
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, eth_transfer, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


def _parts(pool: Pool) -> list[tuple]:
    rows = Deposit.objects.filter(pool=pool).order_by("block_number", "tx_index", "ordinal")
    return list(rows.values_list("sender", "amount", "status", "credited_amount", "refund_amount", "refund_reason"))


def _credited_events(pool: Pool) -> list[int]:
    events = PoolEvent.objects.filter(pool=pool, kind=PoolEvent.Kind.DEPOSIT_CREDITED).order_by("id")
    return [event.payload["deposit_id"] for event in events]


def test_deposits_found_deep_enough_are_credited_as_stored_exactly_as_a_recompute_would(chain, cursor, make_pool):
    pool = make_pool("capped", confirmations=2, soft_cap=0, max_contribution=3 * ETHER, hard_cap=5 * ETHER)
    alice, bob, carol = (fresh_address(name) for name in ("alice", "bob", "carol"))
    chain.fund([alice, bob, carol])
    chain.block([eth_transfer(alice, pool.deposit_address, 2 * ETHER), eth_transfer(bob, pool.deposit_address, ETHER)])
    chain.block([eth_transfer(alice, pool.deposit_address, 2 * ETHER)])  # 1 over alice's maximum
    chain.block([eth_transfer(carol, pool.deposit_address, 2 * ETHER)])  # 1 over the hard cap
    chain.mine(2)

    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    pool.refresh_from_db()
    assert report.deposits_new == report.confirmed == 4
    assert [(s, c, r, why) for s, _a, _st, c, r, why in _parts(pool)] == [
        (alice, 2 * ETHER, 0, ""),
        (bob, ETHER, 0, ""),
        (alice, ETHER, ETHER, Deposit.RefundReason.ABOVE_MAXIMUM),
        (carol, ETHER, ETHER, Deposit.RefundReason.HARD_CAP),
    ]
    assert {status for _s, _a, status, *_ in _parts(pool)} == {Deposit.Status.CONFIRMED}
    assert (pool.raised, pool.refund_owed) == (5 * ETHER, 2 * ETHER)
    assert pool.status == Pool.Status.CLOSED  # the hard cap closed it, as the recomputation does
    assert PoolEvent.objects.filter(pool=pool, kind=PoolEvent.Kind.POOL_CLOSED).count() == 1
    in_chain_order = list(Deposit.objects.filter(pool=pool).order_by("block_number", "tx_index").values_list("id"))
    assert _credited_events(pool) == [pk for (pk,) in in_chain_order]  # all four had something credited

    stored, events = _parts(pool), _credited_events(pool)
    pool_recompute_credits(pool_id=pool.pk)  # the usual way, from the rows: nothing to change
    pool.refresh_from_db()
    assert _parts(pool) == stored
    assert _credited_events(pool) == events
    assert (pool.raised, pool.refund_owed) == (5 * ETHER, 2 * ETHER)


def test_a_deposit_found_deep_enough_waits_for_an_older_one_still_pending(chain, cursor, make_pool):
    """The older deposit is confirmed by the same step: credited first, it takes the hard cap, as in chain order."""
    pool = make_pool("first-come", confirmations=2, soft_cap=0, hard_cap=ETHER)
    alice, bob = fresh_address("alice"), fresh_address("bob")
    chain.fund([alice, bob])
    chain.block([eth_transfer(alice, pool.deposit_address, ETHER)])
    index_chain(chain_id=ANVIL_CHAIN_ID)
    assert Deposit.objects.get().status == Deposit.Status.PENDING
    chain.block([eth_transfer(bob, pool.deposit_address, ETHER)])
    chain.mine(2)

    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    pool.refresh_from_db()
    assert report.confirmed == 2
    assert [(s, c, r, why) for s, _a, _st, c, r, why in _parts(pool)] == [
        (alice, ETHER, 0, ""),
        (bob, 0, ETHER, Deposit.RefundReason.HARD_CAP),
    ]
    assert pool.raised == ETHER
    assert len(_credited_events(pool)) == 1


def test_a_deposit_stored_already_is_neither_stored_nor_credited_twice(chain, cursor, make_pool):
    pool = make_pool("again", confirmations=0, soft_cap=0, hard_cap=10 * ETHER)
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.block([eth_transfer(alice, pool.deposit_address, ETHER)])
    index_chain(chain_id=ANVIL_CHAIN_ID)
    cursor.refresh_from_db()
    cursor.last_block -= 1  # as after a crash between two commits: the same window indexed again
    cursor.save(update_fields=["last_block"])

    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    pool.refresh_from_db()
    assert report.deposits_found == 1 and report.deposits_new == 0
    assert Deposit.objects.count() == 1 and pool.raised == ETHER
    assert len(_credited_events(pool)) == 1


def test_a_deposit_stored_at_another_height_does_not_stall_the_indexer(chain, cursor, make_pool):
    """A row with the same key at another block (a deep fork moved the transaction, the cursor was rewound by hand)
    is found by its key, not by the window's heights: the step goes on instead of rolling back for good."""
    pool = make_pool("moved", confirmations=0, soft_cap=0, hard_cap=10 * ETHER)
    alice = fresh_address("alice")
    chain.fund([alice])
    chain.block([eth_transfer(alice, pool.deposit_address, ETHER)])
    index_chain(chain_id=ANVIL_CHAIN_ID)
    Deposit.objects.update(block_number=10**6)  # the stored row sits outside the window indexed again
    cursor.refresh_from_db()
    cursor.last_block -= 1
    cursor.save(update_fields=["last_block"])

    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    pool.refresh_from_db()
    assert report.deposits_found == 1 and report.deposits_new == 0
    assert Deposit.objects.count() == 1 and pool.raised == ETHER
    assert len(_credited_events(pool)) == 1


def test_the_indexers_checksum_is_eip55():
    generator = random.Random(55)
    for _ in range(500):
        address = "0x" + "".join(generator.choice("0123456789abcdef") for _ in range(40))
        assert checksum_address(address) == to_checksum_address(address)
        assert checksum_address(address.upper().replace("0X", "0x")) == to_checksum_address(address)
    with pytest.raises(ValueError):
        checksum_address("0x1234")
