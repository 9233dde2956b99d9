import pytest

from tests.processes import start_signer


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
