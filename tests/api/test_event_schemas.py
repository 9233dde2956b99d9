"""The schema's webhooks section tells the truth: every event kind has a payload schema, and the payload each
recording service in pools/services/events.py writes, delivered in its webhook envelope, validates against it with
no key left undocumented; so does the `ping` test delivery."""

from __future__ import annotations

import json
from datetime import timedelta

import jsonschema
import pytest
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from eth_utils import to_checksum_address

from agent_api.event_schemas import EVENT_DATA
from agent_api.models import PING_EVENT, WebhookDelivery, WebhookEndpoint
from agent_api.services.webhooks import webhook_body, webhook_ping
from pools.models import Deposit, Pool, PoolEvent
from pools.services import events
from tests.factories import AgentFactory, PoolFactory

Kind = PoolEvent.Kind
Status = Pool.Status
TOKEN, PAIR, VAULT = (to_checksum_address("0x" + byte * 20) for byte in ("a1", "b2", "c3"))
TX_HASH = "0x" + "d4" * 32


def _deposit(pool: Pool) -> Deposit:
    return Deposit.objects.create(
        pool=pool, chain_id=pool.chain_id, tx_hash=TX_HASH, position="tx", kind=Deposit.Kind.NATIVE_TX,
        sender=to_checksum_address("0x" + "e5" * 20), amount=3 * 10**18, credited_amount=2 * 10**18,
        refund_amount=10**18, block_number=7, block_hash="0x" + "f6" * 32, tx_index=0, ordinal=0,
        block_timestamp=timezone.now(), status=Deposit.Status.CONFIRMED,
    )  # fmt: skip


# How each kind is recorded, with the pool in the status the event announces.
RECORDERS = {
    Kind.DEPOSIT_CREDITED: (Status.OPEN, lambda pool: events.deposits_credited(pool=pool, deposits=[_deposit(pool)])),
    Kind.POOL_SCHEDULED: (Status.SCHEDULED, lambda pool: events.pool_scheduled(pool=pool)),
    Kind.POOL_OPENED: (Status.OPEN, lambda pool: events.pool_opened(pool=pool)),
    Kind.POOL_CLOSED: (Status.CLOSED, lambda pool: events.pool_closed(pool=pool)),
    Kind.POOL_LAUNCHING: (Status.LAUNCHING, lambda pool: events.pool_launching(pool=pool, requested_by="agent x")),
    Kind.POOL_LAUNCHED: (
        Status.LAUNCHED,
        lambda pool: events.pool_launched(pool=pool, token=TOKEN, pair=PAIR, claim_vault=VAULT, tx_hash=TX_HASH),
    ),
    Kind.POOL_LAUNCH_FAILED: (Status.REFUNDING, lambda pool: events.pool_launch_failed(pool=pool, error="reverted")),
    Kind.POOL_REFUNDING: (
        Status.REFUNDING,
        lambda pool: events.pool_refunding(pool=pool, previous_status=Status.CLOSED),
    ),
    Kind.POOL_REFUNDED: (Status.REFUNDED, lambda pool: events.pool_refunded(pool=pool, refunded_total=5)),
    Kind.POOL_CANCELLED: (Status.CANCELLED, lambda pool: events.pool_cancelled(pool=pool, previous_status=Status.OPEN)),
    Kind.POOL_REFUNDS_WAITING: (
        Status.REFUNDING,
        lambda pool: events.pool_refunds_waiting(pool=pool, code="fees_too_high", reason="Network fees are high."),
    ),
    Kind.REFUND_BATCH_PAID: (
        Status.REFUNDING,
        lambda pool: events.refund_batch_paid(pool=pool, tx_hash=TX_HASH, recipients=2, total_paid=7, still_owed=1),
    ),
}


@pytest.fixture(scope="module")
def openapi() -> dict:
    # JSON round trip: the document as served (lazy strings and enum members become plain JSON).
    return json.loads(json.dumps(SchemaGenerator().get_schema(request=None, public=True), default=str))


def validator(openapi: dict, ref: str) -> jsonschema.Draft202012Validator:
    root = {"$ref": ref, "components": openapi["components"]}
    return jsonschema.Draft202012Validator(root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)


def envelope_ref(openapi: dict, kind: str) -> str:
    return openapi["webhooks"][kind]["post"]["requestBody"]["content"]["application/json"]["schema"]["$ref"]


def test_every_event_kind_has_a_payload_schema_and_a_webhook_in_the_schema(openapi):
    assert set(EVENT_DATA) == set(Kind.values)
    assert set(openapi["webhooks"]) == {*Kind.values, PING_EVENT}
    assert set(RECORDERS) == set(Kind.values), "add the new kind's recorder to RECORDERS"


@pytest.mark.parametrize("kind", Kind.values)
def test_the_recorded_payload_validates_against_its_schema_with_nothing_undocumented(db, openapi, kind):
    status, record = RECORDERS[kind]
    now = timezone.now()
    pool = PoolFactory(
        status=status, deposit_address=to_checksum_address("0x" + "9a" * 20), closed_at=now, raised=8 * 10**18,
        waiting_since=now - timedelta(minutes=3), status_reason="Because.",
    )  # fmt: skip
    record(pool)
    event = PoolEvent.objects.get(pool=pool, kind=kind)
    endpoint = WebhookEndpoint.objects.create(agent=pool.agent, url="https://agent.example/hooks", secret="whsec_x")
    # The delivery as agent_api/services/webhooks.py builds it: the event's payload with its pool's id.
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event=kind, payload={"pool_id": pool.pk, **event.payload},
        status=WebhookDelivery.Status.FAILED,
    )  # fmt: skip
    body = json.loads(webhook_body(delivery))

    assert_documented(openapi, kind, body)


def assert_documented(openapi: dict, kind: str, body: dict) -> None:
    envelope = validator(openapi, envelope_ref(openapi, kind))
    errors = [f"{list(error.path)}: {error.message}" for error in envelope.iter_errors(body)]
    assert not errors, errors
    data_ref = openapi["components"]["schemas"][envelope_ref(openapi, kind).rsplit("/", 1)[1]]["properties"]["data"]
    documented = set(openapi["components"]["schemas"][data_ref["$ref"].rsplit("/", 1)[1]]["properties"])
    assert set(body["data"]) == documented


def test_the_ping_test_delivery_validates_against_its_schema_with_nothing_undocumented(db, openapi):
    agent = AgentFactory()
    endpoint = WebhookEndpoint.objects.create(agent=agent, url="https://agent.example/hooks", secret="whsec_x")
    body = json.loads(webhook_body(webhook_ping(agent=agent, endpoint_id=endpoint.pk)))
    assert (body["event"], body["data"]["webhook_id"]) == (PING_EVENT, endpoint.pk)
    assert_documented(openapi, PING_EVENT, body)


def test_a_payload_that_breaks_its_schema_is_refused(openapi):
    """The check above can fail: an amount as a JSON number is not a decimal string."""
    envelope = validator(openapi, envelope_ref(openapi, Kind.POOL_REFUNDED))
    body = {
        "id": "6a1f4e1c-4f3b-4b55-9a51-0d0cbd9b2d10",
        "event": "pool.refunded",
        "created_at": "2026-01-01T00:00:00Z",
        "data": {"pool_id": 1, "status": "refunded", "previous_status": "refunding", "reason": "", "refunded_total": 5},
    }
    assert not envelope.is_valid(body)
    body["data"]["refunded_total"] = "5"
    assert envelope.is_valid(body)
