"""The ChainIndexer: owns one chain's cursor, block window and confirmations, and runs the deposit indexers.

One cursor per chain, shared by the three deposit indexers: a window is indexed by all of them or by none, so a
reorganisation rewinds one number and a window's blocks, transactions, traces and logs are checked against the
same block hashes.

One exception: a node that does not serve call traces (a plain public RPC) answers "method not found" for ever,
and stopping there would stop every pool, ETH and ERC-20 alike. The window is then indexed without the internal
transfers, and the blocks it covered are recorded as a TraceGap (pools/indexer/trace_gaps.py) for /healthz, the
admin and the pool's page. Any other error still leaves the window to be retried.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.utils import timezone

from chain.errors import ChainError, RpcMethodUnsupported, RpcResponseTooLarge, RpcTimeout
from chain.rpc import JsonRpc, hex_int
from pools.indexer.base import BlockWindow, ChainBlocks, DepositIndexer, FoundDeposit, WatchedPools, WindowFindings
from pools.indexer.blocks import fetch_blocks
from pools.indexer.confirmations import confirm_deposits, final_block
from pools.indexer.constants import KEEP_BLOCKS, MIN_WINDOW
from pools.indexer.erc20 import Erc20TransferIndexer
from pools.indexer.errors import ChainChangedDuringFetch
from pools.indexer.internal import InternalTransferIndexer
from pools.indexer.native import NativeTxIndexer
from pools.indexer.reorg import check_reorgs, recover_from_reorg
from pools.indexer.trace_gaps import gap_to_retrace, mark_retraced, record_traces, retrace_window, retraced_pools
from pools.indexer.window import ceiling_after_refusal, ceiling_in_force, next_window, shrunk
from pools.models import ChainTransaction, Deposit, IndexedBlock, IndexerCursor
from pools.services.crediting import pool_recompute_credits

logger = logging.getLogger(__name__)


def default_indexers() -> list[DepositIndexer]:
    return [NativeTxIndexer(), InternalTransferIndexer(), Erc20TransferIndexer()]


@dataclass
class StepOutcome:
    """What one step did: at most one window indexed, or one reorganisation recovered."""

    head: int
    window: BlockWindow | None = None
    deposits_found: int = 0
    deposits_new: int = 0
    confirmed: int = 0
    reorg_from: int | None = None
    pools_recomputed: set[int] = field(default_factory=set)
    window_shrunk: bool = False
    chain_changed: bool = False
    caught_up: bool = False
    traces_refused: bool = False  # the window was indexed without call traces (the node does not serve them)

    @property
    def progressed(self) -> bool:
        return self.window is not None or self.reorg_from is not None or self.window_shrunk


class ChainIndexer:
    """Indexes deposits on one chain, a window of blocks per step."""

    def __init__(self, *, chain_id: int, rpc: JsonRpc, indexers: Sequence[DepositIndexer] | None = None) -> None:
        self.chain_id = chain_id
        self.rpc = rpc
        self.indexers = list(indexers) if indexers is not None else default_indexers()

    # --- reading (no database writes; the benchmark times these alone) -------------------------------------------

    def head(self) -> int:
        return hex_int(self.rpc.call("eth_blockNumber"))

    def _active(self, pools: WatchedPools) -> list[DepositIndexer]:
        return [indexer for indexer in self.indexers if indexer.watches(pools)]

    def fetch_window(
        self, *, window: BlockWindow, pools: WatchedPools, parent_hash: str | None = None
    ) -> tuple[ChainBlocks, list[tuple[DepositIndexer, object]], str]:
        """The window's blocks, each active indexer's relevant elements in it, and the node's refusal of call traces
        ("" if served or not asked). Only a trace method the node lacks is done without; any other error raises."""
        active = self._active(pools)
        blocks = fetch_blocks(
            rpc=self.rpc,
            window=window,
            full_transactions=any(indexer.needs_transactions for indexer in active),
            parent_hash=parent_hash,
        )
        found, refused = [], ""
        for indexer in active:
            try:
                found.append((indexer, indexer.find_relevant_elements(rpc=self.rpc, pools=pools, blocks=blocks)))
            except RpcMethodUnsupported as exc:
                if not indexer.reads_traces:
                    raise
                refused = str(exc)
        return blocks, found, refused

    def find_deposits(
        self, *, window: BlockWindow, pools: WatchedPools, parent_hash: str | None = None
    ) -> WindowFindings:
        blocks, found, refused = self.fetch_window(window=window, pools=pools, parent_hash=parent_hash)
        deposits = [
            deposit
            for indexer, elements in found
            for deposit in indexer.process_elements(pools=pools, blocks=blocks, elements=elements)
        ]
        traces_asked = any(indexer.reads_traces for indexer in self._active(pools))
        return WindowFindings(blocks=blocks, deposits=deposits, traces_asked=traces_asked, traces_refused=refused)

    # --- writing (inside the caller's transaction, which holds the cursor's row lock) ----------------------------

    def _not_ours(self, deposits: list[FoundDeposit]) -> list[FoundDeposit]:
        """Leave out transfers our own transactions made (gas top-ups from the gas account): they are not deposits.

        Every transaction we send is persisted with its hash before it is broadcast, so it is known here.
        """
        hashes = {deposit.tx_hash for deposit in deposits}
        if not hashes:
            return deposits
        ours = set(
            ChainTransaction.objects.filter(chain_id=self.chain_id, tx_hash__in=hashes).values_list(
                "tx_hash", flat=True
            )
        )
        return [deposit for deposit in deposits if deposit.tx_hash not in ours]

    def store(self, *, blocks: ChainBlocks, deposits: list[FoundDeposit]) -> int:
        """Insert the deposits (a key seen before is left as it is) and the blocks' hashes; returns how many new.

        The count is exact while the cursor lock serialises indexers; the rows are right regardless.
        """
        window = blocks.window
        new = self._insert_deposits(window=window, deposits=deposits)
        kept_from = max(window.first, window.last - KEEP_BLOCKS + 1)
        IndexedBlock.objects.bulk_create(
            [
                IndexedBlock(
                    chain_id=self.chain_id,
                    number=number,
                    hash=blocks.headers[number].hash,
                    parent_hash=blocks.headers[number].parent_hash,
                    timestamp=datetime.fromtimestamp(blocks.headers[number].timestamp, tz=UTC),
                )
                for number in range(kept_from, window.last + 1)
            ],
            update_conflicts=True,
            unique_fields=["chain_id", "number"],
            update_fields=["hash", "parent_hash", "timestamp"],
        )
        IndexedBlock.objects.filter(chain_id=self.chain_id, number__lte=window.last - KEEP_BLOCKS).delete()
        return new

    def _insert_deposits(self, *, window: BlockWindow, deposits: list[FoundDeposit]) -> int:
        deposits = self._not_ours(deposits)
        if not deposits:
            return 0
        in_window = Deposit.objects.filter(chain_id=self.chain_id, block_number__range=(window.first, window.last))
        before = in_window.count()
        # ON CONFLICT DO NOTHING on (chain id, tx hash, position): the exactly-once key.
        Deposit.objects.bulk_create(
            [deposit.to_model(chain_id=self.chain_id) for deposit in deposits], ignore_conflicts=True, batch_size=1000
        )
        return in_window.count() - before

    def _parent_hash(self, cursor: IndexerCursor) -> str | None:
        return (
            IndexedBlock.objects.filter(chain_id=self.chain_id, number=cursor.last_block)
            .values_list("hash", flat=True)
            .first()
        )

    def step(self, *, cursor: IndexerCursor, max_blocks: int | None = None) -> StepOutcome:
        """Recover from a reorganisation, or index the next window; then confirm what has enough blocks on top."""
        outcome = StepOutcome(head=self.head())
        first_bad = check_reorgs(rpc=self.rpc, cursor=cursor, head=outcome.head)
        if first_bad is not None:
            outcome.reorg_from = first_bad
            outcome.pools_recomputed = recover_from_reorg(cursor=cursor, first_bad_block=first_bad)
            return outcome
        if cursor.last_block < outcome.head:
            self._index_next_window(cursor=cursor, outcome=outcome, max_blocks=max_blocks)
            if outcome.window is None:
                return outcome  # nothing written: shrunk the window, or the chain moved under the fetch
        if not outcome.traces_refused:
            self._retrace_gap(cursor=cursor, outcome=outcome)
        final = final_block(rpc=self.rpc, head=outcome.head)
        cursor.head, cursor.final_block = outcome.head, final
        cursor.save(update_fields=["last_block", "window", "head", "final_block", "updated_at"])
        outcome.confirmed, confirmed_pools = confirm_deposits(chain_id=self.chain_id, head=outcome.head, final=final)
        for pool_id in sorted(confirmed_pools):  # a fixed order, so two transactions never lock pools crosswise
            pool_recompute_credits(pool_id=pool_id)
        outcome.pools_recomputed |= confirmed_pools
        outcome.caught_up = cursor.last_block >= outcome.head
        return outcome

    def _retrace_gap(self, *, cursor: IndexerCursor, outcome: StepOutcome) -> None:
        """Trace a few blocks that were indexed without traces, now that the node serves them again. Never stops
        indexing: on any chain error the same blocks are tried at the next step."""
        tracer = next((indexer for indexer in self.indexers if indexer.reads_traces), None)
        gap = gap_to_retrace(chain_id=self.chain_id) if tracer is not None else None
        window = retrace_window(gap=gap, through=cursor.last_block) if gap is not None else None
        if window is None:
            return
        pools = retraced_pools(gap=gap)
        if pools:
            try:
                blocks = fetch_blocks(rpc=self.rpc, window=window, full_transactions=False)
                if not self._as_indexed(blocks):
                    raise ChainChangedDuringFetch(f"blocks {window.first}..{window.last} are not the ones indexed")
                elements = tracer.find_relevant_elements(rpc=self.rpc, pools=pools, blocks=blocks)
            except ChainError as exc:
                logger.info(
                    "chain %s: tracing blocks %s..%s again failed: %s", self.chain_id, window.first, window.last, exc
                )
                return
            deposits = tracer.process_elements(pools=pools, blocks=blocks, elements=elements)
            outcome.deposits_found += len(deposits)
            outcome.deposits_new += self._insert_deposits(window=window, deposits=deposits)
        mark_retraced(gap=gap, window=window, pools=pools)

    def _as_indexed(self, blocks: ChainBlocks) -> bool:
        """Whether the blocks are those indexed at these heights (those whose hashes are still kept)."""
        window = blocks.window
        kept = IndexedBlock.objects.filter(chain_id=self.chain_id, number__range=(window.first, window.last))
        return all(blocks.is_canonical(number, block_hash) for number, block_hash in kept.values_list("number", "hash"))

    def _index_next_window(self, *, cursor: IndexerCursor, outcome: StepOutcome, max_blocks: int | None) -> None:
        first = cursor.last_block + 1
        size = cursor.window if max_blocks is None else min(cursor.window, max_blocks)
        window = BlockWindow(first, min(outcome.head, first + size - 1))
        pools = WatchedPools.load(chain_id=self.chain_id)
        started = time.monotonic()
        try:
            findings = self.find_deposits(window=window, pools=pools, parent_hash=self._parent_hash(cursor))
        except (RpcResponseTooLarge, RpcTimeout) as exc:
            if len(window) <= MIN_WINDOW:
                raise
            cursor.window = shrunk(len(window))
            if isinstance(exc, RpcResponseTooLarge):
                cursor.window_ceiling, cursor.window_ceiling_at = ceiling_after_refusal(len(window)), timezone.now()
            cursor.save(update_fields=["window", "window_ceiling", "window_ceiling_at", "updated_at"])
            logger.info("chain %s: %s blocks too many (%s); now %s", self.chain_id, len(window), exc, cursor.window)
            outcome.window_shrunk = True
            return
        except ChainChangedDuringFetch as exc:
            # The next step's check_reorgs finds the fork point, if there is one.
            logger.info("chain %s changed while fetching blocks %s..%s: %s", self.chain_id, first, window.last, exc)
            outcome.chain_changed = True
            return
        outcome.deposits_new = self.store(blocks=findings.blocks, deposits=findings.deposits)
        outcome.deposits_found = len(findings.deposits)
        outcome.window = window
        if findings.traces_asked:
            record_traces(chain_id=self.chain_id, window=window, pools=pools, refused=findings.traces_refused)
            outcome.traces_refused = bool(findings.traces_refused)
        cursor.last_block = window.last
        cursor.window = next_window(
            window=cursor.window,
            elapsed=time.monotonic() - started,
            full=len(window) == cursor.window,
            ceiling=ceiling_in_force(
                ceiling=cursor.window_ceiling, set_at=cursor.window_ceiling_at, now=timezone.now()
            ),
        )
