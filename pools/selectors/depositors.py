"""Reads for depositors, for the REST API: what one address can claim from a launched pool now, with the exact
transaction that claims it, and one address's part in every public pool (deposits, refunds, allocation).

The claim is read on chain (what vested and what was claimed, as the website's claim page reads it); a chain that does
not answer leaves the amounts unknown and says why, and the rest (the allocation, the calldata) is still given.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime

from django.db.models import Exists, OuterRef, Prefetch, QuerySet

from chain.contracts import encode_claim
from chain.errors import ChainError
from chain.reads import ClaimStatus, claim_status
from pools.errors import ApplicationError
from pools.models import Allocation, Deposit, Launch, Pool, Refund
from pools.selectors.pools import AllocationNotFound, checksum_or_error, pool_get_public, pool_list_public
from pools.selectors.refunds import DepositParts, deposit_parts


class PoolNotLaunched(ApplicationError):
    status_code = 409
    code = "pool_not_launched"


@dataclass(frozen=True)
class Claim:
    """What `allocation.address` can claim from the pool's ClaimVault, and the transaction that claims it."""

    pool: Pool
    launch: Launch
    allocation: Allocation
    calldata: str  # ClaimVault.claim(allocation, proof), 0x-hex
    status: ClaimStatus | None  # None when the chain did not answer
    unavailable: str = ""  # why `status` is None

    @property
    def vesting_start(self) -> datetime | None:
        return _time(self.status.vesting_start) if self.status else None

    @property
    def vesting_end(self) -> datetime | None:
        return _time(self.status.vesting_end) if self.status else None

    @property
    def chain_time(self) -> datetime | None:
        return _time(self.status.chain_time) if self.status else None


def _time(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


def claim_get_public(*, pool_id: int, address: str) -> Claim:
    """`address`'s claim in a launched public pool: its allocation and proof, the calldata of the claim, and what the
    vault says it can claim now (a read of the latest block: the claim itself, mined later, may vest a little more)."""
    pool = pool_get_public(pool_id=pool_id)
    account = checksum_or_error(address)
    launch = Launch.objects.filter(pool=pool, step=Launch.Step.LAUNCHED).exclude(claim_vault_address="").first()
    if pool.status != Pool.Status.LAUNCHED or launch is None:
        raise PoolNotLaunched(
            f"Pool {pool.pk} has not launched: there is nothing to claim before its token exists.",
            details={"status": pool.status},
        )
    allocation = Allocation.objects.filter(pool=pool, address=account).first()
    if allocation is None:
        raise AllocationNotFound(f"{account} has no allocation in pool {pool.pk}: nothing of it was credited.")
    proof = [bytes.fromhex(node.removeprefix("0x")) for node in allocation.proof]
    calldata = "0x" + encode_claim(amount=allocation.token_amount, proof=proof).hex()
    try:
        status = claim_status(vault=launch.claim_vault_address, account=account, allocation=allocation.token_amount)
    except ChainError as exc:
        return Claim(pool, launch, allocation, calldata, status=None, unavailable=f"The chain did not answer: {exc}")
    return Claim(pool, launch, allocation, calldata, status=status)


# --- one address across pools -----------------------------------------------------------------------------------


def depositor_pool_list(*, address: str) -> QuerySet[Pool]:
    """Public pools `address` sent a deposit to, was refunded by or has an allocation in, newest first."""
    account = checksum_or_error(address)
    return pool_list_public().filter(
        Exists(Deposit.objects.filter(pool=OuterRef("pk"), sender=account))
        | Exists(Refund.objects.filter(pool=OuterRef("pk"), recipient=account))
        | Exists(Allocation.objects.filter(pool=OuterRef("pk"), address=account))
    )


@dataclass
class DepositorPool:
    """One address's part in one pool; amounts in the raise asset's smallest unit."""

    pool: Pool
    address: str
    deposits: list[Deposit]
    refunds: list[Refund]
    allocation: Allocation | None  # only once the pool launched: before, an allocation row is not final
    parts: dict[int, DepositParts] = field(default_factory=dict)

    def _confirmed(self) -> list[DepositParts]:
        return [self.parts[d.pk] for d in self.deposits if d.status == Deposit.Status.CONFIRMED]

    @property
    def deposited(self) -> int:
        return sum(d.amount for d in self.deposits)

    @property
    def pending(self) -> int:
        return sum(d.amount for d in self.deposits if d.status == Deposit.Status.PENDING)

    @property
    def credited(self) -> int:
        return sum(parts.credited for parts in self._confirmed())

    @property
    def refund_owed(self) -> int:
        return sum(parts.refund for parts in self._confirmed())

    @property
    def refund_paid(self) -> int:
        return sum(parts.paid for parts in self._confirmed())

    @property
    def refund_still_owed(self) -> int:
        return self.refund_owed - self.refund_paid


def depositor_pools(*, address: str, pools: list[Pool]) -> list[DepositorPool]:
    """`address`'s part in each of `pools` (a page of depositor_pool_list), in their order; a fixed number of
    queries however many pools."""
    account = checksum_or_error(address)
    ids = [pool.pk for pool in pools]
    by_pool = {
        pool.pk: pool
        for pool in Pool.objects.filter(pk__in=ids).prefetch_related(
            Prefetch(
                "deposits",
                queryset=Deposit.objects.filter(sender=account).order_by("block_number", "tx_index", "ordinal", "id"),
                to_attr="of_address",
            ),
            Prefetch(
                "refunds",
                queryset=Refund.objects.filter(recipient=account)
                .select_related("transaction")
                .prefetch_related("deposits")
                .order_by("id"),
                to_attr="to_address",
            ),
        )
    }
    allocations = {
        a.pool_id: a
        for a in Allocation.objects.filter(pool_id__in=ids, address=account, pool__status=Pool.Status.LAUNCHED)
    }
    entries = [
        DepositorPool(
            pool=pool,
            address=account,
            deposits=by_pool[pool.pk].of_address,
            refunds=by_pool[pool.pk].to_address,
            allocation=allocations.get(pool.pk),
        )
        for pool in pools
    ]
    parts = deposit_parts(deposits=[d for entry in entries for d in entry.deposits])
    for entry in entries:
        entry.parts = {d.pk: parts[d.pk] for d in entry.deposits}
    return entries
