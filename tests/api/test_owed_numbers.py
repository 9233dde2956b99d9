"""Owed, paid and still owed, for a pool and for each deposit, as the API shows them in every state that refunds
something: a launch with over-cap parts, a raise that missed its soft cap, a cancelled raise.

On the real parts (anvil with the real Refunder and Launcher, the signer process): each test reads the public API
before and after the refunds are paid, and checks the numbers against what the depositors' balances received.
The unit tests at the end cover what the chain tests cannot reach cheaply: a refund paid in part.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from pools.models import Deposit, Launch, Pool, Refund
from pools.selectors.refunds import deposit_parts, pool_refund_numbers
from pools.services.launch import launch_request
from pools.services.pools import pool_cancel, pool_settle
from pools.services.refunds import refund_request
from tests.api.conftest import ETH
from tests.api.test_reads import make_deposit
from tests.factories import PoolFactory
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    assert_conserved,
    chain,
    chain_now,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    run_refunds,
    scheduled_pool,
)


def on_chain(test):
    """A test on the real chain, with the signer process (it commits: the signer and the tests share nothing)."""
    return pytest.mark.integration(pytest.mark.chain(pytest.mark.django_db(transaction=True)(test)))


def pool_numbers(pool: Pool) -> dict:
    """What the public API says of the pool: raised, refund_owed, and the refunds object, as ints."""
    body = APIClient().get(reverse("api-pool-detail", args=[pool.pk])).json()
    refunds = {name: int(value) for name, value in body["refunds"].items()}
    return {"raised": int(body["raised"]), "refund_owed": int(body["refund_owed"]), **refunds}


def deposit_numbers(pool: Pool) -> dict[str, tuple[int, int, str, int, int]]:
    """Per sender (one deposit each here): credited, refund, reason, paid, still owed, as the API lists them."""
    body = APIClient().get(reverse("api-pool-deposits", args=[pool.pk]), {"limit": 200}).json()
    return {
        d["sender"]: (
            int(d["credited_amount"]),
            int(d["refund_amount"]),
            d["refund_reason"],
            int(d["refund_paid"]),
            int(d["refund_still_owed"]),
        )
        for d in body["results"]
    }


def balances(driver, addresses: list[str]) -> list[int]:
    return [driver.w3.eth.get_balance(a) for a in addresses]


@on_chain
def test_after_a_launch_the_over_cap_parts_are_owed_then_paid(chain):  # noqa: F811
    pool = scheduled_pool(chain, soft_cap=5 * ETH, max_contribution=5 * ETH)
    whale, modest = deposit_from(chain, pool, [7 * ETH, 4 * ETH], at=pool.opens_at + timedelta(minutes=1), label="oc")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    launch_request(pool_id=pool.pk, requested_by="agent")
    assert run_launch(pool, chain=chain).step == Launch.Step.LAUNCHED

    launched = pool_numbers(pool)
    refund_request(pool_id=pool.pk, requested_by="test")  # the rows exist now, none paid: the same numbers
    requested = pool_numbers(pool)
    before = balances(chain, [whale, modest])
    run_refunds(pool)
    gained = [after - was for after, was in zip(balances(chain, [whale, modest]), before, strict=True)]

    owed = {"raised": 9 * ETH, "owed": 2 * ETH, "sending": 0, "set_aside": 0}
    assert launched == requested == {**owed, "refund_owed": 2 * ETH, "paid": 0, "still_owed": 2 * ETH}
    assert gained == [2 * ETH, 0]
    assert pool_numbers(pool) == {**owed, "refund_owed": 0, "paid": 2 * ETH, "still_owed": 0}
    assert deposit_numbers(pool) == {
        whale: (5 * ETH, 2 * ETH, "above_maximum", 2 * ETH, 0),
        modest: (4 * ETH, 0, "", 0, 0),
    }
    assert_conserved(chain, pool, deposited=11 * ETH)


@on_chain
def test_after_a_missed_soft_cap_nothing_is_credited_and_every_deposit_is_owed_then_paid(chain):  # noqa: F811
    pool = scheduled_pool(chain, soft_cap=50 * ETH, max_contribution=5 * ETH)
    amounts = [
        ETH,
        2 * ETH,
        7 * ETH,
    ]  # the last above the wallet maximum: 5 credited, 2 owed, while it may launch
    senders = deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="miss")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    open_numbers = pool_numbers(pool)

    pool = pool_settle(pool_id=pool.pk, confirmed_through=chain_now(chain))
    assert pool.status == Pool.Status.REFUNDING
    failed = pool_numbers(pool)
    failed_deposits = deposit_numbers(pool)
    before = balances(chain, senders)
    run_refunds(pool)
    gained = [after - was for after, was in zip(balances(chain, senders), before, strict=True)]

    assert open_numbers == {
        "raised": 8 * ETH, "refund_owed": 2 * ETH, "owed": 2 * ETH, "paid": 0, "still_owed": 2 * ETH, "sending": 0,
        "set_aside": 0,
    }  # fmt: skip
    assert failed == {
        "raised": 0, "refund_owed": 10 * ETH, "owed": 10 * ETH, "paid": 0, "still_owed": 10 * ETH, "sending": 0,
        "set_aside": 0,
    }  # fmt: skip
    assert failed_deposits == {
        sender: (0, amount, "pool_failed", 0, amount) for sender, amount in zip(senders, amounts, strict=True)
    }
    assert gained == amounts
    assert Pool.objects.get(pk=pool.pk).status == Pool.Status.REFUNDED
    assert pool_numbers(pool) == {
        "raised": 0, "refund_owed": 0, "owed": 10 * ETH, "paid": 10 * ETH, "still_owed": 0, "sending": 0,
        "set_aside": 0,
    }  # fmt: skip
    assert deposit_numbers(pool) == {
        sender: (0, amount, "pool_failed", amount, 0) for sender, amount in zip(senders, amounts, strict=True)
    }
    assert_conserved(chain, pool, deposited=sum(amounts))


@on_chain
def test_after_a_cancel_every_deposit_is_owed_then_paid(chain):  # noqa: F811
    pool = scheduled_pool(chain, soft_cap=5 * ETH)
    amounts = [3 * ETH, 4 * ETH]
    senders = deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="cancel")
    index_until_confirmed(chain)
    assert pool_numbers(pool)["raised"] == 7 * ETH

    pool = pool_cancel(pool_id=pool.pk, reason="The agent withdrew.")
    cancelled = pool_numbers(pool)
    refund_request(pool_id=pool.pk, requested_by="test")
    requested = pool_numbers(pool)
    before = balances(chain, senders)
    run_refunds(pool)
    gained = [after - was for after, was in zip(balances(chain, senders), before, strict=True)]

    assert cancelled == requested == {
        "raised": 0, "refund_owed": 7 * ETH, "owed": 7 * ETH, "paid": 0, "still_owed": 7 * ETH, "sending": 0,
        "set_aside": 0,
    }  # fmt: skip
    assert gained == amounts
    assert pool_numbers(pool) == {
        "raised": 0, "refund_owed": 0, "owed": 7 * ETH, "paid": 7 * ETH, "still_owed": 0, "sending": 0, "set_aside": 0,
    }  # fmt: skip
    assert deposit_numbers(pool) == {
        sender: (0, amount, "pool_failed", amount, 0) for sender, amount in zip(senders, amounts, strict=True)
    }
    assert_conserved(chain, pool, deposited=sum(amounts))


# --- without a chain ------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_refund_paid_in_part_counts_against_the_oldest_deposits_first_and_set_aside_is_still_owed():
    pool = PoolFactory(status=Pool.Status.REFUNDING)
    sender = "0x" + f"{2:040x}"
    first = make_deposit(pool, 1, sender=sender, amount=3 * ETH, credited_amount=3 * ETH)
    second = make_deposit(pool, 2, sender=sender, amount=2 * ETH, credited_amount=2 * ETH)
    other = make_deposit(pool, 3, amount=ETH, credited_amount=ETH)
    # One refund of 5 ETH for both of the sender's deposits, in two parts (a value cap): the first part paid.
    for amount, status in [(4 * ETH, Refund.Status.PAID), (ETH, Refund.Status.SENDING)]:
        Refund.objects.create(pool=pool, recipient=sender, amount=amount, status=status).deposits.set([first, second])
    Refund.objects.create(pool=pool, recipient=other.sender, amount=ETH, status=Refund.Status.SET_ASIDE).deposits.set(
        [other]
    )

    numbers = pool_refund_numbers(pool=pool)
    parts = deposit_parts(deposits=Deposit.objects.filter(pool=pool))

    assert (numbers.owed, numbers.paid, numbers.still_owed) == (6 * ETH, 4 * ETH, 2 * ETH)
    assert (numbers.sending, numbers.set_aside) == (ETH, ETH)
    assert [(parts[d.pk].paid, parts[d.pk].still_owed) for d in (first, second, other)] == [
        (3 * ETH, 0),
        (ETH, ETH),
        (0, ETH),
    ]


@pytest.mark.django_db
def test_a_deposit_not_in_a_refund_yet_is_owed_and_counted_in_the_pools_numbers():
    pool = PoolFactory(status=Pool.Status.LAUNCHED, raised=4 * ETH)
    make_deposit(pool, 1, amount=5 * ETH, credited_amount=4 * ETH, refund_amount=ETH, refund_reason="hard_cap")
    make_deposit(pool, 2, amount=ETH, credited_amount=0, refund_amount=ETH, refund_reason="closed")

    body = APIClient().get(reverse("api-pool-detail", args=[pool.pk])).json()

    assert body["raised"] == str(4 * ETH)
    assert body["refunds"] == {
        "owed": str(2 * ETH), "paid": "0", "still_owed": str(2 * ETH), "sending": "0", "set_aside": "0",
    }  # fmt: skip
    assert body["refund_owed"] == str(2 * ETH)


@pytest.mark.django_db
def test_a_deposit_owed_back_in_full_anyway_keeps_its_reason_when_the_raise_fails():
    pool = PoolFactory(status=Pool.Status.CANCELLED, raised=ETH)
    make_deposit(pool, 1, credited_amount=ETH)
    make_deposit(pool, 2, credited_amount=0, refund_amount=ETH, refund_reason="not_open")
    make_deposit(pool, 3, sender="0x" + "00" * 20, credited_amount=0, refund_reason="no_sender")

    results = APIClient().get(reverse("api-pool-deposits", args=[pool.pk])).json()["results"]

    assert [(d["credited_amount"], d["refund_amount"], d["refund_reason"]) for d in results] == [
        ("0", str(ETH), "pool_failed"),
        ("0", str(ETH), "not_open"),
        ("0", "0", "no_sender"),  # nobody to pay back
    ]
    assert APIClient().get(reverse("api-pool-detail", args=[pool.pk])).json()["raised"] == "0"
