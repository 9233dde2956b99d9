"""Reads of pools' events (PoolEvent, the outbox pools/services/events.py records): an agent's, in id order, for its
event stream and anyone who polls."""

from __future__ import annotations

from django.db.models import Max, QuerySet

from pools.models import PoolEvent


def pool_events_for_agent(*, agent_id: int, after_id: int, limit: int) -> QuerySet[PoolEvent]:
    """The agent's pools' events with an id above `after_id`, oldest first, at most `limit` of them.

    Ids only grow, so "after the last id I saw" resumes exactly; the (pool, id) index serves the agent's pools."""
    return PoolEvent.objects.filter(pool__agent_id=agent_id, pk__gt=after_id).order_by("pk")[:limit]


def pool_event_latest_id() -> int:
    """The newest event id of any pool (0 when none): where a stream that wants new events only starts."""
    return PoolEvent.objects.aggregate(latest=Max("pk"))["latest"] or 0
