"""Refunds always finish: whatever arrives at a pool address and whatever the network's fees do, a real Celery worker
and the signer process pay every owed part back, to the wei, with no admin action.

Each test builds the stuck case on anvil (with the real Refunder), hands the refunds to a worker process as the beat
task would (`refund_request` enqueues the job), waits until nothing is left to pay, and checks every depositor's
balance and the conservation of the raise asset.
"""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.db import connections
from django.db.models import F
from django.test import override_settings

from chain.artifacts import load_artifact
from chain.client import chain_deployment
from pools.models import ChainTransaction, Deposit, Launch, Pool, PoolEvent, Refund
from pools.services.launch import launch_request
from pools.services.pools import pool_settle
from pools.services.refunds import refund_request, refund_set_aside, refunds_advance
from pools.signer import signer_client
from tests.indexer.support import ETHER, USDC, ChainDriver, fresh_address
from tests.launch.test_crash_recovery import worker_env
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    assert_conserved,
    chain,
    chain_now,
    close_raise,
    deposit_from,
    index_until_confirmed,
    scheduled_pool,
)
from tests.processes import RunningProcess, start_celery_worker

pytestmark = [pytest.mark.integration, pytest.mark.chain]

TOKEN_GAS = 120_000
WORKER_DEADLINE_SECONDS = 240


def start_worker(tmp_path, **env: str) -> RunningProcess:
    return start_celery_worker(log_dir=tmp_path, env={**worker_env(tmp_path / "never", crash_at=""), **env})


def wait_for(condition, *, worker: RunningProcess, what: str, seconds: float = WORKER_DEADLINE_SECONDS) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        connections.close_all()  # a fresh read of what the worker wrote
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds} s:\n{worker.log()[-6000:]}")


def paid(pool: Pool) -> int:
    return Refund.objects.filter(pool=pool, status=Refund.Status.PAID).count()


def unpaid(pool: Pool) -> int:
    return Refund.objects.filter(pool=pool, status__in=[Refund.Status.OWED, Refund.Status.SENDING]).count()


def refunded_by_a_worker(pool: Pool, tmp_path) -> Pool:
    worker = start_worker(tmp_path)
    try:
        return refunded_by_worker(pool, worker)
    finally:
        worker.stop()


def refunded_by_worker(pool: Pool, worker: RunningProcess) -> Pool:
    """Hand the refunds to the worker (as resume_jobs does); wait until every part is paid and, for a refunded
    raise, the pool has left REFUNDING (the job marks it REFUNDED a moment after the last batch is seen paid)."""
    refund_request(pool_id=pool.pk, requested_by="test")

    def settled() -> bool:
        paid = Refund.objects.filter(pool=pool).exists() and unpaid(pool) == 0
        return paid and Pool.objects.get(pk=pool.pk).status != Pool.Status.REFUNDING

    wait_for(settled, worker=worker, what="refunds")
    return Pool.objects.get(pk=pool.pk)


def failed_pool(driver: ChainDriver, amounts: list[int], *, label: str, **fields) -> tuple[Pool, list[str]]:
    pool = scheduled_pool(driver, soft_cap=500 * ETHER, hard_cap=1000 * ETHER, max_contribution=0, **fields)
    senders = deposit_from(driver, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label=label)
    index_until_confirmed(driver)
    return pool, senders


def settle_failed(driver: ChainDriver, pool: Pool) -> Pool:
    pool = close_raise(driver, pool)
    pool = pool_settle(pool_id=pool.pk, confirmed_through=chain_now(driver))
    assert pool.status == Pool.Status.REFUNDING, pool.status_reason
    return pool


@pytest.mark.django_db(transaction=True)
def test_eth_sent_by_selfdestruct_is_refunded_with_the_rest(chain, tmp_path):  # noqa: F811
    """The indexer credits a SELFDESTRUCT's value to the contract that died; the signer proves it as a deposit too,
    so its refund goes in a batch like any other instead of being refused on every run."""
    pool, senders = failed_pool(chain, [ETHER, 2 * ETHER], label="sd")
    deployer = fresh_address("sd-deployer")
    chain.fund([deployer], wei=10 * ETHER)
    # Initcode `PUSH20 pool; SELFDESTRUCT`: created and destroyed in one transaction, its value goes to the pool.
    chain.block(
        [{"from": deployer, "data": "0x73" + pool.deposit_address.lower()[2:] + "ff", "value": ETHER // 2,
          "gas": 100_000}],
        timestamp=int((pool.opens_at + timedelta(minutes=2)).timestamp()),
    )  # fmt: skip
    index_until_confirmed(chain)
    destroyed = Deposit.objects.get(pool=pool, kind=Deposit.Kind.NATIVE_INTERNAL)
    assert destroyed.amount == ETHER // 2 and destroyed.position.startswith("trace:")
    pool = settle_failed(chain, pool)
    recipients = [*senders, destroyed.sender]
    before = [chain.w3.eth.get_balance(r) for r in recipients]

    pool = refunded_by_a_worker(pool, tmp_path)

    assert pool.status == Pool.Status.REFUNDED, pool.status_reason
    gained = [chain.w3.eth.get_balance(r) - b for r, b in zip(recipients, before, strict=True)]
    assert gained == [ETHER, 2 * ETHER, ETHER // 2]
    assert_conserved(chain, pool, deposited=3 * ETHER + ETHER // 2)


@pytest.mark.django_db(transaction=True)
def test_a_whales_excess_and_late_deposits_over_the_hard_cap_are_paid_over_several_transactions(chain, tmp_path):  # noqa: F811
    """The value cap of one transaction is the pool's hard cap (20 ETH here). A whale sends 50 ETH against a 5 ETH
    wallet maximum, and after the cap is full three late deposits add up to 45 ETH: 90 ETH owed back, each batch
    within 20 ETH, the whale's 45 ETH in three parts."""
    pool = scheduled_pool(chain, soft_cap=10 * ETHER, hard_cap=20 * ETHER, max_contribution=5 * ETHER)
    opened = pool.opens_at + timedelta(minutes=1)
    whale, *fillers = deposit_from(chain, pool, [50 * ETHER, 5 * ETHER, 5 * ETHER, 5 * ETHER], at=opened, label="wh")
    late = deposit_from(chain, pool, [15 * ETHER] * 3, at=opened + timedelta(minutes=1), label="late")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    assert pool.raised == 20 * ETHER and pool.status == Pool.Status.CLOSED
    owed = {whale: 45 * ETHER, **dict.fromkeys(late, 15 * ETHER)}
    before = {who: chain.w3.eth.get_balance(who) for who in owed}

    worker = start_worker(tmp_path)
    try:
        launch_request(pool_id=pool.pk, requested_by="agent")
        wait_for(lambda: Launch.objects.get(pool=pool).step == Launch.Step.LAUNCHED, worker=worker, what="the launch")
        pool = refunded_by_worker(pool, worker)
    finally:
        worker.stop()

    assert pool.status == Pool.Status.LAUNCHED
    assert {who: chain.w3.eth.get_balance(who) - b for who, b in before.items()} == owed
    whale_parts = Refund.objects.filter(pool=pool, recipient=whale).order_by("id")
    assert [r.amount for r in whale_parts] == [20 * ETHER, 20 * ETHER, 5 * ETHER]
    assert len({r.transaction.tx_hash for r in whale_parts}) == 3  # one part per transaction
    for refund in Refund.objects.filter(pool=pool).select_related("transaction"):
        assert refund.status == Refund.Status.PAID
        assert refund.transaction.value <= pool.hard_cap
    assert_conserved(chain, pool, deposited=50 * ETHER + 15 * ETHER + 45 * ETHER)


@pytest.mark.django_db(transaction=True)
def test_a_token_minted_to_the_pool_is_set_apart_and_the_depositors_are_refunded(chain, tmp_path):  # noqa: F811
    """An ERC-20 minted straight to the pool address (a Transfer from address(0)) has nobody to pay back: it is
    neither credited nor owed, shown as such, and never put in a batch (the Refunder would revert it whole)."""
    usdc = chain.w3.eth.contract(address=chain_deployment().usdc, abi=load_artifact("TestUSDC").abi)
    pool = scheduled_pool(
        chain,
        raise_asset=usdc.address,
        raise_asset_symbol="USDC",
        raise_asset_decimals=6,
        soft_cap=500 * USDC,
        hard_cap=1000 * USDC,
        max_contribution=0,
    )
    depositors = [fresh_address(f"mint-{i}") for i in range(2)]
    amounts = [100 * USDC, 40 * USDC]
    chain.fund(depositors, wei=ETHER)
    owner = chain.anvil.account(0).address
    at = int((pool.opens_at + timedelta(minutes=1)).timestamp())
    chain.block(
        [{"from": owner, "to": usdc.address, "data": usdc.encode_abi("mint", args=[d, a]), "gas": TOKEN_GAS}
         for d, a in zip(depositors, amounts, strict=True)]
    )  # fmt: skip
    chain.block(
        [{"from": d, "to": usdc.address, "data": usdc.encode_abi("transfer", args=[pool.deposit_address, a]),
          "gas": TOKEN_GAS} for d, a in zip(depositors, amounts, strict=True)]
        + [{"from": owner, "to": usdc.address, "data": usdc.encode_abi("mint", args=[pool.deposit_address, 7 * USDC]),
            "gas": TOKEN_GAS}],
        timestamp=at,
    )  # fmt: skip
    index_until_confirmed(chain)
    minted = Deposit.objects.get(pool=pool, sender__iexact="0x" + "00" * 20)
    assert (minted.credited_amount, minted.refund_amount, minted.refund_reason) == (0, 0, "no_sender")
    assert Pool.objects.get(pk=pool.pk).raised == 140 * USDC
    pool = settle_failed(chain, pool)

    pool = refunded_by_a_worker(pool, tmp_path)

    assert pool.status == Pool.Status.REFUNDED, pool.status_reason
    assert [usdc.functions.balanceOf(d).call() for d in depositors] == amounts
    assert usdc.functions.balanceOf(pool.deposit_address).call() == 7 * USDC  # the mint stays where it landed
    assert not Refund.objects.filter(pool=pool, recipient__iexact="0x" + "00" * 20).exists()


@pytest.mark.django_db(transaction=True)
def test_a_fee_spike_in_the_middle_of_a_refund_run_waits_then_finishes_by_itself(chain, tmp_path):  # noqa: F811
    """Batches of two; after the first is paid the base fee jumps far above CHAIN_MAX_FEE_PER_GAS_WEI (500 gwei), so
    nothing is priced. The job waits and says why, then, once fees fall, finishes on its own."""
    amounts = [ETHER + n for n in range(6)]
    pool, senders = failed_pool(chain, amounts, label="spike")
    pool = settle_failed(chain, pool)
    before = [chain.w3.eth.get_balance(s) for s in senders]

    # The first batch (of REFUND_BATCH_SIZE=2) is sent and paid before the spike, as a worker would have.
    with override_settings(REFUND_BATCH_SIZE=2):
        refund_request(pool_id=pool.pk, requested_by="test")
        while Refund.objects.filter(pool=pool, status=Refund.Status.SENDING).exists() or not paid(pool):
            refunds_advance(pool_id=pool.pk)
    assert paid(pool) == 2
    # maxFee 2 x base passes the app's 500 gwei cap above 250 gwei; 5000 gwei is far past it.
    chain.anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(5000 * 10**9)])
    chain.mine()

    worker = start_worker(tmp_path, REFUND_BATCH_SIZE="2")
    try:
        refund_request(pool_id=pool.pk, requested_by="resume_jobs")  # enqueues the job, as the beat task does
        wait_for(lambda: Pool.objects.get(pk=pool.pk).waiting_code == "fees_too_high", worker=worker,
                 what="the wait for fees")  # fmt: skip
        waiting = Pool.objects.get(pk=pool.pk)
        assert "Waiting for fees to come down" in waiting.waiting_reason and waiting.waiting_since is not None
        event = PoolEvent.objects.get(pool=pool, kind=PoolEvent.Kind.POOL_REFUNDS_WAITING)
        assert event.payload["code"] == "fees_too_high"
        time.sleep(5)  # the job keeps waiting while fees are high: nothing is sent at a loss
        assert paid(pool) == 2 and not Refund.objects.filter(pool=pool, transaction__isnull=False, status="owed")
        chain.mine(80)  # empty blocks: the base fee falls by an eighth each
        wait_for(lambda: unpaid(pool) == 0, worker=worker, what="the rest of the refunds")
    finally:
        worker.stop()

    pool = Pool.objects.get(pk=pool.pk)
    assert pool.status == Pool.Status.REFUNDED, pool.status_reason
    assert (pool.waiting_code, pool.waiting_since) == ("", None)
    assert [chain.w3.eth.get_balance(s) - b for s, b in zip(senders, before, strict=True)] == amounts
    assert_conserved(chain, pool, deposited=sum(amounts))


@pytest.mark.django_db(transaction=True)
def test_a_refund_the_signer_will_not_sign_waits_with_its_reason_until_set_aside_then_the_rest_are_paid(chain):  # noqa: F811
    """The web tier asks 1 wei more than one depositor is owed (a bug, or an attacker holding the web tier): the
    signer refuses the batch before signing, the unsigned transactions are given up (their nonces reused) and the job
    says why it waits. An admin sets that refund aside with a note; the others are paid, the pool is refunded."""
    amounts = [ETHER, 2 * ETHER, 3 * ETHER]
    pool, senders = failed_pool(chain, amounts, label="aside")
    pool = settle_failed(chain, pool)
    before = [chain.w3.eth.get_balance(s) for s in senders]
    refund_request(pool_id=pool.pk, requested_by="test")
    bad = Refund.objects.get(pool=pool, recipient=senders[1])
    Refund.objects.filter(pk=bad.pk).update(amount=F("amount") + 1)

    for _ in range(3):
        refunds_advance(pool_id=pool.pk)

    pool.refresh_from_db()
    assert pool.waiting_code == "signer_not_evidenced", pool.waiting_reason
    assert paid(pool) == 0 and unpaid(pool) == 3
    abandoned = ChainTransaction.objects.filter(pool=pool, purpose=ChainTransaction.Purpose.REFUND)
    assert abandoned.exists() and all(tx.raw_tx == "" and "abandoned" in tx.error for tx in abandoned)
    assert chain.w3.eth.get_transaction_count(pool.deposit_address) == 0  # nothing was signed, nothing left

    refund_set_aside(refund_id=bad.pk, note="asked 1 wei more than owed: look into it", by="admin")
    for _ in range(10):
        if refunds_advance(pool_id=pool.pk) == 0:
            break

    pool.refresh_from_db()
    assert pool.status == Pool.Status.REFUNDED and "except 1 refund(s) set aside" in pool.status_reason
    gained = [chain.w3.eth.get_balance(s) - b for s, b in zip(senders, before, strict=True)]
    assert gained == [ETHER, 0, 3 * ETHER]
    bad.refresh_from_db()
    assert (bad.status, bad.set_aside_by) == (Refund.Status.SET_ASIDE, "admin")
    entry = signer_client().log_entries(after=bad.set_aside_log_index - 1, limit=1)["entries"][0]
    assert (entry["kind"], entry["payload"]["recipient"]) == ("refund_set_aside", senders[1])
    assert_conserved(chain, pool, deposited=sum(amounts))
