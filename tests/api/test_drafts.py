"""An agent changes (PATCH) or withdraws (DELETE) its pool while it is a DRAFT; the fee recipient within its bounds;
ETH as the zero address; every problem of a proposal at once; "an open pool"."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address

from agent_api.models import AgentBounds, AllowedFeeRecipient
from pools.models import Pool
from pools.services.pools import InvalidTransition, pool_configuration_errors, transition_pool, with_article
from pools.services.refunds import PoolCannotRefund, refund_request
from tests.api.conftest import ETH, assert_error, proposal, propose
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

FEE_RECIPIENT = to_checksum_address("0x" + "fe" * 20)
OTHER_ADDRESS = to_checksum_address("0x" + "ab" * 20)
ZERO_ADDRESS = "0x" + "00" * 20


def pool_url(pool_id: int) -> str:
    return reverse("api-agent-pool", args=[pool_id])


def patch(client, pool_id: int, body, **headers):
    return client.patch(pool_url(pool_id), body, format="json", **headers)


@pytest.fixture
def draft(alice_client, alice_bounds) -> Pool:
    response = propose(alice_client, proposal())
    assert response.status_code == 201, response.json()
    return Pool.objects.get(pk=response.json()["id"])


# --- PATCH ---------------------------------------------------------------------------------------------------------


def test_a_draft_changes_the_fields_sent_and_keeps_the_others(alice_client, draft):
    response = patch(alice_client, draft.pk, {"name": "Mind Pool II", "fee_bps": 200, "agent_supply_bps": 500,
                                              "depositor_supply_bps": 4_500})  # fmt: skip

    assert response.status_code == 200, response.json()
    draft.refresh_from_db()
    assert (draft.name, draft.fee_bps, draft.agent_supply_bps, draft.depositor_supply_bps) == (
        "Mind Pool II", 200, 500, 4_500
    )  # fmt: skip
    assert (draft.token_symbol, draft.hard_cap, draft.status) == ("MIND", 100 * ETH, Pool.Status.DRAFT)
    assert alice_client.get(pool_url(draft.pk)).json()["name"] == "Mind Pool II"


def test_a_change_is_judged_on_the_merged_draft_with_every_problem_at_once(alice_client, draft):
    # Alone, a larger agent share breaks the split (with the draft's other two shares) and the agent's bound.
    response = patch(alice_client, draft.pk, {"agent_supply_bps": 5_000, "hard_cap": str(5 * ETH)})

    error = assert_error(response, 400, "invalid_pool_proposal")
    assert error["details"] == {
        "agent_supply_bps": [
            "Liquidity, depositor and agent shares of the supply must add up to 100% (10,000 bps).",
            "At most 1000 bps of the supply for you (your bound max_agent_supply_bps).",
        ],
        "hard_cap": ["The hard cap cannot be below the soft cap."],
    }
    draft.refresh_from_db()
    assert (draft.agent_supply_bps, draft.hard_cap) == (1_000, 100 * ETH)  # nothing saved


def test_a_change_that_does_not_parse_is_reported_with_the_rules_and_bounds(alice_client, draft):
    opens = timezone.now() + timedelta(days=2)
    body = {"fee_bps": "lots", "closes_at": (opens - timedelta(hours=1)).isoformat(), "opens_at": opens.isoformat(),
            "depositor_cliff_seconds": 60 * 86_400, "status": "scheduled"}  # fmt: skip

    error = assert_error(patch(alice_client, draft.pk, body), 400, "invalid")

    assert set(error["details"]) == {"fee_bps", "closes_at", "depositor_cliff_seconds", "status"}
    assert "max_depositor_cliff_seconds" in error["details"]["depositor_cliff_seconds"][0]


def test_an_empty_change_changes_nothing(alice_client, draft):
    response = patch(alice_client, draft.pk, {})

    assert response.status_code == 200 and response.json()["name"] == draft.name


def test_a_change_with_an_idempotency_key_is_replayed(alice_client, draft):
    first = patch(alice_client, draft.pk, {"name": "Once"}, HTTP_IDEMPOTENCY_KEY="change-1")
    again = patch(alice_client, draft.pk, {"name": "Once"}, HTTP_IDEMPOTENCY_KEY="change-1")
    other = patch(alice_client, draft.pk, {"name": "Twice"}, HTTP_IDEMPOTENCY_KEY="change-1")

    assert first.status_code == again.status_code == 200
    assert again["Idempotent-Replayed"] == "true" and again.json() == first.json()
    assert_error(other, 422, "idempotency_key_reused")


@pytest.mark.parametrize("status", [Pool.Status.SCHEDULED, Pool.Status.OPEN, Pool.Status.CANCELLED])
def test_a_pool_an_admin_has_scheduled_or_cancelled_cannot_change_or_be_withdrawn(alice, alice_client, status):
    AgentBounds.objects.create(agent=alice.agent)
    pool = PoolFactory(agent=alice.agent, status=status)

    changed = assert_error(patch(alice_client, pool.pk, {"name": "Late"}), 409, "pool_not_draft")
    withdrawn = assert_error(alice_client.delete(pool_url(pool.pk)), 409, "pool_not_draft")

    assert changed["details"] == withdrawn["details"] == {"status": status}
    assert ("cancelled" if status == Pool.Status.CANCELLED else "scheduled") in changed["message"]
    pool.refresh_from_db()
    assert pool.name != "Late"


def test_another_agents_draft_is_not_found(bob, draft):
    AgentBounds.objects.create(agent=bob.agent)

    assert_error(patch(bob.client(), draft.pk, {"name": "Mine"}), 404, "pool_not_found")
    assert_error(bob.client().delete(pool_url(draft.pk)), 404, "pool_not_found")
    assert Pool.objects.filter(pk=draft.pk, name="Mind Pool").exists()


# --- DELETE --------------------------------------------------------------------------------------------------------


def test_a_withdrawn_draft_is_gone_and_frees_its_place(alice_client, alice_bounds, draft):
    assert propose(alice_client, proposal(token_symbol="MIND2")).status_code == 201  # two drafts: the bound's limit

    response = alice_client.delete(pool_url(draft.pk))

    assert response.status_code == 204 and not response.content
    assert_error(alice_client.get(pool_url(draft.pk)), 404, "pool_not_found")
    assert_error(alice_client.delete(pool_url(draft.pk)), 404, "pool_not_found")
    assert propose(alice_client, proposal(token_symbol="MIND3")).status_code == 201


# --- the fee recipient -----------------------------------------------------------------------------------------------


def test_without_allowed_fee_recipients_a_proposal_cannot_name_one(alice_client, alice_bounds):
    error = assert_error(propose(alice_client, proposal(fee_recipient=FEE_RECIPIENT)), 400, "invalid_pool_proposal")

    assert set(error["details"]) == {"fee_recipient"}
    assert "an admin sets it" in error["details"]["fee_recipient"][0]
    # Empty, or left out: the admin's choice at scheduling.
    assert propose(alice_client, proposal(fee_recipient="")).json()["fee_recipient"] == ""


def test_an_allowed_fee_recipient_is_taken_and_another_refused(alice_client, alice_bounds):
    AllowedFeeRecipient.objects.create(bounds=alice_bounds, address=FEE_RECIPIENT.lower(), label="platform")

    refused = assert_error(propose(alice_client, proposal(fee_recipient=OTHER_ADDRESS)), 400, "invalid_pool_proposal")
    response = propose(alice_client, proposal(fee_recipient=FEE_RECIPIENT.lower()))

    assert FEE_RECIPIENT in refused["details"]["fee_recipient"][0]
    assert response.status_code == 201, response.json()
    pool = Pool.objects.get(pk=response.json()["id"])
    assert pool.fee_recipient == FEE_RECIPIENT
    assert "fee_recipient" not in pool_configuration_errors(pool=pool, for_schedule=True)  # the admin may schedule it


def test_the_admins_fee_recipient_on_a_draft_survives_the_agents_changes(alice_client, draft):
    Pool.objects.filter(pk=draft.pk).update(fee_recipient=OTHER_ADDRESS)  # set by the admin, not in any allow-list

    response = patch(alice_client, draft.pk, {"name": "Renamed"})
    refused = patch(alice_client, draft.pk, {"fee_recipient": FEE_RECIPIENT})

    assert response.status_code == 200 and response.json()["fee_recipient"] == OTHER_ADDRESS
    assert "fee_recipient" in assert_error(refused, 400, "invalid_pool_proposal")["details"]


# --- ETH as the zero address -----------------------------------------------------------------------------------------


def test_the_zero_address_means_eth_and_is_kept_as_empty(alice_client, alice_bounds):
    response = propose(alice_client, proposal(raise_asset=ZERO_ADDRESS))

    assert response.status_code == 201, response.json()
    pool = Pool.objects.get(pk=response.json()["id"])
    assert (pool.raise_asset, pool.raise_asset_symbol) == ("", "ETH")
    assert patch(alice_client, pool.pk, {"raise_asset": ZERO_ADDRESS}).status_code == 200
    pool.refresh_from_db()
    assert pool.raise_asset == ""


# --- every problem at once -------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        pytest.param(
            {"agent_supply_bps": 5_000},
            {"agent_supply_bps": ["must add up", "max_agent_supply_bps"]},
            id="the split and the bound on one field",
        ),
        pytest.param(
            {"hard_cap": "lots", "agent_supply_bps": 5_000, "depositor_cliff_seconds": 60 * 86_400},
            {"hard_cap": ["string of digits"], "agent_supply_bps": ["must add up", "max_agent_supply_bps"],
             "depositor_cliff_seconds": ["max_depositor_cliff_seconds"]},
            id="a field that does not parse, a rule and bounds",
        ),
        pytest.param(
            {"token_symbol": "mind", "fee_bps": 50, "liquidity_raise_bps": 9_900, "oracle_tolerance_bps": 900},
            {"token_symbol": ["does not match"], "fee_bps": ["min_fee_bps"],
             "oracle_tolerance_bps": ["max_oracle_tolerance_bps"]},
            id="a malformed symbol does not hide the bounds",
        ),
        pytest.param(
            {"fee_bps": 500, "liquidity_raise_bps": 9_600},
            {"fee_bps": ["together cannot exceed the whole raise"]},
            id="a rule between two fields",
        ),
        pytest.param(
            {"name": "", "protection_blocks": 100, "lp_policy": "lock"},
            {"name": ["blank"], "max_buy_per_tx": ["largest buy"], "lp_lock_until": ["unlock date"]},
            id="a blank name and two rules on other fields",
        ),
    ],
)  # fmt: skip
def test_every_problem_of_a_proposal_is_reported_at_once(alice_client, alice_bounds, overrides, expected):
    response = propose(alice_client, proposal(**overrides))

    assert response.status_code == 400, response.json()
    details = response.json()["error"]["details"]
    assert set(details) == set(expected), details
    for field, fragments in expected.items():
        assert len(details[field]) == len(fragments), details[field]
        for message, fragment in zip(details[field], fragments, strict=True):
            assert fragment in message, (field, details[field])


# --- grammar -------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("phrase", "expected"),
    [("open", "an open"), ("draft", "a draft"), ("unique token", "a unique token"), ("hour", "an hour"),
     ("ordinary pool", "an ordinary pool"), ("launched", "a launched"), ("ERC-20", "an ERC-20")],
)  # fmt: skip
def test_the_article_follows_the_sound(phrase, expected):
    assert with_article(phrase) == expected


def test_an_invalid_transition_says_an_open_pool(db):
    pool = PoolFactory(status=Pool.Status.OPEN)

    with pytest.raises(InvalidTransition) as refused:
        transition_pool(pool, Pool.Status.SCHEDULED)

    assert str(refused.value.message).startswith("An open pool cannot become scheduled")


def test_a_refund_of_an_open_pool_says_an_open_pool(db):
    pool = PoolFactory(status=Pool.Status.OPEN)

    with pytest.raises(PoolCannotRefund) as refused:
        refund_request(pool_id=pool.pk, requested_by="test")

    assert refused.value.message.startswith("An open pool has nothing to refund yet")
