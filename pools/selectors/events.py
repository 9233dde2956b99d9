"""Reads of pools' events (PoolEvent, the outbox pools/services/events.py records): an agent's, in id order, for its
event stream and anyone who polls."""

from __future__ import annotations

from django.db.models import BooleanField, Max, QuerySet
from django.db.models.expressions import RawSQL

from pools.models import PoolEvent

# An event is settled when no transaction that could still commit an event with a smaller id is open: its recording
# transaction is older than every open one (then everything recorded before it is committed or rolled back), or it
# is the reader's own. Ids come from a sequence at insert, so without this a reader that saw id 101 (committed) would
# resume after it and skip 100, committed a moment later by a transaction that started first.
_SETTLED = RawSQL(  # noqa: S611 - the table name from the model, no input
    f'("{PoolEvent._meta.db_table}"."txid" < txid_snapshot_xmin(txid_current_snapshot())'
    f' OR "{PoolEvent._meta.db_table}"."txid" = txid_current_if_assigned())',
    [],
    output_field=BooleanField(),
)


def _settled() -> QuerySet[PoolEvent]:
    return PoolEvent.objects.alias(settled=_SETTLED).filter(settled=True)


def pool_events_for_agent(*, agent_id: int, after_id: int, limit: int) -> QuerySet[PoolEvent]:
    """The agent's pools' settled events with an id above `after_id`, oldest first, at most `limit` of them.

    "After the last id I saw" resumes exactly: an event whose transaction may still be followed by a commit of a
    smaller id is held back until it is not (a delay of one open transaction, never a gap)."""
    return _settled().filter(pool__agent_id=agent_id, pk__gt=after_id).order_by("pk")[:limit]


def pool_event_latest_id() -> int:
    """The newest settled event id of any pool (0 when none): where a stream that wants new events only starts."""
    return _settled().aggregate(latest=Max("pk"))["latest"] or 0
