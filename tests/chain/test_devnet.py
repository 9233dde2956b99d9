import time

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.core.management import CommandError, call_command
from web3 import Web3

from chain.artifacts import load_artifact
from chain.client import assert_configured_chain, chain_deployment, check_chain_id
from chain.errors import ChainIdMismatch, ChainUnavailable

pytestmark = pytest.mark.chain


@pytest.fixture
def local_chain(settings, anvil, tmp_path):
    settings.CHAIN_RPC_URL = anvil.rpc_url
    settings.CHAIN_ID = 31337
    settings.CHAIN_DEPLOYMENT_FILE = tmp_path / "deployment.json"
    settings.CHAIN_CHECK_ON_START = True
    return anvil


def test_a_chain_id_other_than_the_configured_one_is_refused(local_chain, settings):
    settings.CHAIN_ID = 8453  # Base

    with pytest.raises(ChainIdMismatch, match="chain id 31337"):
        check_chain_id()
    with pytest.raises(ImproperlyConfigured):
        assert_configured_chain()


def test_an_unreachable_rpc_is_reported_not_hidden(settings):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"

    with pytest.raises(ChainUnavailable, match="did not answer"):
        check_chain_id()


def test_deploy_dev_fixtures_records_live_addresses_once(local_chain, chain_snapshot, capsys):
    call_command("deploy_dev_fixtures")
    deployment = chain_deployment()
    call_command("deploy_dev_fixtures")

    assert "already deployed" in capsys.readouterr().out
    assert chain_deployment() == deployment
    for address in (deployment.weth, deployment.uniswap_v2_factory, deployment.uniswap_v2_router, deployment.usdc):
        assert local_chain.w3.eth.get_code(Web3.to_checksum_address(address)) != b""


def test_deploy_dev_fixtures_refuses_a_chain_that_is_not_local(local_chain, settings):
    settings.CHAIN_ID = 1

    with pytest.raises(CommandError, match="chain id 31337"):
        call_command("deploy_dev_fixtures")


def test_the_uniswap_artifacts_from_npm_make_a_working_pool(anvil, dev_chain, chain_snapshot):
    """The router's hard-coded pair init-code hash must match the pair build we deploy, or nothing works."""
    w3 = anvil.w3
    lp = anvil.account(1).address
    usdc = w3.eth.contract(address=dev_chain.usdc, abi=load_artifact("TestUSDC").abi)
    router = w3.eth.contract(address=dev_chain.uniswap_v2_router, abi=load_artifact("UniswapV2Router02").abi)
    usdc.functions.mint(lp, 3_000 * 10**6).transact({"from": lp})
    usdc.functions.approve(router.address, 3_000 * 10**6).transact({"from": lp})

    router.functions.addLiquidityETH(usdc.address, 3_000 * 10**6, 0, 0, lp, int(time.time()) + 600).transact(
        {"from": lp, "value": 10**18}
    )

    factory = w3.eth.contract(address=dev_chain.uniswap_v2_factory, abi=load_artifact("UniswapV2Factory").abi)
    pair_address = factory.functions.getPair(usdc.address, dev_chain.weth).call()
    pair = w3.eth.contract(address=pair_address, abi=load_artifact("UniswapV2Pair").abi)
    reserves = pair.functions.getReserves().call()
    assert sorted(reserves[:2]) == sorted([3_000 * 10**6, 10**18])


def test_the_dev_price_feed_answers_like_chainlink(anvil, dev_chain):
    feed = anvil.w3.eth.contract(address=dev_chain.eth_usd_feed, abi=load_artifact("DevPriceFeed").abi)

    _, answer, _, updated_at, _ = feed.functions.latestRoundData().call()

    assert feed.functions.decimals().call() == 8
    assert answer == 3_000 * 10**8
    assert updated_at > 0
