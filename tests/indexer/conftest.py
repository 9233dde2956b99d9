"""Fixtures for the indexer tests: the dev chain (reverted after each test), a cursor at its head, pools."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from chain.rpc import JsonRpc
from pools.models import IndexerCursor, Pool
from tests.anvil import ANVIL_CHAIN_ID
from tests.factories import PoolFactory
from tests.indexer.support import USDC, ChainDriver, fresh_address


@pytest.fixture
def chain(settings, anvil, dev_chain, chain_snapshot) -> ChainDriver:
    """The shared anvil with the dev fixtures, the app pointed at it, every change reverted after the test."""
    settings.CHAIN_RPC_URL = anvil.rpc_url
    settings.CHAIN_ID = ANVIL_CHAIN_ID
    return ChainDriver(anvil=anvil, rpc=JsonRpc(url=anvil.rpc_url, timeout=30))


@pytest.fixture
def cursor(chain, db) -> IndexerCursor:
    """The chain's cursor at its current head: only what the test mines is indexed."""
    head = chain.head()
    return IndexerCursor.objects.create(chain_id=ANVIL_CHAIN_ID, last_block=head, first_block=head + 1)


@pytest.fixture
def make_pool(db, chain):
    """An open pool with its own deposit address, open since an hour ago by the chain's clock, for a day."""
    now = datetime.fromtimestamp(chain.timestamp(), tz=UTC)

    def make(label: str = "pool", **fields) -> Pool:
        fields.setdefault("opens_at", now - timedelta(hours=1))
        fields.setdefault("closes_at", now + timedelta(days=1))
        fields.setdefault("deposit_address", fresh_address(f"pool-{label}"))
        fields.setdefault("chain_id", ANVIL_CHAIN_ID)
        fields.setdefault("confirmations", 2)
        return PoolFactory(**fields)

    return make


@pytest.fixture
def eth_pool(make_pool) -> Pool:
    return make_pool("eth", soft_cap=0, hard_cap=1_000 * 10**18)


@pytest.fixture
def usdc_pool(make_pool, dev_chain) -> Pool:
    return make_pool(
        "usdc",
        raise_asset=dev_chain.usdc,
        raise_asset_symbol="USDC",
        raise_asset_decimals=6,
        soft_cap=0,
        hard_cap=1_000_000 * USDC,
    )
