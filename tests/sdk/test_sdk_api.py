"""The SDK against the real API over HTTP (pytest-django's live server), without a chain: drafts, the error classes
and codes, idempotent replays, pagination, strict parameters and webhooks."""

from __future__ import annotations

import importlib.util
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
from django.core.cache import cache
from django.utils import timezone
from launchpad_sdk import (
    AuthenticationError,
    BadRequestError,
    ConflictError,
    Launchpad,
    NotFoundError,
    PermissionDeniedError,
)

from agent_api.services.api_keys import api_key_create
from tests.factories import AgentFactory
from tests.launch.test_agent_lifecycle import allow_eth_raises

pytestmark = [pytest.mark.integration, pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[2]
ETHER = 10**18
TREASURY = "0x" + "7e" * 20


def client_for(live_server, agent) -> Launchpad:
    return Launchpad(live_server.url, api_key=api_key_create(agent=agent, name="sdk").key, max_retries=0)


@pytest.fixture
def lp(live_server, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    cache.clear()  # throttle counts
    agent = AgentFactory(name=f"sdk-{uuid.uuid4().hex[:8]}")
    allow_eth_raises(agent)
    with client_for(live_server, agent) as client:
        yield client
    cache.clear()


def proposal(**overrides) -> dict:
    opens = timezone.now() + timedelta(days=1)
    body = {
        "name": "SDK Pool",
        "token_name": "SDK",
        "token_symbol": "SDK",
        "soft_cap": 10 * ETHER,
        "hard_cap": 100 * ETHER,
        "opens_at": opens,
        "closes_at": opens + timedelta(days=3),
        "treasury_address": TREASURY,
        "fee_bps": 100,
        "agent_supply_bps": 1_000,
        "agent_cliff_seconds": 0,
        "agent_vesting_seconds": 86_400,
    }
    return {**body, **overrides}


def test_drafts_are_proposed_once_per_key_changed_listed_page_by_page_and_withdrawn(lp):
    key, body = str(uuid.uuid4()), proposal()
    first = lp.propose(body, idempotency_key=key)
    assert lp.propose(body, idempotency_key=key)["id"] == first["id"]  # replayed
    second = lp.propose(proposal(name="SDK Pool 2"))
    assert first["status"] == "draft" and first["soft_cap"] == str(10 * ETHER)

    listed = [pool["id"] for pool in lp.paginate("agent/pools/", page_size=1)]
    assert listed == [second["id"], first["id"]]  # newest first, one page each
    changed = lp.update_draft(first["id"], hard_cap=150 * ETHER, name="Renamed")
    assert (changed["hard_cap"], changed["name"]) == (str(150 * ETHER), "Renamed")

    lp.withdraw_draft(second["id"])
    with pytest.raises(NotFoundError) as gone:
        lp.pool(second["id"])
    assert gone.value.code == "pool_not_found" and gone.value.request_id
    assert [pool["id"] for pool in lp.pools(status="draft")] == [first["id"]]


def test_the_apis_errors_arrive_as_their_classes_with_code_and_details(lp, live_server):
    with pytest.raises(BadRequestError) as invalid:
        lp.propose(proposal(agent_supply_bps=5_000, fee_bps=1))
    assert invalid.value.status == 400 and invalid.value.code == "invalid_pool_proposal"
    assert {"agent_supply_bps", "fee_bps"} <= set(invalid.value.details)

    with pytest.raises(BadRequestError) as strict:
        lp.request("GET", "agent/pools/", params={"limit": "abc"})
    assert strict.value.code == "invalid"

    stranger = Launchpad(live_server.url, api_key="lp_000000000000_not-a-key", max_retries=0)
    with stranger, pytest.raises(AuthenticationError) as refused:
        list(stranger.pools())
    assert refused.value.status == 401

    unbounded = client_for(live_server, AgentFactory(name="no-bounds"))
    with unbounded, pytest.raises(PermissionDeniedError) as no:
        unbounded.bounds()
    assert no.value.code == "proposals_not_allowed"


def test_webhooks_are_added_pinged_logged_redelivered_and_deleted(lp):
    key = str(uuid.uuid4())
    hook = lp.create_webhook("http://127.0.0.1:9/hook", ["pool.launched"], idempotency_key=key)
    assert hook["secret"].startswith("whsec_") and hook["events"] == ["pool.launched"]
    assert lp.webhook(hook["id"])["url"] == "http://127.0.0.1:9/hook"
    assert [h["id"] for h in lp.webhooks()] == [hook["id"]]

    ping = lp.test_webhook(hook["id"])
    assert ping["event"] == "ping"
    assert [d["delivery_id"] for d in lp.webhook_deliveries(hook["id"])] == [ping["delivery_id"]]
    again = lp.redeliver(hook["id"], ping["id"])
    assert again["delivery_id"] == ping["delivery_id"]

    lp.delete_webhook(hook["id"])
    with pytest.raises(NotFoundError) as gone:
        lp.webhook(hook["id"])
    assert gone.value.code == "webhook_not_found"
    with pytest.raises(ConflictError) as replay:  # a replay never shows a deleted endpoint's secret
        lp.create_webhook("http://127.0.0.1:9/hook", ["pool.launched"], idempotency_key=key)
    assert replay.value.code == "webhook_deleted"


def test_the_example_agent_quotes_and_proposes_through_the_sdk(lp, capsys):
    spec = importlib.util.spec_from_file_location("example_agent", ROOT / "sdk" / "examples" / "agent.py")
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)

    pool_id = example.propose(lp, treasury=TREASURY)

    assert lp.pool(pool_id)["status"] == "draft"
    assert f"proposed pool {pool_id} (draft)" in capsys.readouterr().out
