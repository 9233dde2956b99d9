"""What happened to a pool, recorded as PoolEvent rows in the caller's transaction (an outbox).

Recording is all pools does: the `pool_events_recorded` signal tells whoever listens (agent_api turns events into
webhook deliveries), and the rows stay for anyone who reads them later. Amounts are decimal strings.
"""

from __future__ import annotations

from pools.models import Deposit, Pool, PoolEvent
from pools.signals import pool_events_recorded

Kind = PoolEvent.Kind


def _record(*, pool: Pool, kind: str, payloads: list[dict]) -> list[PoolEvent]:
    events = PoolEvent.objects.bulk_create([PoolEvent(pool=pool, kind=kind, payload=payload) for payload in payloads])
    pool_events_recorded.send(sender=PoolEvent, events=events)
    return events


def deposits_credited(*, pool: Pool, deposits: list[Deposit]) -> None:
    if not deposits:
        return
    payloads = [
        {
            "deposit_id": deposit.pk,
            "tx_hash": deposit.tx_hash,
            "sender": deposit.sender,
            "amount": str(deposit.amount),
            "credited_amount": str(deposit.credited_amount),
        }
        for deposit in deposits
    ]
    _record(pool=pool, kind=Kind.DEPOSIT_CREDITED, payloads=payloads)


def pool_closed(*, pool: Pool) -> None:
    closed_at = pool.closed_at.isoformat() if pool.closed_at else None
    _record(pool=pool, kind=Kind.POOL_CLOSED, payloads=[{"raised": str(pool.raised), "closed_at": closed_at}])


def pool_launched(*, pool: Pool, token: str, pair: str, claim_vault: str) -> None:
    payload = {"token_address": token, "pair_address": pair, "claim_vault_address": claim_vault}
    _record(pool=pool, kind=Kind.POOL_LAUNCHED, payloads=[payload])


def pool_refunded(*, pool: Pool, refunded_total: int) -> None:
    _record(pool=pool, kind=Kind.POOL_REFUNDED, payloads=[{"refunded_total": str(refunded_total)}])
