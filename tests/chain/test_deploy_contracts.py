"""`manage.py deploy_contracts` as an operator runs it: a subprocess against its own anvil, keys from the environment
or a keystore (never an unlocked node account), or unsigned transactions for a hardware wallet."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys

import pytest
from eth_account import Account

from chain.deploy import mismatch, our_contracts
from chain.devnet import deploy_dev_fixtures
from tests.anvil import ANVIL_CHAIN_ID, PROJECT_ROOT, start_anvil

pytestmark = pytest.mark.chain

DEPLOYER = 5  # an anvil development account: its key is derived from the public mnemonic, never written down
ENV_LINE = re.compile(r"^(CHAIN_LAUNCHER_ADDRESS|CHAIN_REFUNDER_ADDRESS)=(0x[0-9a-fA-F]{40})$")
NO_KEY = "set DEPLOYER_PRIVATE_KEY or pass --keystore FILE or --unsigned"


@pytest.fixture(scope="module")
def node():
    """A fresh anvil of its own with WETH9 and the Uniswap V2 factory (from the dev fixtures)."""
    anvil = start_anvil()
    anvil.fixtures = deploy_dev_fixtures(anvil.w3, deployer=anvil.account(0).address)
    yield anvil
    anvil.stop()


@pytest.fixture
def chain(node):
    snapshot = node.rpc("evm_snapshot")
    yield node
    node.rpc("evm_revert", [snapshot])


def run_deploy(chain, *args: str, **env: str) -> subprocess.CompletedProcess:
    """The command as a separate process, configured only by its environment."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("CHAIN_", "DEPLOYER_"))}
    configured = {
        "CHAIN_RPC_URL": chain.rpc_url,
        "CHAIN_ID": str(ANVIL_CHAIN_ID),
        "CHAIN_UNISWAP_V2_FACTORY": chain.fixtures.uniswap_v2_factory,
        "CHAIN_WETH_ADDRESS": chain.fixtures.weth,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "deploy_contracts", *args],
        cwd=PROJECT_ROOT,
        env={**clean, **configured, **env},
        capture_output=True,
        text=True,
        timeout=120,
    )


def env_lines(result: subprocess.CompletedProcess) -> dict[str, str]:
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    matches = [ENV_LINE.match(line) for line in lines]
    assert len(lines) == 2 and all(matches), result.stdout
    return dict(match.groups() for match in matches)


def assert_ours(chain, lines: dict[str, str]) -> None:
    contracts = our_contracts(
        factory=chain.fixtures.uniswap_v2_factory,
        weth=chain.fixtures.weth,
        launcher=lines["CHAIN_LAUNCHER_ADDRESS"],
        refunder=lines["CHAIN_REFUNDER_ADDRESS"],
    )
    assert [mismatch(chain.w3, contract) for contract in contracts] == ["", ""]


def refusal(result: subprocess.CompletedProcess) -> str:
    """The one line a refused run ends with (exit 2, nothing on STDOUT)."""
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stdout == ""
    return result.stderr.strip().splitlines()[-1]


def test_a_private_key_deploys_both_and_a_second_run_deploys_nothing(chain):
    deployer = chain.account(DEPLOYER)
    first = env_lines(run_deploy(chain, DEPLOYER_PRIVATE_KEY=deployer.key.hex()))
    assert_ours(chain, first)
    nonce = chain.w3.eth.get_transaction_count(deployer.address)

    again = run_deploy(chain, DEPLOYER_PRIVATE_KEY=deployer.key.hex(), **first)

    assert env_lines(again) == first
    assert chain.w3.eth.get_transaction_count(deployer.address) == nonce
    assert "already deployed" in again.stderr


def test_a_keystore_with_its_password_in_the_environment_deploys(chain, tmp_path):
    deployer = chain.account(DEPLOYER)
    keystore = tmp_path / "deployer.json"
    keystore.write_text(json.dumps(Account.encrypt(deployer.key, "correct horse")))

    lines = env_lines(run_deploy(chain, "--keystore", str(keystore), DEPLOYER_KEYSTORE_PASSWORD="correct horse"))

    assert_ours(chain, lines)
    wrong = run_deploy(chain, "--keystore", str(keystore), DEPLOYER_KEYSTORE_PASSWORD="wrong")
    assert "wrong password" in refusal(wrong)


def test_unsigned_transactions_signed_elsewhere_create_the_contracts_at_the_printed_addresses(chain):
    wallet = chain.account(DEPLOYER)  # stands in for the hardware wallet: the test signs, not the command
    result = run_deploy(chain, "--unsigned", "--from", wallet.address)
    assert result.returncode == 0, result.stderr
    printed = [json.loads(line) for line in result.stdout.splitlines()]
    assert [item["contract"] for item in printed] == ["Launcher", "Refunder"]

    for item in printed:
        tx = {key: value for key, value in item["transaction"].items() if key != "to"}
        signed = wallet.sign_transaction(tx)
        receipt = chain.w3.eth.wait_for_transaction_receipt(chain.w3.eth.send_raw_transaction(signed.raw_transaction))
        assert receipt["status"] == 1
        assert receipt["contractAddress"] == item["address"]

    assert_ours(chain, dict(item["env"].split("=") for item in printed))


def test_a_configured_address_without_our_code_is_refused(chain):
    not_ours = run_deploy(
        chain, DEPLOYER_PRIVATE_KEY=chain.account(DEPLOYER).key.hex(), CHAIN_LAUNCHER_ADDRESS=chain.fixtures.weth
    )

    line = refusal(not_ours)
    assert "CHAIN_LAUNCHER_ADDRESS" in line and chain.fixtures.weth in line
    assert chain.w3.eth.get_transaction_count(chain.account(DEPLOYER).address) == 0


def test_a_refunder_address_holding_other_code_is_refused(chain):
    other = run_deploy(chain, "--unsigned", "--from", chain.account(DEPLOYER).address,
                       CHAIN_REFUNDER_ADDRESS=chain.fixtures.uniswap_v2_router)  # fmt: skip

    assert "not our Refunder" in refusal(other)


def test_without_a_key_nothing_is_sent_and_the_line_says_how_to_give_one(chain):
    assert NO_KEY in refusal(run_deploy(chain))


def test_a_deployer_too_poor_for_the_fees_is_told_how_much_to_send(chain):
    poor = Account.create()
    chain.rpc("anvil_setBalance", [poor.address, hex(1000)])

    line = refusal(run_deploy(chain, DEPLOYER_PRIVATE_KEY=poor.key.hex()))

    assert poor.address in line and "send it at least" in line
    assert chain.w3.eth.get_transaction_count(poor.address) == 0


def test_missing_factory_and_weth_a_malformed_address_and_a_wrong_chain_are_refused_by_name(chain):
    key = chain.account(DEPLOYER).key.hex()

    missing = refusal(run_deploy(chain, DEPLOYER_PRIVATE_KEY=key, CHAIN_UNISWAP_V2_FACTORY="", CHAIN_WETH_ADDRESS=""))
    malformed = refusal(run_deploy(chain, DEPLOYER_PRIVATE_KEY=key, CHAIN_LAUNCHER_ADDRESS="0x123"))
    wrong_chain = refusal(run_deploy(chain, DEPLOYER_PRIVATE_KEY=key, CHAIN_ID="8453"))

    assert "CHAIN_UNISWAP_V2_FACTORY" in missing and "CHAIN_WETH_ADDRESS" in missing
    assert "CHAIN_LAUNCHER_ADDRESS='0x123' is not an address" in malformed
    assert "CHAIN_ID" in wrong_chain
