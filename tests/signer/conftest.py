"""Fixtures for the enclave signer's tests: an anvil chain of its own, signers on temp dirs, a live HTTP server."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from web3 import Web3

from enclave_signer.auth import RequestAuthenticator
from enclave_signer.chain import ChainReader
from enclave_signer.server import make_server
from pools.signer_client import SignerClient
from tests.signer.factories import HMAC_KEY_ID, HMAC_SECRET, make_signer

PROJECT_ROOT = Path(__file__).resolve().parents[2]
# The forwarder: runtime `CALL(gas, calldata[0:32], callvalue, 0, 0, 0, 0)`, revert on failure. It makes a deposit
# that arrives as an internal call (trace address [0]), as from a smart-contract wallet.
FORWARDER_INITCODE = "0x601880600b6000396000f3" + "6000600060006000346000355af1156013570" + "05b600080fd"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class AnvilChain:
    """A running anvil with web3 for the test side and the signer's own ChainReader."""

    url: str
    w3: Web3
    process: subprocess.Popen

    @property
    def reader(self) -> ChainReader:
        return ChainReader(url=self.url)

    def account(self, index: int) -> str:
        return self.w3.eth.accounts[index]

    def transact(self, tx: dict) -> dict:
        """Send from an unlocked dev account, wait, and return the receipt (must succeed)."""
        receipt = self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_transaction(tx), timeout=30)
        assert receipt["status"] == 1, receipt
        return receipt

    def deploy(self, *, abi: list, bytecode: str, args: tuple = (), sender: int = 0) -> str:
        contract = self.w3.eth.contract(abi=abi, bytecode=bytecode)
        receipt = self.transact(contract.constructor(*args).build_transaction({"from": self.account(sender)}))
        return receipt["contractAddress"]

    def deploy_artifact(self, path: Path, *, args: tuple = ()) -> tuple[str, list]:
        data = json.loads(path.read_text())
        bytecode = data["bytecode"] if isinstance(data["bytecode"], str) else data["bytecode"]["object"]
        bytecode = bytecode if bytecode.startswith("0x") else "0x" + bytecode
        return self.deploy(abi=data["abi"], bytecode=bytecode, args=args), data["abi"]

    def broadcast(self, raw_tx: str) -> dict:
        tx_hash = self.w3.eth.send_raw_transaction(raw_tx)
        return self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)


@pytest.fixture(scope="session")
def anvil_chain():
    """anvil (npm @foundry-rs/anvil) on a free port, in its own process group, stopped after the session."""
    port = _free_port()
    command = ["npx", "--prefix", str(PROJECT_ROOT), "anvil", "--port", str(port), "--silent", "--chain-id", "31337"]
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    url = f"http://127.0.0.1:{port}"
    w3 = Web3(Web3.HTTPProvider(url, request_kwargs={"timeout": 30}))
    deadline = time.monotonic() + 60
    while not _answers(w3):
        if process.poll() is not None or time.monotonic() > deadline:
            _stop(process)
            pytest.fail("anvil did not start (is node_modules installed? run npm ci)")
        time.sleep(0.2)
    yield AnvilChain(url=url, w3=w3, process=process)
    _stop(process)


def _answers(w3: Web3) -> bool:
    try:
        return w3.is_connected()
    except Exception:
        return False


def _stop(process: subprocess.Popen) -> None:
    """npx starts node, which starts anvil: stop the whole group we started (by its id)."""
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=10)
    except (ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "signer"


@pytest.fixture
def live_signer(data_dir: Path):
    """A signer behind its real HTTP server on a free port, with a client; yields (signer, client)."""
    servers = []

    def start(*, chain=None, **env: str):
        signer = make_signer(data_dir, chain=chain, **env)
        server = make_server(
            signer, host="127.0.0.1", port=0, authenticator=RequestAuthenticator(keys={HMAC_KEY_ID: HMAC_SECRET})
        )
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        url = f"http://127.0.0.1:{server.server_address[1]}"
        return signer, SignerClient(base_url=url, key_id=HMAC_KEY_ID, secret=HMAC_SECRET)

    yield start
    for server in servers:
        server.shutdown()
        server.server_close()
