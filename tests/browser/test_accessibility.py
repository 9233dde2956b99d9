"""Every public page, at desktop and phone widths, in each state a pool goes through: axe-core finds no serious or
critical violation, and a screenshot of each is kept in artifacts/screenshots/."""

from __future__ import annotations

from datetime import timedelta

import pytest

from pools.models import Pool
from pools.services.pools import pool_settle
from tests.browser.axe import assert_accessible
from tests.browser.conftest import DESKTOP, PHONE, SCREENSHOTS
from tests.indexer.support import ETHER
from tests.launch.test_lifecycle import (
    chain_now,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_refunds,
    scheduled_pool,
)
from tests.web.launching import launch_a_pool
from web.services import snapshots_take

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]


def _pages(chain) -> dict[str, str]:
    """Paths of every public page, with pools in every state a depositor meets."""
    launched = launch_a_pool(chain, name="Launched Pool", token_symbol="LNCH")
    snapshots_take()
    chain.mine(timestamp=chain.timestamp() + 120)
    snapshots_take()

    scheduled = scheduled_pool(chain, name="Scheduled Pool", token_symbol="SCHD")

    opened = scheduled_pool(chain, name="Open Pool", token_symbol="OPN", soft_cap=50 * ETHER, hard_cap=100 * ETHER)
    deposit_from(chain, opened, [ETHER, 2 * ETHER], at=opened.opens_at + timedelta(minutes=1), label="a11y-open")
    index_until_confirmed(chain)
    Pool.objects.filter(pk=opened.pk).update(status=Pool.Status.OPEN)

    failed = scheduled_pool(chain, name="Missed Pool", token_symbol="MISS", soft_cap=50 * ETHER, hard_cap=100 * ETHER)
    deposit_from(chain, failed, [ETHER], at=failed.opens_at + timedelta(minutes=1), label="a11y-missed")
    index_until_confirmed(chain)
    failed = close_raise(chain, failed)
    pool_settle(pool_id=failed.pk, confirmed_through=chain_now(chain))  # missed its soft cap: refunding
    run_refunds(failed)

    depositor = launched.depositor.address
    return {
        "pool-list": "/",
        "pool-list-empty-search": "/?q=nothing-matches-this",
        "pool-scheduled": f"/pools/{scheduled.pk}/",
        "pool-open": f"/pools/{opened.pk}/",
        "pool-launched": f"/pools/{launched.pool.pk}/",
        "pool-refunded": f"/pools/{failed.pk}/",
        "account-empty": "/account/",
        "account-with-address": f"/account/?address={depositor}",
        "claim": f"/pools/{launched.pool.pk}/claim/?address={depositor}",
        "dashboard": "/dashboard/",
        "transparency": "/transparency/",
        "transparency-entry": "/transparency/entries/0/",
    }


def test_every_page_at_both_widths_has_no_serious_accessibility_violation(chain, live_server, page):
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    failures = []
    for name, path in _pages(chain).items():
        for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
            page.set_viewport_size(size)
            page.goto(f"{live_server.url}{path}")
            page.wait_for_load_state("networkidle")
            page.screenshot(path=str(SCREENSHOTS / f"a11y-{name}-{label}.png"), full_page=True)
            try:
                assert_accessible(page, f"{name} at {label} ({path})")
            except AssertionError as error:
                failures.append(str(error))
            if label == "phone":
                overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
                if overflow > 0:
                    failures.append(f"{name} at phone width scrolls sideways by {overflow} px ({path})")
    assert not failures, "\n\n".join(failures)
