"""Jobs that stopped moving: refund jobs that wait (and say why) or show no progress, and unfinished launches.

Read by /healthz, which must stay cheap: two queries, whatever the number of pools, refunds or transactions.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db.models import OuterRef, Q, Subquery
from django.db.models.functions import Greatest

from pools.models import ChainTransaction, Launch, Pool, Refund
from pools.services.refunds import BATCH_PURPOSES, UNSETTLED

FINAL_LAUNCH_STEPS = [Launch.Step.LAUNCHED, Launch.Step.FAILED]


@dataclass(frozen=True)
class StuckJob:
    job: str  # "refunds" or "launch"
    pool_id: int
    pool: str
    since: datetime  # when it began to wait, or its last progress
    reason: str
    code: str = ""  # what a waiting refund job waits for (Pool.waiting_code)


def stuck_jobs(*, now: datetime, after_seconds: int) -> list[StuckJob]:
    """Refund jobs waiting, or without progress, and launches without progress, for longer than `after_seconds`.

    A refund job's progress is its newest refund or batch transaction change: the transaction manager touches a
    batch's row on every pass that rebroadcasts, replaces or settles it, so an old one means no worker ran the job.
    A waiting job is reported by its wait alone: it runs, and says what it waits for. Only pools with refunds still
    to be paid by a batch count: one whose last refunds were set aside has nothing left to wait for.
    """
    cutoff = now - timedelta(seconds=after_seconds)
    newest_refund = Refund.objects.filter(pool=OuterRef("pk")).order_by("-created_at").values("created_at")[:1]
    newest_batch = (
        ChainTransaction.objects.filter(pool=OuterRef("pk"), purpose__in=BATCH_PURPOSES)
        .order_by("-updated_at")
        .values("updated_at")[:1]
    )
    with_unsettled = Refund.objects.filter(status__in=UNSETTLED).values("pool_id")
    pools = (
        Pool.objects.annotate(progress=Greatest(Subquery(newest_refund), Subquery(newest_batch)))
        .filter(pk__in=with_unsettled)
        .filter(Q(waiting_since__lt=cutoff) | Q(waiting_code="", progress__lt=cutoff))
        .order_by("id")
        .values("id", "name", "waiting_code", "waiting_reason", "waiting_since", "progress")
    )
    stuck = [
        StuckJob("refunds", p["id"], p["name"], p["waiting_since"], p["waiting_reason"], p["waiting_code"])
        if p["waiting_code"]
        else StuckJob("refunds", p["id"], p["name"], p["progress"], _no_progress(now, p["progress"]))
        for p in pools
    ]
    launches = (
        Launch.objects.exclude(step__in=FINAL_LAUNCH_STEPS)
        .filter(updated_at__lt=cutoff)
        .order_by("pool_id")
        .values("pool_id", "pool__name", "step", "updated_at")
    )
    stuck += [
        StuckJob(
            "launch",
            row["pool_id"],
            row["pool__name"],
            row["updated_at"],
            _no_progress(now, row["updated_at"], row["step"]),
        )
        for row in launches
    ]
    return stuck


def _no_progress(now: datetime, since: datetime, step: str = "") -> str:
    where = f" in step {step}" if step else ""
    return f"no progress for {int((now - since).total_seconds())} s{where}: is the worker running?"
