"""The app's own processes for integration tests: the signer and a Celery worker, each really started."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from tests.anvil import PROJECT_ROOT, free_port


@dataclass
class RunningProcess:
    name: str
    process: subprocess.Popen
    log_path: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def _spawn(name: str, args: list[str], *, env: dict[str, str], log_dir: Path) -> RunningProcess:
    log_path = log_dir / f"{name}.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    return RunningProcess(name=name, process=process, log_path=log_path)


def _wait(running: RunningProcess, ready, *, timeout: float = 30) -> RunningProcess:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if running.process.poll() is not None:
            raise RuntimeError(f"{running.name} exited ({running.process.returncode}):\n{running.log()}")
        try:
            if ready():
                return running
        except Exception:  # noqa: BLE001 - not up yet
            pass
        time.sleep(0.05)
    running.stop()
    raise RuntimeError(f"{running.name} not ready within {timeout:.0f} s:\n{running.log()}")


@dataclass
class SignerProcess(RunningProcess):
    url: str = ""
    client_key: str = ""  # keyid:hexsecret, as SIGNER_CLIENT_KEY
    data_dir: Path | None = None
    env: dict | None = None


def spawn_signer(
    *,
    rpc_url: str,
    chain_id: int,
    data_dir: Path,
    contracts_file: Path | None = None,
    extra_env: dict | None = None,
    base_env: dict | None = None,
) -> SignerProcess:
    """`python -m enclave_signer serve` on a free port, with a fresh HMAC key and development sealing root; not yet
    waited for (`wait_for_signer`). `base_env` replaces this process's environment as the one it starts from."""
    port = free_port()
    hmac = secrets.token_hex(32)
    env = {
        **(os.environ if base_env is None else base_env),
        "SIGNER_BIND": f"127.0.0.1:{port}",
        "SIGNER_DATA_DIR": str(data_dir),
        "SIGNER_HMAC_KEYS": f"test:{hmac}",
        "SIGNER_SEALING_SECRET": secrets.token_hex(32),
        "CHAIN_RPC_URL": rpc_url,
        "CHAIN_ID": str(chain_id),
    }
    if contracts_file is not None:
        env["SIGNER_CONTRACTS_FILE"] = str(contracts_file)
    env.update(extra_env or {})
    url = f"http://127.0.0.1:{port}"
    base = _spawn("signer", [sys.executable, "-m", "enclave_signer", "serve"], env=env, log_dir=data_dir.parent)
    return SignerProcess(
        name=base.name, process=base.process, log_path=base.log_path, url=url, client_key=f"test:{hmac}",
        data_dir=data_dir, env=env,
    )  # fmt: skip


def wait_for_signer(signer: SignerProcess) -> SignerProcess:
    """Return `signer` once its /health answers 200 (it raises with the signer's log if it exits or never does)."""
    return _wait(signer, lambda: urllib.request.urlopen(signer.url + "/health", timeout=1).status == 200)  # noqa: S310


def start_signer(
    *, rpc_url: str, chain_id: int, data_dir: Path, contracts_file: Path | None = None, extra_env: dict | None = None
) -> SignerProcess:
    """`python -m enclave_signer serve` on a free port, with a fresh HMAC key and development sealing root."""
    return wait_for_signer(
        spawn_signer(
            rpc_url=rpc_url, chain_id=chain_id, data_dir=data_dir, contracts_file=contracts_file, extra_env=extra_env
        )
    )


class SignerSpares:
    """Fresh signers, each started while the test before it runs.

    A signer takes 0.5–1.5 s of CPU to import and start, and about 100 tests ask for one. `take()` hands out a
    signer started earlier for the same chain and contracts (waiting for it if it is not up yet) and starts the next
    at once, so that start overlaps the test's own work. Each signer is still its own process with its own keys, HMAC
    key and data folder, used by one test only. A signer reads nothing from the chain but its id at start, so one
    started during an earlier test (whose chain changes are then reverted) is the same as one started now; one that
    saw another id (a test that had the chain pose as Base) refuses to start and is replaced by one started now. The
    environment it starts from is the one given here (taken before any test ran), never a test's monkeypatched one.
    """

    def __init__(self, *, folders, base_env: dict) -> None:
        self._folders, self._base_env = folders, base_env
        self._next: tuple[tuple, SignerProcess] | None = None

    def take(self, *, rpc_url: str, chain_id: int, contracts_json: str) -> SignerProcess:
        wanted = (rpc_url, chain_id, contracts_json)
        spare, self._next = self._next, None
        if spare is not None and spare[0] != wanted:  # a module with a chain of its own: its spare is of no use
            spare[1].stop()
            spare = None
        try:
            signer = (spare and self._ready(spare[1])) or wait_for_signer(self._spawn(*wanted))
        finally:
            self._next = (wanted, self._spawn(*wanted))
        return signer

    def _spawn(self, rpc_url: str, chain_id: int, contracts_json: str) -> SignerProcess:
        folder = self._folders()
        contracts_file = folder / "signer-contracts.json"
        contracts_file.write_text(contracts_json)
        return spawn_signer(
            rpc_url=rpc_url, chain_id=chain_id, data_dir=folder / "signer", contracts_file=contracts_file,
            base_env=self._base_env,
        )  # fmt: skip

    @staticmethod
    def _ready(spare: SignerProcess) -> SignerProcess | None:
        """The spare once it answers, or None if it refused to start (it saw the chain under another id)."""
        try:
            return wait_for_signer(spare)
        except RuntimeError:
            return None

    def stop(self) -> None:
        if self._next is not None:
            self._next[1].stop()
            self._next = None


def start_celery_worker(*, log_dir: Path, env: dict[str, str] | None = None, pool: str = "solo") -> RunningProcess:
    """A real Celery worker on the test's Redis; ready when it answers a ping through the broker.

    `pool="prefork"` runs tasks in a child process, so a task that kills itself is redelivered by the parent
    (acks_late with reject_on_worker_lost), as in production.
    """
    from launchpad.celery import app

    name = f"worker-{secrets.token_hex(4)}@%h"
    args = [
        sys.executable, "-m", "celery", "-A", "launchpad", "worker", "--loglevel", "INFO", "--pool", pool,
        "--concurrency", "1", "--without-gossip", "--without-mingle", "--hostname", name,
    ]  # fmt: skip
    worker = _spawn("worker", args, env={**os.environ, "CHAIN_CHECK_ON_START": "false", **(env or {})}, log_dir=log_dir)
    return _wait(worker, lambda: bool(app.control.ping(timeout=0.5)), timeout=60)
