"""Which ETH pools are not fully watched because the RPC does not serve call traces (see pools/indexer/trace_gaps.py).

Read by /healthz, the admin and the pool's page: one or two small queries each.
"""

from __future__ import annotations

from dataclasses import dataclass

from pools.indexer.constants import WATCHED_STATUSES
from pools.models import Pool, TraceGap

# What an operator does about it, wherever it is shown.
TRACES_FIX = (
    "use an RPC that serves debug_traceBlockByHash and debug_traceTransaction with the callTracer: "
    "docs/real-network.md, The RPC"
)


@dataclass(frozen=True)
class UnwatchedPool:
    pool_id: int
    pool: str
    since_block: int  # the first block indexed without traces
    reason: str  # what the RPC answered


def pools_without_traces(*, chain_id: int) -> list[UnwatchedPool]:
    """The ETH pools, still watched, whose internal transfers (ETH sent by contracts) are not seen right now."""
    gap = TraceGap.objects.filter(chain_id=chain_id, last_block__isnull=True).first()
    if gap is None:
        return []
    pools = gap.pools.filter(status__in=WATCHED_STATUSES).order_by("id").values_list("id", "name")
    return [UnwatchedPool(pool_id=i, pool=name, since_block=gap.first_block, reason=gap.reason) for i, name in pools]


def pool_traces_unwatched_since(*, pool: Pool) -> int | None:
    """The block from which ETH that contracts send to this pool is not seen, or None while it is watched."""
    if not pool.is_native:
        return None
    return (
        TraceGap.objects.filter(chain_id=pool.chain_id, last_block__isnull=True, pools=pool)
        .values_list("first_block", flat=True)
        .first()
    )


def pool_trace_gaps(*, pool: Pool) -> list[TraceGap]:
    """Every range of blocks in which this pool's internal transfers were not watched, newest first."""
    return list(pool.trace_gaps.order_by("-first_block"))
