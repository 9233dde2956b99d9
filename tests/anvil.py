"""A real anvil node for tests: started as its own process on a free port, stopped at the end."""

from __future__ import annotations

import os
import socket
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

from eth_account import Account
from web3 import Web3

PROJECT_ROOT = Path(__file__).resolve().parents[1]
ANVIL_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"
# anvil's well-known development mnemonic: its accounts are funded with 10,000 ETH each and worth nothing.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"
ANVIL_CHAIN_ID = 31337

Account.enable_unaudited_hdwallet_features()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AnvilNode:
    rpc_url: str
    process: subprocess.Popen
    w3: Web3 = field(init=False)

    def __post_init__(self) -> None:
        self.w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))

    def account(self, index: int):
        """The index-th development account, as an eth-account LocalAccount (has `.address` and `.key`)."""
        return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")

    def rpc(self, method: str, params: list | None = None):
        response = self.w3.provider.make_request(method, params or [])
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response["result"]

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()


def start_anvil(*, block_time: int | None = None, extra_args: tuple[str, ...] = ()) -> AnvilNode:
    """Start anvil on a free loopback port and wait until it answers."""
    if not ANVIL_BIN.exists():
        raise RuntimeError(f"{ANVIL_BIN} is missing: run `npm ci` (make bootstrap does).")
    port = free_port()
    args = [str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(ANVIL_CHAIN_ID), "--silent"]
    if block_time:
        args += ["--block-time", str(block_time)]
    args += list(extra_args)
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=os.environ.copy())
    node = AnvilNode(rpc_url=f"http://127.0.0.1:{port}", process=process)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"anvil exited with code {process.returncode}")
        try:
            if node.w3.is_connected():
                return node
        except Exception:  # noqa: BLE001 - not listening yet
            pass
        time.sleep(0.1)
    node.stop()
    raise RuntimeError("anvil did not answer within 30 s")
