"""What a depositor does, in a real browser: fund a pool and watch it live, sign in, claim, read the dashboard."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from chain.artifacts import load_artifact
from chain.client import chain_deployment
from chain.oracle import read_price_feed
from pools.models import Allocation, Pool
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.browser.conftest import inject_wallet, screenshot
from tests.indexer.support import ETHER
from tests.launch.test_lifecycle import deposit_from, index_until_confirmed, scheduled_pool
from tests.web.launching import launch_a_pool
from web import market
from web.services import snapshots_take
from web.templatetags.launchpad import readable, usd, usd_price

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]


def test_a_deposit_shows_up_pending_then_credited_without_a_reload(chain, live_server, page):
    pool = scheduled_pool(chain, name="Live Pool", token_symbol="LIVE")

    page.goto(f"{live_server.url}/")
    expect(page.get_by_role("link", name="Live Pool")).to_be_visible()
    screenshot(page, "pool-list")
    page.get_by_role("link", name="Live Pool").click()
    expect(page.locator("#deposit-address")).to_have_text(pool.deposit_address)
    expect(page.get_by_role("img", name=f"QR code of {pool.deposit_address}")).to_be_visible()
    expect(page.get_by_role("button", name="Copy address")).to_be_visible()
    page.evaluate("window.__sameDocument = true")

    deposit_from(chain, pool, [2 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="browser")
    index_chain(chain_id=ANVIL_CHAIN_ID)  # seen, not yet confirmed
    row = page.locator("table.deposits tbody tr")
    expect(row).to_have_attribute("data-status", "pending")
    expect(row).to_contain_text("Pending")
    screenshot(page, "pool-open-pending-deposit")

    index_until_confirmed(chain)
    expect(row).to_have_attribute("data-status", "confirmed")
    expect(row).to_contain_text("Credited 2 ETH")
    expect(page.locator("[data-pool-raised]")).to_have_text("2 ETH")
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"
    screenshot(page, "pool-open-credited-deposit")


def test_a_depositor_signs_in_with_ethereum_and_claims_the_tokens(chain, live_server, page):
    launched = launch_a_pool(chain, name="Claim Pool", token_symbol="CLM")
    allocation = Allocation.objects.get(pool=launched.pool, address=launched.depositor.address)
    signed = inject_wallet(page, account=launched.depositor, anvil=chain.anvil)

    page.goto(f"{live_server.url}/pools/{launched.pool.pk}/")
    expect(page.get_by_role("heading", name="Launched")).to_be_visible()
    screenshot(page, "pool-launched")

    page.goto(f"{live_server.url}/account/")
    page.get_by_role("button", name="Sign in with Ethereum").click()
    expect(page.get_by_text(f"Signed in as {launched.depositor.address}")).to_be_visible()
    assert len(signed) == 1 and "wants you to sign in with your Ethereum account" in signed[0]
    host = live_server.url.removeprefix("http://")
    assert signed[0].startswith(f"{host} wants you to sign in")  # the domain is this site's
    expect(page.locator("[data-credited]")).to_have_text("5 ETH")
    screenshot(page, "account-signed-in")

    page.get_by_role("link", name="Vested and claimed amounts, and claim").click()
    expect(page.locator("[data-claimed]")).to_have_text("0 CLM")
    expect(page.locator("[data-allocation]")).to_have_text(_tokens(allocation.token_amount))
    expect(page.locator("[data-allocation] [data-exact]")).to_have_attribute(
        "data-exact", _units(allocation.token_amount, 18).replace(",", "")
    )
    screenshot(page, "claim-before")
    page.get_by_role("button", name="Claim", exact=True).click()

    expect(page.locator("[data-claimed]")).to_have_text(_tokens(allocation.token_amount))
    expect(page.locator("[data-claimable]")).to_have_text("0 CLM")
    vault = chain.w3.eth.contract(address=launched.launch.claim_vault_address, abi=load_artifact("ClaimVault").abi)
    assert vault.functions.claimed(launched.depositor.address).call() == allocation.token_amount
    screenshot(page, "claim-after")

    page.goto(f"{live_server.url}/transparency/")  # the launch went through the signer: it is in the log
    expect(page.locator("tr[data-seq]").filter(has_text="launch").first).to_contain_text("Signed")
    screenshot(page, "transparency")


def test_the_dashboard_shows_a_launched_pool_in_usd_through_the_feed(chain, live_server, page):
    launched = launch_a_pool(chain, name="Market Pool", token_symbol="MKT")
    scheduled_pool(chain, name="Still Open", token_symbol="OPEN")  # an open pool: its raise in USD
    snapshots_take()
    chain.mine(timestamp=chain.timestamp() + 300)
    snapshots_take()

    page.goto(f"{live_server.url}/dashboard/")

    feed = read_price_feed(address=chain_deployment().eth_usd_feed)
    pair = chain.w3.eth.contract(address=launched.launch.pair_address, abi=load_artifact("UniswapV2Pair").abi)
    reserve0, reserve1, _ = pair.functions.getReserves().call()
    token_is_0 = pair.functions.token0().call() == launched.launch.token_address
    reserve_token, reserve_asset = (reserve0, reserve1) if token_is_0 else (reserve1, reserve0)
    convert = {"asset_decimals": 18, "answer": feed.answer, "feed_decimals": feed.decimals}
    card = page.locator(f"article[data-pool='{launched.pool.pk}']")
    expect(card.locator("[data-price-usd]")).to_have_text(
        usd_price(market.spot_price_usd(reserve_asset=reserve_asset, reserve_token=reserve_token, **convert))
    )
    expect(card.locator("[data-liquidity]")).to_have_text(
        usd(market.liquidity_usd(reserve_asset=reserve_asset, **convert))
    )
    expect(card.locator("[data-deviation]")).to_have_text("0.00%")  # nobody traded since the launch
    expect(card.locator("[data-twap]")).to_contain_text("$")
    expect(page.locator("[data-feed='ETH']")).to_have_text("$" + _units(feed.answer, feed.decimals))
    expect(card.get_by_role("img")).to_be_visible()  # the price chart
    screenshot(page, "dashboard")


def test_pages_read_fine_without_javascript(chain, live_server, browser):
    pool = scheduled_pool(chain, name="Plain Pool", token_symbol="PLN")
    context = browser.new_context(java_script_enabled=False, viewport={"width": 1280, "height": 800})
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/pools/{pool.pk}/")
        expect(page.locator("#deposit-address")).to_have_text(pool.deposit_address)
        expect(page.get_by_role("img", name=f"QR code of {pool.deposit_address}")).to_be_visible()
        expect(page.get_by_role("button", name="Copy address")).to_be_hidden()  # needs JavaScript: not offered
        screenshot(page, "pool-without-javascript")
        page.goto(f"{live_server.url}/account/?address={pool.deposit_address}")
        expect(page.get_by_role("button", name="Sign in with Ethereum")).to_be_hidden()
        expect(page.get_by_text("Signing in needs a browser wallet")).to_be_visible()
        page.goto(f"{live_server.url}/transparency/")
        expect(page.locator("[data-tee]")).to_have_text("none (development)")
        expect(page.get_by_role("link", name="signer-log.jsonl")).to_be_visible()
    finally:
        context.close()
    assert Pool.objects.filter(pk=pool.pk, status=Pool.Status.OPEN).exists()


def _tokens(amount: int) -> str:
    """A token amount as the page shows it: rounded for reading (the exact value is in its data-exact)."""
    return f"{readable(amount, 18)} CLM"


def _units(amount: int, decimals: int) -> str:
    from pools.units import format_units

    return format_units(amount, decimals)
