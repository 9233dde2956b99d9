"""Indexing deposits on a chain: the one entry point for the beat task, the tests and the benchmark.

Concurrency: each step runs in its own transaction holding the chain cursor's row lock (SELECT ... FOR UPDATE SKIP
LOCKED), so a second indexer on the same chain does nothing while the first works, and a crash loses at most the
window in flight. Even without the lock nothing would be credited twice: a deposit's key (chain id, tx hash,
position) is unique and inserted with ON CONFLICT DO NOTHING, and crediting is recomputed from the rows.

An RPC that does not serve call traces stops nothing: indexing goes on without internal transfers and says so
(pools/indexer/trace_gaps.py); every other RPC error ends the call, and the next beat retries the same window.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from chain.errors import ChainError, ChainIdMismatch
from chain.rpc import JsonRpc, hex_int, json_rpc
from pools.indexer.base import WatchedPools
from pools.indexer.chain import ChainIndexer, StepOutcome
from pools.indexer.constants import KEEP_BLOCKS, RECONCILE_EVERY_SECONDS, TIME_BUDGET_SECONDS
from pools.indexer.reconcile import reconcile_balances
from pools.models import IndexerCursor, Pool

logger = logging.getLogger(__name__)

# Steps in a row that move nothing (the chain changing under every fetch) before a run gives up until next time.
MAX_IDLE_STEPS = 3


@dataclass
class IndexReport:
    """What one index_chain call did."""

    chain_id: int
    head: int = -1
    first_block: int | None = None  # the first block indexed by this call
    last_block: int = -1  # the cursor when the call ended
    blocks: int = 0
    deposits_found: int = 0
    deposits_new: int = 0
    confirmed: int = 0
    reorgs: list[int] = field(default_factory=list)  # first block forgotten, per reorganisation
    pools_recomputed: set[int] = field(default_factory=set)
    pools_reconciled: int = 0
    window: int = 0  # the cursor's window size when the call ended
    windows: list[tuple[int, int]] = field(default_factory=list)  # (first, last) of each window indexed
    skipped: bool = False  # another indexer held the cursor
    caught_up: bool = False

    def add(self, outcome: StepOutcome) -> None:
        self.head = outcome.head
        if outcome.window is not None:
            if self.first_block is None:
                self.first_block = outcome.window.first
            self.blocks += len(outcome.window)
            self.windows.append((outcome.window.first, outcome.window.last))
        self.deposits_found += outcome.deposits_found
        self.deposits_new += outcome.deposits_new
        self.confirmed += outcome.confirmed
        if outcome.reorg_from is not None:
            self.reorgs.append(outcome.reorg_from)
        self.pools_recomputed |= outcome.pools_recomputed
        self.caught_up = outcome.caught_up


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cycle collector off for one step. A window's blocks, receipts and traces (hundreds of thousands of
    objects) stay alive while its deposits are stored and credited, and every collection the step's allocations
    trigger walks them again: 0.3 s of a 10,000-deposit window, against 0.03 s while merely fetching it
    (bench/indexing.py). The step frees them by reference counting; the collector resumes after it."""
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _ensure_cursor(*, chain_id: int, head: int) -> None:
    """A new chain starts a little behind its head, so a pool scheduled just before the first run is covered."""
    start = max(0, head - KEEP_BLOCKS)
    IndexerCursor.objects.get_or_create(chain_id=chain_id, defaults={"last_block": start - 1, "first_block": start})


def index_chain(
    *,
    chain_id: int,
    max_blocks: int | None = None,
    time_budget: float = TIME_BUDGET_SECONDS,
    rpc: JsonRpc | None = None,
) -> IndexReport:
    """Index deposits on `chain_id` up to its head (or `max_blocks` blocks, or until the time budget is spent),
    confirm those with enough blocks on top, recompute the pools they changed, and reconcile balances."""
    rpc = rpc or json_rpc()
    served = hex_int(rpc.call("eth_chainId"))
    if served != chain_id:
        raise ChainIdMismatch(f"the RPC serves chain {served}, not chain {chain_id}: refusing to index it")
    indexer = ChainIndexer(chain_id=chain_id, rpc=rpc)
    _ensure_cursor(chain_id=chain_id, head=indexer.head())
    report = IndexReport(chain_id=chain_id)
    started, idle = time.monotonic(), 0
    while time.monotonic() - started < time_budget and idle < MAX_IDLE_STEPS:
        remaining = None if max_blocks is None else max_blocks - report.blocks
        if remaining is not None and remaining <= 0:
            break
        with transaction.atomic(), _collector_paused():
            cursor = IndexerCursor.objects.select_for_update(skip_locked=True).filter(chain_id=chain_id).first()
            if cursor is None:
                report.skipped = True  # another indexer is at work on this chain; it will do this
                break
            outcome = indexer.step(cursor=cursor, max_blocks=remaining)
            report.last_block, report.window = cursor.last_block, cursor.window
        report.add(outcome)
        idle = 0 if outcome.progressed else idle + 1
        if outcome.caught_up:
            break
    if not report.skipped:
        report.pools_reconciled = _reconcile(rpc=rpc, chain_id=chain_id, changed=report.pools_recomputed)
    return report


def _reconcile(*, rpc: JsonRpc, chain_id: int, changed: set[int]) -> int:
    """Reconcile the pools that changed, and the others now and then. A failure here never stops indexing."""
    pools = WatchedPools.load(chain_id=chain_id).all
    stale = set(
        Pool.objects.filter(pk__in=[pool.id for pool in pools])
        .exclude(balance_checked_at__gt=timezone.now() - timedelta(seconds=RECONCILE_EVERY_SECONDS))
        .values_list("id", flat=True)
    )
    due = [pool for pool in pools if pool.id in changed or pool.id in stale]
    if not due:
        return 0
    try:
        with transaction.atomic():
            cursor = IndexerCursor.objects.select_for_update(skip_locked=True).filter(chain_id=chain_id).first()
            if cursor is None:
                return 0
            return len(reconcile_balances(rpc=rpc, cursor=cursor, pools=due))
    except ChainError as exc:
        logger.warning("chain %s: balance reconciliation skipped: %s", chain_id, exc)
        return 0
