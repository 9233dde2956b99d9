"""Rate limits that hold under concurrency: one atomic Redis script per check, keyed on the real client.

The limiter is GCRA (the generic cell rate algorithm, a token bucket kept as one timestamp): a rate of N per window
allows a burst of N, then one request every window/N. The check and the update run in one Lua script on the Redis
server's clock, so twenty web processes counting the same client cannot each read "one left" and all go through,
and their clocks do not matter.

    result = ratelimit.hit("agent:key12", Rate.parse("600/minute"))
    if not result.allowed: ...answer 429 with Retry-After: result.retry_after_seconds

Every answer carries the IETF draft's RateLimit-Limit, RateLimit-Remaining, RateLimit-Reset and RateLimit-Policy
headers (`Result.headers()`); launchpad.middleware adds them from `request.rate_limit`.

`hit_batched` (the REST API's throttle) spares the round trip when a client is far from its limit: after Redis said
R are left, this process serves up to min(LOCAL_MAX_BATCH, R // LOCAL_SHARE) more of that client's requests on its
own, then charges them to Redis with its next request (or after LOCAL_SYNC_SECONDS, whichever first). With
R < LOCAL_MIN_REMAINING every request goes to Redis, so small limits stay exact. The bound: with P processes serving
one client, at most P × min(LOCAL_MAX_BATCH, limit // LOCAL_SHARE) requests over its limit (each process's uncharged
allowance, a sixteenth of what was left when it asked); what is served is always charged, so an overshoot is paid
back by a longer wait. A refusal is remembered locally until its Retry-After, so a client hammering past its limit
costs no round trip either.
"""

from __future__ import annotations

import functools
import ipaddress
import logging
import math
import re
import threading
import time
from collections import OrderedDict
from dataclasses import dataclass

import redis
from django.conf import settings
from django.http import HttpRequest

logger = logging.getLogger(__name__)

_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE = re.compile(r"^\s*(?P<count>\d+)\s*/\s*(?P<every>\d*)\s*(?P<unit>[A-Za-z]+)\s*$")

# KEYS[1] the bucket; ARGV[1] its limit, ARGV[2] its window in microseconds, ARGV[3] (optional) requests already
# served that are charged first, whatever the answer (hit_batched's). Returns {allowed, remaining, retry_after_us,
# reset_us}. The stored value is the bucket's "theoretical arrival time" in microseconds of the server's clock; the
# key expires once the bucket is full again, so idle clients cost nothing.
_GCRA = """
local limit = tonumber(ARGV[1])
local window = tonumber(ARGV[2])
local debt = tonumber(ARGV[3] or '0')
local interval = window / limit
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
tat = tat + debt * interval
local new_tat = tat + interval
local allow_at = new_tat - window
if allow_at > now then
  if debt > 0 then
    redis.call('SET', KEYS[1], string.format('%.0f', tat), 'PX', math.ceil((tat - now) / 1000) + 1)
  end
  return {0, 0, math.ceil(allow_at - now), math.ceil(tat - now)}
end
redis.call('SET', KEYS[1], string.format('%.0f', new_tat), 'PX', math.ceil((new_tat - now) / 1000) + 1)
return {1, math.floor((now - allow_at) / interval), 0, math.ceil(new_tat - now)}
"""


@dataclass(frozen=True)
class Rate:
    limit: int
    window_seconds: int

    @classmethod
    def parse(cls, text: str) -> Rate:
        """'600/minute', '30/min', '5/10s' (five per ten seconds)."""
        match = _RATE.match(text)
        if (
            not match
            or int(match["count"]) < 1
            or (match["every"] or "1").strip("0") == ""
            or match["unit"].lower() not in _UNITS
        ):
            raise ValueError(f"not a rate: {text!r} (expected e.g. '600/minute' or '5/10s')")
        return cls(int(match["count"]), int(match["every"] or 1) * _UNITS[match["unit"].lower()])

    @property
    def policy(self) -> str:
        return f"{self.limit};w={self.window_seconds}"


@dataclass(frozen=True)
class Result:
    allowed: bool
    rate: Rate
    remaining: int
    retry_after: float  # seconds until the next request would be allowed; 0 when allowed
    reset: float  # seconds until the bucket is full again

    @property
    def retry_after_seconds(self) -> int:
        return max(1, math.ceil(self.retry_after))

    def headers(self) -> dict[str, str]:
        headers = {
            "RateLimit-Limit": str(self.rate.limit),
            "RateLimit-Remaining": str(max(0, self.remaining)),
            "RateLimit-Reset": str(math.ceil(self.reset)),
            "RateLimit-Policy": self.rate.policy,
        }
        if not self.allowed:
            headers["Retry-After"] = str(self.retry_after_seconds)
        return headers


@functools.cache
def _gcra(url: str):
    client = redis.Redis.from_url(url, socket_timeout=1, socket_connect_timeout=1)
    return client.register_script(_GCRA)  # EVALSHA, falling back to EVAL once per server


def hit(key: str, rate: Rate, *, already_served: int = 0) -> Result:
    """Count one request against the bucket `key`, in the Redis at settings.REDIS_URL (after `already_served` ones
    this process let through on its own, which are charged whatever the answer). A Redis outage lets requests
    through (logged): the rate limit protects capacity, it is not what keeps money safe, and an outage must not take
    the API down with it."""
    try:
        allowed, remaining, retry_us, reset_us = _gcra(settings.REDIS_URL)(
            keys=[f"launchpad:rl:{key}"], args=[rate.limit, rate.window_seconds * 1_000_000, already_served]
        )
    except redis.RedisError:
        logger.warning("rate limiter unavailable (Redis); letting the request through", exc_info=True)
        return Result(True, rate, rate.limit, 0, 0)
    return Result(bool(allowed), rate, int(remaining), int(retry_us) / 1e6, int(reset_us) / 1e6)


# --- counting locally while far from the limit (hit_batched) ---------------------------------------------------

LOCAL_SHARE = 16  # a process serves at most 1/16 of what Redis said was left before it asks again
LOCAL_MIN_REMAINING = 64  # below this many left, every request asks Redis: exact near the limit
LOCAL_MAX_BATCH = 100  # nor more than this many between two round trips
LOCAL_SYNC_SECONDS = 1.0  # nor for longer than this
_LOCAL_MAX_KEYS = 10_000


@dataclass
class _LocalBucket:
    synced_at: float
    remaining: int  # what Redis said was left at synced_at
    allowance: int  # how many this process may serve before asking again
    reset_at: float
    refused_until: float = 0.0
    served: int = 0  # served since synced_at, not charged to Redis yet


_local: OrderedDict[tuple[str, Rate], _LocalBucket] = OrderedDict()
_local_lock = threading.Lock()


def hit_batched(key: str, rate: Rate) -> Result:
    """hit(), without a Redis round trip for most requests of a client far from its limit (the module's docstring
    gives the bound)."""
    now = time.monotonic()
    interval = rate.window_seconds / rate.limit
    with _local_lock:
        bucket = _local.get((key, rate))
        already_served = 0
        if bucket is not None:
            _local.move_to_end((key, rate))
            if now < bucket.refused_until:
                return Result(False, rate, 0, bucket.refused_until - now, max(0.0, bucket.reset_at - now))
            if bucket.served < bucket.allowance and now - bucket.synced_at < LOCAL_SYNC_SECONDS:
                bucket.served += 1
                reset = max(0.0, bucket.reset_at - now) + bucket.served * interval
                return Result(True, rate, bucket.remaining - bucket.served, 0, min(reset, rate.window_seconds))
            # This thread charges them; until its answer, the process's other threads ask Redis too.
            already_served, bucket.served, bucket.allowance = bucket.served, 0, 0
    result = hit(key, rate, already_served=already_served)
    allowance = min(LOCAL_MAX_BATCH, result.remaining // LOCAL_SHARE) if result.remaining >= LOCAL_MIN_REMAINING else 0
    with _local_lock:
        previous = _local.get((key, rate))
        _local[(key, rate)] = _LocalBucket(
            served=previous.served if previous is not None else 0,  # nothing is left uncharged by the swap
            synced_at=now,
            remaining=result.remaining,
            allowance=allowance if result.allowed else 0,
            reset_at=now + result.reset,
            refused_until=now + result.retry_after if not result.allowed else 0.0,
        )
        _local.move_to_end((key, rate))
        while len(_local) > _LOCAL_MAX_KEYS:
            _local.popitem(last=False)
    return result


def forget_local_counts() -> None:
    """Drop what this process counted on its own (tests that empty Redis between them)."""
    with _local_lock:
        _local.clear()


def client_ip(request: HttpRequest) -> str:
    """The client's address: REMOTE_ADDR, or behind `TRUSTED_PROXIES` reverse proxies the address the outermost one
    saw (the entry that many places from the right of X-Forwarded-For). A client can prepend anything it likes to
    X-Forwarded-For, so entries further left are never trusted. IPv6 clients count per /64, the block one subscriber
    gets: otherwise each of a client's 2**64 addresses would have a limit of its own."""
    address = request.META.get("REMOTE_ADDR", "")
    proxies = settings.TRUSTED_PROXIES
    if proxies:
        forwarded = [part.strip() for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if part.strip()]
        if len(forwarded) >= proxies:
            address = forwarded[-proxies]
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address or "unknown"
    if ip.version == 6:
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.ip_network(f"{ip}/64", strict=False))
    return str(ip)


def hit_client(request: HttpRequest, scope: str, rate: str | Rate) -> Result:
    """Count one request of `scope` for this client (by address) and remember it for the response's headers."""
    result = hit(f"{scope}:{client_ip(request)}", rate if isinstance(rate, Rate) else Rate.parse(rate))
    remember(request, result)
    return result


def remember(request: HttpRequest, result: Result) -> None:
    """Keep the tightest result for the response's RateLimit headers (the middleware writes them)."""
    request = getattr(request, "_request", request)  # a DRF Request wraps Django's
    current = getattr(request, "rate_limit", None)
    if current is None or result.remaining < current.remaining or not result.allowed:
        request.rate_limit = result
