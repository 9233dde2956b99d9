"""The website's reads: a fixed number of queries per page, whatever the number of pools, deposits or snapshots (and
one batched chain read for an address's claims)."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db.models import Count, Exists, OuterRef, Prefetch, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from chain.errors import ChainError
from chain.reads import ClaimedEvent, claimed_events
from pools.models import Allocation, Deposit, Pool, Refund
from pools.selectors.pools import PUBLIC_STATUSES
from pools.services.refunds import UNSETTLED, owed_amount, owed_unbatched
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
    refunds_owed: int  # refund rows still to be paid by a batch
    owed_unbatched: int  # decided to be paid back, not in a refund row yet (over-cap parts before the launch)
    refunds_paid: int
    refunds_set_aside: int  # taken out of the batches by an admin, for manual handling
    recent_refunds: list[Refund]
    whitelist_size: int

    @property
    def owed_back(self) -> int:
        """Everything still owed to depositors: the one figure every "owed back" on a page shows."""
        return self.refunds_owed + self.owed_unbatched


def _in_a_refund() -> Exists:
    return Exists(Refund.deposits.through.objects.filter(deposit_id=OuterRef("pk")))


def deposit_activity(*, pool: Pool) -> DepositActivity:
    """Five queries (six for a whitelisted pool): recent deposits and refunds, and their totals.

    A depositor is a sender with something credited: a sender refunded in full (late, below the minimum) is not one.
    """
    recent = list(pool.deposits.order_by("-block_number", "-tx_index", "-ordinal")[:RECENT_DEPOSITS])
    pending = Q(status=Deposit.Status.PENDING)
    totals = pool.deposits.aggregate(
        count=Count("id"),
        depositors=Count("sender", distinct=True, filter=Q(status=Deposit.Status.CONFIRMED, credited_amount__gt=0)),
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
        owed_unbatched=owed_unbatched(pool=pool),
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
    claims: list[ClaimedEvent] = field(default_factory=list)

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
        """What `owed_amount` owes for this address's confirmed deposits that no refund row pays yet."""
        unbatched = [d for d in self.deposits if d.status == Deposit.Status.CONFIRMED and not d.in_refund]
        return sum(owed_amount(pool=self.pool, deposit=d) for d in unbatched)

    @property
    def owed_back(self) -> int:
        """Still owed to this address: unpaid refund rows and decided parts not batched yet (never what was paid)."""
        return self.refund_owed + self.owed_by_deposits


def _deposits_of(address: str) -> QuerySet[Deposit]:
    return (
        Deposit.objects.filter(sender__iexact=address)
        .annotate(in_refund=_in_a_refund())
        .order_by("block_number", "tx_index", "ordinal")
    )


def contribution_in(*, pool: Pool, address: str) -> PoolContribution | None:
    """`address`'s part in `pool` (deposits, refunds, allocation), or None when it has none. Three queries."""
    contribution = PoolContribution(
        pool=pool,
        deposits=list(_deposits_of(address).filter(pool=pool)),
        refunds=list(pool.refunds.filter(recipient__iexact=address).select_related("transaction").order_by("id")),
        allocation=allocation_of(pool=pool, address=address),
    )
    if not (contribution.deposits or contribution.refunds or contribution.allocation):
        return None
    return contribution


def contributions_of(*, address: str) -> list[PoolContribution]:
    """Every public pool `address` took part in: its deposits, refunds and allocation. Three queries."""
    by_pool: dict[int, PoolContribution] = {}

    def entry(pool: Pool) -> PoolContribution:
        return by_pool.setdefault(pool.pk, PoolContribution(pool=pool))

    public = Q(pool__status__in=PUBLIC_STATUSES)
    related = ("pool", "pool__agent", "pool__launch", "pool__launch__transaction")
    for deposit in _deposits_of(address).filter(public).select_related(*related):
        entry(deposit.pool).deposits.append(deposit)
    refunds = Refund.objects.filter(public, recipient__iexact=address).select_related(*related, "transaction")
    for refund in refunds.order_by("id"):
        entry(refund.pool).refunds.append(refund)
    for allocation in Allocation.objects.filter(public, address__iexact=address).select_related(*related):
        entry(allocation.pool).allocation = allocation
    return sorted(by_pool.values(), key=lambda c: (c.pool.created_at, c.pool.pk), reverse=True)


def claims_add(*, address: str, contributions: list[PoolContribution]) -> str:
    """Fill in each contribution's claims from its vault's Claimed events (one batched chain read for every pool with
    an allocation, from its launch block). The chain's error in words when it did not answer, else ''."""
    claimable = [c for c in contributions if c.allocation and c.pool.launch.claim_vault_address]
    vaults = [(c.pool.launch.claim_vault_address, _launch_block(c.pool)) for c in claimable]
    try:
        claims = claimed_events(account=address, vaults=vaults)
    except ChainError as exc:
        return str(exc)
    for contribution, found in zip(claimable, claims, strict=True):
        contribution.claims = found
    return ""


def _launch_block(pool: Pool) -> int:
    transaction = pool.launch.transaction
    return transaction.block_number if transaction and transaction.block_number else 0


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
