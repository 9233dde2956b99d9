"""schemathesis against /api/schema/: generated requests to every operation, in-process (WSGI), with a real key.

Each generated case is sent twice: as generated (mostly ids that do not exist), and with its pool id replaced by one
of the agent's real pools in every status, so the success paths are fuzzed too. No response may be a server error
or disagree with the schema.
"""

from __future__ import annotations

import os
import zlib

import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from agent_api.models import AgentBounds, AllowedRaiseAsset
from launchpad.wsgi import application
from pools.models import Allocation, Launch, Pool, Refund
from pools.services.launch import PoolCannotLaunch
from pools.services.refunds import PoolCannotRefund
from tests.api.conftest import ETH, make_agent_with_key
from tests.factories import PoolFactory

MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "25"))  # more for a deeper run, e.g. 300


@pytest.fixture
def fuzzed_world(db, keep_test_connection, settings_fixture_rates, monkeypatch):
    """An agent with a key and bounds, its pools in every status (the refunding one waiting), a refund owed and one set
    aside, and stand-ins for the launch and refund jobs."""
    agent = make_agent_with_key(name="fuzzer")
    bounds = AgentBounds.objects.create(agent=agent.agent, max_pools_in_draft=1000)
    AllowedRaiseAsset.objects.create(bounds=bounds, address="", symbol="ETH", decimals=18, max_hard_cap=10**30)
    pools = [PoolFactory(agent=agent.agent, status=status) for status in Pool.Status.values]
    launched = next(pool for pool in pools if pool.status == Pool.Status.LAUNCHED)
    Launch.objects.create(pool=launched, step=Launch.Step.LAUNCHED, token_address="0x" + "aa" * 20)
    address = to_checksum_address("0x" + "ab" * 20)
    Allocation.objects.create(pool=launched, address=address, contribution=ETH, token_amount=10**21, proof=[])
    Refund.objects.create(pool=launched, recipient=address, amount=1)
    Refund.objects.create(
        pool=launched, recipient=address, amount=2, status=Refund.Status.SET_ASIDE, set_aside_at=timezone.now(),
        set_aside_by="admin", set_aside_note="Paid by hand.",
    )  # fmt: skip
    Pool.objects.filter(status=Pool.Status.REFUNDING, agent=agent.agent).update(
        waiting_code="fees_above_cap", waiting_reason="Network fees are above the cap.", waiting_since=timezone.now()
    )

    def launch_request(*, pool_id, requested_by):
        pool = Pool.objects.get(pk=pool_id)
        if pool.status != Pool.Status.CLOSED:
            raise PoolCannotLaunch("Only a closed pool launches.")
        return Launch.objects.get_or_create(pool=pool)[0]

    def launch_dry_run(*, pool_id):
        return {"would_succeed": True, "error": "", "token_address": "0x" + "aa" * 20, "raise_amount": "1",
                "liquidity_funds": "1", "fee": "0", "treasury": "0", "liquidity_tokens": "1", "burned_tokens": "0",
                "depositor_tokens": "1", "agent_tokens": "1", "price_in_asset": None, "price_usd_e8": None,
                "oracle_answer": "1", "merkle_root": "0x", "gas": 1, "simulated_in_ms": 1}  # fmt: skip

    def refund_request(*, pool_id, requested_by):
        if Pool.objects.get(pk=pool_id).status not in (Pool.Status.REFUNDING, Pool.Status.LAUNCHED):
            raise PoolCannotRefund("Nothing to refund.")
        return list(Refund.objects.filter(pool_id=pool_id))

    monkeypatch.setattr("pools.services.launch.launch_request", launch_request)
    monkeypatch.setattr("pools.services.launch.launch_dry_run", launch_dry_run)
    monkeypatch.setattr("pools.services.refunds.refund_request", refund_request)
    return {"key": agent.key, "pool_ids": [pool.pk for pool in pools], "address": address}


@pytest.fixture
def keep_test_connection():
    """A raw WSGI call ends with Django closing "old" connections, the test's own among them; Django's test client
    avoids that the same way: by not listening to the request signals for the test's duration."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def settings_fixture_rates(settings):
    """Fuzzing sends hundreds of requests a minute: raise the rates so it meets no 429."""
    rates = {"anon": "100000/minute", "agent": "100000/minute", "agent_trigger": "100000/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    cache.clear()


# Loaded at collection (pytest-django has set Django up by then; the schema view needs no database).
# schemathesis.pytest.from_fixture would load it per test, but its lazy loader does not work with pytest 9.
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
)
def test_no_server_error_and_every_response_matches_the_schema(case, fuzzed_world):
    headers = {"Authorization": f"Bearer {fuzzed_world['key']}"}
    case.call_and_validate(headers=headers, checks=CHECKS)

    if "pool_id" in (case.path_parameters or {}):
        pool_ids = fuzzed_world["pool_ids"]
        case.path_parameters["pool_id"] = pool_ids[zlib.crc32(repr(case.path_parameters).encode()) % len(pool_ids)]
        if "address" in case.path_parameters:
            case.path_parameters["address"] = fuzzed_world["address"]
        case.call_and_validate(headers=headers, checks=CHECKS)


def test_the_schema_documents_every_operation():
    loaded = schemathesis.openapi.from_wsgi("/api/schema/", application)
    operations = {(op.ok().method.upper(), op.ok().path) for op in loaded.get_all_operations()}

    assert len(operations) == 17
    assert ("POST", "/api/v1/agent/pools/{pool_id}/launch/") in operations
