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
        time.sleep(0.2)
    running.stop()
    raise RuntimeError(f"{running.name} not ready within {timeout:.0f} s:\n{running.log()}")


@dataclass
class SignerProcess(RunningProcess):
    url: str = ""
    client_key: str = ""  # keyid:hexsecret, as SIGNER_CLIENT_KEY
    data_dir: Path | None = None
    env: dict | None = None


def start_signer(
    *, rpc_url: str, chain_id: int, data_dir: Path, contracts_file: Path | None = None, extra_env: dict | None = None
) -> SignerProcess:
    """`python -m enclave_signer serve` on a free port, with a fresh HMAC key and development sealing root."""
    port = free_port()
    hmac = secrets.token_hex(32)
    env = {
        **os.environ,
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
    signer = SignerProcess(
        name=base.name, process=base.process, log_path=base.log_path, url=url, client_key=f"test:{hmac}",
        data_dir=data_dir, env=env,
    )  # fmt: skip
    return _wait(signer, lambda: urllib.request.urlopen(url + "/health", timeout=1).status == 200)  # noqa: S310


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
