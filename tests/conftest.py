"""Shared fixtures: a real anvil chain (its own process), the development fixtures deployed on it, and snapshots."""

from __future__ import annotations

import pytest

from pools.chain.devnet import ChainDeployment, deploy_dev_fixtures
from tests.anvil import AnvilNode, start_anvil


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
    """Revert every chain change a test makes."""
    snapshot = anvil.rpc("evm_snapshot")
    yield anvil
    anvil.rpc("evm_revert", [snapshot])
