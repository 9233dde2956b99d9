"""/healthz's jobs part: refund jobs that wait or show no progress, and launches without progress, are warnings that
never fail the report (database only: the other parts are in test_healthz.py)."""

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from pools.models import ChainTransaction, Launch, Pool, Refund
from pools.selectors.jobs import stuck_jobs
from pools.services.health import CHECKS
from tests.factories import PoolFactory
from tests.web.support import ETHER, address

pytestmark = pytest.mark.django_db

STUCK_AFTER = 900
TOKEN = "jobs-test-healthz-token"
DETAIL = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}  # the per-part report; everyone else sees only the summary


@pytest.fixture(autouse=True)
def only_the_database_and_jobs(monkeypatch, settings):
    """The report with two parts, so the others (chain, signer, worker) need not run for these tests."""
    settings.JOB_STUCK_AFTER_SECONDS = STUCK_AFTER
    settings.HEALTHZ_TOKEN = TOKEN
    monkeypatch.setattr("pools.services.health.CHECKS", {name: CHECKS[name] for name in ("database", "jobs")})


def ago(seconds: int):
    return timezone.now() - timedelta(seconds=seconds)


def owed_refund(pool: Pool, *, created: int, label: str = "r") -> Refund:
    refund = Refund.objects.create(pool=pool, recipient=address(f"{pool.pk}-{label}"), amount=ETHER)
    Refund.objects.filter(pk=refund.pk).update(created_at=ago(created))
    return refund


def batch(pool: Pool, *, updated: int) -> ChainTransaction:
    tx = ChainTransaction.objects.create(
        pool=pool, purpose=ChainTransaction.Purpose.REFUND, signer_key=str(pool.pk), chain_id=31337,
        from_address=address("pool"), nonce=0, to_address=address("refunder"), gas=100_000, max_fee_per_gas=1,
        max_priority_fee_per_gas=1, status=ChainTransaction.Status.UNCONFIRMED,
    )  # fmt: skip
    ChainTransaction.objects.filter(pk=tx.pk).update(updated_at=ago(updated))
    return tx


def waiting(seconds: int, **fields) -> Pool:
    values = {"status": Pool.Status.REFUNDING, "waiting_code": "fees_above_cap", **fields}
    return PoolFactory(waiting_reason="Network fees are above the cap.", waiting_since=ago(seconds), **values)


def test_a_refund_job_waiting_too_long_is_a_warning_and_the_report_stays_ok_with_http_200(client):
    pool = waiting(STUCK_AFTER + 60)
    owed_refund(pool, created=10)

    response = client.get(reverse("healthz"), **DETAIL)

    report = response.json()
    jobs = report["components"]["jobs"]
    assert response.status_code == 200 and report["status"] == "ok"
    assert jobs["status"] == "warning"
    assert jobs["reason"] == f"1 job waiting or without progress for more than {STUCK_AFTER} s"
    assert [(s["job"], s["pool_id"], s["code"], s["reason"]) for s in jobs["detail"]["stuck"]] == [
        ("refunds", pool.pk, "fees_above_cap", "Network fees are above the cap.")
    ]


def test_nothing_stuck_is_ok(client):
    owed_refund(waiting(STUCK_AFTER - 60), created=STUCK_AFTER * 2)  # it waits, and says why: not for long yet
    owed_refund(PoolFactory(status=Pool.Status.REFUNDING), created=10)

    jobs = client.get(reverse("healthz"), **DETAIL).json()["components"]["jobs"]

    assert jobs == {
        "status": "ok",
        "detail": {"stuck_after_seconds": STUCK_AFTER, "stuck": []},
        "reason": "",
        "milliseconds": jobs["milliseconds"],
    }


def test_refunds_without_progress_are_stuck_unless_a_batch_moved_lately():
    still = PoolFactory(status=Pool.Status.REFUNDING)
    owed_refund(still, created=STUCK_AFTER + 100)
    batch(still, updated=STUCK_AFTER + 50)
    moving = PoolFactory(status=Pool.Status.REFUNDING)
    owed_refund(moving, created=STUCK_AFTER * 3)
    batch(moving, updated=30)
    done = PoolFactory(status=Pool.Status.REFUNDED)
    Refund.objects.filter(pk=owed_refund(done, created=STUCK_AFTER * 3).pk).update(status=Refund.Status.PAID)

    stuck = stuck_jobs(now=timezone.now(), after_seconds=STUCK_AFTER)

    assert [(s.job, s.pool_id, s.code) for s in stuck] == [("refunds", still.pk, "")]
    assert stuck[0].reason.startswith(f"no progress for {STUCK_AFTER + 50} s")
    assert stuck[0].reason.endswith(": is the worker running?")


def test_a_wait_with_nothing_left_to_pay_is_not_stuck():
    pool = waiting(STUCK_AFTER * 2, status=Pool.Status.REFUNDED)
    Refund.objects.filter(pk=owed_refund(pool, created=STUCK_AFTER * 3).pk).update(status=Refund.Status.SET_ASIDE)

    assert stuck_jobs(now=timezone.now(), after_seconds=STUCK_AFTER) == []


def test_an_unfinished_launch_without_progress_is_stuck_a_finished_one_is_not():
    sending = PoolFactory(status=Pool.Status.LAUNCHING)
    Launch.objects.create(pool=sending, step=Launch.Step.SENDING)
    launched = PoolFactory(status=Pool.Status.LAUNCHED)
    Launch.objects.create(pool=launched, step=Launch.Step.LAUNCHED)
    recent = PoolFactory(status=Pool.Status.LAUNCHING)
    Launch.objects.create(pool=recent, step=Launch.Step.ALLOCATED)
    Launch.objects.exclude(pool=recent).update(updated_at=ago(STUCK_AFTER + 5))

    stuck = stuck_jobs(now=timezone.now(), after_seconds=STUCK_AFTER)

    assert [(s.job, s.pool_id) for s in stuck] == [("launch", sending.pk)]
    assert stuck[0].reason == f"no progress for {STUCK_AFTER + 5} s in step sending: is the worker running?"


def test_the_jobs_check_is_two_queries_however_many_pools(django_assert_num_queries):
    for n in range(5):
        pool = waiting(STUCK_AFTER * 2) if n % 2 else PoolFactory(status=Pool.Status.REFUNDING)
        owed_refund(pool, created=STUCK_AFTER * 2)
        batch(pool, updated=STUCK_AFTER * 2)
        Launch.objects.create(pool=PoolFactory(status=Pool.Status.LAUNCHING), step=Launch.Step.REQUESTED)
    Launch.objects.update(updated_at=ago(STUCK_AFTER * 2))

    with django_assert_num_queries(2):
        stuck = stuck_jobs(now=timezone.now(), after_seconds=STUCK_AFTER)

    assert sorted(s.job for s in stuck) == ["launch"] * 5 + ["refunds"] * 5


def test_a_jobs_check_that_fails_is_a_warning_never_an_error(client, monkeypatch):
    def broken(**_):
        raise RuntimeError("relation does not exist")

    monkeypatch.setattr("pools.services.health.stuck_jobs", broken)

    response = client.get(reverse("healthz"), **DETAIL)

    report = response.json()
    assert response.status_code == 200 and report["status"] == "ok"
    assert report["components"]["jobs"]["status"] == "warning"
    assert report["components"]["jobs"]["reason"] == "jobs check failed"  # the exception's text goes to the log
