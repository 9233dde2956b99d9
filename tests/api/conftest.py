"""Fixtures for the REST API: agents with real API keys, clients that send them, and the launch/refund stand-ins."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address
from rest_framework.test import APIClient

from agent_api.models import AgentBounds, AllowedRaiseAsset
from agent_api.services.api_keys import api_key_create
from launchpad.celery import app as celery_app
from pools.models import Launch, Pool, Refund
from pools.services.launch import PoolCannotLaunch
from tests.api.webhook_receiver import Receiver
from tests.factories import AgentFactory

ETH = 10**18


@pytest.fixture(autouse=True)
def _fresh_throttle_counts():
    """Throttle counts live in the (real, Redis) cache: each test starts from zero."""
    cache.clear()
    yield
    cache.clear()


@dataclass
class AgentWithKey:
    agent: object
    key: str
    api_key: object

    def client(self) -> APIClient:
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {self.key}")
        return client


def make_agent_with_key(**agent_fields) -> AgentWithKey:
    agent = AgentFactory(**agent_fields)
    new = api_key_create(agent=agent, name="tests")
    return AgentWithKey(agent=agent, key=new.key, api_key=new.api_key)


@pytest.fixture
def alice(db) -> AgentWithKey:
    return make_agent_with_key(name="alice")


@pytest.fixture
def bob(db) -> AgentWithKey:
    return make_agent_with_key(name="bob")


@pytest.fixture
def alice_client(alice) -> APIClient:
    return alice.client()


@pytest.fixture
def alice_bounds(alice) -> AgentBounds:
    """Alice may raise ETH up to 500 ETH, pay at least 1% fee, keep at most 10% of the supply, 2 drafts at once."""
    bounds = AgentBounds.objects.create(
        agent=alice.agent,
        min_fee_bps=100,
        max_agent_supply_bps=1_000,
        min_agent_vesting_seconds=180 * 86_400,
        max_raise_seconds=14 * 86_400,
        max_pools_in_draft=2,
    )
    AllowedRaiseAsset.objects.create(bounds=bounds, address="", symbol="ETH", decimals=18, max_hard_cap=500 * ETH)
    return bounds


@dataclass
class JobStandIn:
    """Stands in for the lead's launch_request / refund_request (a unit boundary inside our own code): records each
    execution, and does what the API relies on (a Launch row, the pool's status), or refuses like the real one."""

    calls: list[dict] = field(default_factory=list)
    refuse_with: str = ""
    delay: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def launch_request(self, *, pool_id: int, requested_by: str) -> Launch:
        import time

        with self.lock:
            self.calls.append({"pool_id": pool_id, "requested_by": requested_by})
        if self.refuse_with:
            raise PoolCannotLaunch(self.refuse_with, details={"status": "open"})
        time.sleep(self.delay)
        Pool.objects.filter(pk=pool_id).update(status=Pool.Status.LAUNCHING)
        launch, _ = Launch.objects.get_or_create(pool_id=pool_id, defaults={"requested_by": requested_by})
        return launch

    def refund_request(self, *, pool_id: int, requested_by: str) -> list[Refund]:
        with self.lock:
            self.calls.append({"pool_id": pool_id, "requested_by": requested_by})
        pool = Pool.objects.get(pk=pool_id)
        return [
            Refund.objects.create(pool=pool, recipient="0x" + f"{n + 1:040x}", amount=n * ETH + 1) for n in range(3)
        ]


@pytest.fixture
def launch_job_stand_in(monkeypatch) -> JobStandIn:
    """Replaces pools.services.launch.launch_request (and launch_dry_run) for the API's unit tests."""
    stand_in = JobStandIn()
    monkeypatch.setattr("pools.services.launch.launch_request", stand_in.launch_request)
    return stand_in


@pytest.fixture
def refund_job_stand_in(monkeypatch) -> JobStandIn:
    """Replaces pools.services.refunds.refund_request for the API's unit tests."""
    stand_in = JobStandIn()
    monkeypatch.setattr("pools.services.refunds.refund_request", stand_in.refund_request)
    return stand_in


def assert_error(response, status: int, code: str) -> dict:
    """The one error shape: {"error": {"code", "message", "details"}}."""
    assert response.status_code == status, response.content
    body = response.json()
    assert set(body) == {"error"}
    assert set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body["error"]


# --- proposals ---------------------------------------------------------------------------------------------------

TREASURY = to_checksum_address("0x" + "7e" * 20)


def proposal(**overrides) -> dict:
    """A proposal within the default bounds: the pool's default split (50/40/10), 80% of the raise to liquidity, LP
    burned; `overrides` replace or add fields."""
    opens = timezone.now() + timedelta(days=1)
    body = {
        "name": "Mind Pool",
        "token_name": "Mind",
        "token_symbol": "MIND",
        "soft_cap": str(10 * ETH),
        "hard_cap": str(100 * ETH),
        "opens_at": opens.isoformat(),
        "closes_at": (opens + timedelta(days=3)).isoformat(),
        "treasury_address": TREASURY,
        "fee_bps": 150,
        "agent_supply_bps": 1_000,
        "agent_cliff_seconds": 30 * 86_400,
        "agent_vesting_seconds": 365 * 86_400,
    }
    body.update(overrides)
    return body


def propose(client, body: dict, **headers):
    return client.post(reverse("api-agent-pools"), body, format="json", **headers)


# --- webhook receivers ----------------------------------------------------------------------------------------


@pytest.fixture
def private_urls_allowed(settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True


@pytest.fixture
def receiver(private_urls_allowed):
    """A webhook receiver on 127.0.0.1 that checks signatures (tests/api/webhook_receiver.py)."""
    server = Receiver()
    yield server
    server.stop()


@pytest.fixture
def broken_receiver(private_urls_allowed):
    server = Receiver(status=500)
    yield server
    server.stop()


@pytest.fixture
def celery_eager():
    """Run enqueued tasks in-process (the delivery task itself is what is tested, not the broker)."""
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous
