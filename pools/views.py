"""The health report; the public pages are in the `web` app."""

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pools.services.health import system_health


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Every part of the stack, "ok" or a reason; HTTP 503 when one is down (for load balancers and compose), 200 when
    only warnings (a stuck job) need a look: taking the web tier out would not get them unstuck."""
    report = system_health()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503, json_dumps_params={"indent": 2})
