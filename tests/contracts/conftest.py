"""Fixtures for the contract tests: the dev chain (Uniswap V2 from npm, feeds, USDC, Launcher, Refunder) per test."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.contracts.support import ChainEnv


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in item.path.parents and "anvil" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.chain)


@pytest.fixture
def env(anvil, dev_chain, chain_snapshot) -> ChainEnv:
    """The shared dev chain, reverted after the test."""
    return ChainEnv(anvil=anvil, deployment=dev_chain, deployer=anvil.account(0).address, pool=anvil.account(1).address)
