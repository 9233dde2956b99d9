"""The health report; the public pages are in the `web` app."""

from django.conf import settings
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pools import ratelimit
from pools.services.health import health_detail_allowed, health_summary, system_health, system_health_recent


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """ "ok" or "error" for everyone; each part with its reason for staff and HEALTHZ_TOKEN holders. HTTP 503 when a
    part is down (for load balancers and compose), 200 when only warnings (a stuck job) need a look: taking the web
    tier out would not get them unstuck."""
    limit = ratelimit.hit_client(request, "healthz", settings.HEALTHZ_RATE)
    if not limit.allowed:
        message = f"Too many health checks from your address: try again in {limit.retry_after_seconds} s."
        return JsonResponse({"error": message, "code": "rate_limited"}, status=429)
    user = getattr(request, "user", None)
    detailed = health_detail_allowed(
        is_staff=bool(user and user.is_active and user.is_staff),
        authorization=request.headers.get("Authorization", ""),
    )
    # Staff and token holders see the parts as they are now; everyone else a summary at most a few seconds old.
    report = system_health() if detailed else system_health_recent(max_age_seconds=settings.HEALTHZ_SUMMARY_MAX_AGE)
    status = 200 if report["status"] == "ok" else 503
    return JsonResponse(
        report if detailed else health_summary(report=report), status=status, json_dumps_params={"indent": 2}
    )
