"""The signer's dstack side: sealing under dstack's get_key and reports with dstack's get_quote.

There is no TDX CVM here, so the guest agent is a REPLAY (tests/signer/dstack_replay.py): a local server on a Unix
socket that answers as the real one does, with a recorded real GetQuote answer. dstack-sdk's real client code makes
the requests and parses the answers, in the signer's own process.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from enclave_signer.config import load_config
from enclave_signer.sealing import DSTACK_SEALING_PATH, TEE_DSTACK, SealingError, obtain_sealing_root
from enclave_signer.service import RequestError
from enclave_signer.verify_attestation import FAIL, KIND_SIGNER_TDX, PASS, Expectations, verify_attestation
from pools.signer_client import SignerClient
from tests.processes import start_signer
from tests.signer.dstack_replay import ReplayAgent, replay_server
from tests.signer.factories import CHAIN_ID, make_signer, pool_params, signer_env

RECORDED_COMPOSE_HASH = "3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7"


@pytest.fixture
def socket_dir():
    # A Unix socket path must stay under 108 bytes: pytest's tmp_path can be longer.
    with tempfile.TemporaryDirectory(prefix="dstack-") as directory:
        yield Path(directory)


def replay(socket_dir: Path, seed: bytes = b"app key seed"):
    return replay_server(ReplayAgent(socket_path=socket_dir / "dstack.sock", seed=seed))


def test_under_dstack_the_sealing_root_is_dstacks_key_and_a_configured_secret_is_ignored(data_dir, socket_dir):
    with replay(socket_dir) as agent:
        config = load_config(signer_env(data_dir, SIGNER_DSTACK_SOCKET=str(agent.socket_path)))
        root = obtain_sealing_root(config)

    assert config.sealing_secret  # the development secret is set, and not used
    assert (root.tee, root.insecure) == (TEE_DSTACK, False)
    assert root.secret == agent.key(DSTACK_SEALING_PATH, "sealing")
    assert ("GetKey", {"path": DSTACK_SEALING_PATH, "purpose": "sealing", "algorithm": "secp256k1"}) in agent.requests


def test_a_store_sealed_under_one_apps_key_opens_only_with_that_key(data_dir, socket_dir):
    with replay(socket_dir) as agent:
        env = {"SIGNER_DSTACK_SOCKET": str(agent.socket_path)}
        signer = make_signer(data_dir, **env)
        signer.register_pool({"pool_id": 1, "chain_id": CHAIN_ID, "params": pool_params()})
        address = signer.addresses()["pools"]["1"]["address"]
        assert make_signer(data_dir, **env).addresses()["pools"]["1"]["address"] == address

    # another app (or compose) derives another key
    refused = pytest.raises(SealingError, match="sealing root is not the one it was sealed with")
    with replay(socket_dir, seed=b"another app") as other, refused:
        make_signer(data_dir, SIGNER_DSTACK_SOCKET=str(other.socket_path))


def test_the_signer_process_under_dstack_reports_with_a_quote_over_its_report_data(anvil_chain, tmp_path, socket_dir):
    with replay(socket_dir) as agent:
        signer = start_signer(
            rpc_url=anvil_chain.url, chain_id=CHAIN_ID, data_dir=tmp_path / "signer",
            extra_env={"SIGNER_DSTACK_SOCKET": str(agent.socket_path)},
        )  # fmt: skip
        key_id, _, secret = signer.client_key.partition(":")
        client = SignerClient(base_url=signer.url, key_id=key_id, secret=bytes.fromhex(secret))
        try:
            health, report = client.health(), client.attestation(nonce="n-1")
        finally:
            signer.stop()

    assert health["tee"] == TEE_DSTACK
    assert (report["tee"], report["insecure"]) == (TEE_DSTACK, False)
    asked = [body for method, body in agent.requests if method == "GetQuote"]
    assert asked == [{"report_data": report["report_data"].removeprefix("0x")}]
    assert {"quote", "event_log", "vm_config"} <= report.keys()

    verdict = verify_attestation(report, at=0, expect=Expectations(nonce="n-1", compose_hash=RECORDED_COMPOSE_HASH))

    assert verdict.kind == KIND_SIGNER_TDX
    checks = {check.name: check.status for check in verdict.checks}
    assert (checks["report"], checks["nonce"], checks["event log"], checks["compose-hash"]) == (PASS,) * 4
    # The replayed quote is a real one, but over the recording's report data, not this report's: refused. (And
    # there is no collateral for it here, so its signature is not checked: refused too.)
    assert (checks["report data"], checks["quote"]) == (FAIL, FAIL)
    assert not verdict.ok


class SilentAgent(ReplayAgent):
    """The replay, with the methods named in `refuse` answered 404 (a guest agent that cannot serve them)."""

    refuse: tuple[str, ...] = ()

    def answer(self, method: str, body: dict) -> dict | None:
        return None if method in self.refuse else super().answer(method, body)


def test_no_key_from_dstack_stops_the_signer_with_a_reason(data_dir, socket_dir):
    agent = SilentAgent(socket_path=socket_dir / "dstack.sock", seed=b"seed")
    agent.refuse = ("GetKey",)
    with replay_server(agent), pytest.raises(SealingError, match="cannot get the sealing key from dstack"):
        make_signer(data_dir, SIGNER_DSTACK_SOCKET=str(agent.socket_path))


def test_no_quote_from_dstack_is_a_503_not_a_report_without_evidence(data_dir, socket_dir):
    agent = SilentAgent(socket_path=socket_dir / "dstack.sock", seed=b"seed")
    agent.refuse = ("GetQuote",)
    with replay_server(agent):
        signer = make_signer(data_dir, SIGNER_DSTACK_SOCKET=str(agent.socket_path))
        with pytest.raises(RequestError) as refused:
            signer.attestation(nonce="n")

    assert (refused.value.status, refused.value.code) == (503, "quote_unavailable")
    assert "get_quote" in refused.value.reason
