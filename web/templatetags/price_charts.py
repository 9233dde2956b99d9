"""`{% price_summary pool as summary %}`: the last hour of a launched pool's price in words, for the chart's partial,
which is included from pages (the pool page, its live fragment, the dashboard) whose views do not know about it."""

from __future__ import annotations

from django import template

from pools.models import Pool
from web.charts import Summary, recent_snapshots, recent_summary

register = template.Library()


@register.simple_tag
def price_summary(pool: Pool) -> Summary | None:
    """From the dashboard's prefetched snapshots when there are some, else one query."""
    return recent_summary(pool=pool, snapshots=recent_snapshots(pool=pool))
