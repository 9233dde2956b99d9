import re
from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from pools.models import Pool, Refund, WhitelistEntry
from tests.factories import AgentFactory, PoolFactory, pool_form_data
from tests.web.support import ETHER, address

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    return client


def test_admin_creates_a_valid_pool_as_a_draft_storing_exact_integers(staff_client):
    agent = AgentFactory()

    response = staff_client.post(reverse("admin:pools_pool_add"), pool_form_data(agent))

    assert response.status_code == 302, response.content.decode()[:3000]
    pool = Pool.objects.get()
    assert pool.status == Pool.Status.DRAFT
    assert (pool.soft_cap, pool.hard_cap, pool.min_contribution) == (10 * 10**18, 100 * 10**18, 0)
    assert (pool.raise_asset, pool.raise_asset_symbol, pool.raise_asset_decimals) == ("", "ETH", 18)
    assert pool.total_supply == 10**27
    assert (pool.liquidity_supply_bps, pool.depositor_supply_bps, pool.agent_supply_bps) == (5000, 4000, 1000)
    assert (pool.fee_bps, pool.oracle_tolerance_bps, pool.liquidity_raise_bps) == (100, 200, 8000)
    assert (pool.agent_cliff_seconds, pool.agent_vesting_seconds) == (30 * 86_400, 365 * 86_400)
    assert (pool.depositor_vesting_seconds, pool.oracle_max_age_seconds) == (0, 3_600)


def test_admin_refuses_a_split_that_does_not_add_up_and_a_bad_symbol(staff_client):
    agent = AgentFactory()

    response = staff_client.post(
        reverse("admin:pools_pool_add"), pool_form_data(agent, agent_supply_bps="20", token_symbol="m!nd")
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "must add up to 100% (10,000 bps)" in body
    assert "capital letters and digits" in body
    assert not Pool.objects.exists()


def test_admin_pool_page_shows_the_launch_preview(staff_client):
    pool = PoolFactory(status=Pool.Status.DRAFT, raised=50 * 10**18)

    body = staff_client.get(reverse("admin:pools_pool_change", args=[pool.pk])).content.decode()

    assert "What the launch would do" in body
    assert "40 ETH" in body  # 80% of the 50 ETH raised is paired in the pool
    assert "0.5 ETH" in body  # the 1% fee


def test_admin_cancel_action_reports_refusals_without_a_server_error(staff_client):
    launched = PoolFactory(status=Pool.Status.LAUNCHED)

    response = staff_client.post(
        reverse("admin:pools_pool_changelist"),
        {"action": "cancel", "_selected_action": [launched.pk], "confirmed": "yes"},
        follow=True,
    )

    assert response.status_code == 200
    assert "cannot become cancelled" in response.content.decode()


@pytest.fixture
def waiting_pool():
    """A pool in REFUNDING whose refunds wait for fees, with one refund owed and one already set aside."""
    pool = PoolFactory(
        status=Pool.Status.REFUNDING,
        waiting_code="fees_above_cap",
        waiting_reason="Network fees are above what the signer allows. Refunds resume by themselves when fees fall.",
        waiting_since=timezone.now() - timedelta(minutes=20),
    )
    owed = Refund.objects.create(pool=pool, recipient=address("owed"), amount=2 * ETHER)
    Refund.objects.create(
        pool=pool, recipient=address("aside"), amount=ETHER, status=Refund.Status.SET_ASIDE,
        set_aside_at=timezone.now(), set_aside_by="admin", set_aside_note="Recipient is a contract that reverts.",
        set_aside_log_index=7,
    )  # fmt: skip
    return pool, owed


@pytest.fixture
def enqueued(monkeypatch) -> list[int]:
    """The refund job's queue: the pool ids a service asked to run it for (no worker runs here)."""
    calls: list[int] = []
    monkeypatch.setattr("pools.tasks.advance_refunds.delay", calls.append)
    return calls


@pytest.fixture
def signer_log(monkeypatch) -> list[dict]:
    """Stands in for the signer's log of set-aside decisions (the signer's side is tested in tests/signer)."""
    entries: list[dict] = []

    class Signer:
        def note_set_aside(self, **entry) -> dict:
            entries.append(entry)
            return {"log_index": 41 + len(entries)}

    monkeypatch.setattr("pools.services.refunds.signer_client", Signer)
    return entries


def test_the_page_of_a_pool_whose_refunds_wait_says_why_and_counts_the_set_aside_refund(staff_client, waiting_pool):
    pool, _ = waiting_pool

    response = staff_client.get(reverse("admin:pools_pool_change", args=[pool.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "Refunds waiting: Network fees are above what the signer allows." in body
    assert "<code>fees_above_cap</code>" in body
    assert body.count(reverse("admin:pools_pool_retry_refunds", args=[pool.pk])) == 2  # the field and the tools
    assert "2 refunds</a>, 1 owed (2 ETH), 1 set aside for manual handling (1 ETH)" in body


def test_a_frozen_pool_whose_refunds_do_not_wait_shows_no_wait_and_its_whitelist(staff_client):
    pool = PoolFactory(status=Pool.Status.REFUNDING, access=Pool.Access.WHITELIST)
    WhitelistEntry.objects.create(pool=pool, address=address("listed"))

    response = staff_client.get(reverse("admin:pools_pool_change", args=[pool.pk]))

    body = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'Refunds waiting:</label>\s*<div class="readonly"></div>', body)
    assert address("listed") in body


def test_the_pool_list_filters_and_flags_pools_whose_refunds_wait(staff_client, waiting_pool):
    pool, _ = waiting_pool
    PoolFactory(name="Moving Along", status=Pool.Status.REFUNDING)

    waiting = staff_client.get(reverse("admin:pools_pool_changelist"), {"refunds_waiting": "yes"}).content.decode()
    others = staff_client.get(reverse("admin:pools_pool_changelist"), {"refunds_waiting": "no"}).content.decode()

    assert pool.name in waiting and "⏸ fees_above_cap since" in waiting and "Moving Along" not in waiting
    assert "Moving Along" in others and pool.name not in others


def test_retry_refunds_now_says_what_it_does_then_clears_the_wait_and_runs_the_job(
    staff_client, waiting_pool, enqueued
):
    pool, _ = waiting_pool
    url = reverse("admin:pools_pool_retry_refunds", args=[pool.pk])

    confirmation = staff_client.get(url)
    pool.refresh_from_db()
    assert confirmation.status_code == 200 and pool.waiting_code == "fees_above_cap" and enqueued == []
    page = confirmation.content.decode()
    assert "Network fees are above what the signer allows." in page
    assert 'name="csrfmiddlewaretoken"' in page and 'value="Yes, retry refunds now"' in page

    done = staff_client.post(url, follow=True)

    pool.refresh_from_db()
    assert done.redirect_chain == [(reverse("admin:pools_pool_change", args=[pool.pk]), 302)]
    assert "the refund job runs now" in done.content.decode()
    assert (pool.waiting_code, pool.waiting_reason, pool.waiting_since) == ("", "", None)
    assert enqueued == [pool.pk]


def test_set_aside_needs_a_note_then_records_who_and_why(staff_client, waiting_pool, enqueued, signer_log):
    _, owed = waiting_pool
    url = reverse("admin:pools_refund_set_aside", args=[owed.pk])

    form = staff_client.get(url).content.decode()
    without_note = staff_client.post(url, {"note": "  "})
    owed.refresh_from_db()
    assert "<textarea" in form and "2 ETH" in form
    assert without_note.status_code == 200 and "This field is required." in without_note.content.decode()
    assert owed.status == Refund.Status.OWED and signer_log == []

    done = staff_client.post(url, {"note": "Paid by hand from the treasury, ticket 12."}, follow=True)

    owed.refresh_from_db()
    assert done.redirect_chain == [(reverse("admin:pools_refund_change", args=[owed.pk]), 302)]
    assert "set aside for manual handling; the others go on without it" in done.content.decode()
    assert owed.status == Refund.Status.SET_ASIDE
    assert (owed.set_aside_by, owed.set_aside_note, owed.set_aside_log_index) == (
        "admin",
        "Paid by hand from the treasury, ticket 12.",
        42,
    )
    assert [entry["note"] for entry in signer_log] == ["Paid by hand from the treasury, ticket 12."]


def test_set_aside_of_a_paid_refund_shows_the_refusal_and_changes_nothing(staff_client, signer_log):
    paid = Refund.objects.create(
        pool=PoolFactory(status=Pool.Status.REFUNDING), recipient=address("paid"), amount=ETHER,
        status=Refund.Status.PAID,
    )  # fmt: skip

    response = staff_client.post(reverse("admin:pools_refund_set_aside", args=[paid.pk]), {"note": "Just in case."})

    paid.refresh_from_db()
    assert response.status_code == 200
    assert "Not set aside: Only a refund waiting to be sent can be set aside; this one is paid." in (
        response.content.decode()
    )
    assert paid.status == Refund.Status.PAID and signer_log == []


def test_the_refund_admin_filters_by_status_and_shows_the_set_aside_decision(staff_client, waiting_pool):
    pool, owed = waiting_pool
    aside = Refund.objects.get(pool=pool, status=Refund.Status.SET_ASIDE)

    listed = staff_client.get(reverse("admin:pools_refund_changelist"), {"status__exact": "set_aside"}).content.decode()
    owed_page = staff_client.get(reverse("admin:pools_refund_change", args=[owed.pk])).content.decode()
    aside_page = staff_client.get(reverse("admin:pools_refund_change", args=[aside.pk])).content.decode()

    assert aside.recipient in listed and owed.recipient not in listed
    assert reverse("admin:pools_refund_set_aside", args=[owed.pk]) in owed_page
    assert "Recipient is a contract that reverts." in aside_page and "admin" in aside_page
    assert reverse("admin:pools_refund_set_aside", args=[aside.pk]) not in aside_page
