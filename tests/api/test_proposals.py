from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address
from rest_framework.test import APIClient

from agent_api.models import AllowedRaiseAsset
from pools.models import Pool
from tests.api.conftest import ETH, TREASURY, assert_error, proposal, propose

pytestmark = pytest.mark.django_db

USDC = "0x" + "0c" * 20


def test_a_proposal_within_bounds_becomes_a_draft_only_the_agent_sees(alice, alice_client, alice_bounds):
    response = propose(alice_client, proposal())

    assert response.status_code == 201, response.json()
    body = response.json()
    pool = Pool.objects.get(pk=body["id"])
    assert pool.status == Pool.Status.DRAFT and pool.agent == alice.agent
    assert (pool.raise_asset, pool.raise_asset_symbol, pool.raise_asset_decimals) == ("", "ETH", 18)
    assert pool.hard_cap == 100 * ETH and body["hard_cap"] == str(100 * ETH)
    assert body["treasury_address"] == to_checksum_address(TREASURY)
    assert pool.fee_recipient == ""  # the admin's to set before scheduling
    assert [p["id"] for p in alice_client.get(reverse("api-agent-pools")).json()["results"]] == [pool.pk]
    assert APIClient().get(reverse("api-pool-list")).json()["count"] == 0


def test_a_proposal_outside_the_bounds_lists_every_problem_per_field(alice_client, alice_bounds):
    body = proposal(hard_cap=str(501 * ETH), fee_bps=50, agent_supply_bps=2_000, liquidity_supply_bps=4_000,
                    agent_vesting_seconds=0, agent_cliff_seconds=0)  # fmt: skip

    error = assert_error(propose(alice_client, body), 400, "invalid_pool_proposal")

    assert set(error["details"]) == {"hard_cap", "fee_bps", "agent_supply_bps", "agent_vesting_seconds"}
    assert "500000000000000000000" in error["details"]["hard_cap"][0]
    assert not Pool.objects.exists()


def test_an_asset_outside_the_bounds_is_refused_and_an_allowed_one_takes_its_symbol(alice_client, alice_bounds):
    refused = assert_error(propose(alice_client, proposal(raise_asset=USDC)), 400, "invalid_pool_proposal")
    assert "raise_asset" in refused["details"]

    AllowedRaiseAsset.objects.create(
        bounds=alice_bounds, address=USDC, symbol="USDC", decimals=6, max_hard_cap=10**6 * 10**6
    )
    response = propose(alice_client, proposal(raise_asset=USDC, soft_cap=str(10**9), hard_cap=str(10**10)))

    assert response.status_code == 201, response.json()
    assert (response.json()["raise_asset_symbol"], response.json()["raise_asset_decimals"]) == ("USDC", 6)


def test_configuration_rules_apply_to_proposals(alice_client, alice_bounds):
    opens = timezone.now() + timedelta(days=1)
    body = proposal(
        soft_cap=str(200 * ETH), closes_at=(opens - timedelta(hours=1)).isoformat(), opens_at=opens.isoformat(),
        token_symbol="bad symbol",
    )  # fmt: skip

    error = assert_error(propose(alice_client, body), 400, "invalid")  # the symbol's pattern is the field's own

    assert {"hard_cap", "closes_at", "token_symbol"} <= set(error["details"])


def test_an_opening_time_in_the_past_is_refused(alice_client, alice_bounds):
    opens = timezone.now() - timedelta(hours=1)
    body = proposal(opens_at=opens.isoformat(), closes_at=(opens + timedelta(days=1)).isoformat())

    assert "opens_at" in assert_error(propose(alice_client, body), 400, "invalid_pool_proposal")["details"]


def test_malformed_input_is_a_400_with_per_field_details(alice_client, alice_bounds):
    body = proposal(soft_cap=10**19, hard_cap="-5", treasury_address="0x123", liquidity_supply_bps=10_001)
    del body["name"]

    error = assert_error(propose(alice_client, body), 400, "invalid")

    assert set(error["details"]) == {"soft_cap", "hard_cap", "treasury_address", "liquidity_supply_bps", "name"}


def test_fields_an_agent_may_not_set_are_refused_not_ignored(alice_client, alice_bounds):
    body = proposal(fee_recipient=TREASURY, status="scheduled")

    error = assert_error(propose(alice_client, body), 400, "invalid")

    assert set(error["details"]) == {"fee_recipient", "status"}


def test_an_agent_without_bounds_cannot_propose(alice_client):
    assert_error(propose(alice_client, proposal()), 403, "proposals_not_allowed")


def test_drafts_are_limited_by_the_bounds(alice_client, alice_bounds):
    for n in range(2):
        assert propose(alice_client, proposal(token_symbol=f"MIND{n}")).status_code == 201

    assert_error(propose(alice_client, proposal(token_symbol="MIND9")), 409, "too_many_drafts")


def test_a_proposal_with_an_idempotency_key_is_created_once(alice_client, alice_bounds):
    body = proposal()
    first = propose(alice_client, body, HTTP_IDEMPOTENCY_KEY="proposal-1")
    again = propose(alice_client, body, HTTP_IDEMPOTENCY_KEY="proposal-1")

    assert first.status_code == again.status_code == 201
    assert again.json() == first.json() and again["Idempotent-Replayed"] == "true"
    assert Pool.objects.count() == 1
