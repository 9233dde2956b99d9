"""Reads of pools for the public pages and the REST API: public pools, and an agent's own pools and what hangs off
them.

An agent asking for a pool that is not its own gets the same PoolNotFound as for a pool that does not exist, so the
API does not tell which pools exist.
"""

from __future__ import annotations

from django.db.models import Prefetch, QuerySet
from eth_utils import is_hex_address, to_checksum_address

from pools.errors import ApplicationError
from pools.models import Allocation, ChainTransaction, Deposit, Launch, Pool, Refund

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
LAUNCH_PURPOSES = [
    ChainTransaction.Purpose.GAS_TOPUP,
    ChainTransaction.Purpose.APPROVE,
    ChainTransaction.Purpose.LAUNCH,
]


class PoolNotFound(ApplicationError):
    status_code = 404
    code = "pool_not_found"


class AllocationNotFound(ApplicationError):
    status_code = 404
    code = "allocation_not_found"


class LaunchNotFound(ApplicationError):
    status_code = 404
    code = "launch_not_found"


class InvalidAddress(ApplicationError):
    code = "invalid_address"


def pool_list_public(*, search: str = "") -> QuerySet[Pool]:
    """Every pool the public may see (drafts are the admin's and the agent's only), newest first."""
    pools = Pool.objects.filter(status__in=PUBLIC_STATUSES).select_related("agent")
    if search:
        pools = pools.filter(name__icontains=search) | pools.filter(token_symbol__iexact=search)
    return pools.order_by("-created_at", "-id")


def pool_get_public(*, pool_id: int) -> Pool:
    pool = Pool.objects.select_related("agent").filter(pk=pool_id, status__in=PUBLIC_STATUSES).first()
    if pool is None:
        raise PoolNotFound(f"No public pool has the id {pool_id}.")
    return pool


def pool_list_for_agent(*, agent_id: int, status: str = "") -> QuerySet[Pool]:
    """The agent's pools, drafts included, newest first."""
    pools = Pool.objects.filter(agent_id=agent_id).select_related("agent")
    if status:
        pools = pools.filter(status=status)
    return pools.order_by("-created_at", "-id")


def pool_get_for_agent(*, agent_id: int, pool_id: int) -> Pool:
    pool = Pool.objects.select_related("agent").filter(pk=pool_id, agent_id=agent_id).first()
    if pool is None:
        raise PoolNotFound(f"You have no pool with the id {pool_id}.")
    return pool


def deposit_list_for_pool(*, pool: Pool, status: str = "", sender: str = "") -> QuerySet[Deposit]:
    """The pool's deposits in chain order."""
    deposits = Deposit.objects.filter(pool=pool)
    if status:
        deposits = deposits.filter(status=status)
    if sender:
        deposits = deposits.filter(sender=checksum_or_error(sender))
    return deposits.order_by("block_number", "tx_index", "ordinal", "id")


def refund_list_for_pool(*, pool: Pool, status: str = "") -> QuerySet[Refund]:
    refunds = Refund.objects.filter(pool=pool).select_related("transaction")
    if status:
        refunds = refunds.filter(status=status)
    return refunds.order_by("id")


def allocation_list_for_pool(*, pool: Pool) -> QuerySet[Allocation]:
    return Allocation.objects.filter(pool=pool).order_by("address", "id")


def allocation_get_public(*, pool_id: int, address: str) -> Allocation:
    """An address's allocation in a public pool, with its Merkle proof (what ClaimVault.claim needs)."""
    pool = pool_get_public(pool_id=pool_id)
    allocation = Allocation.objects.filter(pool=pool, address=checksum_or_error(address)).first()
    if allocation is None:
        raise AllocationNotFound(
            f"{to_checksum_address(address)} has no allocation in pool {pool_id}: it did not contribute, or the "
            "pool has not launched yet."
        )
    return allocation


def launch_get_for_pool(*, pool: Pool) -> Launch:
    """The pool's launch with its transactions (gas top-up, approve, launch; replaced ones included)."""
    transactions = ChainTransaction.objects.filter(pool=pool, purpose__in=LAUNCH_PURPOSES).order_by("id")
    launch = (
        Launch.objects.filter(pool=pool)
        .select_related("pool")
        .prefetch_related(Prefetch("pool__transactions", queryset=transactions, to_attr="launch_transactions"))
        .first()
    )
    if launch is None:
        raise LaunchNotFound(f"No launch was requested for pool {pool.pk} yet.")
    return launch


def checksum_or_error(address: str) -> str:
    if not is_hex_address(address):
        raise InvalidAddress(f"{address[:64]!r} is not an address: 0x followed by 40 hexadecimal digits.")
    return to_checksum_address(address)
