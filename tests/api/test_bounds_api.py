"""GET /api/v1/agent/bounds/: an agent reads its bounds, the assets and treasuries it may use, its drafts in use and
the defaults a proposal gets, instead of finding them by trial."""

from __future__ import annotations

import pytest
from django.urls import reverse
from drf_spectacular.generators import SchemaGenerator
from eth_utils import to_checksum_address

from agent_api.models import DAY, AgentBounds, AllowedFeeRecipient, AllowedRaiseAsset, AllowedTreasury
from agent_api.views.bounds import ProposalDefaultsSerializer
from pools.models import Pool
from tests.api.conftest import ETH, TREASURY, assert_error, proposal, propose

pytestmark = pytest.mark.django_db

USDC = "0x" + "0c" * 20
FEE_RECIPIENT = to_checksum_address("0x" + "fe" * 20)
BOUND_FIELDS = [
    field.name
    for field in AgentBounds._meta.get_fields()
    if field.concrete and field.name not in {"id", "agent", "updated_at"}
]


def bounds_of(client):
    return client.get(reverse("api-agent-bounds"))


def test_an_agent_without_bounds_is_told_an_admin_must_set_them(alice_client):
    error = assert_error(bounds_of(alice_client), 403, "proposals_not_allowed")

    assert "admin" in error["message"]


def test_a_caller_without_a_key_is_refused(client):
    assert_error(client.get(reverse("api-agent-bounds")), 401, "not_authenticated")


def test_every_bound_is_listed_with_the_value_the_admin_set(alice_client, alice_bounds):
    alice_bounds.max_fee_bps, alice_bounds.allowed_lp_policies = 700, ["lock"]
    alice_bounds.save()

    body = bounds_of(alice_client).json()

    assert {name: body[name] for name in BOUND_FIELDS} == {name: getattr(alice_bounds, name) for name in BOUND_FIELDS}
    assert (body["max_fee_bps"], body["allowed_lp_policies"], body["max_raise_seconds"]) == (700, ["lock"], 14 * DAY)


def test_assets_treasuries_and_drafts_in_use(alice_client, alice_bounds, settings):
    settings.CHAIN_ETH_USD_FEED_HEARTBEAT, settings.CHAIN_USDC_USD_FEED_HEARTBEAT = 1_200, DAY
    alice_bounds.max_oracle_max_age_seconds = 3_600
    alice_bounds.save()
    AllowedRaiseAsset.objects.create(bounds=alice_bounds, address=USDC, symbol="USDC", decimals=6, max_hard_cap=10**12)
    AllowedTreasury.objects.create(bounds=alice_bounds, address=TREASURY.lower(), label="ops")
    AllowedFeeRecipient.objects.create(bounds=alice_bounds, address=FEE_RECIPIENT, label="platform")
    assert propose(alice_client, proposal()).status_code == 201

    body = bounds_of(alice_client).json()

    assert body["raise_assets"] == [
        {"address": "", "symbol": "ETH", "decimals": 18, "max_hard_cap": str(500 * ETH),
         "default_oracle_max_age_seconds": 1_200},
        {"address": to_checksum_address(USDC), "symbol": "USDC", "decimals": 6, "max_hard_cap": str(10**12),
         "default_oracle_max_age_seconds": 3_600},  # the feed's day, cut to the agent's bound
    ]  # fmt: skip
    assert body["treasuries"] == [{"address": TREASURY, "label": "ops"}]
    assert body["fee_recipients"] == [{"address": FEE_RECIPIENT, "label": "platform"}]
    assert (body["drafts_in_use"], body["max_pools_in_draft"]) == (1, 2)
    assert body["defaults"]["oracle_max_age_seconds"] == 1_200


def test_the_defaults_are_what_a_proposal_leaving_the_field_out_stores(alice_client, alice_bounds):
    required = {"name", "token_name", "token_symbol", "soft_cap", "hard_cap", "opens_at", "closes_at"}
    minimal = {key: value for key, value in proposal().items() if key in required | {"treasury_address"}}
    created = propose(alice_client, minimal)
    assert created.status_code == 201, created.json()
    pool = Pool.objects.get(pk=created.json()["id"])

    defaults = bounds_of(alice_client).json()["defaults"]

    fields = ProposalDefaultsSerializer().fields
    stored = {
        name: None if getattr(pool, name) is None else fields[name].to_representation(getattr(pool, name))
        for name in defaults
    }
    assert defaults == stored
    assert {"fee_bps", "total_supply", "liquidity_supply_bps", "oracle_tolerance_bps", "links"} <= set(defaults)
    assert (defaults["fee_bps"], defaults["total_supply"], defaults["raise_asset"]) == (100, str(10**27), "")
    assert (defaults["liquidity_supply_bps"], defaults["depositor_supply_bps"], defaults["agent_supply_bps"]) == (
        5_000, 4_000, 1_000,
    )  # fmt: skip


def test_every_optional_proposal_field_has_a_default_but_the_image():
    from agent_api.views.agent import AgentPoolProposeApi

    optional = {name for name, field in AgentPoolProposeApi.InputSerializer().fields.items() if not field.required}

    assert set(ProposalDefaultsSerializer().fields) == optional - {"image"}


def test_the_schema_describes_every_bound_with_its_meaning():
    components = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]
    properties = components["AgentBounds"]["properties"]

    for name in BOUND_FIELDS:
        assert properties[name].get("description") == str(AgentBounds._meta.get_field(name).help_text), name
    policies = properties["allowed_lp_policies"]["items"]["$ref"].rsplit("/", 1)[-1]
    assert components[policies]["enum"] == ["burn", "lock"]
    assert {"raise_assets", "treasuries", "fee_recipients", "drafts_in_use", "defaults"} <= set(properties)
    assert components["ProposalDefaults"]["properties"]["oracle_max_age_seconds"]["maximum"] == 86_400
