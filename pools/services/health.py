"""/healthz: is every part of the stack up, and can they talk to each other? And is any job stuck?

A part that is down is an "error" and fails the report (HTTP 503: a load balancer takes the web tier out). A stuck job
is a "warning": someone should look, but the web tier serves fine, so the report stays "ok".
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache

import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from pools.selectors.jobs import stuck_jobs

BEAT_HEARTBEAT_KEY = "launchpad:beat:heartbeat"
# Beat fires the heartbeat every 15 s (launchpad/schedules.py); three missed beats mean it is not running.
BEAT_STALE_AFTER_SECONDS = 45


@dataclass
class ComponentHealth:
    status: str  # "ok", "warning" or "error"
    detail: dict = field(default_factory=dict)
    reason: str = ""
    milliseconds: int = 0


class NeedsALook(Exception):
    """A part that works but needs someone to look at it: reported as a "warning", with what to look at."""

    def __init__(self, reason: str, *, detail: dict) -> None:
        super().__init__(reason)
        self.detail = detail


@cache
def _redis_for(url: str) -> redis.Redis:
    timeout = settings.HEALTH_CHECK_TIMEOUT
    return redis.Redis.from_url(url, socket_timeout=timeout, socket_connect_timeout=timeout)


def redis_client() -> redis.Redis:
    return _redis_for(settings.REDIS_URL)


def record_beat_heartbeat() -> None:
    redis_client().set(BEAT_HEARTBEAT_KEY, str(time.time()), ex=3600)


def _check_database() -> dict:
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        (version,) = cursor.fetchone()
    return {"server": version.split(",")[0]}


def _check_redis() -> dict:
    info = redis_client().info("server")
    return {"version": info.get("redis_version")}


def _check_chain() -> dict:
    from chain.client import check_chain_id

    status = check_chain_id()
    return {"chain_id": status.chain_id, "block_number": status.block_number}


def _check_signer() -> dict:
    from pools.signer import signer_client

    return signer_client().health()


def _check_worker() -> dict:
    from pools.tasks import ping

    timeout = settings.HEALTH_CHECK_TIMEOUT
    result = ping.apply_async(expires=timeout)
    try:
        answer = result.get(timeout=timeout, disable_sync_subtasks=False)
    except Exception as exc:
        result.forget()
        raise TimeoutError(f"no worker answered a ping within {timeout:g} s: is `celery worker` running?") from exc
    return {"ping": answer}


def _check_beat() -> dict:
    raw = redis_client().get(BEAT_HEARTBEAT_KEY)
    if raw is None:
        raise RuntimeError("no heartbeat from celery beat yet: is `celery beat` running (and a worker)?")
    age = time.time() - float(raw)
    if age > BEAT_STALE_AFTER_SECONDS:
        raise RuntimeError(f"last beat heartbeat was {age:.0f} s ago: is `celery beat` running?")
    return {"last_heartbeat_seconds_ago": round(age, 1)}


def _check_jobs() -> dict:
    after = settings.JOB_STUCK_AFTER_SECONDS
    stuck = stuck_jobs(now=timezone.now(), after_seconds=after)
    detail = {"stuck_after_seconds": after, "stuck": [asdict(job) for job in stuck]}
    if stuck:
        count = "1 job" if len(stuck) == 1 else f"{len(stuck)} jobs"
        raise NeedsALook(f"{count} waiting or without progress for more than {after} s", detail=detail)
    return detail


CHECKS: dict[str, Callable[[], dict]] = {
    "database": _check_database,
    "redis": _check_redis,
    "chain": _check_chain,
    "signer": _check_signer,
    "worker": _check_worker,
    "beat": _check_beat,
    "jobs": _check_jobs,
}
# Components that can only warn: even when their own check fails, the parts that serve requests may be fine.
WARN_ONLY = {"jobs"}


def _run(check: Callable[[], dict], *, warn_only: bool = False) -> ComponentHealth:
    started = time.monotonic()
    try:
        detail = check()
        status, reason = "ok", ""
    except NeedsALook as exc:
        detail, status, reason = exc.detail, "warning", str(exc)
    except Exception as exc:  # noqa: BLE001 - a health check reports every failure as a reason
        detail, status, reason = {}, "warning" if warn_only else "error", f"{type(exc).__name__}: {exc}"
    return ComponentHealth(
        status=status, detail=detail, reason=reason, milliseconds=int((time.monotonic() - started) * 1000)
    )


def system_health(*, components: list[str] | None = None) -> dict:
    """Each component "ok", "warning" or "error" with a reason; "ok" overall unless one is an error."""
    results = {name: _run(CHECKS[name], warn_only=name in WARN_ONLY) for name in (components or CHECKS)}
    overall = "error" if any(result.status == "error" for result in results.values()) else "ok"
    return {"status": overall, "components": {name: asdict(result) for name, result in results.items()}}
