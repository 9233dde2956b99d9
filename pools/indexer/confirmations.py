"""Confirmations: a deposit counts once `pool.confirmations` blocks are on top of its own AND its block is at or
below the chain's CHAIN_CONFIRMATION_TAG block ("safe" or "finalized" on a real network, "latest" locally)."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F, Value

from chain.rpc import JsonRpc, hex_int
from pools.models import Deposit


def final_block(*, rpc: JsonRpc, head: int) -> int:
    """The newest block the node calls CHAIN_CONFIRMATION_TAG, never above `head`; -1 when it has none yet (a young
    chain has no finalized block). With "latest" it is `head` itself, and nothing is asked."""
    tag = settings.CHAIN_CONFIRMATION_TAG
    if tag == "latest":
        return head
    block = rpc.call("eth_getBlockByNumber", [tag, False])
    return min(head, hex_int(block["number"])) if block else -1


def confirm_deposits(*, chain_id: int, head: int, final: int | None = None) -> tuple[int, set[int]]:
    """Mark PENDING deposits with enough blocks on top, in a block at or below `final` (the tag's block; `head` when
    not given), as CONFIRMED; returns (how many, their pools' ids).

    Only called for blocks already indexed and checked against the chain in the same transaction.
    """
    due = Deposit.objects.filter(
        chain_id=chain_id,
        status=Deposit.Status.PENDING,
        block_number__lte=Value(head) - F("pool__confirmations"),
    ).filter(block_number__lte=head if final is None else final)
    pool_ids = set(due.values_list("pool_id", flat=True).distinct())
    if not pool_ids:
        return 0, set()
    return due.update(status=Deposit.Status.CONFIRMED), pool_ids
