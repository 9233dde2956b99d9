"""The dashboard's numbers, in integers only: a Uniswap V2 pair against a Chainlink-style USD feed.

Conventions: a *price* is what one whole token costs, as an integer with PRICE_DECIMALS decimals (in whole units
of the raise asset, or in USD); a *USD value* has USD_DECIMALS decimals. Every function floors once, at the end,
from the raw integers it is given, so results are exact to their last digit and never rounded up.
"""

from __future__ import annotations

from dataclasses import dataclass

Q112 = 2**112  # Uniswap V2's UQ112x112 fixed point: price = (reserve_other << 112) / reserve_self
UINT256 = 2**256  # the pair's cumulative prices are meant to wrap around
UINT32 = 2**32  # ... and so is its block timestamp
PRICE_DECIMALS = 18
USD_DECIMALS = 18
BPS = 10_000


def _scaled_ratio(numerator: int, denominator: int, *, scale_decimals: int) -> int:
    """floor(numerator / denominator × 10**scale_decimals), for any integer scale, negative included."""
    if scale_decimals >= 0:
        return numerator * 10**scale_decimals // denominator
    return numerator // (denominator * 10**-scale_decimals)


def spot_price(*, reserve_asset: int, reserve_token: int, asset_decimals: int, token_decimals: int = 18) -> int | None:
    """Raise-asset per whole token (PRICE_DECIMALS decimals) at the pair's reserves; None for an empty pair."""
    if reserve_token <= 0:
        return None
    return _scaled_ratio(reserve_asset, reserve_token, scale_decimals=PRICE_DECIMALS + token_decimals - asset_decimals)


def to_usd(*, asset_amount: int, asset_decimals: int, answer: int, feed_decimals: int) -> int:
    """An amount of the raise asset (smallest units) in USD (USD_DECIMALS decimals), at the feed's answer."""
    return _scaled_ratio(asset_amount * answer, 1, scale_decimals=USD_DECIMALS - asset_decimals - feed_decimals)


def spot_price_usd(
    *,
    reserve_asset: int,
    reserve_token: int,
    asset_decimals: int,
    answer: int,
    feed_decimals: int,
    token_decimals: int = 18,
) -> int | None:
    """USD per whole token (USD_DECIMALS decimals)."""
    if reserve_token <= 0:
        return None
    return _scaled_ratio(
        reserve_asset * answer,
        reserve_token,
        scale_decimals=USD_DECIMALS + token_decimals - asset_decimals - feed_decimals,
    )


def token_value_usd(
    *,
    token_amount: int,
    reserve_asset: int,
    reserve_token: int,
    asset_decimals: int,
    answer: int,
    feed_decimals: int,
) -> int | None:
    """`token_amount` tokens (smallest units) at the spot price, in USD: market cap and FDV are this."""
    if reserve_token <= 0:
        return None
    return _scaled_ratio(
        token_amount * reserve_asset * answer,
        reserve_token,
        scale_decimals=USD_DECIMALS - asset_decimals - feed_decimals,
    )


def liquidity_usd(*, reserve_asset: int, asset_decimals: int, answer: int, feed_decimals: int) -> int:
    """The pair's total value in USD: both sides are worth the same at the spot price, so twice the asset side."""
    return to_usd(
        asset_amount=2 * reserve_asset, asset_decimals=asset_decimals, answer=answer, feed_decimals=feed_decimals
    )


def uq112_price(*, reserve_self: int, reserve_other: int) -> int:
    """UniswapV2Pair's UQ112x112 price of one side in the other: `(reserve_other << 112) / reserve_self`."""
    return (reserve_other * Q112) // reserve_self


def current_cumulative(
    *, cumulative_last: int, reserve_self: int, reserve_other: int, block_timestamp_last: int, now: int
) -> int:
    """The cumulative price as it would be at `now` had the pair been synced then (currentCumulativePrices)."""
    elapsed = (now - block_timestamp_last) % UINT32
    if elapsed == 0 or reserve_self == 0:
        return cumulative_last
    return (cumulative_last + uq112_price(reserve_self=reserve_self, reserve_other=reserve_other) * elapsed) % UINT256


def twap_price(
    *,
    cumulative_start: int,
    timestamp_start: int,
    cumulative_end: int,
    timestamp_end: int,
    asset_decimals: int,
    token_decimals: int = 18,
) -> int | None:
    """The time-weighted average raise-asset price of one whole token between two cumulative readings.

    The cumulatives are the token's price in the asset (price0 when the token is token0, else price1), in
    UQ112x112 × seconds, wrapping at 2**256. None when no time passed between the readings.
    """
    elapsed = timestamp_end - timestamp_start
    if elapsed <= 0:
        return None
    delta = (cumulative_end - cumulative_start) % UINT256
    return _scaled_ratio(delta, elapsed * Q112, scale_decimals=PRICE_DECIMALS + token_decimals - asset_decimals)


def price_to_usd(*, price: int, answer: int, feed_decimals: int) -> int:
    """A price in the raise asset (PRICE_DECIMALS) converted to USD (USD_DECIMALS)."""
    return _scaled_ratio(price * answer, 1, scale_decimals=USD_DECIMALS - PRICE_DECIMALS - feed_decimals)


def deviation_bps(*, current: int, reference: int) -> int | None:
    """How far `current` is from `reference`, in basis points, truncated toward zero (+ above, − below)."""
    if reference <= 0:
        return None
    difference = (current - reference) * BPS
    magnitude = abs(difference) // reference
    return magnitude if difference >= 0 else -magnitude


def ratio_deviation_bps(*, numerator: int, denominator: int, ref_numerator: int, ref_denominator: int) -> int | None:
    """deviation_bps of numerator/denominator from ref_numerator/ref_denominator, without flooring either first."""
    if denominator <= 0 or ref_numerator <= 0 or ref_denominator <= 0:
        return None
    difference = (numerator * ref_denominator - ref_numerator * denominator) * BPS
    scale = ref_numerator * denominator
    magnitude = abs(difference) // scale
    return magnitude if difference >= 0 else -magnitude


def oracle_is_stale(*, updated_at: int, chain_time: int, max_age_seconds: int) -> bool:
    """The feed is stale when its last update is older than `max_age_seconds` by the chain's own clock."""
    return chain_time - updated_at > max_age_seconds


@dataclass(frozen=True)
class PairFigures:
    """Everything the dashboard shows for one launched pool, as integers (None where it cannot be known)."""

    reserve_token: int
    reserve_asset: int
    price: int | None  # raise asset per token, PRICE_DECIMALS
    price_usd: int | None  # USD per token, USD_DECIMALS
    twap: int | None  # raise asset per token, PRICE_DECIMALS
    twap_usd: int | None
    twap_seconds: int
    liquidity_usd: int | None
    market_cap_usd: int | None
    fdv_usd: int | None
    launch_price: int | None  # raise asset per token at launch, PRICE_DECIMALS
    deviation_bps: int | None  # spot vs launch price, in the raise asset
    oracle_stale: bool
    oracle_age_seconds: int | None


def pair_figures(
    *,
    reserve_token: int,
    reserve_asset: int,
    asset_decimals: int,
    total_supply: int,
    locked_supply: int,
    launch_asset_to_liquidity: int,
    launch_tokens_to_liquidity: int,
    answer: int | None,
    feed_decimals: int | None,
    oracle_updated_at: int | None,
    chain_time: int,
    max_oracle_age: int,
    twap_start: tuple[int, int] | None = None,
    twap_end: tuple[int, int] | None = None,
) -> PairFigures:
    """The dashboard's figures for one pair; `twap_start`/`twap_end` are (cumulative, timestamp) readings."""
    price = spot_price(reserve_asset=reserve_asset, reserve_token=reserve_token, asset_decimals=asset_decimals)
    twap = twap_seconds = None
    if twap_start and twap_end:
        twap = twap_price(
            cumulative_start=twap_start[0],
            timestamp_start=twap_start[1],
            cumulative_end=twap_end[0],
            timestamp_end=twap_end[1],
            asset_decimals=asset_decimals,
        )
        twap_seconds = twap_end[1] - twap_start[1]
    has_feed = answer is not None and feed_decimals is not None and answer > 0
    usd = {}
    if has_feed:
        feed = {"answer": answer, "feed_decimals": feed_decimals}
        pair = {"reserve_asset": reserve_asset, "reserve_token": reserve_token, "asset_decimals": asset_decimals}
        usd = {
            "price_usd": spot_price_usd(**pair, **feed),
            "twap_usd": price_to_usd(price=twap, **feed) if twap is not None else None,
            "liquidity_usd": liquidity_usd(reserve_asset=reserve_asset, asset_decimals=asset_decimals, **feed),
            "market_cap_usd": token_value_usd(token_amount=max(total_supply - locked_supply, 0), **pair, **feed),
            "fdv_usd": token_value_usd(token_amount=total_supply, **pair, **feed),
        }
    launch_price = None
    deviation = None
    if launch_tokens_to_liquidity > 0:
        launch_price = spot_price(
            reserve_asset=launch_asset_to_liquidity,
            reserve_token=launch_tokens_to_liquidity,
            asset_decimals=asset_decimals,
        )
        deviation = ratio_deviation_bps(
            numerator=reserve_asset,
            denominator=reserve_token,
            ref_numerator=launch_asset_to_liquidity,
            ref_denominator=launch_tokens_to_liquidity,
        )
    stale = oracle_updated_at is None or oracle_is_stale(
        updated_at=oracle_updated_at, chain_time=chain_time, max_age_seconds=max_oracle_age
    )
    return PairFigures(
        reserve_token=reserve_token,
        reserve_asset=reserve_asset,
        price=price,
        price_usd=usd.get("price_usd"),
        twap=twap,
        twap_usd=usd.get("twap_usd"),
        twap_seconds=twap_seconds or 0,
        liquidity_usd=usd.get("liquidity_usd"),
        market_cap_usd=usd.get("market_cap_usd"),
        fdv_usd=usd.get("fdv_usd"),
        launch_price=launch_price,
        deviation_bps=deviation,
        oracle_stale=stale,
        oracle_age_seconds=None if oracle_updated_at is None else chain_time - oracle_updated_at,
    )
