"""Refunds: what is owed back (over-cap parts, rejected deposits, everything of a failed or cancelled raise), paid in
chunked batches through the Refunder, each recipient's refund backed by the deposits it pays back.

A refund row is created once per (recipient, set of deposits); a deposit is in at most one refund. A batch's
transaction is created together with the rows it pays (one database transaction), then signed, broadcast and
confirmed by the transaction manager; the Refunded events are the truth of what was paid.
"""

from __future__ import annotations

from collections import defaultdict

from django.conf import settings
from django.db import transaction
from django.db.models import Sum
from django.utils import timezone
from web3 import Web3

from chain.client import chain_deployment, web3_client
from chain.contracts import decode_refunded, encode_approve, encode_refund_erc20, encode_refund_eth
from pools.errors import ApplicationError
from pools.locks import advisory_lock
from pools.models import ChainTransaction, Deposit, Pool, Refund
from pools.services import events
from pools.services.gas import ensure_gas
from pools.services.ledger import citation_of, ledger_sync
from pools.services.pools import transition_pool
from pools.services.transactions import advance, create_transaction, latest_in_family
from pools.signer import signer_client

TxStatus = ChainTransaction.Status
REFUNDABLE_STATUSES = [Pool.Status.LAUNCHED, Pool.Status.REFUNDING, Pool.Status.REFUNDED, Pool.Status.CANCELLED]
FAILED_STATUSES = [Pool.Status.REFUNDING, Pool.Status.REFUNDED, Pool.Status.CANCELLED]
REFUND_BASE_GAS = 60_000
# Measured ~38k (ETH) and ~30k (USDC) per recipient in bench/gas.py; an ETH recipient may burn the Refunder's whole
# call stipend before its payment is credited instead, so a native batch budgets for that worst case.
REFUND_GAS_PER_RECIPIENT = {True: 90_000, False: 45_000}  # keyed by "is the raise native"
APPROVE_GAS = 100_000


class PoolCannotRefund(ApplicationError):
    status_code = 409
    code = "pool_cannot_refund"


def owed_amount(*, pool: Pool, deposit: Deposit) -> int:
    """A confirmed deposit's part owed back: all of it when the raise failed, else its refused part."""
    return deposit.amount if pool.status in FAILED_STATUSES else deposit.refund_amount


def refund_request(*, pool_id: int, requested_by: str) -> list[Refund]:
    """Create Refund rows for everything owed and not yet in a refund, and enqueue the refund job. Idempotent."""
    from pools.tasks import advance_refunds

    with transaction.atomic():
        pool = Pool.objects.select_for_update().get(pk=pool_id)
        if pool.status not in REFUNDABLE_STATUSES:
            raise PoolCannotRefund(
                f"A {pool.get_status_display().lower()} pool has nothing to refund yet: refunds follow the launch, "
                "a missed soft cap, or a cancellation.",
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
            refund = Refund.objects.create(
                pool=pool, recipient=recipient, amount=sum(owed_amount(pool=pool, deposit=d) for d in deposits)
            )
            refund.deposits.set(deposits)
            created.append(refund)
        if pool.status == Pool.Status.REFUNDED and created:
            # A deposit confirmed after the pool was settled: it is refunded like the rest.
            pool.status, pool.status_reason = Pool.Status.REFUNDING, "A late deposit is being refunded."
            pool.save(update_fields=["status", "status_reason", "updated_at"])
        if Refund.objects.filter(pool=pool).exclude(status=Refund.Status.PAID).exists():
            # Best effort: with the broker down the refunds are still recorded, and resume_jobs starts them.
            transaction.on_commit(lambda: advance_refunds.delay(pool_id), robust=True)
        return created


def _evidence(refunds: list[Refund]) -> dict:
    """Per recipient, the deposits its refund pays back, in the signer's evidence format."""
    evidence: dict[str, list[dict]] = {}
    for refund in refunds:
        evidence.setdefault(refund.recipient, []).extend(citation_of(d) for d in refund.deposits.all())
    return evidence


def _batch_gas(size: int, *, native: bool) -> int:
    return REFUND_BASE_GAS + REFUND_GAS_PER_RECIPIENT[native] * size


def _send_next_batch(pool: Pool) -> None:
    owed = list(Refund.objects.filter(pool=pool, status=Refund.Status.OWED, transaction__isnull=True).order_by("id"))
    if not owed:
        return
    # One row per recipient in a batch: the signer refuses a batch that names a recipient twice.
    batch, named = [], set()
    for refund in owed:
        if refund.recipient not in named:
            batch.append(refund)
            named.add(refund.recipient)
        if len(batch) == settings.REFUND_BATCH_SIZE:
            break
    total = sum(refund.amount for refund in batch)
    # The signer pays back only what its own books say is owed: bring its ledger up to the newest confirmed block.
    ledger_sync(pool=pool)
    if pool.status in FAILED_STATUSES:
        signer_client().refund_all(pool_id=pool.pk)
    gas = _batch_gas(len(batch), native=pool.is_native)
    if not ensure_gas(
        pool=pool, gas=gas + (0 if pool.is_native else APPROVE_GAS), value=total if pool.is_native else 0
    ):
        return  # a top-up is on its way
    refunder = chain_deployment().refunder
    recipients, amounts = [r.recipient for r in batch], [r.amount for r in batch]
    with transaction.atomic():
        if not pool.is_native:
            create_transaction(
                pool=pool,
                purpose=ChainTransaction.Purpose.APPROVE,
                signer_key=str(pool.pk),
                from_address=pool.deposit_address,
                to_address=pool.raise_asset,
                data=encode_approve(spender=refunder, amount=total),
                value=0,
                gas=APPROVE_GAS,
            )
            data = encode_refund_erc20(token=pool.raise_asset, recipients=recipients, amounts=amounts)
        else:
            data = encode_refund_eth(recipients=recipients, amounts=amounts)
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
        )
        Refund.objects.filter(pk__in=[r.pk for r in batch]).update(status=Refund.Status.SENDING, transaction=tx)


def _follow_batches(pool: Pool) -> None:
    """Advance every batch in flight (approve first for ERC-20: nonces are in order); settle confirmed ones."""
    open_txs = ChainTransaction.objects.filter(
        pool=pool,
        purpose__in=[ChainTransaction.Purpose.APPROVE, ChainTransaction.Purpose.REFUND],
        status__in=[TxStatus.UNSTARTED, TxStatus.IN_PROGRESS, TxStatus.UNCONFIRMED],
    ).order_by("nonce")
    for tx in open_txs:
        advance(latest_in_family(tx))
    for refund_tx in (
        ChainTransaction.objects.filter(pool=pool, purpose=ChainTransaction.Purpose.REFUND)
        .filter(refunds__status=Refund.Status.SENDING)
        .distinct()
    ):
        final = latest_in_family(refund_tx)
        if final.status == TxStatus.CONFIRMED:
            receipt = web3_client().eth.get_transaction_receipt(final.tx_hash)
            events = decode_refunded(receipt, refunder=chain_deployment().refunder)
            paid_to = {Web3.to_checksum_address(event.recipient) for event in events}
            Refund.objects.filter(transaction=refund_tx, recipient__in=paid_to).update(
                status=Refund.Status.PAID, paid_at=timezone.now(), transaction=final
            )
        elif final.status == TxStatus.FAILED:
            Refund.objects.filter(transaction=refund_tx).update(status=Refund.Status.OWED, transaction=None)


def refunds_advance(*, pool_id: int) -> int:
    """Send the next batch and follow those in flight; returns how many refunds are still unpaid."""
    with advisory_lock(f"refunds:{pool_id}") as taken:
        if not taken:
            return Refund.objects.filter(pool_id=pool_id).exclude(status=Refund.Status.PAID).count()
        pool = Pool.objects.get(pk=pool_id)
        _follow_batches(pool)
        if not Refund.objects.filter(pool=pool, status=Refund.Status.SENDING).exists():
            _send_next_batch(pool)
            _follow_batches(pool)
        remaining = Refund.objects.filter(pool=pool).exclude(status=Refund.Status.PAID).count()
        if remaining == 0 and pool.status == Pool.Status.REFUNDING:
            with transaction.atomic():
                locked = Pool.objects.select_for_update().get(pk=pool_id)
                # refund_request takes the same lock to add refunds: counted again under it, none can slip in.
                unpaid = Refund.objects.filter(pool=locked).exclude(status=Refund.Status.PAID).exists()
                if locked.status == Pool.Status.REFUNDING and not unpaid:
                    transition_pool(locked, Pool.Status.REFUNDED, reason="Every deposit was refunded in full.")
                    locked.save(update_fields=["status", "status_reason", "updated_at"])
                    paid = Refund.objects.filter(pool=locked, status=Refund.Status.PAID).aggregate(total=Sum("amount"))
                    events.pool_refunded(pool=locked, refunded_total=int(paid["total"] or 0))
        return remaining
