"""The signals pools sends. Receivers live in the rooms that care (agent_api's webhooks), never here."""

from django.dispatch import Signal

# Sent inside the database transaction that recorded them, with `pool`, `kind` and `event_ids` (the new PoolEvent
# rows, oldest first). A receiver must not raise: what it does is its own room's business and cannot undo the pool's
# change.
pool_events_recorded = Signal()
