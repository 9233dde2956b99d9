"""The chain's RPC dropped or stalled while deposits are being indexed and a launch is being sent, through a TCP
proxy between the app and anvil.

The fault starts the moment a launch transaction reaches the node: the node mines it, its answer never comes back,
and every other connection (the indexer's among them) is reset or hangs. Deposits keep arriving on the chain
meanwhile. The fault lasts until the app has shown it felt it, not for a length of time: a stall until the launch
job's client gave up on the held broadcast after its RPC timeout (CHAIN_RPC_TIMEOUT, short in the fault stack), tried
again (web3's own retries, held too) and the job failed; a drop until the job failed, ran again (resume_jobs) and
was refused again; in both, until the indexer failed at least once. Afterwards every deposit is recorded exactly
once, the launch happened once, the refunds were paid once, and the funds are conserved to the wei.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connections

from chain.client import chain_deployment
from chain.errors import ChainError
from pools.models import Deposit
from tests.faults.invariants import assert_all, assert_credited, assert_deposits_exact
from tests.faults.support import FAULT_BOUND_SECONDS, FaultStack, SentDeposit, task_failures, wait_for
from tests.indexer.support import ETHER, USDC
from tests.launch.test_lifecycle import CONFIRMATIONS, scheduled_pool

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

DEPOSIT_EVERY_SECONDS = 2.0
DEPOSITS_PER_BLOCK = 5


class OpenPools:
    """An ETH and a USDC pool taking deposits (found in blocks' transactions and in Transfer logs); what was sent."""

    def __init__(self, stack: FaultStack) -> None:
        self.stack = stack
        common = {"soft_cap": 1, "max_contribution": 0}
        self.pools = [
            scheduled_pool(stack.chain, hard_cap=10**9 * ETHER, **common),
            scheduled_pool(
                stack.chain,
                hard_cap=10**12 * USDC,
                raise_asset=chain_deployment().usdc,
                raise_asset_symbol="USDC",
                raise_asset_decimals=6,
                **common,
            ),
        ]
        self.sent: dict[int, list[SentDeposit]] = {pool.pk: [] for pool in self.pools}
        # The first block a minute after both opened; later blocks take their time from the chain's clock.
        self.send_round(0, at=self.pools[-1].opens_at + timedelta(minutes=1))

    def send_round(self, round_: int, *, at=None) -> None:
        for pool in self.pools:
            unit = ETHER if pool.is_native else USDC
            amounts = [(round_ * DEPOSITS_PER_BLOCK + i + 1) * unit // 100 for i in range(DEPOSITS_PER_BLOCK)]
            at_time = at if at is not None and pool is self.pools[0] else None
            self.sent[pool.pk] += self.stack.deposit(pool, amounts, at=at_time, label=f"open-{pool.pk}-{round_}")

    def assert_exact(self) -> None:
        for pool in self.pools:
            sent = self.sent[pool.pk]
            assert_deposits_exact(pool, sent)
            assert_credited(pool, raised=sum(d.amount for d in sent), owed=0)
            pool.refresh_from_db()
            assert pool.balance_difference == 0, "the pool address holds what the books say"

    def all_confirmed(self) -> bool:
        expected = sum(len(sent) for sent in self.sent.values())
        return Deposit.objects.filter(pool__in=self.pools, status=Deposit.Status.CONFIRMED).count() >= expected


class Background:
    """Beat's indexing schedule (every second here) and depositors who keep sending, each in its own thread."""

    def __init__(self, stack: FaultStack, open_pools: OpenPools) -> None:
        self.stack, self.open_pools = stack, open_pools
        self.index_runs = self.index_failures = 0
        self.stop_event = threading.Event()
        self.errors: list[BaseException] = []
        self.threads = [
            threading.Thread(target=self._guarded, args=(loop,), daemon=True)
            for loop in (self._index_loop, self._deposit_loop)
        ]

    def _guarded(self, loop) -> None:
        try:
            loop()
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
        finally:
            connections.close_all()

    def _index_loop(self) -> None:
        while not self.stop_event.wait(1.0):
            try:
                self.stack.index()
                self.index_runs += 1
            except ChainError:  # the task fails; beat runs it again on schedule
                self.index_failures += 1

    def _deposit_loop(self) -> None:
        round_ = 1
        while not self.stop_event.wait(DEPOSIT_EVERY_SECONDS):
            self.open_pools.send_round(round_)
            round_ += 1

    def start(self) -> Background:
        for thread in self.threads:
            thread.start()
        return self

    def stop_and_catch_up(self, *, timeout: float) -> None:
        self.stop_event.set()
        for thread in self.threads:
            thread.join(timeout=60)
        assert not self.errors, self.errors
        self.stack.chain.mine(CONFIRMATIONS + 1)

        def caught_up() -> bool:
            try:
                self.stack.index()
            except ChainError:
                return False  # a connection the outage broke, met once more; beat's next run goes on
            return self.open_pools.all_confirmed()

        wait_for(caught_up, timeout=timeout, what="the indexer caught up with every deposit", every=1.0)


def _fault_during_indexing_and_a_launch(stack: FaultStack, strike) -> None:
    stack.start_worker()  # boots while the raise is built
    raised = stack.closed_raise(label="rpc-fault")
    open_pools = OpenPools(stack)
    stack.start_resuming()
    background = Background(stack, open_pools).start()

    def launch_job_failures() -> int:
        return task_failures(stack.worker_logs(whole=True), "advance_launch")

    def felt(*, job_failures: int) -> bool:
        return launch_job_failures() >= job_failures and background.index_failures > 0

    strike(stack.proxy, after="eth_sendRawTransaction", felt=felt)
    stack.launch(raised.pool, timeout=FAULT_BOUND_SECONDS + 240)

    assert stack.proxy.log.triggered, "the fault never struck"
    stack.proxy.wait_healed(timeout=FAULT_BOUND_SECONDS + 30)
    assert stack.proxy.released_on_evidence, f"the fault ended before the app showed it felt it: {stack.proxy.log}"
    background.stop_and_catch_up(timeout=120)
    assert background.index_failures > 0, "the indexer never met the fault"
    assert launch_job_failures() >= 1, "the launch job never met the fault"

    stack.refund(raised.pool)
    assert_all(stack, raised)
    open_pools.assert_exact()


def test_dropped_rpc_connections_during_indexing_and_a_launch(stack):
    def strike(proxy, *, after, felt):
        # Held until the job, run again after the lost answer, was refused again (connections reset on arrival).
        until = lambda: proxy.log.refused > 0 and felt(job_failures=2)  # noqa: E731
        proxy.drop(seconds=FAULT_BOUND_SECONDS, after=after, until=until)

    _fault_during_indexing_and_a_launch(stack, strike)
    assert stack.proxy.log.refused > 0


def test_stalled_rpc_connections_during_indexing_and_a_launch(stack):
    def strike(proxy, *, after, felt):
        # Held until the job's client gave up on the held broadcast (its RPC timeout: the proxy saw it close the
        # connection), its retries were held and given up on too, and the job failed.
        until = lambda: proxy.log.trigger_abandoned and proxy.log.abandoned > 1 and felt(job_failures=1)  # noqa: E731
        proxy.stall(seconds=FAULT_BOUND_SECONDS, after=after, until=until)

    _fault_during_indexing_and_a_launch(stack, strike)
    assert stack.proxy.log.trigger_abandoned and stack.proxy.log.abandoned > 1


@pytest.mark.parametrize("request_text", ["debug_traceBlockByHash", "eth_getLogs"])
def test_a_reset_in_the_middle_of_an_indexing_window_writes_nothing_half_done(stack, request_text):
    """The connection breaks after the window's blocks were read, while its traces (or logs) are being fetched."""
    open_pools = OpenPools(stack)
    for round_ in range(1, 4):
        open_pools.send_round(round_)
    stack.chain.mine(CONFIRMATIONS + 1)
    failed = threading.Event()
    stack.proxy.drop(seconds=FAULT_BOUND_SECONDS, after=request_text, until=failed.is_set)

    with pytest.raises(ChainError):
        stack.index()
    failed.set()  # the indexing run failed: the drop may end
    assert not Deposit.objects.filter(pool__in=open_pools.pools).exists(), "a window is written whole or not at all"
    stack.proxy.wait_healed(timeout=30)
    assert stack.proxy.released_on_evidence, stack.proxy.log
    stack.index()

    assert open_pools.all_confirmed()
    open_pools.assert_exact()
