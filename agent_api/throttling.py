"""Rate limits per API key (anonymous callers: per client address), counted in the Redis-backed cache.

Rates come from REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], read at each request so a settings change applies.
"""

from __future__ import annotations

import logging

from rest_framework.settings import api_settings
from rest_framework.throttling import SimpleRateThrottle

from agent_api.models import ApiKey

logger = logging.getLogger(__name__)


class ApiKeyRateThrottle(SimpleRateThrottle):
    """`agent` rate per API key, `anon` rate per client address; a view may set `throttle_scopes` (method → scope)
    for a tighter agent rate, e.g. {"POST": "agent_trigger"} for launch and refund requests."""

    def __init__(self):
        # The rate depends on the request (agent or anonymous): parsed in allow_request, not here.
        pass

    def get_rate(self) -> str | None:
        return api_settings.DEFAULT_THROTTLE_RATES.get(self.scope)

    def get_cache_key(self, request, view) -> str | None:
        if isinstance(request.auth, ApiKey):
            return self.cache_format % {"scope": self.scope, "ident": f"key{request.auth.pk}"}
        return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}

    def allow_request(self, request, view) -> bool:
        if isinstance(request.auth, ApiKey):
            self.scope = getattr(view, "throttle_scopes", {}).get(request.method, "agent")
        else:
            self.scope = "anon"
        self.rate = self.get_rate()
        self.num_requests, self.duration = self.parse_rate(self.rate)
        try:
            return super().allow_request(request, view)
        except Exception:  # noqa: BLE001 - a cache outage must not take the API down with it
            logger.warning("throttle cache unavailable; letting the request through", exc_info=True)
            return True
