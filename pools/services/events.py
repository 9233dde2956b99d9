"""What happened to a pool, told to its agent's webhooks (agent_api). Sent after the caller's transaction commits;
never raises into the service that emits it."""

from __future__ import annotations

from pools.models import Deposit, Pool


def _emit(*, pool: Pool, event: str, payload: dict) -> None:
    from agent_api.services.webhooks import webhook_emit

    webhook_emit(agent_id=pool.agent_id, event=event, payload={"pool_id": pool.pk, **payload})


def _agent_listens(pool: Pool, event: str) -> bool:
    from agent_api.models import WebhookEndpoint

    return any(event in e.events for e in WebhookEndpoint.objects.filter(agent_id=pool.agent_id, active=True))


def deposits_credited(*, pool: Pool, deposits: list[Deposit]) -> None:
    if not deposits or not _agent_listens(pool, "deposit.credited"):
        return
    for deposit in deposits:
        _emit(
            pool=pool,
            event="deposit.credited",
            payload={
                "deposit_id": deposit.pk,
                "tx_hash": deposit.tx_hash,
                "sender": deposit.sender,
                "amount": str(deposit.amount),
                "credited_amount": str(deposit.credited_amount),
            },
        )


def pool_closed(*, pool: Pool) -> None:
    closed_at = pool.closed_at.isoformat() if pool.closed_at else None
    _emit(pool=pool, event="pool.closed", payload={"raised": str(pool.raised), "closed_at": closed_at})


def pool_launched(*, pool: Pool, token: str, pair: str, claim_vault: str) -> None:
    _emit(
        pool=pool,
        event="pool.launched",
        payload={"token_address": token, "pair_address": pair, "claim_vault_address": claim_vault},
    )


def pool_refunded(*, pool: Pool, refunded_total: int) -> None:
    _emit(pool=pool, event="pool.refunded", payload={"refunded_total": str(refunded_total)})
