from datetime import timedelta

import pytest
from django.utils import timezone
from web3 import Web3

from pools.models import Deposit, Pool
from pools.services.crediting import pool_recompute_credits
from pools.services.pools import (
    InvalidPoolConfiguration,
    InvalidTransition,
    pool_cancel,
    pool_close_early,
    pool_schedule,
    pool_set_whitelist,
    pool_settle,
    pools_close_due,
    pools_open_due,
)
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


def make_deposit(pool, *, sender, amount, minutes_after_open=5, n=0, status=Deposit.Status.CONFIRMED):
    return Deposit.objects.create(
        pool=pool,
        chain_id=pool.chain_id,
        tx_hash="0x" + f"{n:064x}",
        position="tx",
        kind=Deposit.Kind.NATIVE_TX,
        sender=sender,
        amount=amount,
        block_number=100 + n,
        block_hash="0x" + "00" * 32,
        tx_index=0,
        ordinal=0,
        block_timestamp=pool.opens_at + timedelta(minutes=minutes_after_open),
        status=status,
    )


@pytest.mark.chain
@pytest.mark.integration
def test_scheduling_gets_a_deposit_address_from_the_signer_once(signer_stack):
    pool = PoolFactory(status=Pool.Status.DRAFT)

    scheduled = pool_schedule(pool_id=pool.pk)
    again = pool_schedule(pool_id=pool.pk)

    assert scheduled.status == Pool.Status.SCHEDULED
    assert Web3.is_checksum_address(scheduled.deposit_address)
    assert again.deposit_address == scheduled.deposit_address
    assert scheduled.derivation_path


@pytest.mark.chain
@pytest.mark.integration
def test_two_pools_get_different_deposit_addresses(signer_stack):
    first = pool_schedule(pool_id=PoolFactory(status=Pool.Status.DRAFT).pk)
    second = pool_schedule(pool_id=PoolFactory(status=Pool.Status.DRAFT).pk)

    assert first.deposit_address != second.deposit_address


def test_scheduling_an_invalid_configuration_is_refused_with_every_reason():
    pool = PoolFactory(
        status=Pool.Status.DRAFT,
        liquidity_supply_bps=6_000,  # 6,000 + 4,000 + 1,000 > 10,000
        token_symbol="bad symbol",
        opens_at=timezone.now() - timedelta(minutes=1),
    )

    with pytest.raises(InvalidPoolConfiguration) as refused:
        pool_schedule(pool_id=pool.pk)

    assert {"agent_supply_bps", "token_symbol", "opens_at"} <= set(refused.value.details)
    pool.refresh_from_db()
    assert pool.status == Pool.Status.DRAFT and not pool.deposit_address


def test_an_invalid_transition_is_refused_with_a_reason():
    pool = PoolFactory(status=Pool.Status.LAUNCHED)

    with pytest.raises(InvalidTransition, match="launched pool cannot become cancelled"):
        pool_cancel(pool_id=pool.pk)


def test_pools_open_and_close_on_time():
    pool = PoolFactory(status=Pool.Status.SCHEDULED)

    assert pools_open_due(now=pool.opens_at - timedelta(seconds=1)) == []
    assert pools_open_due(now=pool.opens_at) == [pool.pk]
    assert pools_close_due(now=pool.closes_at) == [pool.pk]
    pool.refresh_from_db()
    assert pool.status == Pool.Status.CLOSED


def test_recompute_credits_totals_and_closes_the_pool_at_the_hard_cap():
    pool = PoolFactory(hard_cap=100, soft_cap=50, max_contribution=0, min_contribution=0)
    make_deposit(pool, sender="0x" + "a" * 40, amount=60, n=1)
    make_deposit(pool, sender="0x" + "b" * 40, amount=60, n=2)
    make_deposit(pool, sender="0x" + "c" * 40, amount=999, n=3, status=Deposit.Status.PENDING)

    pool = pool_recompute_credits(pool_id=pool.pk)

    assert (pool.raised, pool.refund_owed) == (100, 20)
    assert pool.status == Pool.Status.CLOSED
    assert pool_recompute_credits(pool_id=pool.pk).raised == 100  # idempotent


def test_a_closed_pool_that_missed_its_soft_cap_goes_to_refunding_once_the_raise_is_final():
    pool = PoolFactory(status=Pool.Status.CLOSED, soft_cap=100, hard_cap=200)
    make_deposit(pool, sender="0x" + "a" * 40, amount=60, n=1)
    pool_recompute_credits(pool_id=pool.pk)

    not_yet = pool_settle(pool_id=pool.pk, confirmed_through=pool.closes_at - timedelta(seconds=1))
    final = pool_settle(pool_id=pool.pk, confirmed_through=pool.closes_at)

    assert not_yet.status == Pool.Status.CLOSED
    assert final.status == Pool.Status.REFUNDING


def test_closing_early_owes_back_what_arrives_after_the_early_close():
    pool = PoolFactory(hard_cap=1_000, soft_cap=1, min_contribution=0, max_contribution=0)
    make_deposit(pool, sender="0x" + "a" * 40, amount=10, minutes_after_open=5, n=1)
    late = make_deposit(pool, sender="0x" + "b" * 40, amount=10, minutes_after_open=50, n=2)

    pool = pool_close_early(pool_id=pool.pk, now=pool.opens_at + timedelta(minutes=30))

    late.refresh_from_db()
    assert (pool.raised, pool.refund_owed) == (10, 10)
    assert late.refund_reason == Deposit.RefundReason.CLOSED


def test_the_whitelist_is_stored_checksummed_and_frozen_after_scheduling():
    pool = PoolFactory(status=Pool.Status.DRAFT)

    count = pool_set_whitelist(pool_id=pool.pk, addresses=["0x" + "ab" * 20, "0x" + "AB" * 20])
    Pool.objects.filter(pk=pool.pk).update(status=Pool.Status.SCHEDULED)

    assert count == 1
    with pytest.raises(InvalidTransition):
        pool_set_whitelist(pool_id=pool.pk, addresses=[])
