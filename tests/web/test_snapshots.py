"""The beat task's snapshots against a real launch on anvil: reserves, cumulative prices and the feed, read directly."""

import pytest
from django.urls import reverse

from chain.artifacts import load_artifact
from chain.client import chain_deployment
from chain.oracle import read_price_feed
from chain.rpc import JsonRpc
from launchpad.schedules import PERIODIC_TASKS
from tests.indexer.support import ETHER, ChainDriver
from tests.web.launching import launch_a_pool
from web import market
from web.models import FeedSnapshot, PriceSnapshot
from web.services import snapshots_take
from web.tasks import snapshot_prices
from web.templatetags.launchpad import usd_price

pytestmark = [pytest.mark.integration, pytest.mark.chain]


@pytest.fixture
def chain(signer_stack, anvil, chain_snapshot) -> ChainDriver:
    return ChainDriver(anvil=anvil, rpc=JsonRpc(url=anvil.rpc_url, timeout=30))


def test_the_snapshot_task_is_scheduled_every_minute():
    assert any(t.task == "web.tasks.snapshot_prices" and t.every_seconds == 60 for t in PERIODIC_TASKS)


@pytest.mark.django_db(transaction=True)
def test_snapshots_read_the_pair_and_feed_and_the_twap_follows_a_trade(chain, client):
    launched = launch_a_pool(chain)
    deployment = chain_deployment()
    pair = chain.w3.eth.contract(address=launched.launch.pair_address, abi=load_artifact("UniswapV2Pair").abi)

    snapshot_prices.apply().get()  # what beat runs, in process
    first = PriceSnapshot.objects.get(pool=launched.pool)
    reserve0, reserve1, _ = pair.functions.getReserves().call()
    token_is_0 = pair.functions.token0().call() == launched.launch.token_address
    assert (first.reserve_token, first.reserve_asset) == ((reserve0, reserve1) if token_is_0 else (reserve1, reserve0))
    feed = read_price_feed(address=deployment.eth_usd_feed)
    assert (first.oracle_answer, first.oracle_decimals, first.oracle_updated_at) == (
        feed.answer, feed.decimals, feed.updated_at,
    )  # fmt: skip
    assert FeedSnapshot.objects.filter(asset="").latest("id").answer == feed.answer
    assert first.token_locked > 0  # the depositors' tokens wait in the claim vault

    # Ten minutes at the launch price, then a buy; another ten minutes, then the second snapshot.
    start = chain.timestamp()
    chain.mine(timestamp=start + 600)
    router = chain.w3.eth.contract(address=deployment.uniswap_v2_router, abi=load_artifact("UniswapV2Router02").abi)
    buyer = chain.anvil.account(6).address
    router.functions.swapExactETHForTokens(
        0, [deployment.weth, launched.launch.token_address], buyer, start + 3_600
    ).transact({"from": buyer, "value": ETHER})
    chain.mine(timestamp=chain.timestamp() + 600)
    snapshots_take()
    second = PriceSnapshot.objects.filter(pool=launched.pool).latest("block_number")

    # The pair's own cumulative price, brought up to the snapshot's block, is what was stored.
    cumulative_fn = pair.functions.price0CumulativeLast if token_is_0 else pair.functions.price1CumulativeLast
    reserve0, reserve1, last = pair.functions.getReserves().call()
    reserves = (reserve0, reserve1) if token_is_0 else (reserve1, reserve0)
    expected = market.current_cumulative(
        cumulative_last=cumulative_fn().call(), reserve_self=reserves[0], reserve_other=reserves[1],
        block_timestamp_last=last, now=second.block_timestamp,
    )  # fmt: skip
    assert second.price_cumulative == expected
    twap = market.twap_price(
        cumulative_start=first.price_cumulative, timestamp_start=first.block_timestamp,
        cumulative_end=second.price_cumulative, timestamp_end=second.block_timestamp, asset_decimals=18,
    )  # fmt: skip
    before = market.spot_price(reserve_asset=first.reserve_asset, reserve_token=first.reserve_token, asset_decimals=18)
    after = market.spot_price(reserve_asset=second.reserve_asset, reserve_token=second.reserve_token, asset_decimals=18)
    assert before < twap < after  # the buy moved the price up half way through the window

    body = client.get(reverse("dashboard")).content.decode()
    price_usd = market.spot_price_usd(
        reserve_asset=reserves[1], reserve_token=reserves[0], asset_decimals=18, answer=feed.answer, feed_decimals=8
    )
    assert f"<dd data-price-usd>{usd_price(price_usd)}</dd>" in body
