"""Refunds: what is owed back (over-cap parts, rejected deposits, everything of a failed or cancelled raise), paid in
chunked batches through the Refunder, each recipient's refund backed by the deposits it pays back.

A refund row is created once per (recipient, set of deposits); a deposit is in at most one refund. A batch's
transaction is created together with the rows it pays (one database transaction), then signed, broadcast and
confirmed by the transaction manager; the Refunded events are the truth of what was paid.
"""

from __future__ import annotations

import logging
from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Sum
from django.utils import timezone
from web3 import Web3

from chain.client import chain_deployment, web3_client
from chain.contracts import decode_refunded, encode_approve, encode_refund_erc20, encode_refund_eth
from chain.errors import FeesTooHigh
from chain.transactions import Fees, current_fees
from enclave_signer.crediting import ZERO_SENDER
from pools.errors import ApplicationError
from pools.locks import advisory_lock
from pools.models import ChainTransaction, Deposit, Pool, Refund
from pools.services import events
from pools.services.gas import GasAccountEmpty, ensure_gas
from pools.services.ledger import BooksDisagree, citation_of, ledger_sync
from pools.services.pool_state import touch_pool
from pools.services.pools import transition_pool, with_article
from pools.services.refund_batches import BatchLimits, Owed, batch_gas, next_batch, split
from pools.services.transactions import abandon, advance, create_transaction, latest_in_family
from pools.signer import signer_client
from pools.signer_client import SignerRefused

logger = logging.getLogger(__name__)
TxStatus = ChainTransaction.Status
REFUNDABLE_STATUSES = [Pool.Status.LAUNCHED, Pool.Status.REFUNDING, Pool.Status.REFUNDED, Pool.Status.CANCELLED]
FAILED_STATUSES = [Pool.Status.REFUNDING, Pool.Status.REFUNDED, Pool.Status.CANCELLED]
APPROVE_GAS = 100_000
# A refund that still has to be paid by a batch (set-aside ones are handled by people, paid ones are done).
UNSETTLED = [Refund.Status.OWED, Refund.Status.SENDING]
BATCH_PURPOSES = [ChainTransaction.Purpose.APPROVE, ChainTransaction.Purpose.REFUND]


class PoolCannotRefund(ApplicationError):
    status_code = 409
    code = "pool_cannot_refund"


def owed_amount(*, pool: Pool, deposit: Deposit) -> int:
    """A confirmed deposit's part owed back: all of it when the raise failed, else its refused part; nothing when it
    has no sender (a mint to the pool address: nobody to pay back, and address(0) would revert the whole batch)."""
    if deposit.sender.lower() == ZERO_SENDER:
        return 0
    return deposit.amount if pool.status in FAILED_STATUSES else deposit.refund_amount


def owed_unbatched(*, pool: Pool) -> int:
    """`owed_amount` summed over the confirmed deposits no refund row pays yet (what the next refund_request makes
    rows for), in one query: pages show it while the rows are not created yet."""
    field = "amount" if pool.status in FAILED_STATUSES else "refund_amount"
    unbatched = Deposit.objects.filter(pool=pool, status=Deposit.Status.CONFIRMED, refunds__isnull=True).exclude(
        sender__iexact=ZERO_SENDER
    )
    return int(unbatched.aggregate(owed=Sum(field))["owed"] or 0)


def refund_request(*, pool_id: int, requested_by: str) -> list[Refund]:
    """Create Refund rows for everything owed and not yet in a refund, and enqueue the refund job. Idempotent."""
    from pools.tasks import advance_refunds

    with transaction.atomic():
        pool = Pool.objects.select_for_update().get(pk=pool_id)
        if pool.status not in REFUNDABLE_STATUSES:
            raise PoolCannotRefund(
                f"{with_article(pool.get_status_display().lower()).capitalize()} pool has nothing to refund yet: "
                "refunds follow the launch, a missed soft cap, or a cancellation.",
                details={"status": pool.status},
            )
        unrefunded = (
            Deposit.objects.filter(pool=pool, status=Deposit.Status.CONFIRMED, refunds__isnull=True)
            .order_by("block_number", "tx_index", "ordinal")
            .select_for_update(of=("self",))
        )
        by_recipient: dict[str, list[Deposit]] = defaultdict(list)
        for deposit in unrefunded:
            if owed_amount(pool=pool, deposit=deposit) > 0:
                by_recipient[Web3.to_checksum_address(deposit.sender)].append(deposit)
        created = []
        for recipient, deposits in by_recipient.items():
            # More than one transaction may pay (the pool's value cap): in parts, each backed by all of the deposits.
            for part in split(sum(owed_amount(pool=pool, deposit=d) for d in deposits), cap=pool.hard_cap):
                refund = Refund.objects.create(pool=pool, recipient=recipient, amount=part)
                refund.deposits.set(deposits)
                created.append(refund)
        if created:
            touch_pool(pool_id=pool.pk)
        if pool.status == Pool.Status.REFUNDED and created:
            # A deposit confirmed after the pool was settled: it is refunded like the rest.
            pool.status, pool.status_reason = Pool.Status.REFUNDING, "A late deposit is being refunded."
            pool.save(update_fields=["status", "status_reason", "updated_at"])
            events.pool_refunding(pool=pool, previous_status=Pool.Status.REFUNDED)
        if Refund.objects.filter(pool=pool, status__in=UNSETTLED).exists():
            # Best effort: with the broker down the refunds are still recorded, and resume_jobs starts them.
            transaction.on_commit(lambda: advance_refunds.delay(pool_id), robust=True)
        return created


def _evidence(refunds: list[Refund]) -> dict:
    """Per recipient, the deposits its refund pays back, in the signer's evidence format."""
    evidence: dict[str, list[dict]] = {}
    for refund in refunds:
        evidence.setdefault(refund.recipient, []).extend(citation_of(d) for d in refund.deposits.all())
    return evidence


def _batch_limits(pool: Pool, fees: Fees) -> BatchLimits:
    """The limits of a refund transaction now: the signer's (its fee cap, the pool's value cap), a block's gas."""
    limits = signer_client().health()["limits"]
    block_gas = web3_client().eth.get_block("latest")["gasLimit"]
    max_gas = min(settings.REFUND_BATCH_MAX_GAS, block_gas // 2)
    # The signer allows max_tx_fee_wei at any price, and any gas while the price is within max_fee_per_gas_wei.
    max_tx_fee = int(limits["max_tx_fee_wei"])
    if fees.max_fee_per_gas <= int(limits.get("max_fee_per_gas_wei", 0)):
        max_tx_fee = max(max_tx_fee, max_gas * fees.max_fee_per_gas)
    return BatchLimits(
        native=pool.is_native,
        max_count=settings.REFUND_BATCH_SIZE,
        max_value=pool.hard_cap,  # registered as the pool's max_value_wei
        max_gas=max_gas,
        max_tx_fee=max_tx_fee,
        max_fee_per_gas=fees.max_fee_per_gas,
    )


def _send_next_batch(pool: Pool) -> None:
    owed = Refund.objects.filter(pool=pool, status=Refund.Status.OWED, transaction__isnull=True).order_by("id")
    if not owed.exists():
        return
    fees = current_fees()
    limits = _batch_limits(pool, fees)
    planned = next_batch((Owed(r.pk, r.recipient, r.amount) for r in owed.iterator()), limits)
    if not planned:
        one = batch_gas(1, native=pool.is_native) * fees.max_fee_per_gas
        _wait(
            pool,
            "fees_above_cap",
            f"Network fees are above what the signer allows: one refund at {fees.max_fee_per_gas} wei per gas would "
            f"cost up to {one} wei, more than its cap of {limits.max_tx_fee} wei per transaction. Refunds resume by "
            "themselves when fees fall.",
        )
        return
    batch = list(Refund.objects.filter(pk__in=[item.key for item in planned]).order_by("id"))
    total = sum(refund.amount for refund in batch)
    # The signer pays back only what its own books say is owed: bring its ledger up to the newest confirmed block.
    ledger_sync(pool=pool)
    if pool.status in FAILED_STATUSES:
        signer_client().refund_all(pool_id=pool.pk)
    gas = batch_gas(len(batch), native=pool.is_native)
    refunder = chain_deployment().refunder
    recipients, amounts = [r.recipient for r in batch], [r.amount for r in batch]
    if pool.is_native:
        data = encode_refund_eth(recipients=recipients, amounts=amounts)
        approve_data = b""
    else:
        data = encode_refund_erc20(token=pool.raise_asset, recipients=recipients, amounts=amounts)
        approve_data = encode_approve(spender=refunder, amount=total)
    if not ensure_gas(
        pool=pool,
        gas=gas + (0 if pool.is_native else APPROVE_GAS),
        value=total if pool.is_native else 0,
        to=refunder,
        data=approve_data + data,  # for the OP-stack L1 data fee of sending them
    ):
        return  # a top-up is on its way
    with transaction.atomic():
        if not pool.is_native:
            create_transaction(
                pool=pool,
                purpose=ChainTransaction.Purpose.APPROVE,
                signer_key=str(pool.pk),
                from_address=pool.deposit_address,
                to_address=pool.raise_asset,
                data=approve_data,
                value=0,
                gas=APPROVE_GAS,
                fees=fees,
            )
        tx = create_transaction(
            pool=pool,
            purpose=ChainTransaction.Purpose.REFUND,
            signer_key=str(pool.pk),
            from_address=pool.deposit_address,
            to_address=refunder,
            data=data,
            value=total if pool.is_native else 0,
            gas=gas,
            evidence=_evidence(batch),
            fees=fees,
        )
        Refund.objects.filter(pk__in=[r.pk for r in batch]).update(status=Refund.Status.SENDING, transaction=tx)
        touch_pool(pool_id=pool.pk)
    _progressed(pool)


def _give_up_unsigned(pool: Pool, refused: SignerRefused) -> None:
    """The signer refused a batch it never signed (fees over its cap, its budget, a deposit it will not pay back):
    give up the unsigned transactions -- their nonces are reused by the next ones -- and put their refunds back to be
    planned again with the fees and the books of the next pass."""
    with transaction.atomic():
        for tx in ChainTransaction.objects.select_for_update().filter(
            pool=pool, purpose__in=BATCH_PURPOSES, status=TxStatus.UNSTARTED, replaces__isnull=True
        ):
            abandon(tx, reason=f"the signer refused: {refused.code}")
            Refund.objects.filter(transaction=tx).update(status=Refund.Status.OWED, transaction=None)
        touch_pool(pool_id=pool.pk)
    _wait_for_signer(pool, refused, what="the next batch")


def _wait_for_signer(pool: Pool, refused: SignerRefused, *, what: str) -> None:
    """Refunds wait on a refusal and ask again next pass; one for the signer's configuration says how to fix it."""
    if refused.by_configuration:
        reason = f"{refused.configuration_error()} Refunds resume by themselves once it allows it."
    else:
        reason = f"The signer refused {what} ({refused.code}): {refused.reason}"
    _wait(pool, f"signer_{refused.code}", reason)


def _follow_batches(pool: Pool) -> None:
    """Advance every batch in flight (approve first for ERC-20: nonces are in order); settle confirmed ones."""
    open_txs = ChainTransaction.objects.filter(
        pool=pool,
        purpose__in=BATCH_PURPOSES,
        status__in=[TxStatus.UNSTARTED, TxStatus.IN_PROGRESS, TxStatus.UNCONFIRMED],
    ).order_by("nonce")
    for tx in open_txs:
        try:
            advance(latest_in_family(tx))
        except SignerRefused as refused:
            _give_up_unsigned(pool, refused)
            return
    for refund_tx in (
        ChainTransaction.objects.filter(pool=pool, purpose=ChainTransaction.Purpose.REFUND)
        .filter(refunds__status=Refund.Status.SENDING)
        .distinct()
    ):
        final = latest_in_family(refund_tx)
        if final.status == TxStatus.CONFIRMED:
            receipt = web3_client().eth.get_transaction_receipt(final.tx_hash)
            refunded = decode_refunded(receipt, refunder=chain_deployment().refunder)
            paid_to = {Web3.to_checksum_address(event.recipient) for event in refunded}
            with transaction.atomic():  # the refunds paid and their refund_batch.paid event together (an outbox)
                paid = Refund.objects.filter(transaction=refund_tx, recipient__in=paid_to, status=Refund.Status.SENDING)
                batch = paid.aggregate(recipients=Count("recipient", distinct=True), total=Sum("amount"))
                paid.update(status=Refund.Status.PAID, paid_at=timezone.now(), transaction=final)
                touch_pool(pool_id=pool.pk)
                if batch["recipients"]:
                    _batch_paid(pool, tx_hash=final.tx_hash, recipients=batch["recipients"], total=batch["total"])
            _progressed(pool)
        elif final.status == TxStatus.FAILED:
            Refund.objects.filter(transaction=refund_tx).update(status=Refund.Status.OWED, transaction=None)
            touch_pool(pool_id=pool.pk)


def _batch_paid(pool: Pool, *, tx_hash: str, recipients: int, total: int) -> None:
    """Record a confirmed batch with what the pool still owes after it: as pools.selectors.refunds counts it, every
    unpaid row (set-aside ones too) and what confirmed deposits no row pays yet owe."""
    unpaid = Refund.objects.filter(pool=pool).exclude(status=Refund.Status.PAID).aggregate(owed=Sum("amount"))["owed"]
    still_owed = int(unpaid or 0) + owed_unbatched(pool=pool)
    events.refund_batch_paid(
        pool=pool, tx_hash=tx_hash, recipients=recipients, total_paid=int(total or 0), still_owed=still_owed
    )


def refunds_advance(*, pool_id: int) -> int:
    """Send the next batch and follow those in flight; returns how many refunds are still to be paid by a batch."""
    with advisory_lock(f"refunds:{pool_id}") as taken:
        if not taken:
            return Refund.objects.filter(pool_id=pool_id, status__in=UNSETTLED).count()
        pool = Pool.objects.get(pk=pool_id)
        try:
            _follow_batches(pool)
            if not Refund.objects.filter(pool=pool, status=Refund.Status.SENDING).exists():
                _send_next_batch(pool)
                _follow_batches(pool)
        except SignerRefused as refused:  # the ledger, refund-all or a gas top-up: shown, and tried again next pass
            _wait_for_signer(pool, refused, what="a request")
        except (GasAccountEmpty, BooksDisagree, FeesTooHigh) as error:
            _wait(pool, error.code, str(error))
        remaining = Refund.objects.filter(pool=pool, status__in=UNSETTLED).count()
        if remaining == 0:
            _progressed(pool)  # nothing left for a batch (the last ones may have been set aside): nothing waits
        if remaining == 0 and pool.status == Pool.Status.REFUNDING:
            with transaction.atomic():
                locked = Pool.objects.select_for_update().get(pk=pool_id)
                # refund_request takes the same lock to add refunds: counted again under it, none can slip in.
                unpaid = Refund.objects.filter(pool=locked, status__in=UNSETTLED).exists()
                if locked.status == Pool.Status.REFUNDING and not unpaid:
                    aside = Refund.objects.filter(pool=locked, status=Refund.Status.SET_ASIDE).count()
                    reason = "Every deposit was refunded in full" + (
                        f", except {aside} refund(s) set aside for manual handling." if aside else "."
                    )
                    transition_pool(locked, Pool.Status.REFUNDED, reason=reason)
                    locked.save(update_fields=["status", "status_reason", "updated_at"])
                    touch_pool(pool_id=locked.pk)
                    paid = Refund.objects.filter(pool=locked, status=Refund.Status.PAID).aggregate(total=Sum("amount"))
                    events.pool_refunded(pool=locked, refunded_total=int(paid["total"] or 0))
        return remaining


def _wait(pool: Pool, code: str, reason: str) -> None:
    """The refunds cannot progress now: say why (admin, API, a webhook when the reason changes). Idempotent."""
    logger.warning("pool %s: refunds wait (%s): %s", pool.pk, code, reason)
    with transaction.atomic():
        locked = Pool.objects.select_for_update().get(pk=pool.pk)
        if (locked.waiting_code, locked.waiting_reason) == (code, reason[:400]):
            return
        changed = locked.waiting_code != code
        locked.waiting_code, locked.waiting_reason = code, reason[:400]
        locked.waiting_since = locked.waiting_since or timezone.now()
        locked.save(update_fields=["waiting_code", "waiting_reason", "waiting_since", "updated_at"])
        touch_pool(pool_id=locked.pk)
        if changed:
            events.pool_refunds_waiting(pool=locked, code=code, reason=reason)


def _progressed(pool: Pool) -> None:
    """A batch was sent or paid: whatever the refunds were waiting for is over."""
    waiting = Pool.objects.filter(pk=pool.pk).exclude(waiting_code="")
    if waiting.update(waiting_code="", waiting_reason="", waiting_since=None, updated_at=timezone.now()):
        touch_pool(pool_id=pool.pk)


class RefundCannotBeSetAside(ApplicationError):
    status_code = 409
    code = "refund_cannot_be_set_aside"


def refund_set_aside(*, refund_id: int, note: str, by: str) -> Refund:
    """Take one refund out of the batches for manual handling (a recipient that cannot be paid, a decision to look
    into): recorded with who and why, and in the signer's log; the other refunds go on without it. Idempotent."""
    from pools.tasks import advance_refunds

    note = note.strip()
    if not note:
        raise RefundCannotBeSetAside("Say why the refund is set aside: the note is kept with it and in the signer log.")
    with transaction.atomic():
        refund = Refund.objects.select_for_update().get(pk=refund_id)
        if refund.status == Refund.Status.SET_ASIDE:
            return refund
        if refund.status != Refund.Status.OWED or refund.transaction_id is not None:
            raise RefundCannotBeSetAside(
                "Only a refund waiting to be sent can be set aside; this one is "
                f"{refund.get_status_display().lower()}.",
                details={"status": refund.status},
            )
        logged = signer_client().note_set_aside(
            pool_id=refund.pool_id,
            recipient=refund.recipient,
            amount=refund.amount,
            deposits=[citation_of(d) for d in refund.deposits.all()],
            note=note,
        )
        refund.status, refund.set_aside_at, refund.set_aside_by = Refund.Status.SET_ASIDE, timezone.now(), by
        refund.set_aside_note, refund.set_aside_log_index = note[:500], logged["log_index"]
        refund.save()
        pool_id = refund.pool_id
        touch_pool(pool_id=pool_id)
        transaction.on_commit(lambda: advance_refunds.delay(pool_id), robust=True)
    logger.warning("refund %s of pool %s set aside by %s: %s", refund_id, pool_id, by, note)
    return refund


def refunds_retry_now(*, pool_id: int) -> None:
    """Forget what the refunds were waiting for and run the job now (an admin's "retry now"); it waits again, and
    says so, if the reason still holds."""
    from pools.tasks import advance_refunds

    _progressed(Pool.objects.get(pk=pool_id))
    advance_refunds.delay(pool_id)
