"""Redis, PostgreSQL and the signer go down in the middle of a launch and of its refunds, and come back.

Redis (the broker) comes back empty: queued tasks are gone, and beat's resume_jobs (here every 2 s) re-enqueues
the unfinished jobs from their rows. PostgreSQL's restart cuts every connection, the advisory lock of the worker
that held it included. The signer comes back with its sealed keys and its memory of what it signed.

A server stays down until the app has shown it met it down (the resumer's publish failed, the job logged the
database's or the signer's error), not for a length of time. A job is held mid-step by the proxy (the answer to its
broadcast stalled) while the server goes: until Redis is back, until PostgreSQL is down.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from agent_api.services.api_keys import api_key_create
from tests.faults.invariants import assert_all
from tests.faults.support import FAULT_BOUND_SECONDS, broker_down, database_down, throwaway_servers, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

# The agent's launch trigger must answer without waiting for the broker (which took ~20 s before the fix): a bound.
TRIGGER_ANSWERS_WITHIN_SECONDS = 10


def test_a_launch_triggered_while_redis_is_down_runs_once_it_is_back(stack):
    servers = throwaway_servers()
    stack.start_worker()  # boots while the raise is built
    raised = stack.closed_raise(label="redis")
    resumer = stack.start_resuming()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(agent=raised.pool.agent, name='faults').key}")

    failed_before = resumer.failed
    with broker_down(servers, until=lambda: resumer.failed > failed_before, what="beat's publish met Redis down"):
        # The agent's trigger arrives while the broker (and the throttle's cache) is down: the launch is recorded
        # and the agent told so at once; the job starts when beat's resume_jobs can enqueue it.
        started = time.monotonic()
        answer = api.post(
            reverse("api-agent-pool-launch", args=[raised.pool.pk]), format="json", HTTP_IDEMPOTENCY_KEY="redis-down"
        )
        assert answer.status_code == 202, answer.content
        assert time.monotonic() - started < TRIGGER_ANSWERS_WITHIN_SECONDS
    stack.wait_launch_settled(raised.pool, timeout=120)
    stack.refund(raised.pool)

    assert resumer.failed > 0, "the resumer never met the broker down"
    assert_all(stack, raised)


def _hold_the_next_broadcast(stack, *, until: threading.Event, what: str) -> Callable[[], object]:
    """The next transaction broadcast reaches the node; its answer is held until `until` is set. Returns the wait
    for that broadcast."""
    triggered = len(stack.proxy.log.triggered)
    stack.proxy.stall(seconds=FAULT_BOUND_SECONDS, after="eth_sendRawTransaction", until=until.is_set)
    return lambda: wait_for(lambda: len(stack.proxy.log.triggered) > triggered, timeout=60, what=what)


def test_redis_restarted_while_a_refund_batch_is_in_flight(stack):
    servers = throwaway_servers()
    stack.start_worker()  # boots while the raise is built
    raised = stack.closed_raise(label="redis-refund")
    resumer = stack.start_resuming()
    stack.launch(raised.pool)

    from pools.services.refunds import refund_request

    back = threading.Event()
    wait_broadcast = _hold_the_next_broadcast(stack, until=back, what="a refund transaction broadcast")
    refund_request(pool_id=raised.pool.pk, requested_by="fault-test")
    wait_broadcast()
    failed_before = resumer.failed
    with broker_down(servers, until=lambda: resumer.failed > failed_before, what="beat's publish met Redis down"):
        pass
    back.set()  # the held broadcast's connection closes: the job, mid-step across the restart, has given up on it
    stack.refund(raised.pool)

    assert stack.proxy.released_on_evidence, stack.proxy.log
    assert_all(stack, raised)


def test_postgres_restarted_while_the_launch_job_holds_its_lock_and_transaction(stack):
    servers = throwaway_servers()
    stack.start_worker()  # boots while the raise is built
    raised = stack.closed_raise(label="postgres")
    stack.start_resuming()

    from pools.services.launch import launch_request
    from pools.services.refunds import refund_request

    def met_it_down(before: int):
        return lambda: stack.worker_log_count("OperationalError") > before

    down = threading.Event()
    wait_broadcast = _hold_the_next_broadcast(stack, until=down, what="the launch transaction broadcast")
    launch_request(pool_id=raised.pool.pk, requested_by="fault-test")
    wait_broadcast()
    before = stack.worker_log_count("OperationalError")
    with database_down(servers, until=met_it_down(before), what="the launch job met the database down"):
        down.set()  # the held connection closes (the job gave up on it at its RPC timeout): lock, transaction gone
    stack.wait_launch_settled(raised.pool, timeout=180)

    down = threading.Event()
    wait_broadcast = _hold_the_next_broadcast(stack, until=down, what="a refund transaction broadcast")
    refund_request(pool_id=raised.pool.pk, requested_by="fault-test")
    wait_broadcast()
    before = stack.worker_log_count("OperationalError")
    with database_down(servers, until=met_it_down(before), what="the refund job met the database down"):
        down.set()
    stack.refund(raised.pool, timeout=180)

    assert stack.proxy.released_on_evidence, stack.proxy.log
    assert_all(stack, raised)


def test_the_signer_down_then_up_during_a_launch_and_its_refunds(stack):
    stack.start_worker()  # boots while the raise is built
    raised = stack.closed_raise(label="signer")
    stack.start_resuming()

    from pools.services.launch import launch_request
    from pools.services.refunds import refund_request

    def met_it_down(before: int):
        return lambda: stack.worker_log_count("SignerUnavailable") > before

    before = stack.worker_log_count("SignerUnavailable")
    with stack.signer_down(until=met_it_down(before), what="the launch job met the signer down"):
        launch_request(pool_id=raised.pool.pk, requested_by="fault-test")
    stack.wait_launch_settled(raised.pool, timeout=120)

    before = stack.worker_log_count("SignerUnavailable")
    with stack.signer_down(until=met_it_down(before), what="the refund job met the signer down"):
        refund_request(pool_id=raised.pool.pk, requested_by="fault-test")
    stack.refund(raised.pool)

    assert_all(stack, raised)
