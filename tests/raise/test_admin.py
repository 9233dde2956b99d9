from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.urls import reverse
from django.utils import timezone

from pools.models import Pool
from tests.factories import AgentFactory, PoolFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    return client


def form_data(agent, **overrides):
    opens = timezone.now() + timedelta(hours=1)
    data = {
        "agent": agent.pk, "name": "Mind Pool", "chain_id": 31337, "raise_asset": "", "raise_asset_symbol": "ETH",
        "raise_asset_decimals": 18, "soft_cap": "10000000000000000000", "hard_cap": "100000000000000000000",
        "min_contribution": "0", "max_contribution": "0", "opens_at_0": opens.strftime("%Y-%m-%d"),
        "opens_at_1": opens.strftime("%H:%M:%S"), "closes_at_0": (opens + timedelta(days=1)).strftime("%Y-%m-%d"),
        "closes_at_1": opens.strftime("%H:%M:%S"), "access": "public", "confirmations": 2, "token_name": "Mind",
        "token_symbol": "MIND", "total_supply": str(10**27), "liquidity_supply_bps": 5000,
        "depositor_supply_bps": 4000, "agent_supply_bps": 1000, "liquidity_raise_bps": 8000,
        "depositor_cliff_seconds": 0, "depositor_vesting_seconds": 0, "agent_cliff_seconds": 0,
        "agent_vesting_seconds": 0, "protection_blocks": 0, "max_buy_per_tx": "0", "fee_bps": 100,
        "fee_recipient": "", "treasury_address": "", "lp_policy": "burn", "price_mode": "implied",
        "target_price_usd_e8": "0", "oracle_tolerance_bps": 200, "oracle_max_age_seconds": 3600,
        "whitelist_addresses": "",
    }  # fmt: skip
    return {**data, **overrides}


def test_admin_creates_a_valid_pool_as_a_draft(staff_client):
    agent = AgentFactory()

    response = staff_client.post(reverse("admin:pools_pool_add"), form_data(agent))

    assert response.status_code == 302, response.content.decode()[:3000]
    assert Pool.objects.get().status == Pool.Status.DRAFT


def test_admin_refuses_a_split_that_does_not_add_up_and_a_bad_symbol(staff_client):
    agent = AgentFactory()

    response = staff_client.post(
        reverse("admin:pools_pool_add"), form_data(agent, agent_supply_bps=2000, token_symbol="m!nd")
    )

    body = response.content.decode()
    assert response.status_code == 200
    assert "must add up to 10,000 bps" in body
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
        reverse("admin:pools_pool_changelist"), {"action": "cancel", "_selected_action": [launched.pk]}, follow=True
    )

    assert response.status_code == 200
    assert "cannot become cancelled" in response.content.decode()
