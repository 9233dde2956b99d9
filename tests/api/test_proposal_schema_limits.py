"""The proposal's schema states exactly the limits the server enforces: for every property of the PoolProposal request
component with a minimum or maximum, a minLength or maxLength, a pattern or an enum, a value just outside the limit is
refused naming that field, and one just inside is not refused for that field. A client generated from /api/schema/
then never sends what the server refuses, nor avoids what it takes.

The agent's bounds are wide open, so that only the schema's limits and the rules between fields are in play; a value
just inside one limit is given the other fields it needs (the three shares of the supply add up).
"""

import base64
import io

import pytest
from django.urls import reverse
from eth_utils import to_checksum_address
from PIL import Image

from agent_api.models import AgentBounds, AllowedFeeRecipient, AllowedRaiseAsset
from pools.models import BPS, Pool
from tests.api.conftest import TREASURY, proposal, propose

pytestmark = pytest.mark.django_db

FEE_RECIPIENT = to_checksum_address("0x" + "fe" * 20)
ZERO_ADDRESS = "0x" + "00" * 20
TEN_YEARS = 10 * 365 * 86_400
SPLIT = ("liquidity_supply_bps", "depositor_supply_bps", "agent_supply_bps")


def png_data_url() -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (4, 4), (200, 30, 30)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


# A value of each pattern of the schema at a given length (None: no value of that length matches), and one that does
# not match. A pattern missing here fails the test, so that a new one cannot go unchecked.
PATTERNS = {
    "^[A-Z][A-Z0-9]{1,10}$": (lambda n: "A" * n if 2 <= n <= 11 else None, "mind"),
    "^0x[0-9a-fA-F]{40}$": (lambda n: TREASURY if n == 42 else None, "0x12"),
    "^(0x[0-9a-fA-F]{40})?$": (lambda n: {0: "", 42: "address"}.get(n), "0x12"),
    "^[0-9]{1,78}$": (lambda n: "1" * n if 1 <= n <= 38 else None, "-1"),
    "^(data:image/(png|jpeg|webp|gif);base64,|$)": (
        lambda n: "" if n == 0 else None,
        "data:image/svg+xml;base64,PHN2Zz4=",
    ),
}
# What an address field is given when it must be a valid one: the one the wide bounds allow.
ALLOWED_ADDRESS = {"raise_asset": ZERO_ADDRESS, "fee_recipient": FEE_RECIPIENT, "treasury_address": TREASURY}


@pytest.fixture
def wide_bounds(alice) -> AgentBounds:
    bounds = AgentBounds.objects.create(
        agent=alice.agent,
        min_liquidity_supply_bps=0, max_liquidity_supply_bps=BPS, min_depositor_supply_bps=0,
        max_depositor_supply_bps=BPS, min_agent_supply_bps=0, max_agent_supply_bps=BPS, min_liquidity_raise_bps=0,
        min_fee_bps=0, max_fee_bps=BPS, max_raise_seconds=TEN_YEARS, max_depositor_cliff_seconds=TEN_YEARS,
        max_depositor_vesting_seconds=TEN_YEARS, min_agent_cliff_seconds=0, min_agent_vesting_seconds=0,
        min_lp_lock_seconds=0, min_protection_blocks=0, max_protection_blocks=10**6, max_protection_buy_bps=BPS,
        max_oracle_tolerance_bps=BPS, max_oracle_max_age_seconds=10**9, max_pools_in_draft=10**6,
    )  # fmt: skip
    AllowedRaiseAsset.objects.create(bounds=bounds, address="", symbol="ETH", decimals=18, max_hard_cap=10**60)
    AllowedFeeRecipient.objects.create(bounds=bounds, address=FEE_RECIPIENT)
    return bounds


@pytest.fixture
def proposal_schema(client) -> tuple[dict, dict]:
    """The proposal's request component, and PATCH's, as /api/schema/ gives them."""
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    components = schema["components"]["schemas"]

    def request_component(path: str, method: str) -> dict:
        ref = schema["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]["$ref"]
        return components[ref.rsplit("/", 1)[1]]

    def resolved(prop: dict) -> dict:
        for ref in [prop.get("$ref")] + [part.get("$ref") for part in prop.get("allOf", [])]:
            if ref:
                return {**components[ref.rsplit("/", 1)[1]], **{k: v for k, v in prop.items() if k != "allOf"}}
        return prop

    component = request_component("/api/v1/agent/pools/", "post")
    patched = request_component("/api/v1/agent/pools/{pool_id}/", "patch")
    return (
        {name: resolved(prop) for name, prop in component["properties"].items()},
        {"properties": patched["properties"], "required": patched.get("required", [])},
    )


def with_companions(field: str, value) -> dict:
    """The field's value, and what the rules between fields need for it to stand alone (the split adds up)."""
    if field in SPLIT and isinstance(value, int) and 0 <= value <= BPS:
        if field == "liquidity_supply_bps":
            return {field: value, "depositor_supply_bps": BPS - value, "agent_supply_bps": 0}
        other = "agent_supply_bps" if field == "depositor_supply_bps" else "depositor_supply_bps"
        return {field: value, other: 0, "liquidity_supply_bps": BPS - value}
    return {field: value}


def string_of_length(field: str, prop: dict, length: int) -> str | None:
    """A value of `length` characters that meets the property's other limits (None when there is none)."""
    if "pattern" not in prop:
        return "x" * length
    make, _ = PATTERNS[prop["pattern"]]
    value = make(length)
    return ALLOWED_ADDRESS[field] if value and field in ALLOWED_ADDRESS else value


def cases(field: str, prop: dict) -> list[tuple[str, object, bool]]:
    """(what, value, refused?) for every limit the property declares."""
    found = []
    if "minimum" in prop:
        found += [("below the minimum", prop["minimum"] - 1, True), ("at the minimum", prop["minimum"], False)]
    if "maximum" in prop:
        found += [("above the maximum", prop["maximum"] + 1, True), ("at the maximum", prop["maximum"], False)]
    if "minLength" in prop:
        shortest = prop["minLength"]
        found.append(("shorter than minLength", string_of_length(field, prop, shortest - 1) or "", True))
        if (inside := string_of_length(field, prop, shortest)) is not None:
            found.append(("at minLength", inside, False))
    if "maxLength" in prop:
        longest = prop["maxLength"]
        found.append(("longer than maxLength", "1" * (longest + 1), True))
        if (inside := string_of_length(field, prop, longest)) is not None:
            found.append(("at maxLength", inside, False))
    if "pattern" in prop:
        assert prop["pattern"] in PATTERNS, f"{field}: a new pattern {prop['pattern']!r}, add it to PATTERNS"
        _, mismatch = PATTERNS[prop["pattern"]]
        matching = png_data_url() if field == "image" else ALLOWED_ADDRESS.get(field) or proposal().get(field, "1")
        found += [("not matching the pattern", mismatch, True), ("matching the pattern", matching, False)]
    if "enum" in prop:
        found.append(("not in the enum", "not-a-choice", True))
        found += [(f"the choice {choice!r}", choice, False) for choice in prop["enum"] if choice not in ("", None)]
    return found


def test_every_limit_of_the_proposal_schema_is_the_servers(alice_client, wide_bounds, proposal_schema):
    properties, _ = proposal_schema
    checked, wrong = 0, []
    for field, prop in properties.items():
        for what, value, refused in cases(field, prop):
            response = propose(alice_client, proposal(**with_companions(field, value)))
            details = response.json().get("error", {}).get("details", {}) if response.status_code != 201 else {}
            checked += 1
            if refused and (response.status_code != 400 or field not in details):
                wrong.append(f"{field} {what} ({str(value)[:50]!r}): not refused ({response.status_code}, {details})")
            elif not refused and field in details:
                wrong.append(f"{field} {what} ({str(value)[:50]!r}): refused: {details[field]}")

    assert not wrong, "\n".join(wrong)
    assert checked >= 80  # every property with a limit was tried (about 35 properties)
    limited = {field for field, prop in properties.items() if cases(field, prop)}
    assert {"protection_blocks", "token_symbol", "raise_asset", "fee_bps", "oracle_max_age_seconds"} <= limited


def test_the_proposal_schema_declares_the_pools_defaults(proposal_schema):
    properties, _ = proposal_schema

    assert properties["protection_blocks"]["maximum"] == 300
    fields = ("fee_bps", "total_supply", "liquidity_supply_bps", "depositor_supply_bps", "agent_supply_bps",
              "liquidity_raise_bps", "agent_cliff_seconds", "oracle_tolerance_bps", "lp_policy", "access")  # fmt: skip
    for field in fields:
        default = Pool._meta.get_field(field).default
        assert properties[field]["default"] == (str(default) if field == "total_supply" else default), field
    assert properties["raise_asset"]["default"] == "" and "minLength" not in properties["raise_asset"]


def test_the_patch_schema_has_the_same_fields_all_optional(proposal_schema):
    properties, patched = proposal_schema

    assert set(patched["properties"]) == set(properties)
    assert patched["required"] == []


def test_a_zero_address_raise_matches_the_schema_and_is_eth(alice_client, wide_bounds, proposal_schema):
    properties, _ = proposal_schema
    response = propose(alice_client, proposal(raise_asset=ZERO_ADDRESS))

    assert PATTERNS[properties["raise_asset"]["pattern"]][0](42) == "address"
    assert response.status_code == 201, response.json()
    assert Pool.objects.get(pk=response.json()["id"]).raise_asset == ""
