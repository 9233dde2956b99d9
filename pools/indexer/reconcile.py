"""Reconciliation: each pool address's on-chain balance of its raise asset against what the books say it holds.

Books: credited + owed back over the confirmed deposits, minus what has left the address through our own
transactions (the launch, refund batches, gas and OP-stack L1 data fees; less gas top-ups received). Both sides
are taken at the same block, the pool's confirmed height, so a deposit waiting for confirmations is in neither.
Anything else that reached the address (a coinbase or withdrawal credit, a token the indexer could not see, a
rebasing token) shows as a difference.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.db.models import F, Sum
from django.utils import timezone

from chain.rpc import JsonRpc, hex_int
from pools.indexer.base import WatchedPool
from pools.indexer.confirmations import final_block
from pools.indexer.erc20 import address_topic
from pools.models import ChainTransaction, Deposit, IndexerCursor, Launch, Pool, Refund

logger = logging.getLogger(__name__)

BALANCE_OF_SELECTOR = "0x70a08231"  # balanceOf(address)


@dataclass(frozen=True)
class BalanceCheck:
    pool_id: int
    block: int
    balance: int
    expected: int

    @property
    def difference(self) -> int:
        return self.balance - self.expected


def confirmed_height(*, cursor: IndexerCursor, confirmations: int, final: int | None = None) -> int:
    """The newest block whose deposits to a pool with these confirmations are all indexed and confirmed: also at or
    below `final`, the CHAIN_CONFIRMATION_TAG block (confirmations.final_block)."""
    return min(cursor.last_block, cursor.head - confirmations, cursor.head if final is None else final)


def paid_out(*, pool_id: int, through_block: int) -> int:
    """Net of what left the pool's address through our own transactions, mined up to this block, in the raise asset.

    Native: everything the address sent (the launch's value, refund batches) and the gas it paid, less the gas
    top-ups it received. ERC-20: the raise the Launcher pulled and the refunds the Refunder pulled (gas is paid in
    the native currency, not in the asset).
    """
    pool = Pool.objects.only("deposit_address", "raise_asset").get(pk=pool_id)
    mined = ChainTransaction.objects.filter(
        block_number__lte=through_block, status__in=[ChainTransaction.Status.CONFIRMED, ChainTransaction.Status.FAILED]
    )
    confirmed = mined.filter(status=ChainTransaction.Status.CONFIRMED)
    if pool.is_native:
        sent = mined.filter(from_address__iexact=pool.deposit_address)
        # What each paid for gas, and on an OP-stack chain for its L1 data (the receipt's l1Fee).
        gas = sent.aggregate(total=Sum(F("gas_used") * F("effective_gas_price") + F("l1_fee")))["total"] or 0
        value = confirmed.filter(from_address__iexact=pool.deposit_address).aggregate(total=Sum("value"))["total"] or 0
        topped_up = (
            confirmed.filter(
                purpose=ChainTransaction.Purpose.GAS_TOPUP, to_address__iexact=pool.deposit_address
            ).aggregate(total=Sum("value"))["total"]
            or 0
        )
        return int(gas) + int(value) - int(topped_up)
    launched = Launch.objects.filter(pool_id=pool_id, transaction__in=confirmed.filter(purpose="launch"))
    refunded = Refund.objects.filter(pool_id=pool_id, transaction__in=confirmed.filter(purpose="refund"))
    return int(launched.aggregate(total=Sum("raise_amount"))["total"] or 0) + int(
        refunded.aggregate(total=Sum("amount"))["total"] or 0
    )


def books_balance(*, pool_id: int, through_block: int) -> int:
    """Credited plus owed back over the pool's confirmed deposits up to a block, minus what was paid out."""
    total = Deposit.objects.filter(
        pool_id=pool_id, status=Deposit.Status.CONFIRMED, block_number__lte=through_block
    ).aggregate(total=Sum(F("credited_amount") + F("refund_amount")))["total"]
    return int(total or 0) - paid_out(pool_id=pool_id, through_block=through_block)


def _balance_call(pool: WatchedPool, block: int) -> tuple[str, list]:
    if not pool.raise_asset:
        return "eth_getBalance", [pool.address, hex(block)]
    data = BALANCE_OF_SELECTOR + address_topic(pool.address)[2:]
    return "eth_call", [{"to": pool.raise_asset, "data": data}, hex(block)]


def reconcile_balances(*, rpc: JsonRpc, cursor: IndexerCursor, pools: list[WatchedPool]) -> list[BalanceCheck]:
    """Check each pool's balance at its confirmed height and record the difference on the pool."""
    final = final_block(rpc=rpc, head=cursor.head)
    due = [
        (pool, height)
        for pool in pools
        if (height := confirmed_height(cursor=cursor, confirmations=pool.confirmations, final=final)) >= 0
    ]
    answers = rpc.batch([_balance_call(pool, height) for pool, height in due])
    checks = []
    now = timezone.now()
    before = dict(Pool.objects.filter(pk__in=[pool.id for pool, _ in due]).values_list("id", "balance_difference"))
    for (pool, height), answer in zip(due, answers, strict=True):
        check = BalanceCheck(
            pool_id=pool.id,
            block=height,
            balance=hex_int(answer if answer not in ("0x", "") else "0x0"),
            expected=books_balance(pool_id=pool.id, through_block=height),
        )
        # update(), not save(): only these two fields, so a concurrent change to the pool is never overwritten.
        Pool.objects.filter(pk=pool.id).update(balance_difference=check.difference, balance_checked_at=now)
        if check.difference and check.difference != before.get(pool.id):
            logger.warning(
                "pool %s: balance %s at block %s, books say %s (difference %s)",
                pool.id,
                check.balance,
                height,
                check.expected,
                check.difference,
            )
        checks.append(check)
    return checks
