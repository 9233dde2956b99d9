"""Each event's payload as a serializer, for the schema's OpenAPI 3.1 `webhooks` section (SPECTACULAR_SETTINGS
["WEBHOOKS"] names `WEBHOOKS` below).

pools/services/events.py builds the payloads; these only describe them. tests/api/test_event_schemas.py keeps the two
together: every PoolEvent.Kind has a serializer here, and the payload each service records validates against the
schema generated from it, with no key left undocumented.

A webhook delivery is the envelope {id, event, created_at, data}; `data` is the event's payload with the pool's id
first (agent_api/services/webhooks.py). The `ping` test delivery (`webhook_ping`) is about no pool: its own payload,
PingData, is described here too.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, OpenApiWebhook, extend_schema, extend_schema_field
from rest_framework import serializers

from agent_api.models import PING_EVENT
from agent_api.serializers import EthAddress, WeiAmount
from pools.models import Pool, PoolEvent

Kind = PoolEvent.Kind

_TX_HASH = {"type": "string", "pattern": "^0x[0-9a-fA-F]{64}$"}


@extend_schema_field(_TX_HASH)
class TxHash(serializers.CharField):
    pass


@extend_schema_field({**_TX_HASH, "pattern": "^(0x[0-9a-fA-F]{64})?$", "description": "Empty when not known."})
class OptionalTxHash(serializers.CharField):
    pass


class _PoolEventData(serializers.Serializer):
    pool_id = serializers.IntegerField(help_text="The pool the event is about.")


class _StatusChangeData(_PoolEventData):
    """A status change: the status as saved, where it came from and why (pools/services/events.py)."""

    status = serializers.ChoiceField(choices=Pool.Status.choices, help_text="The pool's status after the change.")
    previous_status = serializers.ChoiceField(choices=Pool.Status.choices)
    reason = serializers.CharField(allow_blank=True, help_text="Why, in a sentence (may be empty).")


class DepositCreditedData(_PoolEventData):
    deposit_id = serializers.IntegerField()
    tx_hash = TxHash()
    sender = EthAddress()
    amount = WeiAmount(help_text="What was sent, in the raise asset's smallest unit.")
    credited_amount = WeiAmount(help_text="What counts toward the raise (the rest is owed back).")


class PoolScheduledData(_StatusChangeData):
    deposit_address = EthAddress(help_text="Where depositors send funds.")
    opens_at = serializers.DateTimeField(allow_null=True)
    closes_at = serializers.DateTimeField(allow_null=True)


class PoolOpenedData(PoolScheduledData):
    pass


class PoolClosedData(_StatusChangeData):
    raised = WeiAmount()
    closed_at = serializers.DateTimeField(allow_null=True)


class PoolLaunchingData(_StatusChangeData):
    requested_by = serializers.CharField()
    raised = WeiAmount()


class PoolLaunchedData(_StatusChangeData):
    token_address = EthAddress()
    pair_address = EthAddress()
    claim_vault_address = EthAddress()
    tx_hash = OptionalTxHash(allow_blank=True, help_text="The launch transaction.")


class PoolLaunchFailedData(_StatusChangeData):
    error = serializers.CharField(allow_blank=True, help_text="Why the launch was given up.")


class PoolRefundingData(_StatusChangeData):
    raised = WeiAmount()


class PoolRefundedData(_StatusChangeData):
    refunded_total = WeiAmount()


class PoolCancelledData(_StatusChangeData):
    raised = WeiAmount()
    closed_at = serializers.DateTimeField(allow_null=True)


class PoolRefundsWaitingData(_PoolEventData):
    code = serializers.CharField(
        help_text="fees_too_high, fees_above_cap, gas_account_empty, books_disagree, or signer_<refusal>."
    )
    reason = serializers.CharField()
    since = serializers.DateTimeField(allow_null=True)


class RefundBatchPaidData(_PoolEventData):
    status = serializers.ChoiceField(choices=Pool.Status.choices, help_text="The pool's status when it was paid.")
    tx_hash = TxHash()
    recipients = serializers.IntegerField(min_value=0)
    total_paid = WeiAmount()
    still_owed = WeiAmount(help_text="What the pool still owes after this batch.")


class PingData(serializers.Serializer):
    """The test delivery's payload (POST /api/v1/agent/webhooks/{id}/test/): about an endpoint, not a pool."""

    webhook_id = serializers.IntegerField(help_text="The endpoint the test was asked for.")
    message = serializers.CharField()


# Every kind's payload (a test fails when a kind is missing).
EVENT_DATA: dict[str, type[serializers.Serializer]] = {
    Kind.DEPOSIT_CREDITED: DepositCreditedData,
    Kind.POOL_SCHEDULED: PoolScheduledData,
    Kind.POOL_OPENED: PoolOpenedData,
    Kind.POOL_CLOSED: PoolClosedData,
    Kind.POOL_LAUNCHING: PoolLaunchingData,
    Kind.POOL_LAUNCHED: PoolLaunchedData,
    Kind.POOL_LAUNCH_FAILED: PoolLaunchFailedData,
    Kind.POOL_REFUNDING: PoolRefundingData,
    Kind.POOL_REFUNDED: PoolRefundedData,
    Kind.POOL_CANCELLED: PoolCancelledData,
    Kind.POOL_REFUNDS_WAITING: PoolRefundsWaitingData,
    Kind.REFUND_BATCH_PAID: RefundBatchPaidData,
}


def component_name(kind: str) -> str:
    """`pool.refunds_waiting` → `PoolRefundsWaitingEvent`."""
    return "".join(part.capitalize() for part in kind.replace(".", "_").split("_")) + "Event"


def _envelope(kind: str, data: type[serializers.Serializer]) -> serializers.Serializer:
    name = component_name(kind)

    @extend_schema_field({"type": "string", "const": kind})
    class EventName(serializers.CharField):
        pass

    fields = {
        "id": serializers.UUIDField(help_text="The delivery's id, also in X-Launchpad-Delivery: the same on retries."),
        "event": EventName(),
        "created_at": serializers.DateTimeField(),
        "data": data(),
        "__module__": __name__,
    }
    # A class per kind, so that each envelope is its own component named after the event.
    return serializers.SerializerMetaclass(name, (serializers.Serializer,), fields)()


_DELIVERY = (
    "POSTed to each of your webhook endpoints that wants this event, as JSON, with the headers X-Launchpad-Event "
    "(the event), X-Launchpad-Delivery (the delivery's id), X-Launchpad-Timestamp (Unix seconds of this attempt) and "
    'X-Launchpad-Signature (`sha256=` + hex HMAC-SHA256, keyed with your secret, of `"<timestamp>.<raw body>"`). '
    "Answer with any 2xx within 5 seconds; anything else is retried with backoff (docs/api.md, Webhooks)."
)

_PING_DELIVERY = (
    "POSTed to one of your endpoints when you ask for it (POST /api/v1/agent/webhooks/{id}/test/), whatever events "
    "it wants, signed and retried like every delivery: check that your receiver verifies X-Launchpad-Signature."
)

WEBHOOKS = [
    OpenApiWebhook(
        name=str(kind),
        decorator=extend_schema(
            summary=Kind(kind).label,
            description=_DELIVERY,
            request=_envelope(str(kind), data),
            responses={200: OpenApiResponse(description="Received (any 2xx will do).")},
        ),
    )
    for kind, data in EVENT_DATA.items()
] + [
    OpenApiWebhook(
        name=PING_EVENT,
        decorator=extend_schema(
            summary="A test delivery",
            description=_PING_DELIVERY,
            request=_envelope(PING_EVENT, PingData),
            responses={200: OpenApiResponse(description="Received (any 2xx will do).")},
        ),
    )
]
