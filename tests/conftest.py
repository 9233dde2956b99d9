"""Shared fixtures: a real anvil chain (its own process), the development fixtures deployed on it, and snapshots."""

from __future__ import annotations

import pytest

from chain.devnet import ChainDeployment, deploy_dev_fixtures
from tests.anvil import AnvilNode, start_anvil
from tests.processes import start_signer


@pytest.fixture(scope="session")
def anvil() -> AnvilNode:
    """One anvil process for the whole test session; tests isolate themselves with `chain_snapshot`."""
    node = start_anvil()
    yield node
    node.stop()


@pytest.fixture(scope="session")
def dev_chain(anvil: AnvilNode) -> ChainDeployment:
    """WETH9, the Uniswap V2 factory and router (npm artifacts), price feeds, test USDC, Launcher and Refunder."""
    return deploy_dev_fixtures(anvil.w3, deployer=anvil.account(0).address)


@pytest.fixture
def chain_snapshot(anvil: AnvilNode):
    """Revert every chain change a test makes, the fee market too: anvil's evm_revert keeps the next block's base
    fee as the test left it (a fee spike would outlive the test), so it is set back to what it was before."""
    snapshot = anvil.rpc("evm_snapshot")
    next_base_fee = anvil.w3.eth.get_block("pending")["baseFeePerGas"]
    yield anvil
    anvil.rpc("evm_revert", [snapshot])
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(next_base_fee)])


@pytest.fixture
def signer_stack(settings, anvil, dev_chain, tmp_path):
    """A real signer process on the session's anvil, and the settings that point the app at both."""
    deployment_file = tmp_path / "deployment.json"
    contracts_file = tmp_path / "signer-contracts.json"
    dev_chain.write(deployment_file)
    contracts_file.write_text(dev_chain.signer_contracts_json())
    signer = start_signer(
        rpc_url=anvil.rpc_url, chain_id=31337, data_dir=tmp_path / "signer", contracts_file=contracts_file
    )
    settings.CHAIN_RPC_URL = anvil.rpc_url
    settings.CHAIN_ID = 31337
    settings.CHAIN_DEPLOYMENT_FILE = deployment_file
    settings.SIGNER_URL = signer.url
    settings.SIGNER_CLIENT_KEY = signer.client_key
    yield signer
    signer.stop()
