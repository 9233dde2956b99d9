"""A pool's default oracle max age is its feed's heartbeat (CHAIN_ETH_USD_FEED_HEARTBEAT for an ETH raise,
CHAIN_USDC_USD_FEED_HEARTBEAT for USDC), within the agent's bound; one the agent or the admin gives is kept."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.urls import reverse

from agent_api.models import DAY, AllowedRaiseAsset
from pools.admin_forms import PoolAdminForm
from pools.models import Pool
from tests.api.conftest import proposal, propose
from tests.factories import AgentFactory, pool_form_data

pytestmark = pytest.mark.django_db

USDC = "0x" + "0c" * 20
USDC_CAPS = {"soft_cap": str(10**9), "hard_cap": str(10**10)}


@pytest.fixture
def heartbeats(settings):
    """Heartbeats unlike the model's old 3600 s default, so a default that ignored them would show."""
    settings.CHAIN_ETH_USD_FEED_HEARTBEAT = 1_200  # Base's ETH/USD
    settings.CHAIN_USDC_USD_FEED_HEARTBEAT = DAY
    return settings


@pytest.fixture
def usdc_allowed(alice_bounds) -> None:
    AllowedRaiseAsset.objects.create(
        bounds=alice_bounds, address=USDC, symbol="USDC", decimals=6, max_hard_cap=10**6 * 10**6
    )


def _proposed(client, **fields) -> Pool:
    response = propose(client, proposal(**fields))
    assert response.status_code == 201, response.json()
    return Pool.objects.get(pk=response.json()["id"])


def test_an_eth_proposal_without_a_max_age_gets_the_eth_usd_heartbeat(alice_client, alice_bounds, heartbeats):
    assert _proposed(alice_client).oracle_max_age_seconds == 1_200


def test_a_usdc_proposal_without_a_max_age_gets_the_usdc_usd_heartbeat(
    alice_client, alice_bounds, usdc_allowed, heartbeats
):
    assert alice_bounds.max_oracle_max_age_seconds == DAY  # the default bound admits the daily heartbeat
    assert _proposed(alice_client, raise_asset=USDC, **USDC_CAPS).oracle_max_age_seconds == DAY


def test_the_default_is_clamped_to_the_agents_bound_so_the_proposal_stays_valid(
    alice_client, alice_bounds, usdc_allowed, heartbeats
):
    alice_bounds.max_oracle_max_age_seconds = 6 * 3_600
    alice_bounds.save()

    assert _proposed(alice_client, raise_asset=USDC, **USDC_CAPS).oracle_max_age_seconds == 6 * 3_600


def test_a_max_age_the_agent_gives_is_kept(alice_client, alice_bounds, usdc_allowed, heartbeats):
    pool = _proposed(alice_client, raise_asset=USDC, oracle_max_age_seconds=7_200, **USDC_CAPS)
    assert pool.oracle_max_age_seconds == 7_200


def test_the_admin_form_defaults_to_the_feeds_heartbeat_when_left_empty(client, heartbeats):
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    add = reverse("admin:pools_pool_add")
    assert PoolAdminForm().initial["oracle_max_age_seconds"] == ""  # a new pool's field starts empty, not at 1 hour

    response = client.post(add, pool_form_data(AgentFactory(), oracle_max_age_seconds=""))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Pool.objects.get().oracle_max_age_seconds == 1_200

    response = client.post(add, pool_form_data(AgentFactory(), oracle_max_age_seconds="2 hours"))
    assert response.status_code == 302, response.content.decode()[:3000]
    assert Pool.objects.latest("pk").oracle_max_age_seconds == 7_200
