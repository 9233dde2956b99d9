"""Native deposits made by contracts (smart-contract wallets, ERC-4337 accounts, forwarders): internal transfers.

Read from `debug_traceBlockByHash` with the callTracer (geth, erigon, reth, anvil and most providers answer it). A
frame that failed undid itself and everything it called, so it is skipped with its whole subtree; a transaction
whose top frame failed is skipped entirely. The top frame is the transaction itself, covered by NativeTxIndexer.

Plain public RPCs do not serve `debug_*`: the ChainIndexer then indexes without this indexer and records the gap
(`reads_traces`; pools/indexer/trace_gaps.py).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

from chain.errors import RpcError
from chain.rpc import JsonRpc, hex_int
from enclave_signer.evidence import VALUE_MOVING_FRAMES  # what counts here is what the signer can prove
from pools.indexer.base import ChainBlocks, DepositIndexer, FoundDeposit, WatchedPools, checksum_address
from pools.indexer.constants import TRACES_PER_REQUEST
from pools.models import Deposit

CALL_TRACER = {"tracer": "callTracer"}


@dataclass(frozen=True)
class BlockTrace:
    number: int
    transactions: list[dict]  # [{"txHash": ..., "result": <top call frame>}], in block order


@dataclass(frozen=True)
class Frame:
    frame: dict
    trace_address: tuple[int, ...]
    ordinal: int  # the frame's place in the transaction's call order (the top frame is 0)


def successful_inner_frames(top: dict) -> Iterator[Frame]:
    """Every frame below the top one that did not fail and has no failed ancestor, in call order."""
    if top.get("error"):
        return
    ordinal = 0
    stack: list[tuple[dict, tuple[int, ...]]] = [
        (child, (i,)) for i, child in reversed(list(enumerate(top.get("calls") or ())))
    ]
    while stack:
        frame, address = stack.pop()
        ordinal += 1
        if frame.get("error"):
            continue  # this frame reverted: so did everything beneath it
        yield Frame(frame=frame, trace_address=address, ordinal=ordinal)
        stack.extend((child, (*address, i)) for i, child in reversed(list(enumerate(frame.get("calls") or ()))))


class InternalTransferIndexer(DepositIndexer):
    """ETH sent to pool addresses from inside contract calls."""

    name = "native_internal"
    reads_traces = True

    def watches(self, pools: WatchedPools) -> bool:
        return bool(pools.native)

    def find_relevant_elements(self, *, rpc: JsonRpc, pools: WatchedPools, blocks: ChainBlocks) -> list[BlockTrace]:
        # By hash, not number: the traces are then certainly of the blocks we fetched, even during a reorg.
        numbers = [n for n in blocks.window.numbers if blocks.headers[n].tx_hashes]  # empty blocks have no calls
        traces = rpc.batch(
            [("debug_traceBlockByHash", [blocks.hash_of(n), CALL_TRACER]) for n in numbers],
            chunk_size=TRACES_PER_REQUEST,
        )
        found = []
        for number, trace in zip(numbers, traces, strict=True):
            trace = trace or []
            if len(trace) != len(blocks.headers[number].tx_hashes):
                raise RpcError(f"the trace of block {number} has {len(trace)} transactions, the block more or fewer")
            found.append(BlockTrace(number=number, transactions=trace))
        return found

    def process_elements(
        self, *, pools: WatchedPools, blocks: ChainBlocks, elements: list[BlockTrace]
    ) -> list[FoundDeposit]:
        deposits = []
        for block in elements:
            tx_hashes = blocks.headers[block.number].tx_hashes
            for tx_index, tx in enumerate(block.transactions):
                top = tx.get("result") or {}
                for inner in successful_inner_frames(top):
                    frame = inner.frame
                    to = (frame.get("to") or "").lower()
                    if to not in pools.native or frame.get("type") not in VALUE_MOVING_FRAMES:
                        continue
                    amount = hex_int(frame.get("value"))
                    if amount <= 0:
                        continue
                    deposits.append(
                        FoundDeposit(
                            pool_id=pools.native[to].id,
                            tx_hash=tx_hashes[tx_index],  # older nodes leave txHash out
                            position="trace:" + ".".join(map(str, inner.trace_address)),
                            kind=Deposit.Kind.NATIVE_INTERNAL,
                            sender=checksum_address(frame["from"]),
                            amount=amount,
                            block_number=block.number,
                            block_hash=blocks.hash_of(block.number),
                            tx_index=tx_index,
                            ordinal=inner.ordinal,
                            block_timestamp=blocks.timestamp_of(block.number),
                        )
                    )
        return deposits
