"""The price chart in a real browser: a launched pool's page and the dashboard draw it with axes, the range buttons
switch it, the pool page's live swaps keep it, and without JavaScript the text summary stands in for it."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from chain.artifacts import load_artifact
from chain.client import chain_deployment
from tests.browser.axe import assert_accessible
from tests.browser.conftest import DESKTOP, PHONE, screenshot
from tests.indexer.support import ETHER
from tests.web.launching import launch_a_pool
from web.services import snapshots_take

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

# lightweight-charts draws the pane, the price axis and the time axis each in their own cell, each with a canvas.
AXES_DRAWN = """(widget) => {
    const cells = [...widget.querySelectorAll(".tv-lightweight-charts td")];
    const drawn = cells.filter((td) => {
        const canvas = td.querySelector("canvas");
        return canvas && canvas.width > 0 && canvas.height > 0;
    });
    return drawn.length;
}"""


def move_the_market(chain, launched) -> None:
    """Someone buys with 1 ETH and ETH/USD falls to $2,700: the pool's price and the oracle-implied price part."""
    deployment = chain_deployment()
    router = chain.w3.eth.contract(address=deployment.uniswap_v2_router, abi=load_artifact("UniswapV2Router02").abi)
    buyer = chain.anvil.account(6).address
    path = [deployment.weth, launched.launch.token_address]
    router.functions.swapExactETHForTokens(0, path, buyer, chain.timestamp() + 3_600).transact(
        {"from": buyer, "value": ETHER}
    )
    feed = chain.w3.eth.contract(address=deployment.eth_usd_feed, abi=load_artifact("DevPriceFeed").abi)
    feed.functions.setAnswer(2_700 * 10**8).transact({"from": chain.anvil.account(0).address})


def expect_chart_drawn(page, pool_id: int) -> None:
    widget = page.locator(f"#price-chart-{pool_id}")
    expect(widget).to_be_visible()
    expect(widget).to_have_attribute("data-points", re.compile(r"[1-9]"))
    expect(widget).to_have_attribute("data-unit", "USD")
    expect(widget.get_by_role("img")).to_be_visible()
    assert page.evaluate(AXES_DRAWN, widget.element_handle()) >= 3, "the pane, the price axis and the time axis"


def assert_fits_a_phone(page) -> None:
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(150)  # the chart follows its box's size
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"], "the page overflows a phone"
    page.set_viewport_size(DESKTOP)


def choose_range(page, pool_id: int, name: str) -> None:
    widget = page.locator(f"#price-chart-{pool_id}")
    with page.expect_response(lambda r: "prices.json" in r.url and f"range={name.lower()}" in r.url):
        widget.get_by_role("button", name=name).click()
    expect(widget.get_by_role("button", name=name)).to_have_attribute("aria-pressed", "true")
    expect(widget.locator("button[aria-pressed='true']")).to_have_count(1)


def test_a_launched_pool_s_chart_on_its_page_and_the_dashboard(chain, live_server, page, browser):
    launched = launch_a_pool(chain, name="Chart Pool", token_symbol="CHRT")
    pool_id = launched.pool.pk
    snapshots_take()
    chain.mine(timestamp=chain.timestamp() + 300)
    move_the_market(chain, launched)
    snapshots_take()

    page.goto(f"{live_server.url}/pools/{pool_id}/")
    expect_chart_drawn(page, pool_id)
    expect(page.locator(f"#price-chart-{pool_id} [data-chart-status]")).to_contain_text("Prices in USD, 2 points")
    summary = page.locator("[data-chart-summary]")
    expect(summary).to_contain_text("Last hour (2 snapshots)")
    assert summary.locator("[data-quote='first']").inner_text() != summary.locator("[data-quote='last']").inner_text()
    choose_range(page, pool_id, "1h")
    choose_range(page, pool_id, "All")
    expect(page.locator(f"#price-chart-{pool_id}")).to_have_attribute("data-points", "2")
    assert_accessible(page, "the launched pool's page with its chart")
    screenshot(page, "pool-launched-chart")
    assert_fits_a_phone(page)

    # A new snapshot changes the summary, so the live fragment is swapped: the chart and its range stay as they were.
    page.evaluate(f"document.getElementById('price-chart-{pool_id}').__kept = true")
    chain.mine(timestamp=chain.timestamp() + 300)
    snapshots_take()
    expect(page.locator("[data-chart-summary]")).to_contain_text("Last hour (3 snapshots)")
    assert page.evaluate(f"document.getElementById('price-chart-{pool_id}').__kept") is True, "the chart was redrawn"
    expect(page.get_by_role("button", name="All")).to_have_attribute("aria-pressed", "true")
    expect(page.locator(f"#price-chart-{pool_id} .tv-lightweight-charts")).to_have_count(1)

    page.goto(f"{live_server.url}/dashboard/")
    expect_chart_drawn(page, pool_id)
    choose_range(page, pool_id, "7d")  # not asked before: not in the browser's 10-second cache
    expect(page.locator(f"#price-chart-{pool_id}")).to_have_attribute("data-points", "3")
    assert_accessible(page, "the dashboard with a chart")
    screenshot(page, "dashboard-chart")
    assert_fits_a_phone(page)

    plain = browser.new_context(java_script_enabled=False, viewport={"width": 390, "height": 844})
    try:
        without_js = plain.new_page()
        without_js.goto(f"{live_server.url}/pools/{pool_id}/")
        expect(without_js.locator(f"#price-chart-{pool_id}")).to_be_hidden()  # nothing that would need JavaScript
        expect(without_js.locator("[data-chart-summary]")).to_contain_text("Last hour (3 snapshots)")
        expect(without_js.locator("[data-chart-summary] [data-quote='last']")).to_contain_text("ETH ($")
    finally:
        plain.close()
