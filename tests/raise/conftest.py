import pytest


@pytest.fixture
def chain_settings(settings, anvil, dev_chain):
    """The app reads the session's anvil with the development fixtures (TestUSDC: USDC with 6 decimals)."""
    settings.CHAIN_RPC_URL = anvil.rpc_url
    settings.CHAIN_ID = 31337
    return dev_chain
