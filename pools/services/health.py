"""/healthz: is every part of the stack up, and can they talk to each other? And is any job stuck?

A part that is down is an "error" and fails the report (HTTP 503: a load balancer takes the web tier out). A stuck job
is a "warning": someone should look, but the web tier serves fine, so the report stays "ok".

Everyone may see the summary ("ok" or "error"); the per-component report goes to staff and to callers with the
HEALTHZ_TOKEN (`health_detail_allowed`). Its reasons are our own words: an exception's text (which can name hosts,
users, paths) goes to the log only, and the report says which part failed ("database unreachable").
"""

from __future__ import annotations

import hmac
import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from functools import cache

import redis
from django.conf import settings
from django.core.cache import cache as shared_cache
from django.db import connection
from django.utils import timezone

from pools.selectors.jobs import stuck_jobs
from pools.selectors.trace_gaps import TRACES_FIX, pools_without_traces
from pools.services.preflight import ERROR, OK, run_preflight

logger = logging.getLogger(__name__)

BEAT_HEARTBEAT_KEY = "launchpad:beat:heartbeat"
# Beat fires the heartbeat every 15 s (launchpad/schedules.py); three missed beats mean it is not running.
BEAT_STALE_AFTER_SECONDS = 45
PREFLIGHT_CACHE_KEY = "health:preflight"


@dataclass
class ComponentHealth:
    status: str  # "ok", "warning" or "error"
    detail: dict = field(default_factory=dict)
    reason: str = ""
    milliseconds: int = 0


class Unhealthy(Exception):
    """A part that fails a check of ours, with a reason in our own words (no exception text): an "error"."""


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
    from chain.client import chain_status

    status = chain_status()
    if status.chain_id != settings.CHAIN_ID:
        raise Unhealthy(f"the RPC serves chain id {status.chain_id}, but CHAIN_ID is {settings.CHAIN_ID}")
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
        raise Unhealthy(f"no worker answered a ping within {timeout:g} s: is `celery worker` running?") from exc
    return {"ping": answer}


def _check_beat() -> dict:
    raw = redis_client().get(BEAT_HEARTBEAT_KEY)
    if raw is None:
        raise Unhealthy("no heartbeat from celery beat yet: is `celery beat` running (and a worker)?")
    age = time.time() - float(raw)
    if age > BEAT_STALE_AFTER_SECONDS:
        raise Unhealthy(f"last beat heartbeat was {age:.0f} s ago: is `celery beat` running?")
    return {"last_heartbeat_seconds_ago": round(age, 1)}


def _check_jobs() -> dict:
    after = settings.JOB_STUCK_AFTER_SECONDS
    stuck = stuck_jobs(now=timezone.now(), after_seconds=after)
    detail = {"stuck_after_seconds": after, "stuck": [asdict(job) for job in stuck]}
    if stuck:
        count = "1 job" if len(stuck) == 1 else f"{len(stuck)} jobs"
        raise NeedsALook(f"{count} waiting or without progress for more than {after} s", detail=detail)
    return detail


def _check_indexer_traces() -> dict:
    """ETH pools whose internal transfers are not watched: the RPC does not serve call traces (a warning: the rest
    is indexed, but ETH that contracts send to these pools is not seen)."""
    unwatched = pools_without_traces(chain_id=settings.CHAIN_ID)
    if not unwatched:
        return {"pools": []}
    detail = {
        "pools": [{"id": p.pool_id, "name": p.pool, "since_block": p.since_block} for p in unwatched],
        "rpc_answer": unwatched[0].reason,
        "fix": TRACES_FIX,
    }
    count = "1 ETH pool" if len(unwatched) == 1 else f"{len(unwatched)} ETH pools"
    since = unwatched[0].since_block
    raise NeedsALook(
        f"{count} not fully watched since block {since}: the RPC does not serve call traces, so ETH sent by "
        f"contracts is not seen; {TRACES_FIX}",
        detail=detail,
    )


def preflight_findings() -> list[dict]:
    """The preflight's findings, run at most once per PREFLIGHT_CACHE_SECONDS across processes (Django's cache), each
    request to the node or the signer within HEALTH_CHECK_TIMEOUT."""
    findings = shared_cache.get(PREFLIGHT_CACHE_KEY)
    if findings is None:
        findings = [asdict(finding) for finding in run_preflight(timeout=settings.HEALTH_CHECK_TIMEOUT)]
        shared_cache.set(PREFLIGHT_CACHE_KEY, findings, settings.PREFLIGHT_CACHE_SECONDS)
    return findings


def _check_preflight() -> dict:
    """`manage.py preflight`'s checks, as a warning: a wrong address, an empty gas account or a late feed needs the
    operator, not a load balancer taking out a site whose pages and claims still work. Errors come first in the
    reason; each finding carries its fix in the detail."""
    findings = preflight_findings()
    failing = [finding for finding in findings if finding["status"] != OK]
    detail = {"checked": len(findings), "failing": failing}
    errors = [finding["name"] for finding in failing if finding["status"] == ERROR]
    if errors:
        reason = f"preflight errors: {', '.join(errors)}: run `manage.py preflight` for the fixes"
        raise NeedsALook(reason, detail=detail)
    if failing:
        names = ", ".join(finding["name"] for finding in failing)
        raise NeedsALook(f"preflight: {names} (the fix is with each finding)", detail=detail)
    return detail


def _check_gas_account() -> dict:
    """The gas account below its recommended balance: a warning (ERC-20 launches and refunds will stop when empty)."""
    finding = next((f for f in preflight_findings() if f["name"] == "gas_account"), None)
    if finding is None:
        return {"checked": False}
    if finding["status"] != OK:
        raise NeedsALook(f"{finding['message']}: {finding['fix']}", detail=finding["detail"])
    return finding["detail"]


CHECKS: dict[str, Callable[[], dict]] = {
    "database": _check_database,
    "redis": _check_redis,
    "chain": _check_chain,
    "signer": _check_signer,
    "worker": _check_worker,
    "beat": _check_beat,
    "jobs": _check_jobs,
    "indexer_traces": _check_indexer_traces,
    "preflight": _check_preflight,
    "gas_account": _check_gas_account,
}
# Components that can only warn: even when their own check fails, the parts that serve requests may be fine.
WARN_ONLY = {"jobs", "indexer_traces", "gas_account", "preflight"}
# What the report says when a check fails with an exception we did not word ourselves; its text is logged only.
FAILED = {
    "database": "database unreachable",
    "redis": "redis unreachable",
    "chain": "chain RPC unreachable",
    "signer": "signer unreachable",
    "worker": "worker check failed: is the broker (Redis) up?",
    "beat": "beat heartbeat unreadable",
    "jobs": "jobs check failed",
}


def _run(name: str, check: Callable[[], dict], *, warn_only: bool = False) -> ComponentHealth:
    started = time.monotonic()
    try:
        detail = check()
        status, reason = "ok", ""
    except NeedsALook as exc:
        detail, status, reason = exc.detail, "warning", str(exc)
    except Unhealthy as exc:
        detail, status, reason = {}, "warning" if warn_only else "error", str(exc)
    except Exception:  # noqa: BLE001 - a health check reports every failure, in its own words
        logger.warning("health check %s failed", name, exc_info=True)
        detail, status, reason = {}, "warning" if warn_only else "error", FAILED.get(name, f"{name} check failed")
    return ComponentHealth(
        status=status, detail=detail, reason=reason, milliseconds=int((time.monotonic() - started) * 1000)
    )


def system_health(*, components: list[str] | None = None) -> dict:
    """Each component "ok", "warning" or "error" with a reason; "ok" overall unless one is an error."""
    results = {name: _run(name, CHECKS[name], warn_only=name in WARN_ONLY) for name in (components or CHECKS)}
    overall = "error" if any(result.status == "error" for result in results.values()) else "ok"
    return {"status": overall, "components": {name: asdict(result) for name, result in results.items()}}


_recent_lock = threading.Lock()
_recent: tuple[float, dict] | None = None


def system_health_recent(*, max_age_seconds: float) -> dict:
    """`system_health()`, reused for `max_age_seconds` in this process: the public summary, which anyone may ask for
    as often as the rate limit allows, then costs the checks (a worker ping, the chain, the signer) once per period
    instead of once per request. One computation at a time; a request that waited for it takes its result."""
    global _recent
    with _recent_lock:
        if _recent is not None and time.monotonic() - _recent[0] < max_age_seconds:
            return _recent[1]
        report = system_health()
        _recent = (time.monotonic(), report)
        return report


def health_summary(*, report: dict) -> dict:
    """What anyone may see: ok or not, nothing about the parts."""
    return {"status": report["status"]}


def health_detail_allowed(*, is_staff: bool, authorization: str) -> bool:
    """Staff, or a caller presenting `Authorization: Bearer <HEALTHZ_TOKEN>` (compared in constant time)."""
    if is_staff:
        return True
    token = settings.HEALTHZ_TOKEN
    scheme, _, presented = authorization.partition(" ")
    if not token or scheme.lower() != "bearer":
        return False
    return hmac.compare_digest(presented.strip().encode(), token.encode())
