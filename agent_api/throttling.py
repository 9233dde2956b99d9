"""Rate limits per API key (anonymous callers: per client address), counted in Redis (pools/ratelimit).

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read at each request so a settings change applies. Every
answer carries the RateLimit-* headers; a 429 also Retry-After. A client far from its limit is counted locally and
charged to Redis in batches (ratelimit.hit_batched: at most one round trip per LOCAL_MAX_BATCH requests or per
second per process), so a read the cache answers (agent_api/pool_cache.py) costs no round trip at all.
"""

from __future__ import annotations

import functools

from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle

from agent_api.models import ApiKey
from pools import ratelimit


class ApiKeyRateThrottle(BaseThrottle):
    """`agent` rate per API key, `anon` rate per client address; a view may set `throttle_scopes` (method → scope)
    for a tighter agent rate, e.g. {"POST": "agent_trigger"} for launch and refund requests."""

    result: ratelimit.Result | None = None

    def allow_request(self, request, view) -> bool:
        counted = getattr(getattr(request, "_request", request), "anon_rate_counted", None)
        if counted is not None and not isinstance(request.auth, ApiKey):
            self.result = counted  # counted by the cached read's fast path, which then handed the request on
            return counted.allowed
        if isinstance(request.auth, ApiKey):
            scope = getattr(view, "throttle_scopes", {}).get(request.method, "agent")
            self.result = _hit(request, scope, f"key{request.auth.pk}")
        else:
            self.result = _hit(request, "anon", ratelimit.client_ip(request))
        return self.result.allowed

    def wait(self) -> float | None:
        return self.result.retry_after_seconds if self.result and not self.result.allowed else None

    def get_ident(self, request) -> str:
        return ratelimit.client_ip(request)


def count_refused_caller(request) -> bool:
    """Count a request that authentication or permissions refused before the throttle ran (DRF checks those first)
    against the anonymous rate of its address: guessing keys costs a database lookup each, and must be limited too.
    True when the address is over its rate (answer 429 instead)."""
    if getattr(getattr(request, "_request", request), "rate_limit", None) is not None:
        return False  # the throttle ran already: it counted this request
    return not _hit(request, "anon", ratelimit.client_ip(request)).allowed


_rate = functools.lru_cache(maxsize=64)(ratelimit.Rate.parse)


def anonymous_hit(request) -> ratelimit.Result:
    """Count an anonymous request against its address's rate, as the throttle would (for a view's fast path, before
    DRF runs; the throttle then reuses the result instead of counting the request again)."""
    result = _hit(request, "anon", ratelimit.client_ip(request))
    getattr(request, "_request", request).anon_rate_counted = result
    return result


def _hit(request, scope: str, ident: str) -> ratelimit.Result:
    result = ratelimit.hit_batched(f"{scope}:{ident}", _rate(api_settings.DEFAULT_THROTTLE_RATES[scope]))
    ratelimit.remember(request, result)
    return result
