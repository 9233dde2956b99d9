"""Rows the website reads, made directly (no chain): deposits, refunds, launches, allocations and snapshots."""

from __future__ import annotations

import itertools

from django.utils import timezone
from eth_utils import keccak, to_checksum_address

from pools.models import Allocation, Deposit, Launch, Pool, Refund
from web.models import FeedSnapshot, PriceSnapshot

ETHER = 10**18
_numbers = itertools.count(1)


def address(label: str | int) -> str:
    return to_checksum_address(keccak(text=f"web-test-{label}")[12:])


def tx_hash(label: str | int) -> str:
    return "0x" + keccak(text=f"web-tx-{label}").hex()


def make_deposit(pool: Pool, *, sender: str, amount: int, status: str = "confirmed", credited: int | None = None, **kw):
    n = next(_numbers)
    credited = amount if credited is None and status == "confirmed" else (credited or 0)
    return Deposit.objects.create(
        pool=pool,
        chain_id=pool.chain_id,
        tx_hash=kw.pop("tx_hash", tx_hash(n)),
        position="tx",
        kind=Deposit.Kind.NATIVE_TX,
        sender=sender,
        amount=amount,
        block_number=kw.pop("block_number", 100 + n),
        block_hash="0x" + "ab" * 32,
        tx_index=0,
        ordinal=0,
        block_timestamp=timezone.now(),
        status=status,
        credited_amount=credited,
        refund_amount=amount - credited if status == "confirmed" else 0,
        **kw,
    )


def make_launch(pool: Pool, **fields) -> Launch:
    values = dict(
        step=Launch.Step.LAUNCHED,
        token_address=address(f"token-{pool.pk}"),
        pair_address=address(f"pair-{pool.pk}"),
        claim_vault_address=address(f"vault-{pool.pk}"),
        vesting_wallet_address=address(f"vesting-{pool.pk}"),
        lp_destination="0x000000000000000000000000000000000000dEaD",
        event={
            "asset_to_liquidity": str(80 * ETHER),
            "tokens_to_liquidity": str(400_000_000 * ETHER),
            "fee": str(ETHER),
            "treasury_amount": str(19 * ETHER),
        },
        launched_at=timezone.now(),
    )
    values.update(fields)
    return Launch.objects.create(pool=pool, **values)


def make_snapshot(pool: Pool, *, block: int, timestamp: int, reserve_token: int, reserve_asset: int, **fields):
    from web.market import uq112_price

    values = dict(
        price_cumulative=uq112_price(reserve_self=reserve_token, reserve_other=reserve_asset) * timestamp,
        token_total_supply=1_000_000_000 * ETHER,
        token_locked=400_000_000 * ETHER,
        oracle_answer=3_000 * 10**8,
        oracle_decimals=8,
        oracle_updated_at=timestamp - 60,
    )
    values.update(fields)
    return PriceSnapshot.objects.create(
        pool=pool,
        block_number=block,
        block_timestamp=timestamp,
        reserve_token=reserve_token,
        reserve_asset=reserve_asset,
        **values,
    )


def make_feed(*, asset: str = "", answer: int = 3_000 * 10**8, block: int = 10, updated_at: int = 1_000, age: int = 60):
    return FeedSnapshot.objects.create(
        chain_id=31337,
        asset=asset,
        symbol="USDC" if asset else "ETH",
        feed_address=address(f"feed-{asset}"),
        answer=answer,
        decimals=8,
        updated_at=updated_at,
        block_number=block,
        block_timestamp=updated_at + age,
    )


def make_refund(pool: Pool, *, recipient: str, amount: int, status: str = Refund.Status.OWED) -> Refund:
    return Refund.objects.create(pool=pool, recipient=recipient, amount=amount, status=status)


def make_allocation(pool: Pool, *, holder: str, contribution: int, tokens: int) -> Allocation:
    return Allocation.objects.create(
        pool=pool, address=holder, contribution=contribution, token_amount=tokens, proof=["0x" + "11" * 32]
    )
