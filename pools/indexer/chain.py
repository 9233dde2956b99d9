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

from django.db import connection, transaction
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
from pools.indexer.trace_gaps import (
    gap_in_progress,
    gap_to_retrace,
    mark_retraced,
    record_traces,
    retrace_window,
    retraced_pools,
)
from pools.indexer.window import ceiling_after_refusal, ceiling_in_force, next_window, shrunk
from pools.models import ChainTransaction, Deposit, IndexedBlock, IndexerCursor
from pools.services.crediting import StagedDeposit, pool_recompute_credits
from pools.services.pool_state import touch_pools

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
    confirmed_on_insert: set[int] = field(default_factory=set)  # pools with deposits stored confirmed, uncredited

    @property
    def progressed(self) -> bool:
        return self.window is not None or self.reorg_from is not None or self.window_shrunk


@dataclass
class StoredDeposits:
    """What one insert of found deposits wrote: new rows, of which already confirmed, and the latter's pools."""

    new: int = 0
    confirmed: int = 0
    confirmed_pools: set[int] = field(default_factory=set)  # stored CONFIRMED, not credited yet: to recompute
    credited_pools: set[int] = field(default_factory=set)  # stored CONFIRMED and credited at once


_FOUND_TABLE = "indexer_found_deposit"
_FOUND_COLUMNS = (
    "pool_id, tx_hash, position, kind, sender, amount, block_number, block_hash, tx_index, ordinal, "
    "block_timestamp, status, credited_amount, refund_amount, refund_reason"
)
_CREATE_FOUND_TABLE = f"""
    CREATE TEMPORARY TABLE {_FOUND_TABLE} (
        pool_id bigint, tx_hash text, position text, kind text, sender text, amount numeric(78, 0),
        block_number bigint, block_hash text, tx_index bigint, ordinal bigint, block_timestamp bigint, status text,
        credited_amount numeric(78, 0), refund_amount numeric(78, 0), refund_reason text
    ) ON COMMIT DROP
"""
_COPY_FOUND = f"COPY {_FOUND_TABLE} ({_FOUND_COLUMNS}) FROM STDIN"
_CLEAR_FOUND_TABLE = f"DELETE FROM {_FOUND_TABLE}"  # noqa: S608 - our own table name
_DROP_FOUND_TABLE = f"DROP TABLE {_FOUND_TABLE}"
_INSERT_FOUND = f"""
    INSERT INTO {Deposit._meta.db_table} (chain_id, {_FOUND_COLUMNS}, in_signer_ledger, seen_at)
    SELECT %s, f.pool_id, f.tx_hash, f.position, f.kind, f.sender, f.amount, f.block_number, f.block_hash,
           f.tx_index, f.ordinal, to_timestamp(f.block_timestamp), f.status, f.credited_amount, f.refund_amount,
           f.refund_reason, false, %s
    FROM {_FOUND_TABLE} AS f
    WHERE NOT EXISTS (
        SELECT 1 FROM {ChainTransaction._meta.db_table} AS t WHERE t.chain_id = %s AND t.tx_hash = f.tx_hash
    )
    ORDER BY f.block_number, f.tx_index, f.ordinal
    ON CONFLICT (chain_id, tx_hash, position) DO NOTHING
"""  # noqa: S608 - table names from the models, values bound
# How many rows per pool and status it wrote.
_INSERT_FOUND_COUNTS = f"""
    WITH inserted AS ({_INSERT_FOUND} RETURNING pool_id, status)
    SELECT pool_id, status, count(*) FROM inserted GROUP BY pool_id, status
"""  # noqa: S608 - no values in it
# Which rows it wrote, by key.
_INSERT_FOUND_IDS = f"{_INSERT_FOUND} RETURNING id, tx_hash, position"
_OURS = f"SELECT tx_hash FROM {ChainTransaction._meta.db_table} WHERE chain_id = %s AND tx_hash = ANY(%s)"  # noqa: S608
# Stored rows by key, whatever their block (a row a deep fork or a rewound cursor left at another height still
# conflicts on the unique key): through the (chain_id, tx_hash, position) index.
_STORED_KEYS = (
    f"SELECT tx_hash, position FROM {Deposit._meta.db_table} "  # noqa: S608 - table name from the model
    "WHERE chain_id = %s AND tx_hash = ANY(%s)"
)
_LOWEST_PENDING = (
    f"SELECT pool_id, min(block_number) FROM {Deposit._meta.db_table} "  # noqa: S608 - table name from the model
    "WHERE chain_id = %s AND status = %s AND pool_id = ANY(%s) GROUP BY pool_id"
)


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

    def store(
        self,
        *,
        blocks: ChainBlocks,
        deposits: list[FoundDeposit],
        confirmed_through: dict[int, int] | None = None,
        credit_at_once: bool = False,
    ) -> StoredDeposits:
        """Insert the deposits (a key seen before is left as it is) and the blocks' hashes.

        `confirmed_through` (pool id → newest block whose deposits to it count as confirmed now) stores a deposit
        that already has its confirmations as CONFIRMED at once, instead of PENDING and confirmed by an UPDATE of
        the same row a moment later in the same transaction (catching up, that is nearly every row).
        With `credit_at_once`, those of a pool with nothing else waiting to be confirmed are credited as they are
        stored (crediting.pool_recompute_credits with `staged`): the same decisions, each row written once.
        The counts are exact: they are the rows these INSERTs wrote.
        """
        window = blocks.window
        stored = self._insert_deposits(
            deposits=deposits, confirmed_through=confirmed_through or {}, credit_at_once=credit_at_once
        )
        if stored.new:  # new deposits show on their pools' pages (pools/services/pool_state.py)
            touch_pools(pool_ids={deposit.pool_id for deposit in deposits})
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
        return stored

    def _insert_deposits(
        self, *, deposits: list[FoundDeposit], confirmed_through: dict[int, int] | None = None, credit_at_once=False
    ) -> StoredDeposits:
        """COPY the deposits into a temporary table, then INSERT … ON CONFLICT DO NOTHING on the exactly-once key
        (chain id, tx hash, position), leaving out our own transactions' transfers (gas top-ups from the gas
        account: not deposits; every transaction we send is persisted with its hash before it is broadcast).

        Django's bulk_create cost more than fetching the window (a model object and a dozen field conversions per
        row, the SQL text built in Python); COPY sends the rows as they are. The inserted rows come out in chain
        order, so their ids follow it too."""
        if not deposits:
            return StoredDeposits()
        through = confirmed_through or {}
        pending, confirmed = Deposit.Status.PENDING.value, Deposit.Status.CONFIRMED.value
        rows = [(d, confirmed if d.block_number <= through.get(d.pool_id, -1) else pending) for d in deposits]
        stored = StoredDeposits()
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.execute(_CREATE_FOUND_TABLE)
            if credit_at_once:
                staged, rows = self._staged_by_pool(cursor, rows, through)
                for pool_id in sorted(staged):  # a fixed order, so two transactions never lock pools crosswise
                    pool_deposits = staged[pool_id]
                    pool_recompute_credits(
                        pool_id=pool_id,
                        staged=[
                            StagedDeposit(
                                key=(d.tx_hash, d.position),
                                sender=d.sender,
                                amount=d.amount,
                                at=d.block_timestamp,
                                block=d.block_number,
                                tx_index=d.tx_index,
                                position=d.position,
                            )
                            for d in pool_deposits
                        ],
                        store_staged=lambda decisions, found=pool_deposits: self._store_credited(
                            cursor, found, decisions
                        ),
                    )
                    stored.new += len(pool_deposits)
                    stored.confirmed += len(pool_deposits)
                    stored.credited_pools.add(pool_id)
            if rows:
                self._copy(cursor, ((d, status, 0, 0, "") for d, status in rows))
                cursor.execute(_INSERT_FOUND_COUNTS, [self.chain_id, timezone.now(), self.chain_id])
                for pool_id, status, count in cursor.fetchall():
                    stored.new += count
                    if status == confirmed:
                        stored.confirmed += count
                        stored.confirmed_pools.add(pool_id)
            cursor.execute(_DROP_FOUND_TABLE)
        return stored

    def _staged_by_pool(
        self, cursor, rows: list[tuple[FoundDeposit, str]], through: dict[int, int]
    ) -> tuple[dict, list]:
        """Split the rows into deposits to credit as they are stored, by pool, and the rest (stored the usual way).

        Staged: stored CONFIRMED, not ours, not stored already, of a pool with no stored deposit still waiting at
        or below that height (confirm_deposits would confirm it after this insert, and crediting must see both)."""
        candidates = [d for d, status in rows if status == Deposit.Status.CONFIRMED]
        if not candidates:
            return {}, rows
        cursor.execute(_OURS, [self.chain_id, sorted({d.tx_hash for d in candidates})])
        ours = {tx_hash for (tx_hash,) in cursor.fetchall()}
        cursor.execute(_STORED_KEYS, [self.chain_id, sorted({d.tx_hash for d in candidates})])
        seen = set(cursor.fetchall())
        cursor.execute(
            _LOWEST_PENDING,
            [self.chain_id, Deposit.Status.PENDING.value, sorted({d.pool_id for d in candidates})],
        )
        waiting = dict(cursor.fetchall())
        staged: dict[int, list[FoundDeposit]] = {}
        rest = []
        for d, status in rows:
            key = (d.tx_hash, d.position)
            if (
                status == Deposit.Status.CONFIRMED
                and d.tx_hash not in ours
                and key not in seen
                and waiting.get(d.pool_id, through[d.pool_id] + 1) > through[d.pool_id]
            ):
                seen.add(key)
                staged.setdefault(d.pool_id, []).append(d)
            else:
                rest.append((d, status))
        return staged, rest

    def _copy(self, cursor, rows) -> None:
        """(deposit, status, credited, refund, reason) rows into the temporary table, which is emptied first."""
        cursor.execute(_CLEAR_FOUND_TABLE)
        with cursor.cursor.copy(_COPY_FOUND) as copy:
            for d, status, credited, refund, reason in rows:
                copy.write_row(
                    (
                        d.pool_id,
                        d.tx_hash,
                        d.position,
                        d.kind,
                        d.sender,
                        d.amount,
                        d.block_number,
                        d.block_hash,
                        d.tx_index,
                        d.ordinal,
                        d.block_timestamp,
                        status,
                        credited,
                        refund,
                        reason,
                    )
                )

    def _store_credited(self, cursor, deposits: list[FoundDeposit], decisions: dict) -> dict:
        """Store one pool's staged deposits CONFIRMED with their decided parts; their new ids by key."""
        confirmed = Deposit.Status.CONFIRMED.value
        parts = [decisions[(d.tx_hash, d.position)] for d in deposits]
        self._copy(
            cursor, ((d, confirmed, p.credited, p.refund, p.reason) for d, p in zip(deposits, parts, strict=True))
        )
        cursor.execute(_INSERT_FOUND_IDS, [self.chain_id, timezone.now(), self.chain_id])
        return {(tx_hash, position): pk for pk, tx_hash, position in cursor.fetchall()}

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
        final = final_block(rpc=self.rpc, head=outcome.head)
        if cursor.last_block < outcome.head:
            self._index_next_window(cursor=cursor, outcome=outcome, max_blocks=max_blocks, final=final)
            if outcome.window is None:
                return outcome  # nothing written: shrunk the window, or the chain moved under the fetch
        if not outcome.traces_refused:
            self._retrace_gap(cursor=cursor, outcome=outcome)
        cursor.head, cursor.final_block = outcome.head, final
        cursor.save(update_fields=["last_block", "window", "head", "final_block", "updated_at"])
        confirmed, confirmed_pools = confirm_deposits(chain_id=self.chain_id, head=outcome.head, final=final)
        outcome.confirmed += confirmed
        confirmed_pools |= outcome.confirmed_on_insert
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
            new = self._insert_deposits(deposits=deposits).new  # PENDING: confirmed below
            if new:  # they show on their pools' pages as pending
                touch_pools(pool_ids={deposit.pool_id for deposit in deposits})
            outcome.deposits_new += new
        mark_retraced(gap=gap, window=window, pools=pools)

    def _as_indexed(self, blocks: ChainBlocks) -> bool:
        """Whether the blocks are those indexed at these heights (those whose hashes are still kept)."""
        window = blocks.window
        kept = IndexedBlock.objects.filter(chain_id=self.chain_id, number__range=(window.first, window.last))
        return all(blocks.is_canonical(number, block_hash) for number, block_hash in kept.values_list("number", "hash"))

    def _index_next_window(
        self, *, cursor: IndexerCursor, outcome: StepOutcome, max_blocks: int | None, final: int
    ) -> None:
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
        # What confirm_deposits would confirm right after: the pool's confirmations deep, at or below the tag's block.
        through = {pool.id: min(outcome.head - pool.confirmations, final) for pool in pools.all}
        # Credited as stored unless a trace gap is being filled: its older deposits would change the decisions.
        stored = self.store(
            blocks=findings.blocks,
            deposits=findings.deposits,
            confirmed_through=through,
            credit_at_once=not gap_in_progress(chain_id=self.chain_id),
        )
        outcome.deposits_new, outcome.confirmed = stored.new, stored.confirmed
        outcome.confirmed_on_insert = stored.confirmed_pools
        outcome.pools_recomputed |= stored.credited_pools
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
