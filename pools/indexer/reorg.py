"""Reorganisations: `check_reorgs` finds the first indexed block the chain no longer has; `recover_from_reorg`
forgets everything from there on and recomputes the pools it touched.

Block hashes form a chain: if the newest block we indexed is still on the chain, so are all before it. Only when it
is not do we walk back through the hashes we kept to the fork point. A node whose head is below our cursor (a
lagging node behind a load balancer, more often than a chain that got shorter) is checked up to its head only:
if that still matches, we wait for it rather than forget deposits; new blocks with other hashes are a reorg.
"""

from __future__ import annotations

import logging

from chain.rpc import JsonRpc
from pools.indexer.constants import KEEP_BLOCKS
from pools.indexer.errors import ReorgTooDeep
from pools.models import Deposit, IndexedBlock, IndexerCursor
from pools.services.crediting import pool_recompute_credits

logger = logging.getLogger(__name__)


def check_reorgs(*, rpc: JsonRpc, cursor: IndexerCursor, head: int) -> int | None:
    """The first block number indexed on this cursor that is no longer on the chain, or None when all still are."""
    kept = list(
        IndexedBlock.objects.filter(chain_id=cursor.chain_id, number__lte=min(cursor.last_block, head))
        .order_by("-number")
        .values_list("number", "hash")[:KEEP_BLOCKS]
    )
    if not kept:
        return None
    newest_number, newest_hash = kept[0]
    block = rpc.call("eth_getBlockByNumber", [hex(newest_number), False])
    if block is not None and block["hash"].lower() == newest_hash:
        return None
    answers = rpc.batch([("eth_getBlockByNumber", [hex(number), False]) for number, _ in kept])
    for (number, kept_hash), block in zip(kept, answers, strict=True):  # newest first
        if block is not None and block["hash"].lower() == kept_hash:
            return number + 1
    oldest = kept[-1][0]
    if oldest <= cursor.first_block:
        return cursor.first_block  # the fork is below where this cursor began: everything it indexed goes
    raise ReorgTooDeep(
        f"chain {cursor.chain_id}: none of the {len(kept)} block hashes kept (blocks {oldest}..{newest_number}) is "
        "still on the chain; the fork point is deeper. Check the node; to re-index, rewind the cursor by hand."
    )


def recover_from_reorg(*, cursor: IndexerCursor, first_bad_block: int) -> set[int]:
    """Delete the deposits and block hashes from `first_bad_block` on, rewind the cursor before it, and recompute
    the pools that lost deposits. Returns their ids. Call inside the transaction that holds the cursor's lock."""
    chain_id = cursor.chain_id
    gone = Deposit.objects.filter(chain_id=chain_id, block_number__gte=first_bad_block)
    pool_ids = set(gone.values_list("pool_id", flat=True).distinct())
    _, deleted = gone.delete()
    removed = deleted.get(Deposit._meta.label, 0)
    IndexedBlock.objects.filter(chain_id=chain_id, number__gte=first_bad_block).delete()
    logger.warning(
        "chain %s reorganised from block %s: %s deposit(s) of pools %s forgotten, re-indexing from there",
        chain_id,
        first_bad_block,
        removed,
        sorted(pool_ids),
    )
    cursor.last_block = first_bad_block - 1
    cursor.save(update_fields=["last_block", "updated_at"])
    for pool_id in sorted(pool_ids):  # a fixed order, so two transactions never lock pools crosswise
        pool_recompute_credits(pool_id=pool_id)
    return pool_ids
