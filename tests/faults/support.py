"""The fault tests' stack: the app's chain traffic through a faulty proxy, real workers, beat's job resumer, raises.

Everything here drives the real parts: anvil with the real Uniswap V2 contracts, the signer process, Celery workers
(prefork, so a task that kills itself is redelivered), PostgreSQL and Redis (devstack's throwaway servers).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from django.db import connections

from chain.artifacts import load_artifact
from chain.client import chain_deployment
from pools.models import Launch, Pool
from pools.services.indexing import index_chain
from pools.services.launch import launch_request
from tests.anvil import ANVIL_CHAIN_ID, PROJECT_ROOT, AnvilNode
from tests.faults.tcp_proxy import TcpProxy
from tests.indexer.support import ETHER, USDC, ChainDriver, fresh_address
from tests.launch.test_crash_recovery import worker_env
from tests.launch.test_lifecycle import CONFIRMATIONS, close_raise, scheduled_pool
from tests.processes import RunningProcess, _spawn, _wait

sys.path.append(str(PROJECT_ROOT / "scripts"))
import devstack  # noqa: E402 - the throwaway servers' own start and stop

# The app's RPC timeout in the fault stack (CHAIN_RPC_TIMEOUT, the test process's and the workers'): how long a
# client waits on a stalled connection before it gives up. A fault is held until the app has shown it felt it.
RPC_TIMEOUT_SECONDS = int(os.environ.get("LAUNCHPAD_FAULT_RPC_TIMEOUT", "3"))
# Only a failure bound: the longest a fault waits for that evidence before it ends anyway (and the test fails).
FAULT_BOUND_SECONDS = float(os.environ.get("LAUNCHPAD_FAULT_SECONDS", "120"))
# Beat runs resume_jobs every 30 s; the stand-in runs it every RESUME_EVERY seconds, so recoveries take seconds.
RESUME_EVERY = 2.0
NATIVE_GAS = 21_000
TOKEN_GAS = 100_000


def task_failures(logs: str, task: str) -> int:
    """How many runs of `task` (e.g. "advance_launch") raised, by the workers' logs (Celery logs each one)."""
    return sum(1 for line in logs.splitlines() if f"{task}[" in line and "raised unexpected" in line)


def wait_for(check: Callable[[], object], *, timeout: float, what: str, every: float = 0.3) -> object:
    """Poll `check` until it returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(every)
    raise AssertionError(f"not within {timeout:.0f} s: {what}")


@dataclass(frozen=True)
class SentDeposit:
    """A transfer the test sent to a pool address: what the indexer must record exactly once."""

    tx_hash: str
    sender: str
    amount: int


@dataclass
class ResumeLoop:
    """Stands in for beat's `resume_jobs` schedule (every 30 s in production), every RESUME_EVERY seconds.

    It publishes through the broker like beat; while Redis is down a publish fails and the next tick tries again.
    """

    stop_event: threading.Event = field(default_factory=threading.Event)
    published: int = 0
    failed: int = 0

    def start(self) -> ResumeLoop:
        threading.Thread(target=self._run, name="resume-jobs", daemon=True).start()
        return self

    def _run(self) -> None:
        from pools.tasks import resume_jobs

        while not self.stop_event.wait(RESUME_EVERY):
            try:
                resume_jobs.apply_async(retry=False, ignore_result=True)
                self.published += 1
            except Exception:  # noqa: BLE001 - the broker is down: beat would try again on its next tick too
                self.failed += 1

    def stop(self) -> None:
        self.stop_event.set()


@dataclass
class FaultStack:
    """One test's stack: the chain (direct, for the test itself), the proxy the app talks through, the signer."""

    chain: ChainDriver
    proxy: TcpProxy
    signer: object
    tmp_path: Path
    first_block: int = 0  # the head when the test began: what the test did is above it
    workers: list[RunningProcess] = field(default_factory=list)
    restarted_signers: list[RunningProcess] = field(default_factory=list)
    resumer: ResumeLoop | None = None
    _booting: list = field(default_factory=list)  # (worker, its readiness check): started, not yet answering

    @property
    def anvil(self) -> AnvilNode:
        return self.chain.anvil

    def start_worker(self, *, crash_at: str = "", marker: str = "crashed") -> RunningProcess:
        """A prefork Celery worker on the app's settings (chain through the proxy), killing itself at `crash_at`.

        Started, not waited for: it boots while the test builds its raise; `workers_ready()` waits for it (launch,
        refund and the resumer call it), by a ping addressed to it through the broker."""
        from launchpad.celery import app

        env = worker_env(self.tmp_path / marker, crash_at) | {"CHAIN_RPC_TIMEOUT": str(RPC_TIMEOUT_SECONDS)}
        log_dir = self.tmp_path / f"worker-{len(self.workers)}"
        log_dir.mkdir()
        name = f"fault-worker-{len(self.workers)}-{os.getpid()}@{socket.gethostname()}"
        # As tests.processes.start_celery_worker, with a name of its own to ping.
        args = [
            sys.executable, "-m", "celery", "-A", "launchpad", "worker", "--loglevel", "INFO", "--pool", "prefork",
            "--concurrency", "1", "--without-gossip", "--without-mingle", "--hostname", name,
        ]  # fmt: skip
        worker = _spawn("worker", args, env={**os.environ, "CHAIN_CHECK_ON_START": "false", **env}, log_dir=log_dir)
        self.workers.append(worker)
        self._booting.append((worker, lambda: bool(app.control.ping(destination=[name], timeout=0.5))))
        return worker

    def workers_ready(self) -> None:
        """Wait until every worker started answers a ping (each boots in the background)."""
        while self._booting:
            worker, answers = self._booting.pop(0)
            _wait(worker, answers, timeout=60)

    def start_resuming(self) -> ResumeLoop:
        self.workers_ready()
        self.resumer = ResumeLoop().start()
        return self.resumer

    def worker_logs(self, *, whole: bool = False) -> str:
        """The workers' logs: their ends (for a failure message), or whole (to look for what happened)."""
        return "\n".join(
            f"--- {w.log_path}\n{w.log_path.read_text(errors='replace') if whole else w.log()}" for w in self.workers
        )

    def worker_log_count(self, text: str) -> int:
        """How many lines of the workers' logs contain `text` (e.g. an exception's name)."""
        return sum(line.count(text) > 0 for line in self.worker_logs(whole=True).splitlines())

    @contextlib.contextmanager
    def signer_down(self, *, until: Callable[[], object], what: str) -> Iterator[None]:
        """The signer process stopped until `until()` shows the app met it down, then started again with the same
        keys, state and port. (The one running now: the first, or the last one restarted.)"""
        (self.restarted_signers or [self.signer])[-1].stop()
        try:
            yield
            wait_for(until, timeout=FAULT_BOUND_SECONDS, what=what)
        finally:
            args = [sys.executable, "-m", "enclave_signer", "serve"]
            log_dir = self.tmp_path / f"signer-{len(self.restarted_signers)}"
            log_dir.mkdir()
            restarted = _spawn("signer", args, env=self.signer.env, log_dir=log_dir)
            self.restarted_signers.append(restarted)
            url = self.signer.url + "/health"
            _wait(restarted, lambda: urllib.request.urlopen(url, timeout=1).status == 200)  # noqa: S310 - loopback

    def stop(self) -> None:
        self._booting.clear()
        if self.resumer is not None:
            self.resumer.stop()
        for worker in self.workers:
            if worker.process.poll() is None:
                # Cold shutdown (the test is over, nothing in flight matters), all of them at once.
                worker.process.send_signal(signal.SIGQUIT)
        for worker in self.workers:
            worker.stop()
        for signer in self.restarted_signers:
            signer.stop()
        self.proxy.stop()
        from launchpad.celery import app

        with contextlib.suppress(Exception):
            app.control.purge()  # the next test's workers must not run this one's leftover retries

    # --- raises --------------------------------------------------------------------------------------------------

    def usdc(self):
        return self.chain.w3.eth.contract(address=chain_deployment().usdc, abi=load_artifact("TestUSDC").abi)

    def deposit(self, pool: Pool, amounts: list[int], *, at: datetime | None, label: str) -> list[SentDeposit]:
        """One block holding a deposit of each amount from a fresh sender (ETH or the pool's token)."""
        senders = [fresh_address(f"{label}-{i}") for i in range(len(amounts))]
        self.chain.fund(senders, wei=100 * ETHER)
        if pool.is_native:
            txs = [
                {"from": s, "to": pool.deposit_address, "value": a, "gas": NATIVE_GAS}
                for s, a in zip(senders, amounts, strict=True)
            ]
        else:
            token = self.usdc()
            deployer = self.anvil.account(0).address
            self.chain.block(
                [
                    {"from": deployer, "to": token.address, "data": token.encode_abi("mint", args=[s, a]),
                     "gas": TOKEN_GAS}
                    for s, a in zip(senders, amounts, strict=True)
                ]
            )  # fmt: skip
            txs = [
                {"from": s, "to": token.address, "gas": TOKEN_GAS,
                 "data": token.encode_abi("transfer", args=[pool.deposit_address, a])}
                for s, a in zip(senders, amounts, strict=True)
            ]  # fmt: skip
        hashes = self.chain.block(txs, timestamp=int(at.timestamp()) if at else None)
        return [SentDeposit(tx_hash=h, sender=s, amount=a) for h, s, a in zip(hashes, senders, amounts, strict=True)]

    def index(self) -> None:
        """One run of the indexing task, in this process, through the proxy (as beat's index_chain_task)."""
        index_chain(chain_id=ANVIL_CHAIN_ID)

    def closed_raise(self, *, asset: str = "eth", amounts: list[int] | None = None, label: str = "raise") -> Raise:
        """A scheduled, opened, funded, confirmed and closed raise that met its soft cap (one over-cap deposit)."""
        unit = ETHER if asset == "eth" else USDC
        fields = {"soft_cap": 10 * unit, "hard_cap": 200 * unit, "max_contribution": 5 * unit}
        if asset == "usdc":
            fields |= {"raise_asset": chain_deployment().usdc, "raise_asset_symbol": "USDC", "raise_asset_decimals": 6}
        pool = scheduled_pool(self.chain, **fields)
        amounts = amounts or [5 * unit, 4 * unit, 3 * unit, 7 * unit]  # the last one is 2 over the wallet maximum
        sent = self.deposit(pool, amounts, at=pool.opens_at + timedelta(minutes=1), label=f"{label}-{asset}")
        self.chain.mine(CONFIRMATIONS + 1)
        self.index()
        pool = close_raise(self.chain, pool)
        assert pool.status == Pool.Status.CLOSED, pool.status_reason
        owed = sum(max(0, a - 5 * unit) for a in amounts)
        return Raise(pool=pool, sent=sent, deposited=sum(amounts), owed=owed)

    def launch(self, pool: Pool, *, timeout: float = 120) -> Launch:
        """Trigger the launch as the API does (the job runs on the workers) and wait until it is settled."""
        self.workers_ready()
        launch_request(pool_id=pool.pk, requested_by="fault-test")
        return self.wait_launch_settled(pool, timeout=timeout)

    def wait_launch_settled(self, pool: Pool, *, timeout: float) -> Launch:
        self.workers_ready()

        def settled():
            connections.close_all()  # a fresh connection each poll: the database may have been restarted
            with contextlib.suppress(Exception):
                launch = Launch.objects.filter(pool=pool).first()
                if launch and launch.step in (Launch.Step.LAUNCHED, Launch.Step.FAILED):
                    return launch
            return None

        try:
            launch = wait_for(settled, timeout=timeout, what=f"the launch of pool {pool.pk} settled", every=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.worker_logs()}") from exc
        assert launch.step == Launch.Step.LAUNCHED, f"{launch.error}\n{self.worker_logs()}"
        return launch

    def refund(self, pool: Pool, *, timeout: float = 120) -> None:
        """Ask for the refunds as the API does (the job runs on the workers) and wait until every one is paid."""
        from pools.models import Refund
        from pools.services.refunds import refund_request

        self.workers_ready()
        refund_request(pool_id=pool.pk, requested_by="fault-test")
        if not Refund.objects.filter(pool=pool).exists():
            return  # nothing is owed back

        def paid():
            connections.close_all()
            with contextlib.suppress(Exception):
                refunds = Refund.objects.filter(pool=pool)
                return refunds.exists() and not refunds.exclude(status=Refund.Status.PAID).exists()
            return False

        try:
            wait_for(paid, timeout=timeout, what=f"every refund of pool {pool.pk} paid", every=0.5)
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{self.worker_logs()}") from exc


@dataclass(frozen=True)
class Raise:
    pool: Pool
    sent: list[SentDeposit]
    deposited: int  # everything sent to the pool address
    owed: int  # the part owed back (over the wallet maximum)


def throwaway_servers() -> devstack.ThrowawayServers:
    servers = devstack.ThrowawayServers.from_env()
    if servers is None:
        pytest.skip("restarts need devstack's throwaway servers: run `make test-faults`")
    return servers


# Servers a test restarted are its own processes; they outlive the test (the session keeps using them) and
# devstack stops them by their pid files when the run ends.
RESTARTED = devstack.Stack()


@contextlib.contextmanager
def database_down(servers: devstack.ThrowawayServers, *, until: Callable[[], object], what: str) -> Iterator[None]:
    """PostgreSQL stopped (fast shutdown: every connection cut) until `until()` shows the app met it down, then
    started again. (`until` must not need the database: a log, a counter.)"""
    connections.close_all()
    servers.stop_postgres()
    try:
        yield
        wait_for(until, timeout=FAULT_BOUND_SECONDS, what=what)
    finally:
        servers.start_postgres(RESTARTED)
        connections.close_all()


@contextlib.contextmanager
def broker_down(servers: devstack.ThrowawayServers, *, until: Callable[[], object], what: str) -> Iterator[None]:
    """Redis stopped until `until()` shows the app met it down, and started again, empty (the throwaway Redis keeps
    nothing on disk)."""
    servers.stop_redis()
    try:
        yield
        wait_for(until, timeout=FAULT_BOUND_SECONDS, what=what)
    finally:
        servers.start_redis(RESTARTED)
