"""How much the gas account should hold: the gas its top-ups will pay for the pools open now, at today's fees.

The gas account (the signer's "gas" key) sends ERC-20 pools the native currency for their approve and launch, and any
pool the gas of its refund batches (pools/services/gas.py sends the top-ups). Its recommended balance is, per pool
that will still need it, that gas at the current maxFeePerGas -- each capped by what the signer lets one pool address
receive in all (SIGNER_GAS_TOPUP_POOL_MAX_WEI, which the signer publishes in its /health) -- plus a reserve of one
ERC-20 launch and one full refund batch, so a fresh deployment is told to fund it before its first pool needs it.
On an OP-stack chain each of those transactions also pays an L1 data fee for its calldata, priced now.
An estimate from above: a pool's own balance, which may pay part of its gas, is not subtracted.

Its own module rather than gas.py: it reads the launch's and refunds' gas limits, and those modules import gas.py.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import NamedTuple

from django.conf import settings
from django.db.models import Count, Q, Sum
from web3 import Web3

from chain.client import web3_client
from chain.contracts import ZERO_ADDRESS
from chain.errors import FeesTooHigh
from chain.l1fees import incompressible, l1_fee, unsigned_transaction_bytes
from chain.transactions import Fees, current_fees
from enclave_signer.config import DEFAULT_GAS_TOPUP_POOL_MAX_WEI
from enclave_signer.crediting import ZERO_SENDER
from pools.models import ChainTransaction, Deposit, Pool, Refund
from pools.services.gas import TRANSFER_GAS
from pools.services.launch import APPROVE_GAS_LIMIT, LAUNCH_GAS_LIMIT
from pools.services.refund_batches import batch_gas
from pools.services.refunds import APPROVE_GAS, FAILED_STATUSES, UNSETTLED
from pools.signer import signer_client
from pools.signer_client import SignerClient

# An ERC-20 pool still to launch: the gas account pays its approve and its launch.
AWAITING_LAUNCH = [Pool.Status.SCHEDULED, Pool.Status.OPEN, Pool.Status.CLOSED, Pool.Status.LAUNCHING]
# Top-ups that count against the signer's per-pool cap: all but those that never reached the chain or were replaced.
COUNTED_TOPUPS = [
    ChainTransaction.Status.UNSTARTED,
    ChainTransaction.Status.IN_PROGRESS,
    ChainTransaction.Status.UNCONFIRMED,
    ChainTransaction.Status.CONFIRMED,
]
# Calldata sizes, for the L1 data fee on OP-stack chains: an approve is a selector and two words; a launch carries its
# parameters (about forty words with the token's name and symbol), rounded up; a refund batch names the token and two
# arrays, a word per recipient in each.
APPROVE_CALLDATA_BYTES = 4 + 2 * 32
LAUNCH_CALLDATA_BYTES = 2_048
REFUND_CALLDATA_BASE_BYTES = 4 + 5 * 32
REFUND_CALLDATA_BYTES_PER_RECIPIENT = 2 * 32


class PoolGasNeed(NamedTuple):
    pool_id: int
    name: str
    why: str
    wei: int


@dataclass(frozen=True)
class GasAccountStatus:
    address: str
    balance: int
    recommended: int
    per_pool: list[PoolGasNeed]
    one_topup: int  # what one ERC-20 launch's top-up costs the account now (the top-up and its transfer's own gas)
    max_fee_per_gas: int

    @property
    def shortfall(self) -> int:
        """How much to send to reach the recommendation (0 when it is reached)."""
        return max(0, self.recommended - self.balance)


@dataclass(frozen=True)
class Prices:
    """What the gas account's transactions cost now: L2 gas at maxFeePerGas, and each shape's L1 data fee (0 but on
    an OP-stack chain), the refund batch's for a full batch."""

    max_fee_per_gas: int
    l1_transfer: int = 0
    l1_approve: int = 0
    l1_launch: int = 0
    l1_refund_batch: int = 0

    def launch(self) -> int:
        """An ERC-20 pool's approve and launch, and the top-up that pays for them."""
        return launch_gas() * self.max_fee_per_gas + self.l1_transfer + self.l1_approve + self.l1_launch

    def refunds(self, recipients: int, *, native: bool) -> int:
        """The refund batches paying `recipients`, an approve with each ERC-20 batch, and their top-ups."""
        batches = -(-recipients // settings.REFUND_BATCH_SIZE)
        l1_per_batch = self.l1_refund_batch + self.l1_transfer + (0 if native else self.l1_approve)
        return refunds_gas(recipients, native=native) * self.max_fee_per_gas + batches * l1_per_batch


def _fees(w3: Web3) -> Fees:
    """The fees a top-up would pay now; above the cap, the cap (nothing is sent above it)."""
    try:
        return current_fees(w3=w3)
    except FeesTooHigh:
        return Fees(settings.CHAIN_MAX_FEE_PER_GAS_WEI, settings.CHAIN_MAX_PRIORITY_FEE_WEI)


def _l1_fee(*, calldata_bytes: int, gas: int, fees: Fees, w3: Web3) -> int:
    tx = {"chainId": settings.CHAIN_ID, "nonce": 0, "to": ZERO_ADDRESS, "value": 0, "gas": gas}
    tx.update(data=incompressible(calldata_bytes), maxFeePerGas=fees.max_fee_per_gas)
    tx.update(maxPriorityFeePerGas=fees.max_priority_fee_per_gas)
    return l1_fee(unsigned_transaction_bytes(tx), w3=w3)


def current_prices(*, w3: Web3) -> Prices:
    """Today's prices; the L1 data fees are asked of the chain only on an OP-stack chain."""
    fees = _fees(w3)
    if not settings.CHAIN_OP_STACK:
        return Prices(max_fee_per_gas=fees.max_fee_per_gas)
    batch = settings.REFUND_BATCH_SIZE
    refund_bytes = REFUND_CALLDATA_BASE_BYTES + REFUND_CALLDATA_BYTES_PER_RECIPIENT * batch
    return Prices(
        max_fee_per_gas=fees.max_fee_per_gas,
        l1_transfer=_l1_fee(calldata_bytes=0, gas=TRANSFER_GAS, fees=fees, w3=w3),
        l1_approve=_l1_fee(calldata_bytes=APPROVE_CALLDATA_BYTES, gas=APPROVE_GAS_LIMIT, fees=fees, w3=w3),
        l1_launch=_l1_fee(calldata_bytes=LAUNCH_CALLDATA_BYTES, gas=LAUNCH_GAS_LIMIT, fees=fees, w3=w3),
        l1_refund_batch=_l1_fee(calldata_bytes=refund_bytes, gas=batch_gas(batch, native=True), fees=fees, w3=w3),
    )


def launch_gas() -> int:
    """The gas an ERC-20 pool's approve and launch are sent with, plus the top-up's own transfer."""
    return APPROVE_GAS_LIMIT + LAUNCH_GAS_LIMIT + TRANSFER_GAS


def refunds_gas(recipients: int, *, native: bool) -> int:
    """The gas of the refund batches paying `recipients` (an approve with each ERC-20 batch), and their top-ups."""
    full, rest = divmod(recipients, settings.REFUND_BATCH_SIZE)
    sizes = [settings.REFUND_BATCH_SIZE] * full + ([rest] if rest else [])
    per_batch_extra = TRANSFER_GAS + (0 if native else APPROVE_GAS)
    return sum(batch_gas(size, native=native) + per_batch_extra for size in sizes)


def _refund_recipients() -> dict[int, int]:
    """Per pool, the refunds still to be paid by a batch: refund rows not yet paid, plus the senders of confirmed
    deposits owed back that no refund row pays yet (the next refund_request makes their rows)."""
    counts: dict[int, int] = defaultdict(int)
    for row in Refund.objects.filter(status__in=UNSETTLED).values("pool").annotate(n=Count("id")):
        counts[row["pool"]] += row["n"]
    owed_back = Q(pool__status__in=FAILED_STATUSES) | Q(refund_amount__gt=0)
    unbatched = (
        Deposit.objects.filter(owed_back, status=Deposit.Status.CONFIRMED, refunds__isnull=True)
        .exclude(sender__iexact=ZERO_SENDER)
        .values("pool")
        .annotate(n=Count("sender", distinct=True))
    )
    for row in unbatched:
        counts[row["pool"]] += row["n"]
    return counts


def _topped_up() -> dict[int, int]:
    """Per pool, the top-ups already sent or on their way: they count against the signer's per-pool cap."""
    rows = (
        ChainTransaction.objects.filter(purpose=ChainTransaction.Purpose.GAS_TOPUP, status__in=COUNTED_TOPUPS)
        .values("pool")
        .annotate(total=Sum("value"))
    )
    return {row["pool"]: int(row["total"] or 0) for row in rows}


def pool_gas_needs(*, prices: Prices, pool_topup_cap: int) -> list[PoolGasNeed]:
    """Each pool that will still draw on the gas account, with why and how much (within the signer's cap)."""
    wei_by_pool: dict[int, int] = defaultdict(int)
    why_by_pool: dict[int, list[str]] = defaultdict(list)
    for pool_id in Pool.objects.filter(status__in=AWAITING_LAUNCH).exclude(raise_asset="").values_list("pk", flat=True):
        wei_by_pool[pool_id] += prices.launch()
        why_by_pool[pool_id].append("approve and launch")
    recipients = _refund_recipients()
    natives = set(Pool.objects.filter(pk__in=recipients, raise_asset="").values_list("pk", flat=True))
    for pool_id, count in recipients.items():
        wei_by_pool[pool_id] += prices.refunds(count, native=pool_id in natives)
        why_by_pool[pool_id].append(f"refunds to {count} recipient{'s' if count != 1 else ''}")
    topped_up = _topped_up()
    names = dict(Pool.objects.filter(pk__in=wei_by_pool).values_list("pk", "name"))
    needs = []
    for pool_id in sorted(wei_by_pool):
        room = max(0, pool_topup_cap - topped_up.get(pool_id, 0))
        wei = min(wei_by_pool[pool_id], room)
        if wei:
            needs.append(PoolGasNeed(pool_id, names[pool_id], " and ".join(why_by_pool[pool_id]), wei))
    return needs


def reserve_wei(*, prices: Prices, pool_topup_cap: int) -> int:
    """One ERC-20 launch and one full refund batch of an ERC-20 pool, each within the per-pool cap."""
    launch = min(prices.launch(), pool_topup_cap)
    refunds = min(prices.refunds(settings.REFUND_BATCH_SIZE, native=False), pool_topup_cap)
    return launch + refunds


def gas_account_status(*, client: SignerClient | None = None, w3: Web3 | None = None) -> GasAccountStatus:
    """The gas account's address (from the signer), balance and recommended balance for the pools open now.

    Raises the signer client's errors when the signer cannot be reached: only it knows the address.
    """
    client = client or signer_client()
    w3 = w3 or web3_client()
    address = Web3.to_checksum_address(client.addresses()["gas"]["address"])
    limits = client.health().get("limits", {})
    pool_topup_cap = int(limits.get("gas_topup_pool_max_wei", DEFAULT_GAS_TOPUP_POOL_MAX_WEI))
    prices = current_prices(w3=w3)
    per_pool = pool_gas_needs(prices=prices, pool_topup_cap=pool_topup_cap)
    recommended = sum(need.wei for need in per_pool) + reserve_wei(prices=prices, pool_topup_cap=pool_topup_cap)
    transfer = TRANSFER_GAS * prices.max_fee_per_gas + prices.l1_transfer
    one_topup = min(prices.launch() - transfer, settings.GAS_TOPUP_MAX_WEI) + transfer
    return GasAccountStatus(
        address=address,
        balance=w3.eth.get_balance(address),
        recommended=recommended,
        per_pool=per_pool,
        one_topup=one_topup,
        max_fee_per_gas=prices.max_fee_per_gas,
    )
