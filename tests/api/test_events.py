"""Events: every status change and every refund batch paid is a PoolEvent; the agent's event stream resumes with
Last-Event-ID; webhook tests, delivery logs and redelivery; no delivery waits without a next attempt; an
Idempotency-Key replay never shows a deleted endpoint's secret."""

from __future__ import annotations

import json
from datetime import timedelta
from types import SimpleNamespace

import pytest
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address

from agent_api.models import IdempotencyRecord, WebhookDelivery, WebhookEndpoint
from agent_api.services.webhooks import (
    webhook_deliver,
    webhook_deliveries_requeue,
    webhook_deliveries_retry_due,
    webhook_emit,
)
from agent_api.views import events as events_view
from pools.models import ChainTransaction, Launch, Pool, PoolEvent, Refund
from pools.services import events, launch, pools, refunds
from pools.services.pools import TRANSITIONS
from tests.api.conftest import ETH, assert_error, make_agent_with_key
from tests.api.test_reads import make_deposit
from tests.api.webhook_receiver import endpoint_for
from tests.factories import PoolFactory
from tests.indexer.support import fresh_address
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    chain,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    run_refunds,
    scheduled_pool,
)

pytestmark = pytest.mark.django_db


STATUS_FIELDS = ("status", "previous_status", "reason")


def kinds(pool) -> list[str]:
    return list(PoolEvent.objects.filter(pool=pool).order_by("id").values_list("kind", flat=True))


def last_payload(pool) -> dict:
    return PoolEvent.objects.filter(pool=pool).order_by("-id").first().payload


def assert_no_pending_without_next_attempt():
    assert not WebhookDelivery.objects.filter(status="pending", next_attempt_at__isnull=True).exists()


# --- every status change is an event -----------------------------------------------------------------------------


def test_every_status_a_pool_can_reach_has_its_event():
    reachable = set().union(*TRANSITIONS.values())

    assert reachable == set(events.STATUS_EVENTS)
    assert set(events.STATUS_EVENTS.values()) <= set(PoolEvent.Kind.values)


def test_scheduling_records_pool_scheduled_with_the_deposit_address(alice, monkeypatch):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.DRAFT)
    address = "0x" + "ab" * 20
    monkeypatch.setattr(pools, "signer_registration_params", lambda *, pool: {})
    monkeypatch.setattr(
        "pools.signer.signer_client",
        lambda: SimpleNamespace(register_pool=lambda **kwargs: {"address": address, "derivation_path": "m/0"}),
    )

    pools.pool_schedule(pool_id=pool.pk)

    assert kinds(pool) == ["pool.scheduled"]
    payload = last_payload(pool)
    assert (payload["status"], payload["previous_status"]) == ("scheduled", "draft")
    assert payload["deposit_address"].lower() == address
    assert payload["opens_at"] == pool.opens_at.isoformat()


def test_opening_closing_and_settling_a_missed_soft_cap_are_events(alice):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.SCHEDULED, opens_at=timezone.now() - timedelta(hours=2))
    Pool.objects.filter(pk=pool.pk).update(closes_at=timezone.now() - timedelta(hours=1), raised=ETH)

    pools.pools_open_due()
    pools.pools_close_due()
    pools.pool_settle(pool_id=pool.pk, confirmed_through=timezone.now())

    assert kinds(pool) == ["pool.opened", "pool.closed", "pool.refunding"]
    opened, closed, refunding = PoolEvent.objects.filter(pool=pool).order_by("id")
    assert {k: opened.payload[k] for k in STATUS_FIELDS} == {"status": "open", "previous_status": "scheduled",
                                                             "reason": ""}  # fmt: skip
    assert (closed.payload["status"], closed.payload["previous_status"]) == ("closed", "open")
    assert closed.payload["reason"] == "The raise reached its close time."
    assert closed.payload["raised"] == str(ETH) and closed.payload["closed_at"]  # the existing fields stay
    assert (refunding.payload["status"], refunding.payload["previous_status"]) == ("refunding", "closed")
    assert "soft cap" in refunding.payload["reason"]


def test_cancelling_says_where_the_pool_was(alice):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.OPEN)

    pools.pool_cancel(pool_id=pool.pk, reason="The agent withdrew.")

    assert kinds(pool) == ["pool.cancelled"]
    payload = last_payload(pool)
    assert {k: payload[k] for k in STATUS_FIELDS} == {
        "status": "cancelled",
        "previous_status": "open",
        "reason": "The agent withdrew.",
    }


def test_a_refused_transition_records_nothing(alice):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.LAUNCHED)

    with pytest.raises(pools.InvalidTransition):
        pools.pool_cancel(pool_id=pool.pk)

    assert kinds(pool) == []


def test_a_launch_request_is_pool_launching(alice, monkeypatch, django_capture_on_commit_callbacks):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.CLOSED)
    monkeypatch.setattr(launch, "cannot_launch_reason", lambda *, pool: "")

    with django_capture_on_commit_callbacks(execute=False):  # the launch job itself is not under test
        launch.launch_request(pool_id=pool.pk, requested_by="agent alice")

    assert kinds(pool) == ["pool.launching"]
    payload = last_payload(pool)
    assert (payload["status"], payload["previous_status"], payload["requested_by"]) == (
        "launching",
        "closed",
        "agent alice",
    )


def test_a_given_up_launch_is_launch_failed_then_refunding(alice):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.LAUNCHING)
    Launch.objects.create(pool=pool, step=Launch.Step.FAILED, error="The approve transaction 0x12 reverted.")

    launch.launch_give_up(pool_id=pool.pk)

    assert kinds(pool) == ["pool.launch_failed", "pool.refunding"]
    failed, refunding = PoolEvent.objects.filter(pool=pool).order_by("id")
    assert failed.payload["error"] == "The approve transaction 0x12 reverted."
    assert (failed.payload["status"], failed.payload["previous_status"]) == ("refunding", "launching")
    assert (refunding.payload["status"], refunding.payload["previous_status"]) == ("refunding", "launching")


def test_the_launched_event_keeps_its_fields_and_adds_the_status_and_transaction(alice):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.LAUNCHED, status_reason="Launched in transaction 0x1.")
    token, pair, vault = ("0x" + f"{n:040x}" for n in (1, 2, 3))

    events.pool_launched(pool=pool, token=token, pair=pair, claim_vault=vault, tx_hash="0x" + "12" * 32)

    assert last_payload(pool) == {
        "status": "launched",
        "previous_status": "launching",
        "reason": "Launched in transaction 0x1.",
        "token_address": token,
        "pair_address": pair,
        "claim_vault_address": vault,
        "tx_hash": "0x" + "12" * 32,
    }


# --- refund batches ----------------------------------------------------------------------------------------------


def _batch_in_flight(pool, recipients: list[str], amounts: list[int]) -> ChainTransaction:
    tx = ChainTransaction.objects.create(
        pool=pool, purpose=ChainTransaction.Purpose.REFUND, signer_key=str(pool.pk), chain_id=31337,
        from_address="0x" + "0d" * 20, nonce=0, to_address="0x" + "0e" * 20, gas=21_000, max_fee_per_gas=1,
        max_priority_fee_per_gas=1, tx_hash="0x" + "cd" * 32, status=ChainTransaction.Status.CONFIRMED,
    )  # fmt: skip
    for recipient, amount in zip(recipients, amounts, strict=True):
        Refund.objects.create(
            pool=pool, recipient=recipient, amount=amount, status=Refund.Status.SENDING, transaction=tx
        )
    return tx


@pytest.fixture
def confirmed_batches(monkeypatch):
    """The chain side of a refund batch: every transaction confirmed, its receipt paying every recipient asked."""
    paid_to: list[str] = []
    monkeypatch.setattr(refunds, "advance", lambda tx: tx)
    monkeypatch.setattr(refunds, "latest_in_family", lambda tx: tx)
    monkeypatch.setattr(refunds, "chain_deployment", lambda: SimpleNamespace(refunder="0x" + "0e" * 20))
    monkeypatch.setattr(
        refunds, "web3_client", lambda: SimpleNamespace(eth=SimpleNamespace(get_transaction_receipt=lambda h: {}))
    )
    monkeypatch.setattr(
        refunds, "decode_refunded", lambda receipt, refunder: [SimpleNamespace(recipient=r) for r in paid_to]
    )
    return paid_to


def test_a_launched_pools_over_cap_refund_batch_paid_is_an_event(alice, receiver, confirmed_batches):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.LAUNCHED)
    endpoint_for(alice.agent, receiver, events=["refund_batch.paid"])
    first, second = (to_checksum_address("0x" + digits * 20) for digits in ("a1", "a2"))
    tx = _batch_in_flight(pool, [first, second], [2 * ETH, 3])
    Refund.objects.create(pool=pool, recipient="0x" + "a3" * 20, amount=7)  # owed, not in this batch
    confirmed_batches.extend([first, second])

    refunds._follow_batches(pool)
    refunds._follow_batches(pool)  # a second pass: the batch is settled, no second event

    assert kinds(pool) == ["refund_batch.paid"]
    assert last_payload(pool) == {
        "status": "launched",
        "tx_hash": tx.tx_hash,
        "recipients": 2,
        "total_paid": str(2 * ETH + 3),
        "still_owed": "7",
    }
    [delivery] = WebhookDelivery.objects.all()
    assert delivery.event == "refund_batch.paid" and delivery.payload["pool_id"] == pool.pk


def test_a_refunding_pool_pays_its_last_batch_then_is_refunded(alice, confirmed_batches, monkeypatch):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.REFUNDING)
    deposit = make_deposit(pool, 1, amount=ETH)
    _batch_in_flight(pool, [deposit.sender], [ETH])
    Refund.objects.get().deposits.add(deposit)
    confirmed_batches.append(deposit.sender)
    monkeypatch.setattr(refunds, "_send_next_batch", lambda pool: None)  # nothing else to send

    assert refunds.refunds_advance(pool_id=pool.pk) == 0

    assert kinds(pool) == ["refund_batch.paid", "pool.refunded"]
    batch, refunded = PoolEvent.objects.filter(pool=pool).order_by("id")
    assert (batch.payload["total_paid"], batch.payload["still_owed"]) == (str(ETH), "0")
    assert refunded.payload["refunded_total"] == str(ETH)
    assert (refunded.payload["status"], refunded.payload["previous_status"]) == ("refunded", "refunding")


# --- the event stream --------------------------------------------------------------------------------------------


def read_stream(response) -> list[dict]:
    """The SSE messages of a (bounded) stream: each a dict of its fields; comments dropped."""
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")
    return messages_of(b"".join(response.streaming_content).decode())


def messages_of(text: str) -> list[dict]:
    messages = []
    for block in text.split("\n\n"):
        fields = {}
        for line in block.splitlines():
            if line and not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
        if "id" in fields:
            fields["data"] = json.loads(fields["data"])
            messages.append(fields)
    return messages


@pytest.fixture
def short_streams(settings):
    settings.AGENT_EVENTS_STREAM_SECONDS = 1


def test_the_stream_resumes_after_last_event_id_and_shows_only_the_agents_pools(alice, bob, short_streams):
    mine, theirs = PoolFactory(agent=alice.agent), PoolFactory(agent=bob.agent)
    events.pool_refunds_waiting(pool=mine, code="fees", reason="Fees are high.")
    events.pool_refunds_waiting(pool=theirs, code="fees", reason="Fees are high.")
    seen = PoolEvent.objects.filter(pool=mine).get().pk
    events.pool_closed(pool=mine)
    events.pool_refunded(pool=theirs, refunded_total=1)
    events.pool_refunded(pool=mine, refunded_total=2)

    response = alice.client().get(reverse("api-agent-events"), HTTP_LAST_EVENT_ID=str(seen))

    messages = read_stream(response)
    expected = list(PoolEvent.objects.filter(pool=mine, pk__gt=seen).order_by("id"))
    assert [int(m["id"]) for m in messages] == [e.pk for e in expected]
    assert [m["event"] for m in messages] == ["pool.closed", "pool.refunded"]
    assert messages[1]["data"] == {"pool_id": mine.pk, **expected[1].payload}
    assert response["Cache-Control"] == "no-cache"


def test_the_header_wins_over_the_query_parameter_and_zero_replays_everything(alice, short_streams):
    pool = PoolFactory(agent=alice.agent)
    events.pool_closed(pool=pool)
    events.pool_refunded(pool=pool, refunded_total=1)
    first = PoolEvent.objects.filter(pool=pool).order_by("id").first().pk
    url = reverse("api-agent-events")

    everything = read_stream(alice.client().get(url, {"last_event_id": 0}))
    resumed = read_stream(alice.client().get(url, {"last_event_id": 0}, HTTP_LAST_EVENT_ID=str(first)))

    assert [m["event"] for m in everything] == ["pool.closed", "pool.refunded"]
    assert [m["event"] for m in resumed] == ["pool.refunded"]


def test_without_an_id_the_stream_sends_new_events_only_and_ends_with_a_retry_hint(alice, short_streams, monkeypatch):
    pool = PoolFactory(agent=alice.agent)
    events.pool_closed(pool=pool)  # before the stream: not sent
    real_sleep, recorded = events_view.sleep, []

    def sleep_and_record_once(seconds):
        if not recorded:
            events.pool_refunded(pool=pool, refunded_total=3)
            recorded.append(True)
        real_sleep(seconds)

    monkeypatch.setattr(events_view, "sleep", sleep_and_record_once)
    response = alice.client().get(reverse("api-agent-events"))
    assert response["Content-Type"].startswith("text/event-stream")
    text = b"".join(response.streaming_content).decode()

    [message] = messages_of(text)
    assert message["event"] == "pool.refunded" and message["data"]["refunded_total"] == "3"
    last_lines = text.rstrip().splitlines()[-2:]
    assert last_lines[0].startswith("retry: ") and f"Last-Event-ID: {message['id']}" in last_lines[1]


def test_the_json_page_polls_after_an_id(alice, bob):
    pool = PoolFactory(agent=alice.agent)
    for total in range(3):
        events.pool_refunded(pool=pool, refunded_total=total)
    events.pool_refunded(pool=PoolFactory(agent=bob.agent), refunded_total=9)
    url = reverse("api-agent-events")

    first = alice.client().get(url, {"limit": 2}, HTTP_ACCEPT="application/json").json()
    rest = alice.client().get(url, {"last_event_id": first["last_event_id"]}, HTTP_ACCEPT="application/json").json()

    assert [e["data"]["refunded_total"] for e in first["events"]] == ["0", "1"] and first["more"] is True
    assert [e["data"]["refunded_total"] for e in rest["events"]] == ["2"] and rest["more"] is False
    assert rest["events"][0]["pool_id"] == pool.pk and rest["events"][0]["event"] == "pool.refunded"


def test_the_stream_refuses_a_malformed_id_in_the_one_error_shape(alice, short_streams):
    url = reverse("api-agent-events")

    assert_error(alice.client().get(url, HTTP_LAST_EVENT_ID="abc"), 400, "invalid")
    assert_error(alice.client().get(url, {"last_event_id": "-1"}), 400, "invalid")
    assert_error(alice.client().get(url, {"since": "0"}), 400, "invalid")
    assert_error(alice.client().get(url, {"format": "json"}), 400, "invalid")  # Accept chooses, not ?format=


def test_the_stream_needs_an_api_key(db):
    from rest_framework.test import APIClient

    response = APIClient().get(reverse("api-agent-events"), HTTP_ACCEPT="text/event-stream")

    assert_error(response, 401, response.json()["error"]["code"])
    assert response["Content-Type"].startswith("application/json")


# --- webhook test, log and redelivery ----------------------------------------------------------------------------


def test_a_test_ping_is_delivered_signed_and_shows_in_the_log(
    alice, receiver, celery_eager, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(alice.agent, receiver, events=["pool.closed"])  # ping goes whatever it wants
    client = alice.client()

    with django_capture_on_commit_callbacks(execute=True):
        answer = client.post(reverse("api-agent-webhook-test", args=[endpoint.pk]))

    assert answer.status_code == 202, answer.content
    assert answer.json()["event"] == "ping" and answer.json()["status"] == "pending"
    [received] = receiver.received
    assert received["signature_ok"] and received["event"] == "ping"
    assert received["delivery"] == answer.json()["delivery_id"]
    log = client.get(reverse("api-agent-webhook-deliveries", args=[endpoint.pk])).json()
    [row] = log["results"]
    assert (row["id"], row["status"], row["attempts"], row["response_status"]) == (answer.json()["id"], "delivered",
                                                                                    1, 200)  # fmt: skip
    assert row["payload"] == {"webhook_id": endpoint.pk, "message": row["payload"]["message"]}
    assert row["delivered_at"] and row["next_attempt_at"] is None


def test_the_log_is_newest_first_and_filters_by_status(alice, broken_receiver):
    endpoint = endpoint_for(alice.agent, broken_receiver)
    for n in range(3):
        webhook_emit(agent_id=alice.agent.pk, event="pool.closed", payload={"pool_id": n})
    failing = WebhookDelivery.objects.order_by("id").first()
    webhook_deliver(delivery_id=failing.pk)
    WebhookDelivery.objects.filter(pk=failing.pk).update(status="failed", next_attempt_at=None)
    url = reverse("api-agent-webhook-deliveries", args=[endpoint.pk])

    everything = alice.client().get(url).json()
    failed = alice.client().get(url, {"status": "failed"}).json()

    assert [row["payload"]["pool_id"] for row in everything["results"]] == [2, 1, 0]
    [row] = failed["results"]
    assert row["id"] == failing.pk and "HTTP 500" in row["last_error"] and row["response_status"] == 500
    assert_error(alice.client().get(url, {"status": "lost"}), 400, "invalid")


def test_redelivery_starts_a_fresh_round_and_keeps_the_delivery_id(
    alice, receiver, celery_eager, django_capture_on_commit_callbacks
):
    endpoint = endpoint_for(alice.agent, receiver)
    webhook_emit(agent_id=alice.agent.pk, event="pool.closed", payload={"pool_id": 1})
    delivery = WebhookDelivery.objects.get()
    webhook_deliver(delivery_id=delivery.pk)
    assert WebhookDelivery.objects.get().status == "delivered"

    with django_capture_on_commit_callbacks(execute=True):
        answer = alice.client().post(reverse("api-agent-webhook-redeliver", args=[endpoint.pk, delivery.pk]))

    assert answer.status_code == 202, answer.content
    assert answer.json()["delivery_id"] == str(delivery.delivery_id)
    assert [r["delivery"] for r in receiver.received] == [str(delivery.delivery_id)] * 2
    again = WebhookDelivery.objects.get()
    assert (again.status, again.attempts) == ("delivered", 1)


def test_another_agents_endpoint_or_delivery_is_not_found(alice, bob, receiver):
    theirs = endpoint_for(bob.agent, receiver)
    mine = endpoint_for(alice.agent, receiver)
    webhook_emit(agent_id=bob.agent.pk, event="pool.closed", payload={})
    their_delivery = WebhookDelivery.objects.get()
    client = alice.client()

    for response in (
        client.get(reverse("api-agent-webhook", args=[theirs.pk])),
        client.post(reverse("api-agent-webhook-test", args=[theirs.pk])),
        client.get(reverse("api-agent-webhook-deliveries", args=[theirs.pk])),
        client.post(reverse("api-agent-webhook-redeliver", args=[theirs.pk, their_delivery.pk])),
    ):
        assert_error(response, 404, "webhook_not_found")
    assert_error(
        client.post(reverse("api-agent-webhook-redeliver", args=[mine.pk, their_delivery.pk])),
        404,
        "webhook_delivery_not_found",
    )
    assert WebhookDelivery.objects.count() == 1  # nothing was queued for alice or bob


def test_an_endpoint_is_read_without_its_secret_and_an_inactive_one_is_not_pinged(alice, receiver):
    endpoint = endpoint_for(alice.agent, receiver, events=["pool.closed"])
    client = alice.client()

    body = client.get(reverse("api-agent-webhook", args=[endpoint.pk])).json()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(active=False)

    assert body == {"id": endpoint.pk, "url": receiver.url, "events": ["pool.closed"], "active": True,
                    "created_at": body["created_at"]}  # fmt: skip
    assert_error(client.post(reverse("api-agent-webhook-test", args=[endpoint.pk])), 409, "webhook_inactive")


# --- no delivery waits without a next attempt --------------------------------------------------------------------


def test_every_pending_delivery_has_its_next_attempt_scheduled(alice, broken_receiver, receiver):
    endpoint_for(alice.agent, broken_receiver)
    pool = PoolFactory(agent=alice.agent)
    before = timezone.now()

    webhook_emit(agent_id=alice.agent.pk, event="pool.closed", payload={})
    assert_no_pending_without_next_attempt()
    events.pool_refunded(pool=pool, refunded_total=1)
    assert_no_pending_without_next_attempt()
    fresh = list(WebhookDelivery.objects.all())
    assert all(before <= d.next_attempt_at <= timezone.now() for d in fresh)  # due at once, not in a minute

    webhook_deliver(delivery_id=fresh[0].pk)  # fails: backoff
    assert_no_pending_without_next_attempt()
    webhook_deliveries_requeue(delivery_ids=[d.pk for d in fresh])
    assert_no_pending_without_next_attempt()

    with pytest.raises(IntegrityError), transaction.atomic():
        WebhookDelivery.objects.filter(pk=fresh[1].pk).update(next_attempt_at=None)


def test_the_sweep_sends_a_fresh_delivery_whose_message_was_lost(alice, receiver, celery_eager):
    endpoint_for(alice.agent, receiver)
    webhook_emit(agent_id=alice.agent.pk, event="pool.closed", payload={})  # its on_commit enqueue never runs

    assert webhook_deliveries_retry_due() == 1  # no minute of grace: it is due now

    assert WebhookDelivery.objects.get().status == "delivered"
    assert len(receiver.received) == 1


# --- Idempotency-Key replays and deleted endpoints ---------------------------------------------------------------


def test_a_replay_after_the_endpoint_was_deleted_never_shows_its_secret(alice, private_urls_allowed):
    client = alice.client()
    url, body = reverse("api-agent-webhooks"), {"url": "http://127.0.0.1:9/hooks"}

    created = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")
    secret = created.json()["secret"]
    replayed = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")

    assert created.status_code == replayed.status_code == 201
    assert replayed.json() == created.json() and replayed["Idempotent-Replayed"] == "true"
    assert secret not in json.dumps(IdempotencyRecord.objects.get().response_body)  # never stored with the key

    assert client.delete(reverse("api-agent-webhook", args=[created.json()["id"]])).status_code == 204
    after_delete = client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="create-1")

    assert_error(after_delete, 409, "webhook_deleted")
    assert secret not in after_delete.content.decode()
    assert not WebhookEndpoint.objects.exists()  # nothing was created again


def test_another_api_key_of_the_same_agent_does_not_replay_anothers_key(alice, private_urls_allowed):
    other = make_agent_with_key(name="carol")
    url, body = reverse("api-agent-webhooks"), {"url": "http://127.0.0.1:9/hooks"}

    alice.client().post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k")
    theirs = other.client().post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="k")

    assert theirs.status_code == 201 and "Idempotent-Replayed" not in theirs
    assert WebhookEndpoint.objects.count() == 2


# --- on the real stack -------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.chain
def test_on_chain_every_step_of_a_launched_pool_and_its_over_cap_refund_is_an_event(chain, alice, short_streams):  # noqa: F811 - pytest fixture
    alice.agent.wallet_address = fresh_address("events-agent")
    alice.agent.save(update_fields=["wallet_address"])
    pool = scheduled_pool(chain, agent=alice.agent, soft_cap=10 * ETH, max_contribution=5 * ETH)
    over, exact = deposit_from(chain, pool, [7 * ETH, 5 * ETH], at=pool.opens_at + timedelta(minutes=1), label="ev")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)

    launch.launch_request(pool_id=pool.pk, requested_by="agent alice")
    assert run_launch(pool, chain=chain).step == Launch.Step.LAUNCHED
    run_refunds(pool)  # the 2 ETH above the per-wallet maximum go back while the pool stays launched

    assert Pool.objects.get(pk=pool.pk).status == Pool.Status.LAUNCHED
    expected = ["pool.scheduled", "pool.opened", "deposit.credited", "deposit.credited", "pool.closed",
                "pool.launching", "pool.launched", "refund_batch.paid"]  # fmt: skip
    assert kinds(pool) == expected
    batch = last_payload(pool)
    paid = Refund.objects.get(pool=pool)
    assert (paid.status, paid.recipient.lower()) == ("paid", over.lower())
    assert batch == {"status": "launched", "tx_hash": paid.transaction.tx_hash, "recipients": 1,
                     "total_paid": str(2 * ETH), "still_owed": "0"}  # fmt: skip
    streamed = read_stream(alice.client().get(reverse("api-agent-events"), {"last_event_id": 0}))
    assert [m["event"] for m in streamed] == expected
    assert streamed[-1]["data"] == {"pool_id": pool.pk, **batch}


@pytest.mark.django_db(transaction=True)
def test_an_event_committed_after_a_newer_one_is_not_skipped_by_a_reader_resuming_after_the_newer():
    """Ids are taken at insert: a transaction still open holds event N while a later one commits N+1. A reader that
    got N+1 and resumed after it would never see N; the selector holds N+1 back until N's transaction is over."""
    import psycopg
    from django.db import connection

    from pools.selectors.events import pool_event_latest_id, pool_events_for_agent

    pool = PoolFactory()
    agent_id = pool.agent_id
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params) as slow:  # a second session: the long transaction of, say, the indexer
        with slow.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {PoolEvent._meta.db_table} (pool_id, kind, payload, created_at) "  # noqa: S608
                "VALUES (%s, %s, '{}'::jsonb, now()) RETURNING id",
                [pool.pk, PoolEvent.Kind.POOL_CLOSED],
            )
            held = cursor.fetchone()[0]
        newer = PoolEvent.objects.create(pool=pool, kind=PoolEvent.Kind.POOL_LAUNCHED, payload={})  # committed
        assert newer.pk > held

        assert list(pool_events_for_agent(agent_id=agent_id, after_id=0, limit=10)) == []
        assert pool_event_latest_id() < held
        slow.commit()

    assert [e.pk for e in pool_events_for_agent(agent_id=agent_id, after_id=0, limit=10)] == [held, newer.pk]
    assert pool_event_latest_id() == newer.pk


def test_an_agent_holds_at_most_its_share_of_open_streams_and_a_closed_one_gives_its_slot_back(
    alice, bob, short_streams, settings
):
    """Each open stream holds a web thread: one key may not take them all (429, with Retry-After)."""
    from django.core.cache import cache

    settings.AGENT_EVENTS_STREAMS_PER_AGENT = 2
    key = f"agent-event-streams:{alice.agent.pk}"
    cache.delete_many([key, f"agent-event-streams:{bob.agent.pk}"])
    client = alice.client()
    url = reverse("api-agent-events")

    first, second = client.get(url), client.get(url)  # open: nothing read from them yet
    refused = client.get(url)
    other_agent = bob.client().get(url)
    read_stream(first)  # it ends (a second here), and its slot comes back
    again = client.get(url)

    assert (first.status_code, second.status_code, other_agent.status_code, again.status_code) == (200,) * 4
    assert_error(refused, 429, "throttled")
    assert int(refused["Retry-After"]) >= 1
    for response in (second, other_agent, again):
        read_stream(response)
    assert cache.get(key) == 0

    # A client that leaves before the first frame: Django closes the response, and close() gives the slot back.
    assert events_view.stream_slot_take(agent_id=alice.agent.pk, seconds=1)
    events_view.EventStream(agent_id=alice.agent.pk, after_id=0, seconds=1).close()
    assert cache.get(key) == 0
