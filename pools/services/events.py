"""What happened to a pool, recorded as PoolEvent rows in the caller's transaction (an outbox).

Recording is all pools does: the `pool_events_recorded` signal tells whoever listens (agent_api turns events into
webhook deliveries, and its event stream reads the rows), and the rows stay for anyone who reads them later. Amounts
are decimal strings.

Every status change of a pool is an event named after the new status (STATUS_EVENTS), recorded by the service that
saves the change, in the same transaction. Its payload starts with {"status", "previous_status", "reason"} and adds
what is specific to it; pool.launch_failed comes just before the pool.refunding of a failed launch.
"""

from __future__ import annotations

from django.db import connection

from pools.models import Deposit, Pool, PoolEvent
from pools.signals import pool_events_recorded

Kind = PoolEvent.Kind
Status = Pool.Status

# The event each status a pool can reach is announced by (tests check that no reachable status lacks one).
STATUS_EVENTS: dict[str, str] = {
    Status.SCHEDULED: Kind.POOL_SCHEDULED,
    Status.OPEN: Kind.POOL_OPENED,
    Status.CLOSED: Kind.POOL_CLOSED,
    Status.LAUNCHING: Kind.POOL_LAUNCHING,
    Status.LAUNCHED: Kind.POOL_LAUNCHED,
    Status.REFUNDING: Kind.POOL_REFUNDING,
    Status.REFUNDED: Kind.POOL_REFUNDED,
    Status.CANCELLED: Kind.POOL_CANCELLED,
}

# One statement for a batch of credited deposits, the payload built by the database: the indexer credits thousands
# of deposits at a time, and building and inserting as many model objects cost seven times as much (bench/indexing).
_DEPOSITS_CREDITED_SQL = f"""
    INSERT INTO {PoolEvent._meta.db_table} (pool_id, kind, payload, created_at)
    SELECT d.pool_id, %s, jsonb_build_object(
        'deposit_id', d.id, 'tx_hash', d.tx_hash, 'sender', d.sender,
        'amount', d.amount::text, 'credited_amount', d.credited_amount::text
    ), now()
    FROM {Deposit._meta.db_table} AS d
    WHERE d.pool_id = %s AND d.id = ANY(%s)
    ORDER BY d.block_number, d.tx_index, d.ordinal, d.id
    RETURNING id
"""  # noqa: S608 - table names from the models, values bound


def _recorded(*, pool: Pool, kind: str, event_ids: list[int]) -> None:
    pool_events_recorded.send(sender=PoolEvent, pool=pool, kind=kind, event_ids=sorted(event_ids))


def _record(*, pool: Pool, kind: str, payload: dict) -> None:
    event = PoolEvent.objects.create(pool=pool, kind=kind, payload=payload)
    _recorded(pool=pool, kind=kind, event_ids=[event.pk])


def _isoformat(moment) -> str | None:
    return moment.isoformat() if moment else None


def _status_change(*, pool: Pool, kind: str, previous_status: str, **facts) -> None:
    """A status change's event: the status as saved, where it came from and why, then its own facts."""
    payload = {"status": pool.status, "previous_status": str(previous_status), "reason": pool.status_reason}
    _record(pool=pool, kind=kind, payload={**payload, **facts})


def deposits_credited(*, pool: Pool, deposits: list[Deposit] = (), deposit_ids: list[int] = ()) -> None:
    """One deposit.credited event per deposit, in chain order, with the amounts as they are now in the database."""
    ids = [deposit.pk for deposit in deposits] + list(deposit_ids)  # ids: the indexer's crediting has no objects
    if not ids:
        return
    with connection.cursor() as cursor:
        cursor.execute(_DEPOSITS_CREDITED_SQL, [Kind.DEPOSIT_CREDITED, pool.pk, ids])
        event_ids = [row[0] for row in cursor.fetchall()]
    _recorded(pool=pool, kind=Kind.DEPOSIT_CREDITED, event_ids=event_ids)


def pool_scheduled(*, pool: Pool, previous_status: str = Status.DRAFT) -> None:
    """DRAFT → SCHEDULED: the deposit address exists and the raise's times are final."""
    _status_change(
        pool=pool,
        kind=Kind.POOL_SCHEDULED,
        previous_status=previous_status,
        deposit_address=pool.deposit_address,
        opens_at=_isoformat(pool.opens_at),
        closes_at=_isoformat(pool.closes_at),
    )


def pool_opened(*, pool: Pool, previous_status: str = Status.SCHEDULED) -> None:
    """SCHEDULED → OPEN: deposits count from now."""
    _status_change(
        pool=pool,
        kind=Kind.POOL_OPENED,
        previous_status=previous_status,
        deposit_address=pool.deposit_address,
        opens_at=_isoformat(pool.opens_at),
        closes_at=_isoformat(pool.closes_at),
    )


def pool_closed(*, pool: Pool, previous_status: str = Status.OPEN) -> None:
    """OPEN → CLOSED (its close time, the hard cap, or an admin's early close)."""
    _status_change(
        pool=pool,
        kind=Kind.POOL_CLOSED,
        previous_status=previous_status,
        raised=str(pool.raised),
        closed_at=_isoformat(pool.closed_at),
    )


def pool_launching(*, pool: Pool, requested_by: str, previous_status: str = Status.CLOSED) -> None:
    """CLOSED → LAUNCHING: the launch was requested; pool.launched or pool.launch_failed follows."""
    _status_change(
        pool=pool,
        kind=Kind.POOL_LAUNCHING,
        previous_status=previous_status,
        requested_by=requested_by,
        raised=str(pool.raised),
    )


def pool_launched(
    *, pool: Pool, token: str, pair: str, claim_vault: str, tx_hash: str = "", previous_status: str = Status.LAUNCHING
) -> None:
    """LAUNCHING → LAUNCHED: the token, its pair and the depositors' claim vault exist."""
    _status_change(
        pool=pool,
        kind=Kind.POOL_LAUNCHED,
        previous_status=previous_status,
        token_address=token,
        pair_address=pair,
        claim_vault_address=claim_vault,
        tx_hash=tx_hash,
    )


def pool_launch_failed(*, pool: Pool, error: str, previous_status: str = Status.LAUNCHING) -> None:
    """The launch was given up (the pool is REFUNDING now; its pool.refunding event follows this one)."""
    _status_change(pool=pool, kind=Kind.POOL_LAUNCH_FAILED, previous_status=previous_status, error=error)


def pool_refunding(*, pool: Pool, previous_status: str) -> None:
    """→ REFUNDING: a missed soft cap, a failed launch, or a late deposit to a refunded pool; every deposit is owed
    back in full."""
    _status_change(pool=pool, kind=Kind.POOL_REFUNDING, previous_status=previous_status, raised=str(pool.raised))


def pool_refunded(*, pool: Pool, refunded_total: int, previous_status: str = Status.REFUNDING) -> None:
    """REFUNDING → REFUNDED: every refund was paid (or set aside for manual handling)."""
    _status_change(
        pool=pool, kind=Kind.POOL_REFUNDED, previous_status=previous_status, refunded_total=str(refunded_total)
    )


def pool_cancelled(*, pool: Pool, previous_status: str) -> None:
    """→ CANCELLED by an admin: every deposit is owed back in full."""
    _status_change(
        pool=pool,
        kind=Kind.POOL_CANCELLED,
        previous_status=previous_status,
        closed_at=_isoformat(pool.closed_at),
        raised=str(pool.raised),
    )


def pool_refunds_waiting(*, pool: Pool, code: str, reason: str) -> None:
    since = pool.waiting_since.isoformat() if pool.waiting_since else None
    _record(pool=pool, kind=Kind.POOL_REFUNDS_WAITING, payload={"code": code, "reason": reason, "since": since})


def refund_batch_paid(*, pool: Pool, tx_hash: str, recipients: int, total_paid: int, still_owed: int) -> None:
    """A refund batch's transaction was confirmed: whom it paid, how much, and what the pool still owes after it.

    Fired for any pool that pays refunds, a launched one's over-cap parts included (no status changes then)."""
    payload = {
        "status": pool.status,
        "tx_hash": tx_hash,
        "recipients": recipients,
        "total_paid": str(total_paid),
        "still_owed": str(still_owed),
    }
    _record(pool=pool, kind=Kind.REFUND_BATCH_PAID, payload=payload)
