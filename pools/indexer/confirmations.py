"""Confirmations: a deposit counts once `pool.confirmations` blocks are on top of its own."""

from __future__ import annotations

from django.db.models import F, Value

from pools.models import Deposit


def confirm_deposits(*, chain_id: int, head: int) -> tuple[int, set[int]]:
    """Mark PENDING deposits with enough blocks on top as CONFIRMED; returns (how many, their pools' ids).

    Only called for blocks already indexed and checked against the chain in the same transaction.
    """
    due = Deposit.objects.filter(
        chain_id=chain_id,
        status=Deposit.Status.PENDING,
        block_number__lte=Value(head) - F("pool__confirmations"),
    )
    pool_ids = set(due.values_list("pool_id", flat=True).distinct())
    if not pool_ids:
        return 0, set()
    return due.update(status=Deposit.Status.CONFIRMED), pool_ids
