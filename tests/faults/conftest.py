"""The fault-injection suite runs only when asked for (`make test-faults`, i.e. `pytest -m faults`): it takes
minutes, stops and restarts the test servers, and drops or stalls the chain until the app has shown it felt it."""

from __future__ import annotations

import pytest

# The invariants are asserted in helper modules: let pytest explain their failures as it does a test's.
pytest.register_assert_rewrite("tests.faults.invariants", "tests.faults.support")

from chain.rpc import JsonRpc  # noqa: E402
from tests.faults.support import RPC_TIMEOUT_SECONDS, FaultStack  # noqa: E402
from tests.faults.tcp_proxy import TcpProxy  # noqa: E402
from tests.indexer.support import ChainDriver  # noqa: E402


def pytest_collection_modifyitems(config, items):
    """Leave the fault tests out of every run whose -m expression does not name them (`make test` among them)."""
    if "faults" in (config.getoption("markexpr") or ""):
        return
    kept, left_out = [], []
    for item in items:
        (left_out if item.get_closest_marker("faults") else kept).append(item)
    if left_out:
        config.hook.pytest_deselected(items=left_out)
        items[:] = kept


@pytest.fixture
def stack(settings, signer_stack, anvil, chain_snapshot, tmp_path) -> FaultStack:
    """The app (this process's services and the workers) reaches anvil only through a proxy that the test breaks."""
    port = int(anvil.rpc_url.rsplit(":", 1)[1])
    proxy = TcpProxy(upstream_port=port).start()
    settings.CHAIN_RPC_URL = proxy.url
    settings.CHAIN_RPC_TIMEOUT = RPC_TIMEOUT_SECONDS  # a client gives up on a stalled connection this soon
    chain = ChainDriver(anvil=anvil, rpc=JsonRpc(url=anvil.rpc_url, timeout=30))
    faults = FaultStack(chain=chain, proxy=proxy, signer=signer_stack, tmp_path=tmp_path, first_block=chain.head())
    yield faults
    faults.stop()
