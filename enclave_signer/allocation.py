"""Integer allocation math shared by the app and the Launcher: the token supply and raise splits, the tokens paired
under a USD price target, and the depositors' pro-rata allocations.

Everything is in the smallest unit (wei, token units) and exact: each share is floored and the remainder goes to a
part chosen in advance, so the parts always sum to the whole. The split functions mirror `Launcher._planAmounts`
to the unit; tests/contracts compares them with the chain.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping
from dataclasses import dataclass

from enclave_signer.keccak import checksum_address, keccak_hasher

BPS_DENOMINATOR = 10_000
TOKEN_DECIMALS = 18


@dataclass(frozen=True)
class SupplySplit:
    """The token supply of a launch: paired in the pool (at most), for depositors, for the agent (the remainder)."""

    liquidity: int
    depositors: int
    agent: int


@dataclass(frozen=True)
class RaiseSplit:
    """The raised funds of a launch: paired in the pool, platform fee, treasury (the remainder)."""

    liquidity: int
    fee: int
    treasury: int


@dataclass(frozen=True)
class LiquidityTokens:
    """The liquidity share of the supply, divided into what is paired and what is burned (USD target only)."""

    paired: int
    burned: int


def bps_share(amount: int, bps: int) -> int:
    """`amount * bps / 10,000`, floored, as the contracts compute it."""
    _check_non_negative(amount=amount)
    _check_bps(bps=bps)
    return amount * bps // BPS_DENOMINATOR


def split_supply(*, total_supply: int, liquidity_bps: int, depositor_bps: int) -> SupplySplit:
    """Split the supply by bps; the agent gets the remainder, so the three parts sum to `total_supply`."""
    _check_bps(liquidity_bps=liquidity_bps, depositor_bps=depositor_bps, total=liquidity_bps + depositor_bps)
    liquidity = bps_share(total_supply, liquidity_bps)
    depositors = bps_share(total_supply, depositor_bps)
    return SupplySplit(liquidity=liquidity, depositors=depositors, agent=total_supply - liquidity - depositors)


def split_raise(*, raise_amount: int, liquidity_bps: int, fee_bps: int) -> RaiseSplit:
    """Split the raised funds by bps; the treasury gets the remainder, so the parts sum to `raise_amount`."""
    _check_bps(liquidity_bps=liquidity_bps, fee_bps=fee_bps, total=liquidity_bps + fee_bps)
    liquidity = bps_share(raise_amount, liquidity_bps)
    fee = bps_share(raise_amount, fee_bps)
    return RaiseSplit(liquidity=liquidity, fee=fee, treasury=raise_amount - liquidity - fee)


def tokens_for_usd_target(*, asset_amount: int, oracle_answer: int, target_price_usd: int, asset_decimals: int) -> int:
    """Tokens that, paired with `asset_amount`, price one whole token at `target_price_usd`.

    `oracle_answer` (USD per whole unit of the raise asset) and `target_price_usd` (USD per whole token) share the
    feed's decimals, which cancel out. Floored, like the contract's `Math.mulDiv`.
    """
    if oracle_answer <= 0 or target_price_usd <= 0:
        raise ValueError("oracle_answer and target_price_usd must be positive")
    _check_non_negative(asset_amount=asset_amount)
    return asset_amount * oracle_answer * 10**TOKEN_DECIMALS // (10**asset_decimals * target_price_usd)


def liquidity_tokens(
    *,
    liquidity_share: int,
    asset_to_liquidity: int,
    oracle_answer: int,
    target_price_usd: int,
    asset_decimals: int,
) -> LiquidityTokens:
    """What the Launcher pairs: the whole share without a target (0), else the target's amount capped by the share."""
    if target_price_usd == 0:
        return LiquidityTokens(paired=liquidity_share, burned=0)
    wanted = tokens_for_usd_target(
        asset_amount=asset_to_liquidity,
        oracle_answer=oracle_answer,
        target_price_usd=target_price_usd,
        asset_decimals=asset_decimals,
    )
    paired = min(wanted, liquidity_share)
    return LiquidityTokens(paired=paired, burned=liquidity_share - paired)


def allocate_pro_rata(*, total: int, contributions: Mapping[str, int]) -> dict[str, int]:
    """Divide `total` among addresses in proportion to their contributions, exactly.

    Each share is floored; the few units left over (fewer than the number of contributors) go one each to the largest
    remainders, ties broken by the lower address. Keys come back as checksum addresses, in the order of
    `contributions`; the result sums to `total` (when anyone contributed), and nobody who contributed nothing gets
    anything.
    """
    _check_non_negative(total=total)
    keccak = keccak_hasher()
    normalized: dict[str, int] = {}
    for address, amount in contributions.items():
        key = checksum_address(address, keccak)
        if key in normalized:
            raise ValueError(f"address {key} appears twice")
        if amount < 0:
            _check_non_negative(contribution=amount)
        normalized[key] = amount
    contributed = sum(normalized.values())
    if contributed == 0:
        if total:
            raise ValueError("cannot allocate a positive total without contributions")
        return dict.fromkeys(normalized, 0)

    shares: dict[str, int] = {}
    remainders: list[tuple[int, str]] = []
    for address, amount in normalized.items():
        share, remainder = divmod(total * amount, contributed)
        shares[address] = share
        if remainder:
            remainders.append((-remainder, address))
    # The remainders sum to left_over x contributed and each is below contributed: more of them than units left over.
    left_over = total - sum(shares.values())
    if left_over:
        # Largest remainder first, then the lower address (same-length hex: string order is numeric order).
        for _, address in heapq.nsmallest(left_over, remainders, key=lambda item: (item[0], item[1].lower())):
            shares[address] += 1
    return shares


def _check_non_negative(**amounts: int) -> None:
    for name, amount in amounts.items():
        if amount < 0:
            raise ValueError(f"{name} must not be negative, got {amount}")


def _check_bps(**values: int) -> None:
    for name, bps in values.items():
        if not 0 <= bps <= BPS_DENOMINATOR:
            raise ValueError(f"{name} must be within 0..{BPS_DENOMINATOR} bps, got {bps}")
