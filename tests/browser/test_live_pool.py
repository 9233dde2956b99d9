"""One tab on one pool page, never reloaded, through the pool's whole life: scheduled → open → hard cap → launched →
claim, with every panel right at each step; and keyboard focus that stays where it was when the live part changes."""

from __future__ import annotations

from datetime import timedelta

import pytest
from playwright.sync_api import expect

from pools.models import Launch, Pool
from pools.services.launch import launch_request
from pools.services.pools import pools_open_due
from tests.browser.conftest import DESKTOP, PHONE, inject_wallet, screenshot
from tests.indexer.support import ETHER
from tests.launch import test_lifecycle
from tests.launch.test_lifecycle import deposit_from, index_until_confirmed, run_launch, scheduled_pool
from tests.web.launching import deposit_from_account

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

AXE = "node_modules/axe-core/axe.min.js"


def scheduled_not_yet_open(chain, monkeypatch, **fields) -> Pool:
    """`scheduled_pool`, stopped before it opens: its own call to open the pool is made to open nothing."""
    with monkeypatch.context() as patch:
        patch.setattr(
            test_lifecycle,
            "pools_open_due",
            lambda now: list(Pool.objects.filter(status=Pool.Status.SCHEDULED).values_list("pk", flat=True)),
        )
        pool = scheduled_pool(chain, **fields)
    assert pool.status == Pool.Status.SCHEDULED
    return pool


def overflow_at_phone_width(page) -> int:
    """How many pixels the page is wider than a 390 px phone (0: nothing runs past the edge)."""
    page.set_viewport_size(PHONE)
    try:
        return page.evaluate("document.documentElement.scrollWidth") - PHONE["width"]
    finally:
        page.set_viewport_size(DESKTOP)


def same_document(page) -> bool:
    return page.evaluate("window.__sameDocument === true")


def scrollable_regions_without_focus(page) -> list[str]:
    """axe-core's scrollable-region-focusable rule on the page as it is now."""
    page.add_script_tag(path=AXE)
    result = page.evaluate(
        "async () => (await axe.run(document, {runOnly: ['scrollable-region-focusable']})).violations"
        ".flatMap((v) => v.nodes.map((n) => n.target.join(' ')))"
    )
    return list(result)


def test_one_tab_follows_a_pool_from_scheduled_to_claimed_without_a_reload(chain, live_server, page, monkeypatch):
    pool = scheduled_not_yet_open(
        chain, monkeypatch, name="Whole Life", token_symbol="LIFE", soft_cap=5 * ETHER, hard_cap=10 * ETHER
    )
    depositor = chain.anvil.account(3)
    inject_wallet(page, account=depositor, anvil=chain.anvil)
    badge = page.locator("[data-status-badge]")

    page.goto(f"{live_server.url}/pools/{pool.pk}/")
    expect(badge).to_have_text("Scheduled")
    expect(page.locator("#deposit-address")).to_have_text(pool.deposit_address)
    expect(page.locator("[data-header-wallet] [data-wallet-address]")).to_have_text(
        f"{depositor.address[:6]}…{depositor.address[-4:]}"
    )
    expect(page.locator("[data-you]")).to_contain_text("No deposit from this address in this pool yet.")
    page.evaluate("window.__sameDocument = true")
    screenshot(page, "live-1-scheduled")

    assert pools_open_due(now=pool.opens_at) == [pool.pk]
    expect(badge).to_have_text("Open")
    expect(page.get_by_role("button", name="Copy address")).to_be_visible()
    screenshot(page, "live-2-open")

    at = pool.opens_at + timedelta(minutes=1)
    deposit_from_account(chain, pool, depositor, 5 * ETHER, at=at)
    deposit_from(chain, pool, [5 * ETHER], at=at + timedelta(seconds=12), label=f"life-{pool.pk}")
    index_until_confirmed(chain)  # 10 ETH credited: the hard cap, so the pool closes
    expect(badge).to_have_text("Closed")
    expect(page.locator("[data-pool-raised]")).to_have_text("10 ETH")
    expect(page.locator("#deposit-address")).to_have_count(0)  # no invitation to send into a closed pool
    expect(page.get_by_role("button", name="Copy address")).to_have_count(0)
    expect(page.locator("[data-closed-notice]")).to_be_visible()
    expect(page.locator("[data-you-credited]")).to_have_text("5 ETH")
    expect(page.locator("[data-you-tokens]")).to_contain_text("about 200,000,000 LIFE")
    expect(page.locator("[data-claim-link]")).to_have_count(0)
    assert same_document(page), "the page reloaded"
    screenshot(page, "live-3-hard-cap")

    launch_request(pool_id=pool.pk, requested_by="test")
    assert run_launch(pool).step == Launch.Step.LAUNCHED
    expect(badge).to_have_text("Launched")
    expect(page.get_by_role("heading", name="Launched")).to_be_visible()
    expect(page.locator("[data-claim-link]")).to_be_visible()
    expect(page.locator("[data-you-claim]")).to_be_visible()
    expect(page.locator("[data-you-tokens]")).not_to_contain_text("about")  # the allocation itself now
    assert same_document(page), "the page reloaded"
    assert scrollable_regions_without_focus(page) == []
    assert overflow_at_phone_width(page) == 0
    screenshot(page, "live-4-launched")

    page.locator("[data-you-claim]").click()
    expect(page.locator("#claim-amount")).to_have_text("about 200,000,000 LIFE now")
    assert overflow_at_phone_width(page) == 0  # the Claim button and its amount fit a phone
    screenshot(page, "live-5-claim")
    page.get_by_role("button", name="Claim", exact=True).click()
    expect(page.locator("[data-claimable]")).to_have_text("0 LIFE")
    expect(page.locator("[data-claim-outlook]")).to_have_text("Everything is claimed.")
    assert overflow_at_phone_width(page) == 0
    screenshot(page, "live-6-claimed")

    page.goto(f"{live_server.url}/account/?address={depositor.address}")  # each deposit, refund and claim
    expect(page.locator("tr[data-deposit]")).to_contain_text("Credited 5 ETH")
    expect(page.locator("tr[data-claim-tx]")).to_contain_text("200,000,000 LIFE")
    screenshot(page, "live-7-my-contribution")


def test_keyboard_focus_on_a_link_in_the_live_part_stays_there_when_it_changes(chain, live_server, page):
    pool = scheduled_pool(chain, name="Focus Pool", token_symbol="FOCUS")
    page.goto(f"{live_server.url}/pools/{pool.pk}/")
    link = page.get_by_role("link", name="reload it")  # a link without an id
    link.focus()
    page.evaluate("document.activeElement.__focusedBeforeSwap = true")
    version = page.locator("#pool-live").get_attribute("data-version")

    deposit_from(chain, pool, [2 * ETHER], at=pool.opens_at + timedelta(minutes=1), label=f"focus-{pool.pk}")
    index_until_confirmed(chain)

    expect(page.locator("[data-pool-raised]")).to_have_text("2 ETH")
    assert page.locator("#pool-live").get_attribute("data-version") != version  # it did change
    assert page.evaluate("document.activeElement.__focusedBeforeSwap === true"), page.evaluate(
        "document.activeElement.outerHTML.slice(0, 200)"
    )
    expect(link).to_be_focused()


SHY_WALLET = """
(() => {
  let connected = false;
  window.ethereum = {
    async request({ method }) {
      if (method === "eth_requestAccounts") { connected = true; return ["%(address)s"]; }
      if (method === "eth_accounts") return connected ? ["%(address)s"] : [];
      if (method === "eth_chainId") return "0x7a69";
      throw new Error(`not in this test: ${method}`);
    },
  };
})();
"""


def test_connect_wallet_asks_once_then_the_header_and_the_you_panel_show_that_address(chain, live_server, page):
    pool = scheduled_pool(chain, name="Connect Pool", token_symbol="CONN")
    depositor = chain.anvil.account(4)
    page.add_init_script(SHY_WALLET % {"address": depositor.address})
    deposit_from_account(chain, pool, depositor, ETHER, at=pool.opens_at + timedelta(minutes=1))
    index_until_confirmed(chain)

    page.goto(f"{live_server.url}/pools/{pool.pk}/")
    connect = page.get_by_role("button", name="Connect wallet")
    expect(connect).to_be_visible()  # eth_accounts said nothing: not connected, and nobody was prompted
    expect(page.locator("[data-you]")).to_have_count(0)
    page.evaluate("window.__sameDocument = true")

    connect.click()

    expect(page.locator("[data-header-wallet]")).to_contain_text(f"{depositor.address[:6]}…{depositor.address[-4:]}")
    expect(connect).to_be_hidden()
    expect(page.locator("[data-you-credited]")).to_have_text("1 ETH")  # the live part, for the connected address
    assert same_document(page)


def test_what_is_typed_in_the_deposit_amount_stays_with_its_focus_when_the_live_part_changes(chain, live_server, page):
    pool = scheduled_pool(chain, name="Typing Pool", token_symbol="TYPE")
    page.goto(f"{live_server.url}/pools/{pool.pk}/")
    amount = page.locator("#deposit-amount")
    amount.click()
    amount.press_sequentially("1.25")
    version = page.locator("#pool-live").get_attribute("data-version")

    deposit_from(chain, pool, [2 * ETHER], at=pool.opens_at + timedelta(minutes=1), label=f"typing-{pool.pk}")
    index_until_confirmed(chain)

    expect(page.locator("[data-pool-raised]")).to_have_text("2 ETH")
    assert page.locator("#pool-live").get_attribute("data-version") != version
    expect(amount).to_have_value("1.25")
    expect(amount).to_be_focused()
