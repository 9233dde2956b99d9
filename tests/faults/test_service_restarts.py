"""Redis, PostgreSQL and the signer go down in the middle of a launch and of its refunds, and come back.

Redis (the broker) comes back empty: queued tasks are gone, and beat's resume_jobs (here every 2 s) re-enqueues
the unfinished jobs from their rows. PostgreSQL's restart cuts every connection, the advisory lock of the worker
that held it included. The signer comes back with its sealed keys and its memory of what it signed.
"""

from __future__ import annotations

import time

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from agent_api.services.api_keys import api_key_create
from tests.faults.invariants import assert_all
from tests.faults.support import broker_down, database_down, throwaway_servers, wait_for

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

DOWN_SECONDS = 5
# The chain answers nothing for this long once the launch is broadcast: the job is mid-step when the server goes.
HOLD_SECONDS = 12


def test_a_launch_triggered_while_redis_is_down_runs_once_it_is_back(stack):
    servers = throwaway_servers()
    raised = stack.closed_raise(label="redis")
    stack.start_worker()
    stack.start_resuming()

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(agent=raised.pool.agent, name='faults').key}")

    with broker_down(servers, seconds=DOWN_SECONDS):
        # The agent's trigger arrives while the broker (and the throttle's cache) is down: the launch is recorded
        # and the agent told so at once; the job starts when beat's resume_jobs can enqueue it.
        started = time.monotonic()
        answer = api.post(
            reverse("api-agent-pool-launch", args=[raised.pool.pk]), format="json", HTTP_IDEMPOTENCY_KEY="redis-down"
        )
        assert answer.status_code == 202, answer.content
        assert time.monotonic() - started < 10
    stack.wait_launch_settled(raised.pool, timeout=120)
    stack.refund(raised.pool)

    assert stack.resumer.failed > 0, "the resumer never met the broker down"
    assert_all(stack, raised)


def test_redis_restarted_while_a_refund_batch_is_in_flight(stack):
    servers = throwaway_servers()
    raised = stack.closed_raise(label="redis-refund")
    stack.start_worker()
    stack.start_resuming()
    stack.launch(raised.pool)

    from pools.services.refunds import refund_request

    stack.proxy.stall(seconds=HOLD_SECONDS, after="eth_sendRawTransaction")
    refund_request(pool_id=raised.pool.pk, requested_by="fault-test")
    wait_for(lambda: stack.proxy.log.triggered, timeout=60, what="a refund transaction broadcast")
    with broker_down(servers, seconds=DOWN_SECONDS):
        pass
    stack.refund(raised.pool)

    assert_all(stack, raised)


def test_postgres_restarted_while_the_launch_job_holds_its_lock_and_transaction(stack):
    servers = throwaway_servers()
    raised = stack.closed_raise(label="postgres")
    stack.start_worker()
    stack.start_resuming()

    from pools.services.launch import launch_request

    stack.proxy.stall(seconds=HOLD_SECONDS, after="eth_sendRawTransaction")
    launch_request(pool_id=raised.pool.pk, requested_by="fault-test")
    wait_for(lambda: stack.proxy.log.triggered, timeout=60, what="the launch transaction broadcast")
    with database_down(servers, seconds=DOWN_SECONDS):
        pass
    stack.wait_launch_settled(raised.pool, timeout=180)

    stack.proxy.stall(seconds=HOLD_SECONDS, after="eth_sendRawTransaction")
    from pools.services.refunds import refund_request

    refund_request(pool_id=raised.pool.pk, requested_by="fault-test")
    wait_for(lambda: len(stack.proxy.log.triggered) == 2, timeout=60, what="a refund transaction broadcast")
    with database_down(servers, seconds=DOWN_SECONDS):
        pass
    stack.refund(raised.pool, timeout=180)

    assert "OperationalError" in stack.worker_logs(whole=True), "the job never met the database down"
    assert_all(stack, raised)


def test_the_signer_down_then_up_during_a_launch_and_its_refunds(stack):
    raised = stack.closed_raise(label="signer")
    stack.start_worker()
    stack.start_resuming()

    from pools.services.launch import launch_request
    from pools.services.refunds import refund_request

    with stack.signer_down(seconds=DOWN_SECONDS):
        launch_request(pool_id=raised.pool.pk, requested_by="fault-test")
    stack.wait_launch_settled(raised.pool, timeout=120)

    with stack.signer_down(seconds=DOWN_SECONDS):
        refund_request(pool_id=raised.pool.pk, requested_by="fault-test")
    stack.refund(raised.pool)

    assert "SignerUnavailable" in stack.worker_logs(whole=True), "the job never met the signer down"
    assert_all(stack, raised)
