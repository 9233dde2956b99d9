"""Whole lifecycles on the real parts: PostgreSQL, anvil with the real Uniswap V2 contracts, the signer process.

Each test drives the services as the workers would (the Celery tasks only call these), and ends by checking that
the raise asset is conserved to the wei.
"""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connections

from chain.artifacts import load_artifact
from chain.contracts import decode_launched, encode_claim
from chain.devnet import refresh_dev_price_feeds
from chain.rpc import JsonRpc
from pools.models import Allocation, ChainTransaction, Deposit, Launch, Pool, Refund
from pools.services.indexing import index_chain
from pools.services.launch import launch_advance, launch_give_up, launch_request
from pools.services.pools import pool_close_early, pool_schedule, pool_settle, pools_close_due, pools_open_due
from pools.services.refunds import refund_request, refunds_advance
from tests.anvil import ANVIL_CHAIN_ID
from tests.factories import AgentFactory, PoolFactory
from tests.indexer.support import ETHER, ChainDriver, fresh_address

pytestmark = [pytest.mark.integration, pytest.mark.chain]

CONFIRMATIONS = 2
WEBHOOK_EVENTS = ("deposit.credited", "pool.closed", "pool.launched", "pool.refunded")
NATIVE_GAS = 21_000


@pytest.fixture
def chain(signer_stack, anvil, chain_snapshot) -> ChainDriver:
    return ChainDriver(anvil=anvil, rpc=JsonRpc(url=anvil.rpc_url, timeout=30))


def chain_now(chain: ChainDriver) -> datetime:
    return datetime.fromtimestamp(chain.timestamp(), tz=UTC)


def scheduled_pool(chain: ChainDriver, **fields) -> Pool:
    """A pool opening a minute from now (by the later of the wall and chain clocks), scheduled with the signer."""
    opens = max(datetime.now(tz=UTC), chain_now(chain)) + timedelta(minutes=1)
    values = dict(
        status=Pool.Status.DRAFT,
        agent=AgentFactory(wallet_address=fresh_address("agent")),
        opens_at=opens,
        closes_at=opens + timedelta(days=1),
        soft_cap=10 * ETHER,
        hard_cap=200 * ETHER,
        max_contribution=5 * ETHER,
        confirmations=CONFIRMATIONS,
        fee_recipient=fresh_address("fee"),
        treasury_address=fresh_address("treasury"),
        agent_cliff_seconds=0,
        agent_vesting_seconds=86_400,
    )
    pool = PoolFactory(**{**values, **fields})
    # The indexer starts from the current head: only what the test mines is indexed.
    from pools.models import IndexerCursor

    head = chain.head()
    IndexerCursor.objects.get_or_create(chain_id=ANVIL_CHAIN_ID, defaults={"last_block": head, "first_block": head + 1})
    pool = pool_schedule(pool_id=pool.pk)
    assert pools_open_due(now=pool.opens_at) == [pool.pk]
    return Pool.objects.get(pk=pool.pk)


def deposit_from(chain: ChainDriver, pool: Pool, amounts: list[int], *, at: datetime, label: str) -> list[str]:
    senders = [fresh_address(f"{label}-{i}") for i in range(len(amounts))]
    chain.fund(senders, wei=100 * ETHER)
    txs = [
        {"from": s, "to": pool.deposit_address, "value": a, "gas": NATIVE_GAS, "gasPrice": 10 * 10**9}
        for s, a in zip(senders, amounts, strict=True)
    ]
    chain.block(txs, timestamp=int(at.timestamp()))
    return senders


def index_until_confirmed(chain: ChainDriver) -> None:
    chain.mine(CONFIRMATIONS + 1)
    index_chain(chain_id=ANVIL_CHAIN_ID)


def close_raise(chain: ChainDriver, pool: Pool) -> Pool:
    chain.mine(timestamp=int(pool.closes_at.timestamp()) + 1)
    index_until_confirmed(chain)
    pools_close_due(now=pool.closes_at)
    # A day passed on the chain: the feeds' heartbeat (a beat task on the development chain) would have run.
    refresh_dev_price_feeds(chain.w3, _deployment(), deployer=chain.anvil.account(0).address)
    return Pool.objects.get(pk=pool.pk)


def run_launch(pool: Pool, *, chain: ChainDriver | None = None) -> Launch:
    """Advance the launch as the worker would; with `chain`, blocks keep coming and the indexer keeps up between
    passes, as on a live chain."""
    for _ in range(30):
        launch = launch_advance(pool_id=pool.pk)
        if launch and launch.step in (Launch.Step.LAUNCHED, Launch.Step.FAILED):
            return launch
        if chain is not None:
            index_until_confirmed(chain)
    raise AssertionError(f"the launch did not finish: {Launch.objects.get(pool=pool).__dict__}")


def run_refunds(pool: Pool) -> None:
    refund_request(pool_id=pool.pk, requested_by="test")
    for _ in range(30):
        if refunds_advance(pool_id=pool.pk) == 0:
            return
    raise AssertionError("refunds did not finish")


def assert_books_match_chain(chain: ChainDriver, pool: Pool) -> None:
    """The indexer's reconciliation finds the pool address holding exactly what the books say."""
    chain.mine(CONFIRMATIONS + 1)
    index_chain(chain_id=ANVIL_CHAIN_ID)
    pool.refresh_from_db()
    assert pool.balance_checked_at is not None
    assert pool.balance_difference == 0


def assert_conserved(chain: ChainDriver, pool: Pool, *, deposited: int) -> None:
    """Every wei that came in went out somewhere: deposits + gas top-ups = liquidity + fee + treasury + refunds
    + gas + what the pool address still holds; and every depositor's tokens are in the claim vault."""
    launch = Launch.objects.filter(pool=pool, step=Launch.Step.LAUNCHED).first()
    launched = 0
    if launch is not None:
        event = decode_launched(
            chain.w3.eth.get_transaction_receipt(launch.transaction.tx_hash), launcher=_deployment().launcher
        )
        launched = event.asset_to_liquidity + event.fee + event.treasury_amount
        token = chain.w3.eth.contract(address=launch.token_address, abi=load_artifact("AgentToken").abi)
        allocated = sum(Allocation.objects.filter(pool=pool).values_list("token_amount", flat=True))
        assert token.functions.balanceOf(launch.claim_vault_address).call() == allocated == event.depositor_tokens
    refunded = sum(r.amount for r in Refund.objects.filter(pool=pool, status=Refund.Status.PAID))
    held = chain.w3.eth.get_balance(pool.deposit_address)
    assert deposited + topped_up(pool) == launched + refunded + gas_paid_by(pool.deposit_address) + held
    assert_books_match_chain(chain, pool)
    # Our own transfers to the pool (gas top-ups) are never taken for deposits.
    ours = ChainTransaction.objects.exclude(tx_hash="").values("tx_hash")
    assert not Deposit.objects.filter(pool=pool, tx_hash__in=ours).exists()


def gas_paid_by(address: str) -> int:
    return sum(tx.fee_paid for tx in ChainTransaction.objects.filter(from_address=address))


def topped_up(pool: Pool) -> int:
    return sum(
        tx.value
        for tx in ChainTransaction.objects.filter(
            pool=pool, purpose=ChainTransaction.Purpose.GAS_TOPUP, status=ChainTransaction.Status.CONFIRMED
        )
    )


def _deployment():
    from chain.client import chain_deployment

    return chain_deployment()


def _claim(chain: ChainDriver, launch: Launch, claimer: str, allocation: Allocation) -> None:
    chain.anvil.rpc("anvil_impersonateAccount", [claimer])
    tx = chain.w3.eth.send_transaction(
        {
            "from": claimer,
            "to": launch.claim_vault_address,
            "data": "0x"
            + encode_claim(
                amount=allocation.token_amount, proof=[bytes.fromhex(p[2:]) for p in allocation.proof]
            ).hex(),
            "gas": 300_000,
        }
    )
    assert chain.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1


@pytest.mark.django_db(transaction=True)
def test_a_raise_that_misses_its_soft_cap_refunds_everyone_in_full(chain):
    pool = scheduled_pool(chain, soft_cap=50 * ETHER)
    amounts = [ETHER, 2 * ETHER, 3 * ETHER]
    senders = deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="hopeful")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    balances_before = [chain.w3.eth.get_balance(s) for s in senders]

    pool = pool_settle(pool_id=pool.pk, confirmed_through=chain_now(chain))
    assert pool.status == Pool.Status.REFUNDING
    run_refunds(pool)

    pool.refresh_from_db()
    assert pool.status == Pool.Status.REFUNDED
    for sender, amount, before in zip(senders, amounts, balances_before, strict=True):
        assert chain.w3.eth.get_balance(sender) - before == amount
    assert_conserved(chain, pool, deposited=sum(amounts))


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_launch_requests_make_exactly_one_launch(chain):
    pool = scheduled_pool(chain)
    deposit_from(chain, pool, [5 * ETHER] * 4, at=pool.opens_at + timedelta(minutes=1), label="crowd")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    barrier = threading.Barrier(20)
    outcomes: list[object] = []

    def request_and_advance() -> None:
        try:
            barrier.wait()
            launch_request(pool_id=pool.pk, requested_by="agent")
            launch_advance(pool_id=pool.pk)
            outcomes.append("ok")
        except Exception as exc:  # noqa: BLE001 - collected and asserted below
            outcomes.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=request_and_advance) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert outcomes == ["ok"] * 20
    launch = run_launch(pool)
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    assert Launch.objects.filter(pool=pool).count() == 1
    launches = ChainTransaction.objects.filter(pool=pool, purpose="launch")
    assert launches.filter(status="confirmed").count() == 1
    assert len({tx.nonce for tx in launches}) == 1
    assert_conserved(chain, pool, deposited=4 * 5 * ETHER)


def test_refund_evidence_names_each_deposit_by_its_position():
    from pools.services.refunds import _evidence

    class Stub:
        def __init__(self, recipient, deposits):
            self.recipient = recipient
            self._deposits = deposits

        @property
        def deposits(self):
            return self

        def all(self):
            return self._deposits

    deposits = [
        Deposit(tx_hash="0x01", position="tx"),
        Deposit(tx_hash="0x02", position="log:7"),
        Deposit(tx_hash="0x03", position="trace:0.2"),
    ]

    evidence = _evidence([Stub("0xabc", deposits)])

    assert evidence == {
        "0xabc": [
            {"tx_hash": "0x01"},
            {"tx_hash": "0x02", "log_index": 7},
            {"tx_hash": "0x03", "trace_address": [0, 2]},
        ]
    }


@pytest.mark.django_db(transaction=True)
def test_a_pool_that_raised_exactly_its_soft_cap_launches(chain):
    """An ETH launch pays its gas out of the raise: the signer must still allow it at exactly the soft cap."""
    pool = scheduled_pool(chain, soft_cap=10 * ETHER)
    deposit_from(chain, pool, [5 * ETHER, 5 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="exact")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    assert pool.raised == pool.soft_cap

    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(pool, chain=chain)

    assert launch.step == Launch.Step.LAUNCHED, launch.error
    assert_conserved(chain, pool, deposited=10 * ETHER)


@pytest.mark.django_db(transaction=True)
def test_a_launch_that_keeps_reverting_fails_and_then_everyone_is_refunded_in_full(chain):
    pool = scheduled_pool(chain)
    amounts = [4 * ETHER, 5 * ETHER, 3 * ETHER]
    senders = deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="unlucky")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    # The ETH/USD feed goes stale: every attempt reverts on chain with StaleOracle.
    feed = chain.w3.eth.contract(address=_deployment().eth_usd_feed, abi=load_artifact("DevPriceFeed").abi)
    feed.functions.setAnswerAt(3_000 * 10**8, chain.timestamp() - 2 * 86_400).transact(
        {"from": chain.anvil.account(0).address}
    )
    balances_before = [chain.w3.eth.get_balance(s) for s in senders]

    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(pool, chain=chain)

    assert launch.step == Launch.Step.FAILED and launch.attempts == 3, launch.error
    attempts = list(ChainTransaction.objects.filter(pool=pool, purpose="launch").order_by("nonce"))
    assert [tx.status for tx in attempts] == ["failed"] * 3
    # Gas burned by the failed attempts comes out of the raise (exactly; the gas budget follows the fees of the moment).
    assert topped_up(pool) == 0
    for n, attempt in enumerate(attempts):
        burned = sum(earlier.fee_paid for earlier in attempts[:n])
        assert attempt.value == pool.raised - burned - attempt.gas * attempt.max_fee_per_gas
    pool = launch_give_up(pool_id=pool.pk)
    assert pool.status == Pool.Status.REFUNDING
    run_refunds(pool)
    pool.refresh_from_db()
    assert pool.status == Pool.Status.REFUNDED
    for sender, amount, before in zip(senders, amounts, balances_before, strict=True):
        assert chain.w3.eth.get_balance(sender) - before == amount
    assert_conserved(chain, pool, deposited=sum(amounts))


@pytest.mark.django_db(transaction=True)
def test_an_early_close_reaches_the_signer_so_both_books_credit_alike(chain):
    """The admin's early close changes a rule after the registration was made final: the signer takes it (the close
    moves earlier, never into the chain's past), so the deposit after it is owed back on both sides and the launch
    carries the same raise and root."""
    pool = scheduled_pool(chain, soft_cap=5 * ETHER)
    deposit_from(chain, pool, [5 * ETHER, 3 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="early")
    pool = pool_close_early(pool_id=pool.pk, now=chain_now(chain))
    close = int(pool.closed_early_at.timestamp())
    assert close > int(pool.opens_at.timestamp()) and pool.closed_early_at < pool.closes_at
    late = deposit_from(chain, pool, [2 * ETHER], at=pool.closed_early_at + timedelta(seconds=5), label="after-close")
    index_until_confirmed(chain)
    refresh_dev_price_feeds(chain.w3, _deployment(), deployer=chain.anvil.account(0).address)
    pool.refresh_from_db()
    assert (pool.raised, pool.refund_owed) == (8 * ETHER, 2 * ETHER)

    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(pool, chain=chain)
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    balance_before = chain.w3.eth.get_balance(late[0])
    run_refunds(pool)
    assert chain.w3.eth.get_balance(late[0]) - balance_before == 2 * ETHER
    assert_conserved(chain, pool, deposited=10 * ETHER)
