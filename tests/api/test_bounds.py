"""An agent's bounds cover every economic parameter of a proposal, and a refused proposal names every bound it breaks
(with the fields that did not parse and the configuration rules, in one answer)."""

from datetime import datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address

from agent_api.admin import AgentBoundsForm
from agent_api.models import DAY, AgentBounds, AllowedRaiseAsset, AllowedTreasury
from pools.models import Pool
from tests.api.conftest import ETH, TREASURY, assert_error, proposal, propose

pytestmark = pytest.mark.django_db


OTHER_TREASURY = to_checksum_address("0x" + "7f" * 20)
SUPPLY = 10**9 * 10**18
TEN_YEARS = 10 * 365 * DAY


@pytest.fixture
def bounds(alice) -> AgentBounds:
    """Alice's bounds at their defaults (what the migration gave existing agents), raising ETH up to 500 ETH."""
    bounds = AgentBounds.objects.create(agent=alice.agent)
    AllowedRaiseAsset.objects.create(bounds=bounds, address="", symbol="ETH", decimals=18, max_hard_cap=500 * ETH)
    return bounds


def lock_until(body: dict, *, days_after_close: int) -> str:
    return (datetime.fromisoformat(body["closes_at"]) + timedelta(days=days_after_close)).isoformat()


# (bounds changed from their defaults, the proposal's fields, the field refused, the bound named, its value shown)
BROKEN_ONE_AT_A_TIME = {
    "liquidity supply below its minimum": (
        {}, {"liquidity_supply_bps": 1_000, "depositor_supply_bps": 8_000},
        "liquidity_supply_bps", "min_liquidity_supply_bps", "2000",
    ),
    "liquidity supply above its maximum": (
        {"min_depositor_supply_bps": 1_000}, {"liquidity_supply_bps": 8_500, "depositor_supply_bps": 1_500,
                                              "agent_supply_bps": 0},
        "liquidity_supply_bps", "max_liquidity_supply_bps", "8000",
    ),
    "depositors' supply below its minimum": (
        {}, {"liquidity_supply_bps": 7_500, "depositor_supply_bps": 1_500},
        "depositor_supply_bps", "min_depositor_supply_bps", "2000",
    ),
    "depositors' supply above its maximum": (
        {"min_liquidity_supply_bps": 1_000}, {"liquidity_supply_bps": 1_500, "depositor_supply_bps": 8_500,
                                              "agent_supply_bps": 0},
        "depositor_supply_bps", "max_depositor_supply_bps", "8000",
    ),
    "agent's supply below its minimum": (
        {"min_agent_supply_bps": 500}, {"liquidity_supply_bps": 5_000, "depositor_supply_bps": 5_000,
                                        "agent_supply_bps": 0},
        "agent_supply_bps", "min_agent_supply_bps", "500",
    ),
    "agent's supply above its maximum": (
        {}, {"depositor_supply_bps": 3_500, "agent_supply_bps": 1_500},
        "agent_supply_bps", "max_agent_supply_bps", "1000",
    ),
    "liquidity share of the raise below its minimum": (
        {}, {"liquidity_raise_bps": 4_999}, "liquidity_raise_bps", "min_liquidity_raise_bps", "5000",
    ),
    "fee below its minimum": ({}, {"fee_bps": 99}, "fee_bps", "min_fee_bps", "100"),
    "fee above its maximum": ({"max_fee_bps": 500}, {"fee_bps": 501}, "fee_bps", "max_fee_bps", "500"),
    "raise longer than its maximum": (
        {}, {"closes_at": (timezone.now() + timedelta(days=32)).isoformat()},
        "closes_at", "max_raise_seconds", "2592000",
    ),
    "depositors' cliff above its maximum": (
        {}, {"depositor_cliff_seconds": 31 * DAY}, "depositor_cliff_seconds", "max_depositor_cliff_seconds", "2592000",
    ),
    "depositors' vesting above its maximum": (
        {}, {"depositor_vesting_seconds": 181 * DAY},
        "depositor_vesting_seconds", "max_depositor_vesting_seconds", "15552000",
    ),
    "agent's cliff below its minimum": (
        {"min_agent_cliff_seconds": 60 * DAY}, {"agent_cliff_seconds": 30 * DAY},
        "agent_cliff_seconds", "min_agent_cliff_seconds", "5184000",
    ),
    "agent's vesting below its minimum": (
        {}, {"agent_cliff_seconds": 0, "agent_vesting_seconds": 100 * DAY},
        "agent_vesting_seconds", "min_agent_vesting_seconds", "15552000",
    ),
    "LP policy not allowed": (
        {"allowed_lp_policies": ["burn"]}, {"lp_policy": "lock", "lp_lock_until": "far"},
        "lp_policy", "allowed_lp_policies", "burn",
    ),
    "LP lock shorter than its minimum": (
        {}, {"lp_policy": "lock", "lp_lock_until": "soon"}, "lp_lock_until", "min_lp_lock_seconds", "15552000",
    ),
    "protection shorter than its minimum": (
        {"min_protection_blocks": 10}, {"protection_blocks": 0}, "protection_blocks", "min_protection_blocks", "10",
    ),
    "protection longer than its maximum": (
        {"max_protection_blocks": 20}, {"protection_blocks": 21, "max_buy_per_tx": str(SUPPLY // 1_000)},
        "protection_blocks", "max_protection_blocks", "20",
    ),
    "buy during the protection above its maximum": (
        {}, {"protection_blocks": 10, "max_buy_per_tx": str(SUPPLY // 100 + 1)},
        "max_buy_per_tx", "max_protection_buy_bps", str(SUPPLY // 100),
    ),
    "oracle tolerance above its maximum": (
        {}, {"oracle_tolerance_bps": 501}, "oracle_tolerance_bps", "max_oracle_tolerance_bps", "500",
    ),
    "oracle age above its maximum": (
        {"max_oracle_max_age_seconds": 3_600}, {"oracle_max_age_seconds": 3_601},
        "oracle_max_age_seconds", "max_oracle_max_age_seconds", "3600",
    ),
    "treasury not on the allow-list": (
        {}, {"treasury_address": OTHER_TREASURY}, "treasury_address", "allowed treasuries", TREASURY,
    ),
}  # fmt: skip


@pytest.mark.parametrize(
    ("bound_changes", "fields", "field", "bound_name", "bound_shown"),
    list(BROKEN_ONE_AT_A_TIME.values()),
    ids=list(BROKEN_ONE_AT_A_TIME),
)
def test_each_bound_broken_in_turn_is_refused_naming_the_field_and_the_bound(
    alice_client, bounds, bound_changes, fields, field, bound_name, bound_shown
):
    AgentBounds.objects.filter(pk=bounds.pk).update(**bound_changes)
    AllowedTreasury.objects.create(bounds=bounds, address=TREASURY)
    body = proposal(**fields)
    if body.get("lp_lock_until") in ("far", "soon"):
        body["lp_lock_until"] = lock_until(body, days_after_close=400 if body["lp_lock_until"] == "far" else 100)

    error = assert_error(propose(alice_client, body), 400, "invalid_pool_proposal")

    assert list(error["details"]) == [field], error["details"]
    [message] = error["details"][field]
    assert bound_name in message and bound_shown in message, message
    assert f"({field})" in error["message"]
    assert not Pool.objects.exists()


def test_a_proposal_within_every_bound_passes(alice_client, bounds):
    AllowedTreasury.objects.create(bounds=bounds, address=TREASURY, label="Mind DAO")
    body = proposal(
        liquidity_supply_bps=6_000, depositor_supply_bps=3_000, agent_supply_bps=1_000, liquidity_raise_bps=5_000,
        fee_bps=1_000, depositor_cliff_seconds=30 * DAY, depositor_vesting_seconds=180 * DAY, agent_cliff_seconds=0,
        agent_vesting_seconds=180 * DAY, lp_policy="lock", protection_blocks=300, max_buy_per_tx=str(SUPPLY // 100),
        oracle_tolerance_bps=500, oracle_max_age_seconds=86_400, treasury_address=TREASURY.lower(),
    )  # fmt: skip
    body["lp_lock_until"] = lock_until(body, days_after_close=180)

    response = propose(alice_client, body)

    assert response.status_code == 201, response.json()
    pool = Pool.objects.get()
    assert (pool.lp_policy, pool.protection_blocks, pool.treasury_address) == ("lock", 300, TREASURY)


def test_the_issues_example_is_refused_with_three_errors(alice_client, bounds):
    """1 bp of the raise to liquidity, nothing for depositors, a ten-year depositors' cliff: one error each. (The admin
    let the liquidity pool take up to 90% of the supply, so the 90/0/10 split breaks only the depositors' minimum.)"""
    AgentBounds.objects.filter(pk=bounds.pk).update(max_liquidity_supply_bps=9_000)
    body = proposal(
        liquidity_raise_bps=1, liquidity_supply_bps=9_000, depositor_supply_bps=0, depositor_cliff_seconds=TEN_YEARS
    )

    error = assert_error(propose(alice_client, body), 400, "invalid_pool_proposal")

    assert error["details"] == {
        "depositor_cliff_seconds": [
            "At most 2592000 seconds (30 days) of cliff before depositors' tokens vest "
            "(your bound max_depositor_cliff_seconds)."
        ],
        "depositor_supply_bps": [
            "At least 2000 bps of the supply for depositors (your bound min_depositor_supply_bps)."
        ],
        "liquidity_raise_bps": [
            "At least 5000 bps of the raise paired in the liquidity pool (your bound min_liquidity_raise_bps)."
        ],
    }


def test_a_proposal_breaking_several_bounds_lists_all_of_them_with_rule_and_field_errors(alice_client, bounds):
    body = proposal(
        agent_supply_bps=5_000,  # the split no longer adds up, and above the agent's maximum
        fee_bps=50,
        depositor_cliff_seconds=TEN_YEARS,
        oracle_tolerance_bps=900,
        token_symbol="bad symbol",  # a configuration rule
        oracle_max_age_seconds=10,  # does not parse: below the field's own minimum
        fee_recipient=TREASURY,  # not one the agent's bounds allow
    )

    error = assert_error(propose(alice_client, body), 400, "invalid")

    details = error["details"]
    assert set(details) == {
        "agent_supply_bps", "fee_bps", "depositor_cliff_seconds", "oracle_tolerance_bps", "token_symbol",
        "oracle_max_age_seconds", "fee_recipient",
    }  # fmt: skip
    assert details["agent_supply_bps"] == [
        "Liquidity, depositor and agent shares of the supply must add up to 100% (10,000 bps).",
        "At most 1000 bps of the supply for you (your bound max_agent_supply_bps).",
    ]
    assert "min_fee_bps" in details["fee_bps"][0]
    assert "max_depositor_cliff_seconds" in details["depositor_cliff_seconds"][0]
    assert "max_oracle_tolerance_bps" in details["oracle_tolerance_bps"][0]
    assert details["oracle_max_age_seconds"] == ["Ensure this value is greater than or equal to 60."]
    assert "your bounds list none" in details["fee_recipient"][0]  # a proposal field, within the bounds
    assert not Pool.objects.exists()


def test_a_rule_that_reads_a_field_that_did_not_parse_is_left_out(alice_client, bounds):
    """A default stood in for the field: the split-sum rule and the raise's length would judge numbers never sent,
    while the agent's own bound on its share reads only that share and still applies."""
    body = proposal(depositor_supply_bps="forty", agent_supply_bps=2_000, opens_at="tomorrow")

    error = assert_error(propose(alice_client, body), 400, "invalid")

    assert set(error["details"]) == {"depositor_supply_bps", "opens_at", "agent_supply_bps"}
    assert error["details"]["agent_supply_bps"] == [
        "At most 1000 bps of the supply for you (your bound max_agent_supply_bps)."
    ]


def test_a_body_that_is_not_an_object_is_refused(alice_client, bounds):
    error = assert_error(propose(alice_client, [proposal()]), 400, "invalid")

    assert list(error["details"]) == ["non_field_errors"]


def test_the_bounds_show_in_the_admin_with_their_help(client, bounds):
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))

    page = client.get(reverse("admin:agent_api_agentbounds_change", args=[bounds.pk])).content.decode()

    for bound in ("min_depositor_supply_bps", "min_liquidity_raise_bps", "max_depositor_cliff_seconds",
                  "min_lp_lock_seconds", "max_protection_buy_bps", "max_oracle_max_age_seconds"):  # fmt: skip
        field = AgentBounds._meta.get_field(bound)
        assert f'name="{bound}"' in page and str(field.help_text) in page
    assert 'name="allowed_lp_policies"' in page and "treasuries-TOTAL_FORMS" in page


def test_the_admin_refuses_a_minimum_above_its_maximum(bounds):
    data = {**model_to_dict(bounds), "min_fee_bps": 600, "max_fee_bps": 500}

    form = AgentBoundsForm(data=data, instance=bounds)

    assert not form.is_valid()
    assert list(form.errors) == ["max_fee_bps"]


def test_the_admin_refuses_supply_bounds_that_no_split_can_meet(bounds):
    data = {**model_to_dict(bounds), "min_liquidity_supply_bps": 6_000, "min_depositor_supply_bps": 5_000}

    form = AgentBoundsForm(data=data, instance=bounds)

    assert not form.is_valid()
    assert "11000" in form.errors["min_agent_supply_bps"][0]
