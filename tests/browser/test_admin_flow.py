"""What an admin does, in a real browser and through the admin only: create a pool in people's units, read its
preview, schedule it, close it early and launch it. The chain, the signer and the indexer are real; the worker's
periodic jobs (opening the pool, indexing, advancing the launch) are called by the test where a worker would run them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from playwright.sync_api import expect

from chain.client import chain_deployment
from chain.devnet import refresh_dev_price_feeds
from pools.models import Launch, Pool
from pools.services.pools import pools_open_due
from tests.browser.conftest import SCREENSHOTS, screenshot
from tests.factories import AgentFactory
from tests.indexer.support import ETHER, fresh_address
from tests.launch.test_lifecycle import CONFIRMATIONS, chain_now, deposit_from, index_until_confirmed, run_launch

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]


def sign_in(page, live_server) -> None:
    User.objects.create_superuser("admin", "admin@example.org", "admin-password")
    page.goto(f"{live_server.url}/admin/login/")
    page.fill("#id_username", "admin")
    page.fill("#id_password", "admin-password")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Site administration")).to_be_visible()


def fill_pool_form(page, *, agent_pk: int, opens: datetime) -> None:
    closes = opens + timedelta(days=1)
    page.select_option("#id_agent", str(agent_pk))
    fields = {
        "name": "Admin Pool", "soft_cap": "5", "hard_cap": "200", "min_contribution": "0.01",
        "max_contribution": "", "confirmations": str(CONFIRMATIONS), "token_name": "Admin Token",
        "token_symbol": "ADM", "total_supply": "1,000,000,000", "liquidity_supply_bps": "50",
        "depositor_supply_bps": "40", "agent_supply_bps": "10", "liquidity_raise_bps": "80", "fee_bps": "1",
        "agent_cliff_seconds": "0", "agent_vesting_seconds": "1 day", "oracle_tolerance_bps": "2",
        "oracle_max_age_seconds": "1 day", "fee_recipient": fresh_address("admin-fee"),
        "treasury_address": fresh_address("admin-treasury"), "opens_at_0": opens.strftime("%Y-%m-%d"),
        "opens_at_1": opens.strftime("%H:%M:%S"), "closes_at_0": closes.strftime("%Y-%m-%d"),
        "closes_at_1": closes.strftime("%H:%M:%S"),
    }  # fmt: skip
    for name, value in fields.items():
        page.fill(f"#id_{name}", value)


def test_an_admin_creates_previews_schedules_closes_and_launches_a_pool_in_the_admin_only(chain, live_server, page):
    agent = AgentFactory(wallet_address=fresh_address("admin-agent"))
    sign_in(page, live_server)
    page.goto(f"{live_server.url}/admin/pools/pool/add/")
    opens = (max(datetime.now(tz=UTC), chain_now(chain)) + timedelta(minutes=2)).replace(microsecond=0)
    fill_pool_form(page, agent_pk=agent.pk, opens=opens)
    conversion = page.locator(".fieldBox.field-hard_cap .conversion output")
    expect(conversion).to_have_text("200,000,000,000,000,000,000")  # shown while typing: what will be stored
    screenshot(page, "admin-pool-form")

    page.get_by_role("button", name="Save and continue editing").click()
    expect(page.locator(".messagelist")).to_contain_text("was added successfully")
    pool = Pool.objects.get(name="Admin Pool")
    assert (pool.soft_cap, pool.hard_cap, pool.min_contribution) == (5 * ETHER, 200 * ETHER, 10**16)
    preview = page.locator("table.launch-preview")
    expect(preview).to_contain_text("At the soft cap (5 ETH)")
    expect(preview).to_contain_text("At the hard cap (200 ETH)")
    preview.scroll_into_view_if_needed()
    screenshot(page, "admin-pool-preview")
    preview.screenshot(path=str(SCREENSHOTS / "admin-pool-preview-table.png"))

    page.get_by_role("link", name="Schedule…").click()
    expect(page.get_by_role("heading", name="Schedule: are you sure?")).to_be_visible()
    page.get_by_role("button", name="Yes, schedule it").click()
    expect(page.locator(".messagelist")).to_contain_text("scheduled: the deposit address is ready")
    pool.refresh_from_db()
    assert pool.status == Pool.Status.SCHEDULED and pool.deposit_address
    expect(page.locator(".field-deposit_address")).to_contain_text(pool.deposit_address)
    expect(page.locator(".fieldBox.field-soft_cap_shown")).to_contain_text("5 ETH = 5,000,000,000,000,000,000 wei")
    screenshot(page, "admin-pool-scheduled")

    assert pools_open_due(now=pool.opens_at) == [pool.pk]  # the worker's beat
    deposit_from(chain, pool, [5 * ETHER, 5 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="admin-flow")
    index_until_confirmed(chain)
    page.reload()
    page.get_by_role("link", name="Close early…").click()
    expect(page.get_by_text("The soft cap is met")).to_be_visible()
    screenshot(page, "admin-close-early-confirmation")
    page.get_by_role("button", name="Yes, close the raise now").click()
    expect(page.locator(".messagelist")).to_contain_text(": closed")

    index_until_confirmed(chain)  # every deposit before the close is confirmed
    refresh_dev_price_feeds(chain.w3, chain_deployment(), deployer=chain.anvil.account(0).address)
    page.reload()
    page.get_by_role("link", name="Launch…").click()
    expect(page.get_by_text("Now (10 ETH raised)")).to_be_visible()
    screenshot(page, "admin-launch-confirmation")
    page.get_by_role("button", name="Yes, launch now").click()
    expect(page.locator(".messagelist")).to_contain_text("launch requested")

    launch = run_launch(pool, chain=chain)  # the worker's launch job
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    assert launch.requested_by == "admin admin"
    page.reload()
    expect(page.locator(".field-status")).to_contain_text("Launched")
