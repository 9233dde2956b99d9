"""Reads of a pool's refunds: how many there are, and how much, in each status (the admin); what is owed, paid and
still owed, for the pool and for each deposit (the API)."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import Count, Sum

from pools.models import Deposit, Pool, Refund
from pools.services.refunds import FAILED_STATUSES, owed_amount, owed_unbatched


@dataclass(frozen=True)
class RefundTotal:
    count: int
    amount: int


def refund_totals_by_status(*, pool_id: int) -> dict[str, RefundTotal]:
    """Each refund status, in the order of Refund.Status, with its count and amount (zero when none). One query."""
    rows = Refund.objects.filter(pool_id=pool_id).values("status").annotate(count=Count("id"), amount=Sum("amount"))
    found = {row["status"]: RefundTotal(row["count"], int(row["amount"] or 0)) for row in rows.order_by()}
    return {status: found.get(status, RefundTotal(0, 0)) for status in Refund.Status.values}


# --- owed, paid and still owed ----------------------------------------------------------------------------------
#
# What is owed back is defined once, by `owed_amount` (pools.services.refunds): the crediting rules' refused part while
# the pool may launch or has launched, all of a deposit once the raise failed or was cancelled (the signer's
# refund_all phase pays back exactly that). Refund rows are made from it and only change status, so:
#   owed       = every refund row + what `owed_amount` gives for confirmed deposits no row pays yet
#   paid       = the rows the Refunder's Refunded events settled
#   still_owed = owed - paid (a batch being sent, or a row set aside for people, is still owed)


@dataclass(frozen=True)
class RefundNumbers:
    """A pool's refunds, in the raise asset's smallest unit."""

    owed: int
    paid: int
    sending: int
    set_aside: int

    @property
    def still_owed(self) -> int:
        return self.owed - self.paid


def pool_refund_numbers(*, pool: Pool) -> RefundNumbers:
    """Owed, paid, being sent and set aside for `pool`, from its Refund rows and its not yet batched deposits."""
    totals = refund_totals_by_status(pool_id=pool.pk)
    in_rows = sum(total.amount for total in totals.values())
    return RefundNumbers(
        owed=in_rows + owed_unbatched(pool=pool),
        paid=totals[Refund.Status.PAID].amount,
        sending=totals[Refund.Status.SENDING].amount,
        set_aside=totals[Refund.Status.SET_ASIDE].amount,
    )


def credited_total(*, pool: Pool) -> int:
    """What counts toward the raise now: nothing once the raise failed or was cancelled (all of it is owed back)."""
    return 0 if pool.status in FAILED_STATUSES else pool.raised


@dataclass(frozen=True)
class DepositParts:
    """One deposit's split as it stands now, and how much of its owed part was paid back."""

    credited: int
    refund: int
    reason: str
    paid: int

    @property
    def still_owed(self) -> int:
        return self.refund - self.paid


def _parts_now(deposit: Deposit, pool: Pool) -> tuple[int, int, str]:
    """The crediting rules' split, or once the raise failed, all of it owed back (pool_failed, unless it was owed
    back in full anyway, whose reason says more). A pending deposit is shown as stored (nothing, until confirmed)."""
    failed = pool.status in FAILED_STATUSES and deposit.status == Deposit.Status.CONFIRMED
    if not failed or deposit.refund_reason == Deposit.RefundReason.NO_SENDER:
        return deposit.credited_amount, deposit.refund_amount, deposit.refund_reason
    owed = owed_amount(pool=pool, deposit=deposit)
    keeps_reason = deposit.refund_reason and deposit.refund_amount == deposit.amount
    return 0, owed, deposit.refund_reason if keeps_reason else Deposit.RefundReason.POOL_FAILED


def deposit_parts(*, deposits: Iterable[Deposit]) -> dict[int, DepositParts]:
    """For each deposit (by id): its credited and owed parts now, and what of the owed part was paid. Three queries
    however many deposits.

    A refund pays back all of one sender's deposits it was made for (in parts when above the pool's value cap), so
    a paid amount is known per refund, not per deposit: it is counted against those deposits in chain order. Only a
    refund paid in part (some of its parts paid) makes that a choice; paid in full, every deposit is paid in full.
    """
    deposits = list(deposits)
    pools = {pool.pk: pool for pool in Pool.objects.filter(pk__in={d.pool_id for d in deposits}).only("status")}
    Through = Refund.deposits.through
    refund_ids = set(
        Through.objects.filter(deposit_id__in=[d.pk for d in deposits]).values_list("refund_id", flat=True)
    )
    links = list(Through.objects.filter(refund_id__in=refund_ids).values_list("refund_id", "deposit_id"))
    covered: dict[int, set[int]] = defaultdict(set)
    for refund_id, deposit_id in links:
        covered[refund_id].add(deposit_id)
    paid_by_group: dict[frozenset[int], int] = defaultdict(int)
    for refund_id, amount in Refund.objects.filter(pk__in=refund_ids, status=Refund.Status.PAID).values_list(
        "pk", "amount"
    ):
        paid_by_group[frozenset(covered[refund_id])] += int(amount)
    known = {d.pk: d for d in deposits}
    others = {deposit_id for _, deposit_id in links} - set(known)
    known.update({d.pk: d for d in Deposit.objects.filter(pk__in=others)})
    # A refund pays deposits of its own pool only: `pools` holds every pool met here.
    now = {pk: _parts_now(d, pools[d.pool_id]) for pk, d in known.items()}

    paid: dict[int, int] = defaultdict(int)
    for group, total in paid_by_group.items():
        for deposit_id in sorted(group, key=lambda pk: _chain_order(known[pk])):
            share = min(now[deposit_id][1], total)
            paid[deposit_id], total = share, total - share
    return {
        d.pk: DepositParts(credited=now[d.pk][0], refund=now[d.pk][1], reason=now[d.pk][2], paid=paid[d.pk])
        for d in deposits
    }


def _chain_order(deposit: Deposit) -> tuple:
    return (deposit.block_number, deposit.tx_index, deposit.ordinal, deposit.pk)
