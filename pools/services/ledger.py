"""The signer's ledger of a pool: the web tier hands it the confirmed deposits (it proves each one on chain itself)
and asks it to prove the list complete at the newest block every deposit up to which is confirmed. A launch and every
refund are signed only against that ledger (docs/signer.md, "The signer's books").

Submitted in chunks before a launch and before each refund batch, only what the signer does not have yet.
"""

from __future__ import annotations

import logging

from enclave_signer.crediting import position_of
from pools.errors import ApplicationError
from pools.models import Deposit, IndexerCursor, Pool

logger = logging.getLogger(__name__)
CHUNK = 1000  # the signer's limit per request


class BooksDisagree(ApplicationError):
    status_code = 409
    code = "books_disagree"


def citation_of(deposit: Deposit) -> dict:
    """A deposit in the signer's evidence format."""
    kind, where = deposit.position.partition(":")[0], position_of(deposit.position)
    if kind == "log":
        return {"tx_hash": deposit.tx_hash, "log_index": where[0]}
    if kind == "trace":
        return {"tx_hash": deposit.tx_hash, "trace_address": list(where)}
    return {"tx_hash": deposit.tx_hash}


def confirmed_block(pool: Pool) -> int | None:
    """The newest block up to which every deposit of the pool is indexed and confirmed."""
    cursor = IndexerCursor.objects.filter(chain_id=pool.chain_id).first()
    if cursor is None or (through := cursor.complete_through(confirmations=pool.confirmations)) < 0:
        return None
    return through


def ledger_sync(*, pool: Pool) -> dict:
    """Give the signer the pool's confirmed deposits it lacks, and have it prove its ledger complete.

    Returns the signer's summary: {deposits, received, verified: {block, timestamp}, credited, merkle_root, ...}.
    Raises SignerRefused (ledger_incomplete names which side is short and by how much) or SignerUnavailable.
    """
    from pools.signer import signer_client

    client = signer_client()
    block = confirmed_block(pool)
    if block is None:
        raise BooksDisagree("The indexer has not confirmed any block yet: the ledger cannot be proven complete.")
    pending = Deposit.objects.filter(
        pool=pool, status=Deposit.Status.CONFIRMED, block_number__lte=block, in_signer_ledger=False
    ).order_by("block_number", "tx_index", "ordinal")
    ids = list(pending.values_list("id", flat=True))
    for start in range(0, len(ids), CHUNK):
        chunk = list(Deposit.objects.filter(id__in=ids[start : start + CHUNK]).only("tx_hash", "position"))
        client.record_deposits(pool_id=pool.pk, deposits=[citation_of(d) for d in chunk])
        Deposit.objects.filter(id__in=[d.id for d in chunk]).update(in_signer_ledger=True)
    summary = client.record_deposits(pool_id=pool.pk, deposits=[], complete_at_block=block)
    logger.info("pool %s: signer ledger complete at block %s (%s deposits)", pool.pk, block, summary["deposits"])
    return summary


def check_books_agree(*, pool: Pool, summary: dict, merkle_root: str) -> None:
    """The signer's credited total and root must be the web tier's: both apply the same function to the same
    deposits, so a difference means one side's deposits are wrong. Nothing is sent until that is understood."""
    if int(summary.get("credited", -1)) != pool.raised or summary.get("merkle_root") != merkle_root:
        raise BooksDisagree(
            f"The signer's books (credited {summary.get('credited')}, root {summary.get('merkle_root')}) differ from "
            f"ours (credited {pool.raised}, root {merkle_root}) at block {summary['verified']['block']}.",
        )
