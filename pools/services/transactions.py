"""The transaction manager: one nonce sequence per signer address, every transaction persisted before it is
broadcast, the same bytes rebroadcast on retry, a stuck one replaced with fees raised ≥ 10%, the receipt the truth.

    unstarted → in_progress (signed; raw bytes stored) → unconfirmed (broadcast) → confirmed | failed
                                                                                 → replaced (same nonce, higher fees)

Every function here is safe to call again after a crash at any point: it reads the row's state and continues.
Modelled on Chainlink's transaction manager. The stateless half (fees, broadcast, receipts, the node's errors as
types) is chain/transactions.py; this half keeps the rows, so it lives beside them.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import timedelta

from django.db import transaction
from django.utils import timezone
from web3 import Web3

from chain.client import web3_client
from chain.errors import AlreadyKnown, FeesTooHigh, InsufficientFunds, NonceTooLow, ReplacementUnderpriced
from chain.l1fees import receipt_l1_fee
from chain.transactions import Fees, current_fees, is_final, mined_nonce, send_raw_transaction, transaction_receipt
from pools.faults import crash_point
from pools.models import ChainTransaction, NonceSequence, Pool
from pools.services.pool_state import touch_pools
from pools.signer import signer_client
from pools.signer_client import SignerRefused

logger = logging.getLogger(__name__)

Status = ChainTransaction.Status
STUCK_AFTER = timedelta(seconds=60)
REBROADCAST_AFTER = timedelta(seconds=15)
# What a replacement keeps of the transaction it replaces: everything but the fees (the same request, same nonce).
REPLACEMENT_COPIES = (
    "pool", "purpose", "signer_key", "chain_id", "from_address", "nonce", "to_address", "data", "value", "gas",
    "evidence",
)  # fmt: skip


def _allocate_nonce(*, chain_id: int, address: str, w3: Web3) -> int:
    """The next nonce of `address`: a gap left by an abandoned request first, else from our sequence, never below
    what the chain has already mined."""
    sequence, _ = NonceSequence.objects.select_for_update().get_or_create(chain_id=chain_id, address=address)
    mined = mined_nonce(address=address, w3=w3)
    gap = (
        ChainTransaction.objects.select_for_update()
        .filter(chain_id=chain_id, from_address=address, status=Status.FAILED, raw_tx="", nonce__gte=mined)
        .order_by("nonce")
        .first()
    )
    if gap is not None:
        gap.status, gap.error = Status.REPLACED, f"{gap.error} (its nonce was reused)"
        gap.save(update_fields=["status", "error", "updated_at"])
        return gap.nonce
    nonce = max(sequence.next_nonce, mined)
    sequence.next_nonce = nonce + 1
    sequence.save(update_fields=["next_nonce"])
    return nonce


def create_transaction(
    *,
    pool: Pool | None,
    purpose: str,
    signer_key: str,
    from_address: str,
    to_address: str,
    data: bytes | str,
    value: int,
    gas: int,
    evidence: dict | None = None,
    fees: Fees | None = None,
    w3: Web3 | None = None,
) -> ChainTransaction:
    """Allocate a nonce and persist the request (UNSTARTED), in one database transaction."""
    w3 = w3 or web3_client()
    fees = fees or current_fees(w3=w3)
    chain_id = w3.eth.chain_id
    with transaction.atomic():
        nonce = _allocate_nonce(chain_id=chain_id, address=from_address, w3=w3)
        return ChainTransaction.objects.create(
            pool=pool,
            purpose=purpose,
            signer_key=signer_key,
            chain_id=chain_id,
            from_address=Web3.to_checksum_address(from_address),
            nonce=nonce,
            to_address=Web3.to_checksum_address(to_address),
            data=data if isinstance(data, str) else "0x" + data.hex(),
            value=value,
            gas=gas,
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            evidence=evidence,
        )


def _wire(tx: ChainTransaction) -> dict:
    return {
        "to": tx.to_address,
        "data": tx.data,
        "value": tx.value,
        "nonce": tx.nonce,
        "gas": tx.gas,
        "maxFeePerGas": tx.max_fee_per_gas,
        "maxPriorityFeePerGas": tx.max_priority_fee_per_gas,
        "chainId": tx.chain_id,
    }


def abandon(tx: ChainTransaction, *, reason: str) -> ChainTransaction:
    """Give up a request that was never signed; the next transaction from this address reuses its nonce."""
    if tx.status != Status.UNSTARTED:
        raise ValueError(f"only an unsigned transaction can be abandoned, not one {tx.status}")
    tx.status, tx.error = Status.FAILED, f"abandoned: {reason}"
    tx.save(update_fields=["status", "error", "updated_at"])
    return tx


def _touch_after_commit(pool_id: int | None) -> None:
    """Move the pool's state version once the caller's transaction commits, not inside it: a launch or refund step
    signs and broadcasts within its transaction, and the pool row's lock would be held through those network calls
    (pools/services/pool_state.py allows a touch after the commit)."""
    transaction.on_commit(lambda: touch_pools(pool_ids=[pool_id]), robust=True)


def sign(tx: ChainTransaction) -> ChainTransaction:
    """UNSTARTED → IN_PROGRESS: the signer signs (or refuses: SignerRefused propagates, the row stays UNSTARTED).

    Asking again for the same request at the same nonce returns the same bytes (the signer remembers), so a crash
    between the signer's answer and our save is harmless.
    """
    if tx.status != Status.UNSTARTED:
        return tx
    signed = signer_client().sign(pool_id=tx.signer_key, tx=_wire(tx), evidence=tx.evidence)
    crash_point("signed")  # between the signer's answer and our record of it
    crash_point(f"signed:{tx.purpose}")
    tx.raw_tx, tx.tx_hash = signed.raw_tx, signed.tx_hash
    tx.signer_log_index = signed.log_index
    tx.status = Status.IN_PROGRESS
    tx.save(update_fields=["raw_tx", "tx_hash", "signer_log_index", "status", "updated_at"])
    _touch_after_commit(tx.pool_id)  # its hash is on the pool page (a refund batch's, the launch's)
    return tx


def broadcast(tx: ChainTransaction, *, w3: Web3 | None = None) -> ChainTransaction:
    """IN_PROGRESS/UNCONFIRMED → UNCONFIRMED: send the stored bytes (again). Never different bytes."""
    w3 = w3 or web3_client()
    if tx.status not in (Status.IN_PROGRESS, Status.UNCONFIRMED):
        return tx
    with contextlib.suppress(AlreadyKnown, NonceTooLow):  # already in the pool, or mined: the receipt will tell
        send_raw_transaction(tx.raw_tx, w3=w3)
    crash_point("sent")  # between the broadcast and our record of it
    crash_point(f"sent:{tx.purpose}")
    now = timezone.now()
    tx.status = Status.UNCONFIRMED
    tx.broadcast_count += 1
    tx.first_broadcast_at = tx.first_broadcast_at or now
    tx.last_broadcast_at = now
    tx.save(update_fields=["status", "broadcast_count", "first_broadcast_at", "last_broadcast_at", "updated_at"])
    return tx


def _same_nonce_family(tx: ChainTransaction):
    return ChainTransaction.objects.filter(chain_id=tx.chain_id, from_address=tx.from_address, nonce=tx.nonce)


def _mined_above_the_tag(tx: ChainTransaction):
    """The transactions at this nonce that a block holds, not yet final by CHAIN_CONFIRMATION_TAG."""
    return (
        _same_nonce_family(tx).exclude(status__in=[Status.CONFIRMED, Status.FAILED]).filter(block_number__isnull=False)
    )


def check_receipt(tx: ChainTransaction, *, w3: Web3 | None = None) -> ChainTransaction:
    """UNCONFIRMED → CONFIRMED/FAILED from the receipt of this transaction or of any at its nonce (a replacement),
    once its block is at or below CHAIN_CONFIRMATION_TAG. Mined above it, the transaction stays UNCONFIRMED with its
    block noted; a receipt that disappears (a reorganisation) un-notes it, and it is rebroadcast as before."""
    w3 = w3 or web3_client()
    if tx.status != Status.UNCONFIRMED:
        return tx
    for candidate in _same_nonce_family(tx).exclude(tx_hash="").order_by("-id"):
        receipt = transaction_receipt(candidate.tx_hash, w3=w3)
        if receipt is None:
            continue
        if not is_final(receipt["blockNumber"], w3=w3):
            ChainTransaction.objects.filter(pk=candidate.pk).update(block_number=receipt["blockNumber"])
            return tx
        with transaction.atomic():
            for other in _same_nonce_family(tx).exclude(pk=candidate.pk):
                if other.status in (Status.UNCONFIRMED, Status.IN_PROGRESS, Status.UNSTARTED):
                    other.status = Status.REPLACED
                    other.save(update_fields=["status", "updated_at"])
            candidate.status = Status.CONFIRMED if receipt["status"] == 1 else Status.FAILED
            candidate.block_number = receipt["blockNumber"]
            candidate.gas_used = receipt["gasUsed"]
            candidate.effective_gas_price = receipt["effectiveGasPrice"]
            candidate.l1_fee = receipt_l1_fee(receipt)
            if receipt["status"] != 1:
                candidate.error = "reverted"
            candidate.save(
                update_fields=[
                    "status", "block_number", "gas_used", "effective_gas_price", "l1_fee", "error", "updated_at"
                ]
            )  # fmt: skip
            _touch_after_commit(candidate.pool_id)
        crash_point(f"receipt:{candidate.purpose}")  # the receipt recorded, not yet acted on
        return candidate
    _mined_above_the_tag(tx).update(block_number=None)
    return tx


def replace_if_stuck(tx: ChainTransaction, *, w3: Web3 | None = None) -> ChainTransaction:
    """A transaction unmined for STUCK_AFTER: the same request at the same nonce with fees raised by 25%, or to the
    network's current fees if higher. A replacement the signer refuses (over its fee cap) is dropped and the original
    waits, rebroadcast, until fees fall back to it; so it does, unreplaced, while fees are above
    CHAIN_MAX_FEE_PER_GAS_WEI."""
    w3 = w3 or web3_client()
    if tx.status != Status.UNCONFIRMED or tx.first_broadcast_at is None:
        return tx
    if timezone.now() - tx.first_broadcast_at < STUCK_AFTER:
        return tx
    if tx.purpose == ChainTransaction.Purpose.LAUNCH:
        # A copy would carry a stale signer log head and be refused; a launch is only rebroadcast, and if it is
        # still unmined at its deadline it reverts there and the launch job retries with fresh arguments.
        return tx
    with transaction.atomic():
        locked = ChainTransaction.objects.select_for_update().get(pk=tx.pk)
        if locked.status != Status.UNCONFIRMED or hasattr(locked, "replaced_by"):
            return locked
        # Raised by the 25% nodes ask for, or to what the network asks now if that is more (a fee spike).
        bumped = Fees(locked.max_fee_per_gas, locked.max_priority_fee_per_gas).bumped()
        try:
            now = current_fees(w3=w3)
        except FeesTooHigh as waiting:
            logger.warning("transaction %s at nonce %s is stuck: %s", tx.tx_hash, tx.nonce, waiting)
            return locked
        fees = Fees(
            max(bumped.max_fee_per_gas, now.max_fee_per_gas),
            max(bumped.max_priority_fee_per_gas, now.max_priority_fee_per_gas),
        )
        replacement = ChainTransaction.objects.create(
            **{field: getattr(locked, field) for field in REPLACEMENT_COPIES},
            max_fee_per_gas=fees.max_fee_per_gas,
            max_priority_fee_per_gas=fees.max_priority_fee_per_gas,
            replaces=locked,
        )
    logger.warning("transaction %s at nonce %s is stuck: replacing with higher fees", tx.tx_hash, tx.nonce)
    return replacement


def advance(tx: ChainTransaction, *, w3: Web3 | None = None) -> ChainTransaction:
    """Move a transaction as far as it can go now; call again later until it is CONFIRMED or FAILED.

    Whatever is already mined at this nonce is looked at first: it is the truth, whatever else is pending.
    """
    w3 = w3 or web3_client()
    for member in _same_nonce_family(tx).filter(status=Status.UNCONFIRMED):
        settled = check_receipt(member, w3=w3)
        if settled.status in (Status.CONFIRMED, Status.FAILED):
            return settled
    if _mined_above_the_tag(tx).exists():
        return tx  # mined: nothing to sign, send or replace; it waits for its block to be final
    try:
        tx = sign(tx)
        if tx.status == Status.IN_PROGRESS:
            tx = broadcast(tx, w3=w3)
    except (SignerRefused, InsufficientFunds, ReplacementUnderpriced) as error:
        if tx.replaces_id is None:
            raise
        # A replacement that cannot be signed or paid for is dropped; the original is still pending.
        tx.status, tx.error = Status.REPLACED, f"replacement dropped: {error}"
        tx.save(update_fields=["status", "error", "updated_at"])
        return advance(tx.replaces, w3=w3)
    if tx.status == Status.UNCONFIRMED:
        tx = check_receipt(tx, w3=w3)
    if tx.status == Status.UNCONFIRMED:
        newer = replace_if_stuck(tx, w3=w3)
        if newer.pk != tx.pk:
            return advance(newer, w3=w3)
        if tx.last_broadcast_at and timezone.now() - tx.last_broadcast_at >= REBROADCAST_AFTER:
            tx = broadcast(tx, w3=w3)  # the same bytes, in case a node dropped them
    return tx


def latest_in_family(tx: ChainTransaction) -> ChainTransaction:
    """The transaction to follow at this one's nonce: the mined one, else the newest still in play."""
    family = _same_nonce_family(tx)
    settled = family.filter(status__in=[Status.CONFIRMED, Status.FAILED]).exclude(raw_tx="").first()
    return settled or family.exclude(status=Status.REPLACED).order_by("-id").first() or tx
