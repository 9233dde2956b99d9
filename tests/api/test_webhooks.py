"""Webhooks: managed through the API, delivered signed to a real local HTTP server, retried with backoff."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from agent_api.models import WebhookDelivery
from agent_api.services import webhooks
from agent_api.services.webhooks import (
    MAX_ATTEMPTS,
    webhook_deliver,
    webhook_deliveries_retry_due,
    webhook_emit,
    webhook_endpoint_create,
)
from pools.models import Pool, PoolEvent
from pools.services import events
from tests.api.conftest import assert_error
from tests.api.test_reads import make_deposit
from tests.api.webhook_receiver import endpoint_for
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


def test_an_event_is_delivered_signed_after_the_transaction_commits(
    alice, receiver, celery_eager, django_capture_on_commit_callbacks
):
    endpoint_for(alice.agent, receiver)

    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        webhook_emit(agent_id=alice.agent.pk, event="pool.launched", payload={"pool_id": 7, "raised": str(10**19)})
    assert receiver.received == []  # nothing is sent before the commit
    for callback in callbacks:
        callback()

    [received] = receiver.received
    assert received["signature_ok"] and received["fresh"]
    assert received["event"] == "pool.launched"
    assert received["body"]["data"] == {"pool_id": 7, "raised": str(10**19)}
    assert received["body"]["event"] == "pool.launched"
    delivery = WebhookDelivery.objects.get()
    assert received["delivery"] == received["body"]["id"] == str(delivery.delivery_id)
    assert (delivery.status, delivery.attempts, delivery.response_status) == ("delivered", 1, 200)


def test_only_active_endpoints_that_want_the_event_get_it(alice, bob, receiver):
    wants = endpoint_for(alice.agent, receiver, events=["deposit.credited"])
    endpoint_for(alice.agent, receiver, events=["pool.closed"])
    inactive = endpoint_for(alice.agent, receiver)
    inactive.active = False
    inactive.save()
    endpoint_for(bob.agent, receiver)

    webhook_emit(agent_id=alice.agent.pk, event="deposit.credited", payload={})

    assert list(WebhookDelivery.objects.values_list("endpoint", flat=True)) == [wants.pk]


def test_a_failing_receiver_is_retried_with_exponential_backoff_then_given_up(alice, broken_receiver):
    endpoint_for(alice.agent, broken_receiver)
    webhook_emit(agent_id=alice.agent.pk, event="pool.closed", payload={"pool_id": 1})
    delivery = WebhookDelivery.objects.get()

    first = webhook_deliver(delivery_id=delivery.pk)
    assert (first.status, first.attempts, first.response_status) == ("pending", 1, 500)
    assert "HTTP 500" in first.last_error and "receiver is broken" in first.last_error
    assert first.next_attempt_at - first.last_attempt_at == timedelta(seconds=30)
    assert webhook_deliver(delivery_id=delivery.pk) is None  # not due yet

    delays = [timedelta(seconds=30)]
    for _ in range(MAX_ATTEMPTS - 1):
        current = WebhookDelivery.objects.get(pk=delivery.pk)
        after = webhook_deliver(delivery_id=delivery.pk, now=current.next_attempt_at)
        if after.next_attempt_at:
            delays.append(after.next_attempt_at - after.last_attempt_at)

    assert delays == [timedelta(seconds=30 * 2**n) for n in range(MAX_ATTEMPTS - 1)]
    final = WebhookDelivery.objects.get(pk=delivery.pk)
    assert (final.status, final.attempts, final.next_attempt_at) == ("failed", MAX_ATTEMPTS, None)
    assert len(broken_receiver.received) == MAX_ATTEMPTS and all(r["signature_ok"] for r in broken_receiver.received)


def test_an_unreachable_receiver_is_recorded_not_raised(alice, private_urls_allowed):
    endpoint = webhook_endpoint_create(agent=alice.agent, url="http://127.0.0.1:9/nothing-listens")
    webhook_emit(agent_id=alice.agent.pk, event="pool.refunded", payload={})

    delivery = webhook_deliver(delivery_id=WebhookDelivery.objects.get(endpoint=endpoint).pk)

    assert delivery.status == "pending" and delivery.response_status is None
    assert "ConnectionError" in delivery.last_error


def test_due_deliveries_are_picked_up_again_by_the_sweep(alice, receiver, celery_eager):
    endpoint_for(alice.agent, receiver)
    webhook_emit(agent_id=alice.agent.pk, event="pool.closed", payload={})  # its on_commit never runs in this test
    WebhookDelivery.objects.update(created_at=timezone.now() - timedelta(minutes=5))

    assert webhook_deliveries_retry_due() == 1

    assert WebhookDelivery.objects.get().status == "delivered"
    assert len(receiver.received) == 1


def test_emit_never_raises_into_the_caller(alice, receiver, monkeypatch, caplog):
    endpoint_for(alice.agent, receiver)

    def broken(*args, **kwargs):
        raise RuntimeError("database trouble")

    monkeypatch.setattr(webhooks.WebhookDelivery.objects, "bulk_create", broken)
    webhook_emit(agent_id=alice.agent.pk, event="pool.closed", payload={})

    assert "could not queue webhook" in caplog.text


def test_a_pool_event_is_recorded_and_reaches_only_the_agents_webhooks_that_want_it(alice, bob, receiver):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.CLOSED, raised=12 * 10**18, closed_at=timezone.now())
    endpoint_for(alice.agent, receiver, events=["pool.closed"])
    endpoint_for(bob.agent, receiver)  # another agent's endpoint: never told about alice's pool

    events.pool_closed(pool=pool)
    events.pool_refunded(pool=pool, refunded_total=5)

    recorded = list(PoolEvent.objects.filter(pool=pool).values_list("kind", "payload"))
    assert [kind for kind, _ in recorded] == ["pool.closed", "pool.refunded"]
    assert recorded[0][1]["raised"] == str(12 * 10**18)
    [delivery] = WebhookDelivery.objects.all()
    assert (delivery.event, delivery.endpoint.agent) == ("pool.closed", alice.agent)
    assert delivery.payload == {"pool_id": pool.pk, **recorded[0][1]}


def test_credited_deposits_are_one_event_each_in_chain_order_with_exact_amounts(alice, receiver):
    pool = PoolFactory(agent=alice.agent)
    endpoint_for(alice.agent, receiver, events=["deposit.credited"])
    late = make_deposit(pool, 2, amount=2**200 + 1, credited_amount=2**200)
    early = make_deposit(pool, 1, amount=3, credited_amount=3)

    events.deposits_credited(pool=pool, deposits=[late, early])

    recorded = list(PoolEvent.objects.filter(pool=pool).order_by("id").values_list("kind", "payload"))
    assert [kind for kind, _ in recorded] == ["deposit.credited", "deposit.credited"]
    assert [payload for _, payload in recorded] == [
        {
            "deposit_id": early.pk,
            "tx_hash": early.tx_hash,
            "sender": early.sender,
            "amount": "3",
            "credited_amount": "3",
        },
        {
            "deposit_id": late.pk,
            "tx_hash": late.tx_hash,
            "sender": late.sender,
            "amount": str(2**200 + 1),
            "credited_amount": str(2**200),
        },
    ]
    deliveries = WebhookDelivery.objects.order_by("id").values_list("payload", flat=True)
    assert list(deliveries) == [{"pool_id": pool.pk, **payload} for _, payload in recorded]


def test_pool_events_are_kept_when_no_webhook_listens_or_the_webhook_lookup_fails(alice, monkeypatch, caplog):
    pool = PoolFactory(agent=alice.agent)
    events.pool_refunded(pool=pool, refunded_total=1)  # nobody listens

    def broken(*args, **kwargs):
        raise RuntimeError("database trouble")

    monkeypatch.setattr(webhooks.WebhookEndpoint.objects, "filter", broken)
    events.pool_refunded(pool=pool, refunded_total=2)

    assert PoolEvent.objects.filter(pool=pool).count() == 2
    assert not WebhookDelivery.objects.exists()
    assert "could not look up the webhooks" in caplog.text


def test_private_addresses_are_refused_unless_allowed(alice, alice_client, settings):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    url = reverse("api-agent-webhooks")

    for target in ("https://127.0.0.1/x", "https://10.1.2.3/x", "https://localhost/x", "http://example.com/x"):
        assert_error(alice_client.post(url, {"url": target}, format="json"), 400, "webhook_url_not_allowed")
    assert webhooks.webhook_url_problem("https://8.8.8.8/hook") == ""


def test_webhooks_are_managed_through_the_api_and_the_secret_is_shown_once(alice, alice_client, bob, receiver):
    url = reverse("api-agent-webhooks")

    created = alice_client.post(url, {"url": receiver.url, "events": ["pool.launched"]}, format="json")
    listed = alice_client.get(url).json()

    assert created.status_code == 201
    assert created.json()["secret"].startswith("whsec_")
    assert listed["count"] == 1 and "secret" not in listed["results"][0]
    assert listed["results"][0]["events"] == ["pool.launched"]
    webhook_id = created.json()["id"]
    assert_error(bob.client().delete(reverse("api-agent-webhook", args=[webhook_id])), 404, "webhook_not_found")
    assert alice_client.delete(reverse("api-agent-webhook", args=[webhook_id])).status_code == 204
    assert alice_client.get(url).json()["count"] == 0


def test_an_unknown_event_is_a_400(alice_client, receiver):
    response = alice_client.post(
        reverse("api-agent-webhooks"), {"url": receiver.url, "events": ["pool.exploded"]}, format="json"
    )

    assert "events" in assert_error(response, 400, "invalid")["details"]
