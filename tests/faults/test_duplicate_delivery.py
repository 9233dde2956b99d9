"""The same Celery task delivered twice (a broker redelivery, a duplicate publish), to two workers at once: the
launch happens once, each refund is paid once, each deposit is counted once."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from pools.services.refunds import refund_request
from pools.tasks import advance_launch, advance_refunds, index_chain_task, resume_jobs
from tests.anvil import ANVIL_CHAIN_ID
from tests.faults.invariants import assert_all, assert_deposits_exact
from tests.faults.support import wait_for
from tests.indexer.support import ETHER
from tests.launch.test_lifecycle import CONFIRMATIONS, scheduled_pool

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]


def _deliver_twice(task, *args) -> None:
    """Two deliveries of one message: the same task id, the same arguments."""
    task_id = str(uuid.uuid4())
    for _ in range(2):
        task.apply_async(args=list(args), task_id=task_id)


def test_launch_and_refund_tasks_delivered_twice_to_two_workers(stack):
    stack.start_worker()  # both boot while the raise is built
    stack.start_worker()
    raised = stack.closed_raise(label="twice")
    stack.workers_ready()  # two workers at once take the deliveries

    from pools.services.launch import launch_request

    launch_request(pool_id=raised.pool.pk, requested_by="fault-test")  # enqueues once; and twice more:
    _deliver_twice(advance_launch, raised.pool.pk)
    _deliver_twice(resume_jobs)
    stack.wait_launch_settled(raised.pool, timeout=120)

    refund_request(pool_id=raised.pool.pk, requested_by="fault-test")
    refund_request(pool_id=raised.pool.pk, requested_by="fault-test")  # the agent asked twice
    _deliver_twice(advance_refunds, raised.pool.pk)
    stack.refund(raised.pool)

    assert_all(stack, raised)


def test_the_indexing_task_delivered_twice_to_two_workers(stack):
    stack.start_worker()  # both boot while the deposits are sent
    stack.start_worker()
    pool = scheduled_pool(stack.chain, max_contribution=0)
    sent = []
    for round_ in range(5):
        at = pool.opens_at + timedelta(minutes=1) if round_ == 0 else None
        sent += stack.deposit(pool, [ETHER + i for i in range(20)], at=at, label=f"twice-{round_}")
    stack.chain.mine(CONFIRMATIONS + 1)
    stack.workers_ready()  # two workers at once take the deliveries

    for _ in range(3):
        _deliver_twice(index_chain_task, ANVIL_CHAIN_ID)

    def all_confirmed():
        return pool.deposits.filter(status="confirmed").count() == len(sent)

    wait_for(all_confirmed, timeout=60, what="every deposit indexed and confirmed")
    assert_deposits_exact(pool, sent)
    pool.refresh_from_db()
    assert pool.raised == sum(d.amount for d in sent)
