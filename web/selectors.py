"""The website's reads: a fixed number of queries per page, whatever the number of pools, deposits or snapshots."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Prefetch, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from pools.models import Allocation, Deposit, Pool, Refund
from pools.selectors.pools import PUBLIC_STATUSES
from pools.services.refunds import UNSETTLED
from web.models import FeedSnapshot, PriceSnapshot
from web.services import asset_key

RECENT_DEPOSITS = 20
RECENT_REFUNDS = 20
CHART_POINTS = 60  # one snapshot a minute: the chart and the TWAP cover the last hour
DASHBOARD_OPEN_POOLS = 50

# The pool list's tabs: a name people understand for each group of statuses.
STATUS_GROUPS: dict[str, tuple[str, list[str]]] = {
    "upcoming": ("Upcoming", [Pool.Status.SCHEDULED]),
    "open": ("Open", [Pool.Status.OPEN]),
    "closed": ("Closed, launch pending", [Pool.Status.CLOSED, Pool.Status.LAUNCHING]),
    "launched": ("Launched", [Pool.Status.LAUNCHED]),
    "refunded": ("Refunded", [Pool.Status.REFUNDING, Pool.Status.REFUNDED, Pool.Status.CANCELLED]),
}


def pools_public(*, search: str = "", group: str = "") -> QuerySet[Pool]:
    """Public pools (no drafts), newest first, optionally one status group and a search by name or symbol."""
    pools = Pool.objects.filter(status__in=PUBLIC_STATUSES).select_related("agent")
    if group in STATUS_GROUPS:
        pools = pools.filter(status__in=STATUS_GROUPS[group][1])
    if search:
        pools = pools.filter(Q(name__icontains=search) | Q(token_symbol__iexact=search))
    return pools.order_by("-created_at", "-id")


def pool_public(*, pool_id: int) -> Pool:
    """One public pool with its agent and launch (if any), or 404."""
    return get_object_or_404(
        Pool.objects.filter(status__in=PUBLIC_STATUSES).select_related("agent", "launch", "launch__transaction"),
        pk=pool_id,
    )


@dataclass(frozen=True)
class DepositActivity:
    """The live part of a pool page: its recent deposits and what is pending, credited and owed back."""

    recent: list[Deposit]
    count: int
    depositors: int
    pending_amount: int
    pending_count: int
    refunds_owed: int  # still to be paid by a batch
    refunds_paid: int
    refunds_set_aside: int  # taken out of the batches by an admin, for manual handling
    recent_refunds: list[Refund]
    whitelist_size: int


def deposit_activity(*, pool: Pool) -> DepositActivity:
    """Four queries (five for a whitelisted pool): recent deposits and refunds, and their totals."""
    recent = list(pool.deposits.order_by("-block_number", "-tx_index", "-ordinal")[:RECENT_DEPOSITS])
    pending = Q(status=Deposit.Status.PENDING)
    totals = pool.deposits.aggregate(
        count=Count("id"),
        depositors=Count("sender", distinct=True),
        pending_count=Count("id", filter=pending),
        pending_amount=Sum("amount", filter=pending),
    )
    refunds = list(pool.refunds.select_related("transaction").order_by("-id")[:RECENT_REFUNDS])
    refund_totals = pool.refunds.aggregate(
        owed=Sum("amount", filter=Q(status__in=UNSETTLED)),
        paid=Sum("amount", filter=Q(status=Refund.Status.PAID)),
        set_aside=Sum("amount", filter=Q(status=Refund.Status.SET_ASIDE)),
    )
    whitelist_size = pool.whitelist.count() if pool.access != Pool.Access.PUBLIC else 0
    return DepositActivity(
        recent=recent,
        count=totals["count"],
        depositors=totals["depositors"],
        pending_amount=int(totals["pending_amount"] or 0),
        pending_count=totals["pending_count"],
        refunds_owed=int(refund_totals["owed"] or 0),
        refunds_paid=int(refund_totals["paid"] or 0),
        refunds_set_aside=int(refund_totals["set_aside"] or 0),
        recent_refunds=refunds,
        whitelist_size=whitelist_size,
    )


@dataclass
class PoolContribution:
    """One address's part in one pool."""

    pool: Pool
    deposits: list[Deposit] = field(default_factory=list)
    refunds: list[Refund] = field(default_factory=list)
    allocation: Allocation | None = None

    @property
    def credited(self) -> int:
        return sum(d.credited_amount for d in self.deposits if d.status == Deposit.Status.CONFIRMED)

    @property
    def pending(self) -> int:
        return sum(d.amount for d in self.deposits if d.status == Deposit.Status.PENDING)

    @property
    def deposited(self) -> int:
        return sum(d.amount for d in self.deposits)

    @property
    def refund_owed(self) -> int:
        return sum(r.amount for r in self.refunds if r.status in UNSETTLED)

    @property
    def refunds_set_aside(self) -> list[Refund]:
        return [r for r in self.refunds if r.status == Refund.Status.SET_ASIDE]

    @property
    def refund_paid(self) -> int:
        return sum(r.amount for r in self.refunds if r.status == Refund.Status.PAID)

    @property
    def owed_by_deposits(self) -> int:
        """Refund parts the indexer decided, for deposits whose refund rows are not created yet."""
        return sum(d.refund_amount for d in self.deposits if d.status == Deposit.Status.CONFIRMED)


def contributions_of(*, address: str) -> list[PoolContribution]:
    """Every public pool `address` took part in: its deposits, refunds and allocation. Three queries."""
    by_pool: dict[int, PoolContribution] = {}

    def entry(pool: Pool) -> PoolContribution:
        return by_pool.setdefault(pool.pk, PoolContribution(pool=pool))

    public = Q(pool__status__in=PUBLIC_STATUSES)
    related = ("pool", "pool__agent", "pool__launch")
    for deposit in (
        Deposit.objects.filter(public, sender__iexact=address)
        .select_related(*related)
        .order_by("block_number", "tx_index", "ordinal")
    ):
        entry(deposit.pool).deposits.append(deposit)
    for refund in Refund.objects.filter(public, recipient__iexact=address).select_related(*related).order_by("id"):
        entry(refund.pool).refunds.append(refund)
    for allocation in Allocation.objects.filter(public, address__iexact=address).select_related(*related):
        entry(allocation.pool).allocation = allocation
    return sorted(by_pool.values(), key=lambda c: (c.pool.created_at, c.pool.pk), reverse=True)


def allocation_of(*, pool: Pool, address: str) -> Allocation | None:
    return Allocation.objects.filter(pool=pool, address__iexact=address).first()


# --- dashboard ------------------------------------------------------------------------------------------------


def launched_pools_with_snapshots() -> QuerySet[Pool]:
    """Launched pools, newest launch first, each with its last CHART_POINTS snapshots (newest first) prefetched."""
    recent = PriceSnapshot.objects.order_by("-block_number")[:CHART_POINTS]
    return (
        Pool.objects.filter(status=Pool.Status.LAUNCHED)
        .select_related("agent", "launch")
        .prefetch_related(Prefetch("price_snapshots", queryset=recent, to_attr="recent_snapshots"))
        .order_by("-launch__launched_at", "-id")
    )


def open_pools_for_dashboard() -> list[Pool]:
    return list(
        Pool.objects.filter(status=Pool.Status.OPEN)
        .select_related("agent")
        .order_by("closes_at", "id")[:DASHBOARD_OPEN_POOLS]
    )


def latest_feed_snapshots(*, chain_id: int) -> dict[str, FeedSnapshot]:
    """The newest reading of each asset's USD feed, by asset key ('' for ETH). One query."""
    newest = FeedSnapshot.objects.filter(chain_id=chain_id).order_by("asset", "-block_number", "-id").distinct("asset")
    return {snapshot.asset: snapshot for snapshot in newest}


def feed_for_pool(*, pool: Pool, feeds: dict[str, FeedSnapshot]) -> FeedSnapshot | None:
    return feeds.get(asset_key(pool.raise_asset))
