"""Blocks indexed without call traces: when the RPC does not serve them, which ETH pools were not fully watched,
over which blocks, and why; from which block they are watched again once it does; and the gap traced after all.

A TraceGap is open (no last block) from the first window the node refused to trace, and grows with each such
window, gathering the ETH pools watched meanwhile. The first window traced again closes it at the block before.
Then the indexer traces the gap's blocks, a few per step, for the gap's pools whose raise is not yet handed to a
launch: what contracts sent them meanwhile is found and credited by the usual rules, in chain order. A pool
already launching or launched is left out: its raise is fixed, so a deposit found that late would change books
the launch already used; it shows in the pool's balance difference instead (docs/indexer.md).
Called inside the indexing step's transaction, which holds the cursor's lock: one writer per chain.
"""

from __future__ import annotations

import logging

from django.db.models import F, Q
from django.utils import timezone

from pools.indexer.base import BlockWindow, WatchedPool, WatchedPools
from pools.models import Pool, TraceGap

logger = logging.getLogger(__name__)

# Blocks of a gap traced per indexing step: traces are the heaviest reads, and new blocks come first.
RETRACE_BLOCKS = 20
# The pools a deposit found late can still be credited to: their raise is not yet handed to a launch.
RETRACED_STATUSES = (Pool.Status.SCHEDULED, Pool.Status.OPEN, Pool.Status.CLOSED)


def record_traces(*, chain_id: int, window: BlockWindow, pools: WatchedPools, refused: str) -> None:
    """After a window whose ETH pools needed traces: extend the open gap if the node refused them, else close it."""
    if refused:
        _record_untraced(chain_id=chain_id, window=window, pools=pools, reason=refused)
    else:
        _record_traced(chain_id=chain_id, window=window)


def _record_untraced(*, chain_id: int, window: BlockWindow, pools: WatchedPools, reason: str) -> None:
    pool_ids = sorted(pool.id for pool in pools.native.values())
    gap = TraceGap.objects.filter(chain_id=chain_id, last_block__isnull=True).first()
    if gap is None:
        gap = TraceGap.objects.create(chain_id=chain_id, first_block=window.first, reason=reason)
        logger.warning(
            "chain %s: the RPC does not serve call traces (%s): from block %s on, ETH that contracts send to "
            "pools %s is not seen. Use an RPC that serves debug_traceBlockByHash with the callTracer "
            "(docs/real-network.md, The RPC).",
            chain_id,
            reason,
            window.first,
            pool_ids,
        )
    elif window.first < gap.first_block:  # a reorganisation rewound the cursor below where the gap began
        gap.first_block = window.first
        gap.save(update_fields=["first_block"])
    gap.pools.add(*pool_ids)  # a pool already there is left as it is


def _record_traced(*, chain_id: int, window: BlockWindow) -> None:
    gap = TraceGap.objects.filter(chain_id=chain_id, last_block__isnull=True).first()
    if gap is None:
        return
    if window.first <= gap.first_block:
        # A reorganisation rewound the cursor below the gap, and its blocks are now re-indexed with traces.
        gap.delete()
        return
    gap.last_block, gap.ended_at, gap.retraced_through = window.first - 1, timezone.now(), gap.first_block - 1
    gap.save(update_fields=["last_block", "ended_at", "retraced_through"])
    logger.warning(
        "chain %s: the RPC serves call traces again: internal transfers are watched again from block %s. Blocks "
        "%s..%s were indexed without them (pools %s): they are traced now, a few at a time.",
        chain_id,
        window.first,
        gap.first_block,
        gap.last_block,
        sorted(gap.pools.values_list("id", flat=True)),
    )


def gap_to_retrace(*, chain_id: int) -> TraceGap | None:
    """The oldest closed gap whose blocks are not all traced yet."""
    return (
        TraceGap.objects.filter(chain_id=chain_id, last_block__isnull=False, retraced_through__lt=F("last_block"))
        .order_by("first_block")
        .first()
    )


def gap_in_progress(*, chain_id: int) -> bool:
    """Whether a gap is open or not all traced again: a step may then find older deposits after the window's."""
    return (
        TraceGap.objects.filter(chain_id=chain_id)
        .filter(Q(last_block__isnull=True) | Q(retraced_through__lt=F("last_block")))
        .exists()
    )


def retrace_window(*, gap: TraceGap, through: int) -> BlockWindow | None:
    """The gap's next blocks to trace, none above `through` (the cursor: a reorganisation may have rewound it)."""
    first = gap.retraced_through + 1
    last = min(gap.last_block, first + RETRACE_BLOCKS - 1, through)
    return BlockWindow(first, last) if last >= first else None


def retraced_pools(*, gap: TraceGap) -> WatchedPools:
    """The gap's ETH pools whose deposits found now can still be credited."""
    rows = (
        gap.pools.filter(status__in=RETRACED_STATUSES)
        .exclude(deposit_address="")
        .values_list("id", "deposit_address", "confirmations")
    )
    native = {
        address.lower(): WatchedPool(id=i, address=address.lower(), raise_asset="", confirmations=confirmations)
        for i, address, confirmations in rows
    }
    return WatchedPools(native=native)


def mark_retraced(*, gap: TraceGap, window: BlockWindow, pools: WatchedPools) -> None:
    gap.retraced_through = window.last
    gap.save(update_fields=["retraced_through"])
    if window.last >= gap.last_block:
        logger.warning(
            "chain %s: blocks %s..%s, indexed without call traces, are traced now (for pools %s; the others' "
            "internal transfers then show in their balance difference).",
            gap.chain_id,
            gap.first_block,
            gap.last_block,
            sorted(pool.id for pool in pools.native.values()),
        )
