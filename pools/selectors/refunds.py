"""Reads of a pool's refunds for the admin: how many there are, and how much, in each status."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Count, Sum

from pools.models import Refund


@dataclass(frozen=True)
class RefundTotal:
    count: int
    amount: int


def refund_totals_by_status(*, pool_id: int) -> dict[str, RefundTotal]:
    """Each refund status, in the order of Refund.Status, with its count and amount (zero when none). One query."""
    rows = Refund.objects.filter(pool_id=pool_id).values("status").annotate(count=Count("id"), amount=Sum("amount"))
    found = {row["status"]: RefundTotal(row["count"], int(row["amount"] or 0)) for row in rows.order_by()}
    return {status: found.get(status, RefundTotal(0, 0)) for status in Refund.Status.values}
