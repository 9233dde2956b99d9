"""Reads of pools for the public pages and the API."""

from django.db.models import QuerySet

from pools.models import Pool

PUBLIC_STATUSES = [
    Pool.Status.SCHEDULED,
    Pool.Status.OPEN,
    Pool.Status.CLOSED,
    Pool.Status.LAUNCHING,
    Pool.Status.LAUNCHED,
    Pool.Status.REFUNDING,
    Pool.Status.REFUNDED,
    Pool.Status.CANCELLED,
]


def pool_list_public(*, search: str = "") -> QuerySet[Pool]:
    """Every pool the public may see (drafts are the admin's and the agent's only), newest first."""
    pools = Pool.objects.filter(status__in=PUBLIC_STATUSES).select_related("agent")
    if search:
        pools = pools.filter(name__icontains=search) | pools.filter(token_symbol__iexact=search)
    return pools.order_by("-created_at", "-id")
