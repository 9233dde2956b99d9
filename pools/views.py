"""Public pages: thin views that call a selector and render."""

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from pools.selectors.pools import pool_list_public
from pools.services.health import system_health

POOLS_PER_PAGE = 24


@require_GET
def pool_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    page = Paginator(pool_list_public(search=search), POOLS_PER_PAGE).get_page(request.GET.get("page"))
    return render(request, "pools/pool_list.html", {"page": page, "search": search})


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """Every part of the stack, "ok" or a reason; HTTP 503 unless all are ok (for load balancers and compose)."""
    report = system_health()
    return JsonResponse(report, status=200 if report["status"] == "ok" else 503, json_dumps_params={"indent": 2})
