"""Shared fixtures: a real anvil chain (its own process), the development fixtures deployed on it, and snapshots."""

from __future__ import annotations

import os

import pytest

from chain.devnet import ChainDeployment, deploy_dev_fixtures
from tests.anvil import AnvilNode, start_anvil
from tests.processes import SignerSpares

# The environment signers start from: this process's before any test could monkeypatch it.
SIGNER_BASE_ENV = dict(os.environ)


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


@pytest.fixture(scope="session")
def signer_spares(tmp_path_factory) -> SignerSpares:
    """Where `signer_stack` takes its signers from: each is started while the test before it runs."""
    spares = SignerSpares(folders=lambda: tmp_path_factory.mktemp("signer-stack"), base_env=SIGNER_BASE_ENV)
    yield spares
    spares.stop()


@pytest.fixture
def signer_stack(settings, anvil, dev_chain, signer_spares, tmp_path):
    """A real signer process of the test's own (fresh keys and data) on the test's anvil, and the settings that
    point the app at both."""
    deployment_file = tmp_path / "deployment.json"
    dev_chain.write(deployment_file)
    signer = signer_spares.take(rpc_url=anvil.rpc_url, chain_id=31337, contracts_json=dev_chain.signer_contracts_json())
    settings.CHAIN_RPC_URL = anvil.rpc_url
    settings.CHAIN_ID = 31337
    settings.CHAIN_DEPLOYMENT_FILE = deployment_file
    settings.SIGNER_URL = signer.url
    settings.SIGNER_CLIENT_KEY = signer.client_key
    yield signer
    signer.stop()


@pytest.fixture(autouse=True)
def _fresh_local_counts_and_reads():
    """What a web process keeps in memory between requests (pools/ratelimit.py's local counts, the pool read caches
    and the state versions it learned) must not outlive the Redis and database state a test starts from."""
    from agent_api.pool_cache import CACHE as api_reads
    from pools import ratelimit
    from pools.services import pool_state
    from web.views import LIVE_CACHE as live_reads

    ratelimit.forget_local_counts()
    pool_state.forget_versions()
    api_reads.clear()
    live_reads.clear()
    yield
