"""What happened to a pool, recorded as PoolEvent rows in the caller's transaction (an outbox).

Recording is all pools does: the `pool_events_recorded` signal tells whoever listens (agent_api turns events into
webhook deliveries), and the rows stay for anyone who reads them later. Amounts are decimal strings.
"""

from __future__ import annotations

from django.db import connection

from pools.models import Deposit, Pool, PoolEvent
from pools.signals import pool_events_recorded

Kind = PoolEvent.Kind

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


def deposits_credited(*, pool: Pool, deposits: list[Deposit]) -> None:
    """One deposit.credited event per deposit, in chain order, with the amounts as they are now in the database."""
    if not deposits:
        return
    with connection.cursor() as cursor:
        cursor.execute(_DEPOSITS_CREDITED_SQL, [Kind.DEPOSIT_CREDITED, pool.pk, [deposit.pk for deposit in deposits]])
        event_ids = [row[0] for row in cursor.fetchall()]
    _recorded(pool=pool, kind=Kind.DEPOSIT_CREDITED, event_ids=event_ids)


def pool_closed(*, pool: Pool) -> None:
    closed_at = pool.closed_at.isoformat() if pool.closed_at else None
    _record(pool=pool, kind=Kind.POOL_CLOSED, payload={"raised": str(pool.raised), "closed_at": closed_at})


def pool_launched(*, pool: Pool, token: str, pair: str, claim_vault: str) -> None:
    payload = {"token_address": token, "pair_address": pair, "claim_vault_address": claim_vault}
    _record(pool=pool, kind=Kind.POOL_LAUNCHED, payload=payload)


def pool_refunded(*, pool: Pool, refunded_total: int) -> None:
    _record(pool=pool, kind=Kind.POOL_REFUNDED, payload={"refunded_total": str(refunded_total)})


def pool_refunds_waiting(*, pool: Pool, code: str, reason: str) -> None:
    since = pool.waiting_since.isoformat() if pool.waiting_since else None
    _record(pool=pool, kind=Kind.POOL_REFUNDS_WAITING, payload={"code": code, "reason": reason, "since": since})
