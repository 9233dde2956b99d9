"""Every admin page of a pool renders, in every status, and every action that moves money or ends a raise first says
what it will do. The services behind the actions are tested with the chain in tests/launch; here no chain runs, so the
pools have no deposit address (closing early then needs no signer)."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from pools.admin import POOL_ACTIONS
from pools.models import Deposit, Launch, Pool
from tests.factories import PoolFactory
from tests.web.support import ETHER, address

pytestmark = pytest.mark.django_db

STATUSES = [status for status, _ in Pool.Status.choices]


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    return client


def pool_in(status: str, **fields) -> Pool:
    pool = PoolFactory(status=status, raised=12 * ETHER, **fields)
    if status not in (Pool.Status.DRAFT, Pool.Status.SCHEDULED):
        pool.deposit_address = address(f"deposit {pool.pk}")
        pool.save()
        Deposit.objects.create(
            pool=pool, chain_id=31337, tx_hash=f"0x{pool.pk:064x}", position="tx", kind=Deposit.Kind.NATIVE_TX,
            sender=address("depositor"), amount=12 * ETHER, block_number=5, block_hash="0x" + "cd" * 32, tx_index=0,
            ordinal=0, block_timestamp=timezone.now(), status=Deposit.Status.CONFIRMED, credited_amount=12 * ETHER,
        )  # fmt: skip
    if status in (Pool.Status.LAUNCHING, Pool.Status.LAUNCHED):
        Launch.objects.create(pool=pool, step=Launch.Step.LAUNCHED if status == "launched" else Launch.Step.FAILED)
    return pool


@pytest.mark.parametrize("status", STATUSES)
def test_the_change_page_of_a_pool_renders_in_every_status_with_its_settings_in_units(staff_client, status):
    pool = pool_in(status, agent_cliff_seconds=30 * 86_400, fee_bps=150)

    response = staff_client.get(reverse("admin:pools_pool_change", args=[pool.pk]))

    body = response.content.decode()
    assert response.status_code == 200, body[:2000]
    assert "At the soft cap (10 ETH)" in body and "At the hard cap (100 ETH)" in body
    if status == Pool.Status.DRAFT:
        assert 'name="soft_cap" value="10"' in body and 'name="fee_bps" value="1.5"' in body
        assert 'value="30 days"' in body
    else:  # frozen: shown, not editable, in people's units with the integer stored
        assert 'name="soft_cap"' not in body and 'name="_save"' not in body  # nothing to save
        assert reverse("admin:pools_pool_delete", args=[pool.pk]) not in body  # it ends by cancelling
        assert "10 ETH = 10,000,000,000,000,000,000 wei" in body
        assert "1.5% = 150 bps" in body and "30 days = 2,592,000 seconds" in body
    for action in POOL_ACTIONS.values():
        link = reverse("admin:pools_pool_action", args=[pool.pk, action.name])
        assert (link in body) == (status in action.statuses), action.name


def test_the_list_and_the_add_page_render(staff_client):
    for status in STATUSES:
        pool_in(status)

    listed = staff_client.get(reverse("admin:pools_pool_changelist"))
    added = staff_client.get(reverse("admin:pools_pool_add"))
    deposits = staff_client.get(reverse("admin:pools_deposit_changelist"))

    assert listed.status_code == 200 and listed.content.decode().count("12 ETH") == len(STATUSES)
    assert deposits.status_code == 200 and "12 ETH" in deposits.content.decode()  # in units, not wei
    assert added.status_code == 200 and "Read from the token when you save." in added.content.decode()
    assert "Save the pool to see a preview." in added.content.decode()


@pytest.mark.parametrize("name", list(POOL_ACTIONS))
def test_each_action_has_a_confirmation_page_that_changes_nothing(staff_client, name):
    action = POOL_ACTIONS[name]
    pool = pool_in(sorted(action.statuses)[0])

    page = staff_client.get(reverse("admin:pools_pool_action", args=[pool.pk, name]))
    listed = staff_client.post(reverse("admin:pools_pool_changelist"), {"action": name, "_selected_action": [pool.pk]})

    before = pool.status
    pool.refresh_from_db()
    assert pool.status == before
    for response in (page, listed):
        body = response.content.decode()
        assert response.status_code == 200, body[:2000]
        assert f"{action.title}: are you sure?" in body and "No, take me back" in body


def test_cancel_from_the_pool_page_says_every_deposit_is_refunded_then_cancels(staff_client):
    pool = pool_in(Pool.Status.OPEN)
    url = reverse("admin:pools_pool_action", args=[pool.pk, "cancel"])

    page = staff_client.get(url).content.decode()
    done = staff_client.post(url, follow=True)

    pool.refresh_from_db()
    assert "Every deposit (1, 12 ETH) is refunded in full" in page and 'value="Yes, cancel and refund everyone"' in page
    assert done.redirect_chain == [(reverse("admin:pools_pool_change", args=[pool.pk]), 302)]
    assert pool.status == Pool.Status.CANCELLED and "cancelled" in done.content.decode()


def test_close_early_from_the_list_asks_first_then_closes_every_selected_pool(staff_client):
    pools = [pool_in(Pool.Status.OPEN), pool_in(Pool.Status.OPEN)]
    for pool in pools:  # no deposit address: no signer to tell (that path is tested with the chain)
        pool.deposit_address = ""
        pool.save()
    selected = {"action": "close_early", "_selected_action": [p.pk for p in pools]}

    asked = staff_client.post(reverse("admin:pools_pool_changelist"), selected).content.decode()
    done = staff_client.post(reverse("admin:pools_pool_changelist"), {**selected, "confirmed": "yes"}, follow=True)

    assert "The soft cap is met" in asked and asked.count('name="_selected_action"') == 2
    assert [Pool.objects.get(pk=p.pk).status for p in pools] == [Pool.Status.CLOSED] * 2
    assert done.content.decode().count(": closed") == 2


def test_the_launch_page_of_a_pool_that_cannot_launch_says_why_and_offers_no_button(staff_client):
    pool = pool_in(Pool.Status.CLOSED, closes_at=timezone.now() + timedelta(days=1))

    body = staff_client.get(reverse("admin:pools_pool_action", args=[pool.pk, "launch"])).content.decode()

    assert "Not possible now: Deposits sent before the close are still waiting for confirmations" in body
    assert 'value="Yes, launch now"' not in body
    assert "Now (12 ETH raised)" in body  # the preview at the raise the launch would use


def test_an_action_the_pool_status_does_not_allow_is_refused_on_its_page_and_by_the_service(staff_client):
    pool = pool_in(Pool.Status.LAUNCHED)
    url = reverse("admin:pools_pool_action", args=[pool.pk, "cancel"])

    page = staff_client.get(url).content.decode()
    done = staff_client.post(url, follow=True).content.decode()
    unknown = staff_client.get(reverse("admin:pools_pool_action", args=[pool.pk, "steal"]))

    pool.refresh_from_db()
    assert "Not possible now: It is launched" in page and 'value="Yes, cancel' not in page
    assert "cannot become cancelled" in done and pool.status == Pool.Status.LAUNCHED
    assert unknown.status_code == 404


def test_a_draft_its_agent_changed_after_the_admin_reviewed_it_is_not_scheduled(staff_client):
    """The agent may PATCH its draft until it is scheduled: the admin's confirmation names the version it showed, and
    a draft changed since is refused before the signer seals anything (no signer runs here: it is never reached)."""
    import re

    pool = pool_in(Pool.Status.DRAFT)
    url = reverse("admin:pools_pool_action", args=[pool.pk, "schedule"])
    page = staff_client.get(url).content.decode()
    reviewed = re.search(rf'name="reviewed-{pool.pk}" value="([^"]+)"', page)[1]
    assert reviewed == pool.updated_at.isoformat()

    Pool.objects.filter(pk=pool.pk).update(fee_bps=1_000, updated_at=timezone.now() + timedelta(seconds=1))  # a PATCH
    done = staff_client.post(url, {f"reviewed-{pool.pk}": reviewed}, follow=True).content.decode()

    pool.refresh_from_db()
    assert pool.status == Pool.Status.DRAFT and not pool.deposit_address
    assert "changed since you reviewed it" in done
