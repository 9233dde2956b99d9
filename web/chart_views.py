"""The price chart's data: GET pools/<id>/prices.json?range=1h|24h|7d|all, read by static/js/charts.js."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from web import charts

CACHE_SECONDS = 10  # a snapshot comes once a minute: a chart a few seconds old is as true as a fresh one


def _error(code: str, message: str, *, status: int) -> JsonResponse:
    return JsonResponse({"code": code, "error": message}, status=status)


@cache_control(public=True, max_age=CACHE_SECONDS)
@require_GET
def price_series(request: HttpRequest, pool_id: int) -> JsonResponse:
    """{"range", "unit", "launch_price", "points": [{"time", "price", "oracle_price"}]}, prices as decimal strings."""
    range_name = request.GET.get("range", charts.DEFAULT_RANGE)
    if range_name not in charts.RANGES:
        return _error("bad_range", f"range must be one of {', '.join(charts.RANGES)}.", status=400)
    pool = charts.launched_pool(pool_id=pool_id)
    if pool is None:
        return _error(
            "not_found", "No launched pool with this id: a chart exists once a pool has launched.", status=404
        )
    return JsonResponse(charts.price_series(pool=pool, range_name=range_name).as_json())
