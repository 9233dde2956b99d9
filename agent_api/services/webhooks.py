"""Webhooks: an agent's endpoints, and signed deliveries of events about its pools, retried with backoff.

A delivery is a row (WebhookDelivery) that holds its attempts, so a worker crash or a lost message never loses it:
a pending delivery always has its next attempt scheduled (`next_attempt_at`, "now" when it is created; a database
check enforces it), and `webhook_deliveries_retry_due` re-enqueues whatever is due. Delivery is at least once:
receivers deduplicate by the X-Launchpad-Delivery id, which a redelivery keeps.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from collections.abc import Sequence
from datetime import datetime, timedelta

import requests
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.utils import timezone

from agent_api.models import PING_EVENT, WebhookDelivery, WebhookEndpoint, WebhookEvent
from pools import outbound
from pools.errors import ApplicationError
from pools.models import Agent, Pool, PoolEvent

logger = logging.getLogger(__name__)

MAX_ENDPOINTS_PER_AGENT = 10
MAX_ATTEMPTS = 8
BACKOFF_BASE = timedelta(seconds=30)  # 30 s, 1 min, 2 min, … capped below
BACKOFF_MAX = timedelta(hours=2)
REQUEST_TIMEOUT = (3.05, 5)  # connect, read: a slow receiver must not hold a worker
MAX_RESPONSE_ERROR_CHARS = 500
SIGNATURE_HEADER = "X-Launchpad-Signature"
USER_AGENT = "launchpad-webhooks/1"


class WebhookUrlNotAllowed(ApplicationError):
    code = "webhook_url_not_allowed"


class TooManyWebhooks(ApplicationError):
    status_code = 409
    code = "too_many_webhooks"


class WebhookNotFound(ApplicationError):
    status_code = 404
    code = "webhook_not_found"


class WebhookDeliveryNotFound(ApplicationError):
    status_code = 404
    code = "webhook_delivery_not_found"


class WebhookInactive(ApplicationError):
    status_code = 409
    code = "webhook_inactive"


class WebhookDeleted(ApplicationError):
    status_code = 409
    code = "webhook_deleted"


def _private_urls_allowed() -> bool:
    # Development and tests deliver to 127.0.0.1; production refuses internal addresses (the signer, the database).
    return getattr(settings, "WEBHOOK_ALLOW_PRIVATE_URLS", settings.DEBUG)


def webhook_url_problem(url: str) -> str:
    """Why webhooks may not be sent to `url`, or "" (public http(s) hosts only, unless private URLs are allowed).

    The host is not resolved here: each delivery resolves it once in `outbound.post`, checks those addresses and
    connects to them, since a name may answer differently from one lookup to the next.
    """
    return outbound.url_problem(url, allow_private=_private_urls_allowed())


# --- endpoints -------------------------------------------------------------------------------------------------


def webhook_endpoint_create(*, agent: Agent, url: str, events: list[str] | None = None) -> WebhookEndpoint:
    """A new endpoint with a fresh signing secret (returned on the object: show it once)."""
    problem = webhook_url_problem(url)
    if problem:
        raise WebhookUrlNotAllowed(problem, details={"url": [problem]})
    events = sorted(set(events)) if events else sorted(WebhookEvent.values)
    with transaction.atomic():
        Agent.objects.select_for_update().filter(pk=agent.pk).first()  # serialise the count below per agent
        if WebhookEndpoint.objects.filter(agent=agent).count() >= MAX_ENDPOINTS_PER_AGENT:
            raise TooManyWebhooks(f"At most {MAX_ENDPOINTS_PER_AGENT} webhook endpoints; delete one first.")
        return WebhookEndpoint.objects.create(
            agent=agent, url=url, events=events, secret="whsec_" + secrets.token_hex(32)
        )


def webhook_endpoint_delete(*, agent: Agent, endpoint_id: int) -> None:
    """Delete one of the agent's endpoints (and its delivery history)."""
    deleted, _ = WebhookEndpoint.objects.filter(agent=agent, pk=endpoint_id).delete()
    if not deleted:
        raise WebhookNotFound(f"You have no webhook endpoint with the id {endpoint_id}.")


def webhook_endpoint_get(*, agent: Agent, endpoint_id: int) -> WebhookEndpoint:
    """One of the agent's endpoints; another agent's answers WebhookNotFound like one that does not exist."""
    endpoint = WebhookEndpoint.objects.filter(agent=agent, pk=endpoint_id).first()
    if endpoint is None:
        raise WebhookNotFound(f"You have no webhook endpoint with the id {endpoint_id}.")
    return endpoint


def webhook_endpoint_for_replay(*, agent: Agent, endpoint_id: int) -> WebhookEndpoint:
    """The endpoint an Idempotency-Key created, for replaying its creation: WebhookDeleted once it is gone, so that a
    replay never shows the secret of an endpoint that no longer exists (the stored response has no secret at all)."""
    endpoint = WebhookEndpoint.objects.filter(agent=agent, pk=endpoint_id).first()
    if endpoint is None:
        raise WebhookDeleted(
            "The webhook endpoint this Idempotency-Key created has been deleted; use a new key to create another.",
            details={"id": endpoint_id},
        )
    return endpoint


def webhook_deliveries_for_endpoint(*, endpoint: WebhookEndpoint, status: str = ""):
    """The endpoint's delivery log, newest first; only one status when `status` is given."""
    deliveries = WebhookDelivery.objects.filter(endpoint=endpoint).order_by("-created_at", "-id")
    return deliveries.filter(status=status) if status else deliveries


def webhook_ping(*, agent: Agent, endpoint_id: int) -> WebhookDelivery:
    """Queue a signed `ping` delivery to one of the agent's endpoints now, whatever events it wants (a test)."""
    endpoint = webhook_endpoint_get(agent=agent, endpoint_id=endpoint_id)
    if not endpoint.active:
        raise WebhookInactive("This webhook endpoint is deactivated: nothing is sent to it.")
    payload = {"webhook_id": endpoint.pk, "message": "A test delivery asked for through the API."}
    with transaction.atomic():
        [delivery] = _queue(endpoints=[endpoint], event=PING_EVENT, payloads=[payload])
    return delivery


def webhook_redeliver(*, agent: Agent, endpoint_id: int, delivery_id: int) -> WebhookDelivery:
    """A fresh round of attempts for one delivery, the first one now, whatever its status (a delivered one too).

    The delivery keeps its X-Launchpad-Delivery id, so a receiver that already has it can tell it is the same event.
    """
    endpoint = webhook_endpoint_get(agent=agent, endpoint_id=endpoint_id)
    if not endpoint.active:
        raise WebhookInactive("This webhook endpoint is deactivated: nothing is sent to it.")
    with transaction.atomic():
        delivery = WebhookDelivery.objects.select_for_update().filter(endpoint=endpoint, pk=delivery_id).first()
        if delivery is None:
            raise WebhookDeliveryNotFound(f"This webhook endpoint has no delivery with the id {delivery_id}.")
        delivery.status, delivery.attempts = WebhookDelivery.Status.PENDING, 0
        delivery.next_attempt_at, delivery.delivered_at = timezone.now(), None
        delivery.save(update_fields=["status", "attempts", "next_attempt_at", "delivered_at"])
        transaction.on_commit(lambda: _enqueue([delivery.pk]))
    return delivery


# --- emitting --------------------------------------------------------------------------------------------------


def _endpoints_wanting(*, agent_id: int, event: str) -> list[WebhookEndpoint]:
    return [e for e in WebhookEndpoint.objects.filter(agent_id=agent_id, active=True) if event in e.events]


def _queue(*, endpoints: list[WebhookEndpoint], event: str, payloads: list[dict]) -> list[WebhookDelivery]:
    """One delivery per payload and endpoint, in that order, due now; sent after the caller's transaction commits
    (and by the retry sweep if that message is lost)."""
    now = timezone.now()
    deliveries = WebhookDelivery.objects.bulk_create(
        [
            WebhookDelivery(endpoint=endpoint, event=event, payload=payload, next_attempt_at=now)
            for payload in payloads
            for endpoint in endpoints
        ]
    )
    if deliveries:
        ids = [delivery.pk for delivery in deliveries]
        transaction.on_commit(lambda: _enqueue(ids))
    return deliveries


def webhook_emit(*, agent_id: int, event: str, payload: dict) -> None:
    """Queue `event` for each of the agent's active endpoints that want it; sent after the caller's transaction
    commits. Never raises: a webhook problem must not break the pool service that emits it."""
    try:
        with transaction.atomic():
            _queue(endpoints=_endpoints_wanting(agent_id=agent_id, event=event), event=event, payloads=[payload])
    except Exception:  # noqa: BLE001 - webhooks are best effort for the caller; the error is logged
        logger.exception("could not queue webhook %s for agent %s", event, agent_id)


def webhooks_for_pool_events(*, pool: Pool, kind: str, event_ids: Sequence[int]) -> None:
    """Queue a pool's new events of one kind for its agent's endpoints that want it (payload: the event's, with its
    pool_id). Runs in the transaction that recorded the events; never raises into it."""
    try:
        with transaction.atomic():
            endpoints = _endpoints_wanting(agent_id=pool.agent_id, event=kind)
            if not endpoints:
                return
            stored = PoolEvent.objects.filter(pk__in=event_ids).order_by("id").values_list("payload", flat=True)
            _queue(endpoints=endpoints, event=kind, payloads=[{"pool_id": pool.pk, **payload} for payload in stored])
    except Exception:  # noqa: BLE001 - as in webhook_emit: logged, never raised into the pool's service
        logger.exception("could not look up the webhooks of agent %s for %s", pool.agent_id, kind)


def _enqueue(delivery_ids: list[int], *, countdown: float | None = None) -> None:
    from agent_api.tasks import webhook_deliver_task

    for delivery_id in delivery_ids:
        try:
            webhook_deliver_task.apply_async(args=[delivery_id], countdown=countdown)
        except Exception:  # noqa: BLE001 - the broker is down: webhook_deliveries_retry_due sends it later
            logger.warning("could not enqueue webhook delivery %s; the retry sweep will", delivery_id, exc_info=True)


# --- delivering ------------------------------------------------------------------------------------------------


def webhook_signature(*, secret: str, timestamp: str, body: bytes) -> str:
    """`sha256=<hex HMAC-SHA256 of "timestamp.body">`, the X-Launchpad-Signature header's value."""
    digest = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def webhook_body(delivery: WebhookDelivery) -> bytes:
    document = {
        "id": str(delivery.delivery_id),
        "event": delivery.event,
        "created_at": delivery.created_at,
        "data": delivery.payload,
    }
    return json.dumps(document, cls=DjangoJSONEncoder, separators=(",", ":"), sort_keys=True).encode()


def backoff_delay(attempts: int) -> timedelta:
    """Wait after the `attempts`-th failed attempt: 30 s doubling, capped at BACKOFF_MAX."""
    return min(BACKOFF_BASE * 2 ** max(attempts - 1, 0), BACKOFF_MAX)


def _post(delivery: WebhookDelivery) -> tuple[int | None, str]:
    """One attempt: (HTTP status or None, error text or "")."""
    endpoint = delivery.endpoint
    body = webhook_body(delivery)
    timestamp = str(int(time.time()))
    headers = {
        "Content-Type": "application/json",
        "User-Agent": USER_AGENT,
        "X-Launchpad-Event": delivery.event,
        "X-Launchpad-Delivery": str(delivery.delivery_id),
        "X-Launchpad-Timestamp": timestamp,
        SIGNATURE_HEADER: webhook_signature(secret=endpoint.secret, timestamp=timestamp, body=body),
    }
    try:
        # Resolves the host once, refuses internal addresses, and connects to the address it checked (DNS rebinding).
        response = outbound.post(
            endpoint.url, body=body, headers=headers, timeout=REQUEST_TIMEOUT, allow_private=_private_urls_allowed()
        )
    except outbound.OutboundRefused as refused:
        return None, f"refused: {refused}"[:MAX_RESPONSE_ERROR_CHARS]
    except requests.RequestException as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_RESPONSE_ERROR_CHARS]
    if 200 <= response.status_code < 300:
        return response.status_code, ""
    return response.status_code, f"HTTP {response.status_code}: {response.text[:MAX_RESPONSE_ERROR_CHARS]}"


def webhook_deliver(*, delivery_id: int, now: datetime | None = None) -> WebhookDelivery | None:
    """Make one attempt at a pending, due delivery and record it; None when there is nothing to do now.

    The row stays locked during the (short) request, so two workers never send the same attempt.
    """
    with transaction.atomic():
        delivery = (
            WebhookDelivery.objects.select_for_update(skip_locked=True)
            .select_related("endpoint")
            .filter(pk=delivery_id, status=WebhookDelivery.Status.PENDING)
            .first()
        )
        now = now or timezone.now()
        if delivery is None or delivery.next_attempt_at > now:
            return None
        if not delivery.endpoint.active:
            delivery.status, delivery.last_error = WebhookDelivery.Status.FAILED, "The endpoint was deactivated."
            delivery.next_attempt_at = None
            delivery.save(update_fields=["status", "last_error", "next_attempt_at"])
            return delivery
        status, error = _post(delivery)
        delivery.attempts += 1
        delivery.last_attempt_at = timezone.now()
        delivery.response_status = status
        delivery.last_error = error
        if not error:
            delivery.status, delivery.delivered_at, delivery.next_attempt_at = (
                WebhookDelivery.Status.DELIVERED, delivery.last_attempt_at, None,
            )  # fmt: skip
        elif delivery.attempts >= MAX_ATTEMPTS:
            delivery.status, delivery.next_attempt_at = WebhookDelivery.Status.FAILED, None
        else:
            delay = backoff_delay(delivery.attempts)
            delivery.next_attempt_at = delivery.last_attempt_at + delay
            transaction.on_commit(lambda: _enqueue([delivery.pk], countdown=delay.total_seconds()))
        delivery.save()
        return delivery


def webhook_deliveries_retry_due(*, now: datetime | None = None, limit: int = 500) -> int:
    """Enqueue pending deliveries whose attempt is due (a safety net for lost messages); returns how many.

    Every pending delivery has its next attempt scheduled, so due means `next_attempt_at <= now`, with no grace for
    fresh ones: one enqueued twice is sent once (webhook_deliver locks the row and re-checks that it is due). One to a
    deactivated endpoint is taken too: webhook_deliver marks it failed, rather than leaving it pending for ever.
    """
    now = now or timezone.now()
    due = list(
        WebhookDelivery.objects.filter(status=WebhookDelivery.Status.PENDING, next_attempt_at__lte=now)
        .order_by("next_attempt_at", "id")
        .values_list("pk", flat=True)[:limit]
    )
    _enqueue(due)
    return len(due)


def webhook_deliveries_requeue(*, delivery_ids: list[int]) -> int:
    """An admin's "retry now": undelivered deliveries get a fresh round of attempts, starting now."""
    ids = list(
        WebhookDelivery.objects.filter(pk__in=delivery_ids)
        .exclude(status=WebhookDelivery.Status.DELIVERED)
        .values_list("pk", flat=True)
    )
    WebhookDelivery.objects.filter(pk__in=ids).update(
        status=WebhookDelivery.Status.PENDING, attempts=0, next_attempt_at=timezone.now()
    )
    transaction.on_commit(lambda: _enqueue(ids))
    return len(ids)
