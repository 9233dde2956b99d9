"""Fetching a window's blocks in one batch, checked to link into one chain."""

from __future__ import annotations

from chain.rpc import JsonRpc, hex_int
from pools.indexer.base import BlockHeader, BlockWindow, ChainBlocks
from pools.indexer.errors import ChainChangedDuringFetch


def fetch_blocks(
    *, rpc: JsonRpc, window: BlockWindow, full_transactions: bool, parent_hash: str | None = None
) -> ChainBlocks:
    """The window's blocks (with their transactions when asked), or ChainChangedDuringFetch.

    `parent_hash` is the hash we hold for the block before the window: the first block must build on it, and each
    block on the one before, or the node switched forks between our requests (or since our last run).
    """
    answers = rpc.batch([("eth_getBlockByNumber", [hex(number), full_transactions]) for number in window.numbers])
    headers: dict[int, BlockHeader] = {}
    expected_parent = parent_hash.lower() if parent_hash else None
    for number, block in zip(window.numbers, answers, strict=True):
        if block is None:
            raise ChainChangedDuringFetch(f"block {number} is gone (the chain is now shorter)")
        header = BlockHeader(
            number=number,
            hash=block["hash"].lower(),
            parent_hash=block["parentHash"].lower(),
            timestamp=hex_int(block["timestamp"]),
            tx_hashes=tuple((tx["hash"] if full_transactions else tx).lower() for tx in block["transactions"]),
            transactions=block["transactions"] if full_transactions else None,
        )
        if expected_parent is not None and header.parent_hash != expected_parent:
            raise ChainChangedDuringFetch(f"block {number} does not build on the block before it")
        headers[number] = header
        expected_parent = header.hash
    return ChainBlocks(window=window, headers=headers)
