"""What the signer allows comes from the same configuration as the rest of the stack: SIGNER_CONTRACTS, else the
CHAIN_* settings the web tier reads, else the local chain's file; a signer for a real network never starts allowing
no Launcher or no Refunder."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from eth_utils import keccak, to_checksum_address

from enclave_signer.config import ConfigError, load_config
from pools.signer_client import SignerClient, SignerRefused
from tests.anvil import ANVIL_CHAIN_ID, PROJECT_ROOT
from tests.processes import start_signer
from tests.signer.factories import GWEI, approve_calldata, pool_params, write_contracts_file

BASE_CHAIN_ID = 8453
APPROVE_GAS = 100_000


def address(label: str) -> str:
    return to_checksum_address(keccak(text=f"allowlist-{label}")[12:])


LAUNCHER, REFUNDER, USDC = address("launcher"), address("refunder"), address("usdc")
CHAIN_SETTINGS = {"CHAIN_LAUNCHER_ADDRESS": LAUNCHER, "CHAIN_REFUNDER_ADDRESS": REFUNDER, "CHAIN_USDC_ADDRESS": USDC}


def approve(spender: str) -> dict:
    """An approve of the pool's USDC, as the launch's approve step sends it (nonce 0 of a fresh pool key)."""
    data = approve_calldata(spender, 10**6)
    return {"to": USDC, "data": data, "value": 0, "nonce": 0, "gas": APPROVE_GAS, "maxFeePerGas": 2 * GWEI,
            "maxPriorityFeePerGas": GWEI, "chainId": ANVIL_CHAIN_ID}  # fmt: skip


@pytest.mark.chain
def test_a_signer_given_only_the_chain_settings_signs_for_those_contracts_and_says_so(anvil, tmp_path):
    not_set = {"SIGNER_CONTRACTS": "", "SIGNER_CONTRACTS_FILE": str(tmp_path / "no-such-file.json")}
    signer = start_signer(
        rpc_url=anvil.rpc_url, chain_id=ANVIL_CHAIN_ID, data_dir=tmp_path / "signer",
        extra_env={**not_set, **CHAIN_SETTINGS},
    )  # fmt: skip
    try:
        key_id, _, secret = signer.client_key.partition(":")
        client = SignerClient(base_url=signer.url, key_id=key_id, secret=secret)

        contracts = client.health()["contracts"]
        client.register_pool(pool_id=1, chain_id=ANVIL_CHAIN_ID, params=pool_params(raise_asset=USDC))
        signed = client.sign(pool_id=1, tx=approve(spender=LAUNCHER))
        with pytest.raises(SignerRefused) as refused:
            client.sign(pool_id=1, tx=approve(spender=address("someone-else")))
    finally:
        signer.stop()

    assert contracts == {"chain_id": ANVIL_CHAIN_ID, "launcher": LAUNCHER, "refunder": REFUNDER,
                         "raise_assets": [USDC], "source": "CHAIN_*"}  # fmt: skip
    assert signed.intent["kind"] == "approve" and signed.raw_tx.startswith("0x02")
    assert refused.value.code == "bad_spender"


def serve(tmp_path, **env: str) -> subprocess.CompletedProcess:
    """`python -m enclave_signer serve` for Base, configured by `env` only (no RPC needed: it must stop before)."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith(("CHAIN_", "SIGNER_"))}
    configured = {
        "CHAIN_ID": str(BASE_CHAIN_ID),
        "CHAIN_RPC_URL": "http://127.0.0.1:9",
        "SIGNER_DATA_DIR": str(tmp_path / "signer"),
        "SIGNER_SEALING_SECRET": "a sealing secret for this test only",
        "SIGNER_HMAC_KEYS": "test:" + "ab" * 32,
    }
    return subprocess.run(
        [sys.executable, "-m", "enclave_signer", "serve"],
        cwd=PROJECT_ROOT,
        env={**inherited, **configured, **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    ("env", "missing"),
    [
        ({}, "no Launcher and no Refunder"),
        ({"CHAIN_LAUNCHER_ADDRESS": LAUNCHER, "CHAIN_USDC_ADDRESS": USDC}, "no Refunder"),
    ],
)
def test_a_signer_for_a_real_network_that_would_allow_no_launcher_or_refunder_refuses_to_start(tmp_path, env, missing):
    result = serve(tmp_path, **env)

    assert result.returncode == 2, result.stderr
    line = result.stderr.strip().splitlines()[-1]
    assert missing in line and "set CHAIN_LAUNCHER_ADDRESS and CHAIN_REFUNDER_ADDRESS" in line
    assert not (tmp_path / "signer").exists()  # refused before it touched its keys


def known(tmp_path, **env: str):
    return load_config({"CHAIN_ID": str(ANVIL_CHAIN_ID), **env}).known_contracts()


def test_signer_contracts_beats_the_chain_settings_which_beat_the_file(tmp_path):
    path = write_contracts_file(tmp_path / "contracts.json", launcher=address("file"), chain_id=ANVIL_CHAIN_ID)
    inline = json.dumps({"chain_id": ANVIL_CHAIN_ID, "launcher": address("inline"), "refunder": REFUNDER})
    from_file = {"SIGNER_CONTRACTS_FILE": str(path)}

    everything = known(tmp_path, SIGNER_CONTRACTS=inline, **CHAIN_SETTINGS, **from_file)
    settings_and_file = known(tmp_path, **CHAIN_SETTINGS, **from_file)
    only_file = known(tmp_path, **from_file)

    assert (everything.launcher, everything.source) == (address("inline"), "SIGNER_CONTRACTS")
    assert (settings_and_file.launcher, settings_and_file.source) == (LAUNCHER, "CHAIN_*")
    assert (only_file.launcher, only_file.source) == (address("file"), str(path))


def test_the_chain_settings_count_only_when_they_name_a_launcher(tmp_path):
    path = write_contracts_file(tmp_path / "contracts.json", launcher=address("file"), chain_id=ANVIL_CHAIN_ID)

    contracts = known(tmp_path, CHAIN_USDC_ADDRESS=USDC, SIGNER_CONTRACTS_FILE=str(path))

    assert (contracts.launcher, contracts.source) == (address("file"), str(path))


def test_a_malformed_chain_address_is_refused_by_name(tmp_path):
    with pytest.raises(ConfigError, match="CHAIN_REFUNDER_ADDRESS"):
        known(tmp_path, CHAIN_LAUNCHER_ADDRESS=LAUNCHER, CHAIN_REFUNDER_ADDRESS="0x123")
