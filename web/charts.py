"""A launched pool's price over time, from the snapshots beat takes each minute: the chart's series and its text.

Everything stays an integer (web/market.py's conventions: prices with PRICE_DECIMALS, USD with USD_DECIMALS) until
it leaves as a decimal string. Time is the chain's (unix seconds at the snapshot's block), like the TWAP's.

Three lines are drawn, all in one unit: USD when every snapshot in the range has the feed's answer, else the raise
asset (a chart that switched units half way would lie about its shape).

- the pool's price: the Uniswap V2 pair's spot price;
- the launch price: what the launch paired (asset_to_liquidity / tokens_to_liquidity), a flat price line; in USD, the
  target price of a usd_target pool, else that price at the oracle's answer the launch was checked against;
- the oracle-implied price: the launch price held in the *other* unit and brought back through each snapshot's
  oracle answer. In the raise asset it is the price that would keep the token at its launch USD value (for a
  usd_target pool, the target USD price converted through the feed); in USD it is the launch price in the raise
  asset valued at that minute's answer. The gap between it and the pool's price is what trading did, the gap
  between it and the launch price is what the raise asset's own USD price did. (In USD the first definition would
  be a flat line on top of the launch price, so each unit draws the one that moves.)
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from django.db.models import ExpressionWrapper, PositiveBigIntegerField, Subquery

from pools.models import Pool
from pools.units import format_units
from web import market
from web.models import PriceSnapshot
from web.presentation import launch_event_int

RANGES: dict[str, int | None] = {"1h": 3_600, "24h": 86_400, "7d": 7 * 86_400, "all": None}
DEFAULT_RANGE = "24h"
MAX_POINTS = 500
SUMMARY_SECONDS = 3_600  # the text summary (and the page without JavaScript) covers the last hour
USD = "USD"
_FIELDS = ("block_number", "block_timestamp", "reserve_token", "reserve_asset", "oracle_answer", "oracle_decimals")


@dataclass(frozen=True)
class Launched:
    """What the launch paired and the oracle's answer it was checked against: the chart's fixed references."""

    asset_to_liquidity: int
    tokens_to_liquidity: int
    oracle_answer: int | None  # the feed's decimals
    target_price_usd: int  # the feed's decimals; 0 unless price_mode is usd_target
    asset_decimals: int


@dataclass(frozen=True)
class Point:
    time: int
    price: int  # in the series' unit
    oracle_price: int | None


@dataclass(frozen=True)
class Series:
    range: str
    unit: str  # "USD" or the raise asset's symbol
    decimals: int  # of every price in the series
    launch_price: int | None
    points: list[Point]

    def as_json(self) -> dict:
        """Prices as exact decimal strings, time in unix seconds."""
        return {
            "range": self.range,
            "unit": self.unit,
            "launch_price": _decimal(self.launch_price, self.decimals),
            "points": [
                {
                    "time": point.time,
                    "price": _decimal(point.price, self.decimals),
                    "oracle_price": _decimal(point.oracle_price, self.decimals),
                }
                for point in self.points
            ],
        }


def _decimal(value: int | None, decimals: int) -> str | None:
    return None if value is None else format_units(value, decimals).replace(",", "")


def launched_from(*, pool: Pool) -> Launched:
    """The chart's references from the pool's launch row (its decoded Launched event and the checked answer)."""
    launch = pool.launch
    return Launched(
        asset_to_liquidity=launch_event_int(launch.event, "asset_to_liquidity"),
        tokens_to_liquidity=launch_event_int(launch.event, "tokens_to_liquidity"),
        oracle_answer=int(launch.oracle_answer) if launch.oracle_answer else None,
        target_price_usd=pool.target_price_usd_e8 if pool.price_mode == Pool.PriceMode.USD_TARGET else 0,
        asset_decimals=pool.raise_asset_decimals,
    )


def _has_feed(snapshot: PriceSnapshot) -> bool:
    return bool(snapshot.oracle_answer and snapshot.oracle_answer > 0 and snapshot.oracle_decimals is not None)


def _pool_price(snapshot: PriceSnapshot, *, asset_decimals: int, in_usd: bool) -> int | None:
    pair = {
        "reserve_asset": snapshot.reserve_asset,
        "reserve_token": snapshot.reserve_token,
        "asset_decimals": asset_decimals,
    }
    if in_usd:
        return market.spot_price_usd(**pair, answer=snapshot.oracle_answer, feed_decimals=snapshot.oracle_decimals)
    return market.spot_price(**pair)


def _launch_price(launched: Launched, *, feed_decimals: int | None) -> int | None:
    """In the raise asset when `feed_decimals` is None, else in USD; None without a launch event to read it from."""
    pair = {
        "reserve_asset": launched.asset_to_liquidity,
        "reserve_token": launched.tokens_to_liquidity,
        "asset_decimals": launched.asset_decimals,
    }
    if feed_decimals is None:
        return market.spot_price(**pair)
    if launched.target_price_usd:
        return launched.target_price_usd * 10**market.USD_DECIMALS // 10**feed_decimals
    if not launched.oracle_answer:
        return None
    return market.spot_price_usd(**pair, answer=launched.oracle_answer, feed_decimals=feed_decimals)


def _oracle_price(snapshot: PriceSnapshot, launched: Launched, *, in_usd: bool) -> int | None:
    """The oracle-implied price at this snapshot (the module's docstring says what it means), one floor each."""
    if not _has_feed(snapshot):
        return None
    answer = snapshot.oracle_answer
    if in_usd:
        return market.spot_price_usd(
            reserve_asset=launched.asset_to_liquidity,
            reserve_token=launched.tokens_to_liquidity,
            asset_decimals=launched.asset_decimals,
            answer=answer,
            feed_decimals=snapshot.oracle_decimals,
        )
    if launched.target_price_usd:
        # USD per token over USD per asset unit: the feed's decimals cancel out.
        return launched.target_price_usd * 10**market.PRICE_DECIMALS // answer
    if not launched.oracle_answer:
        return None
    # launch price × launch answer / this answer, as one ratio floored once.
    return market.spot_price(
        reserve_asset=launched.asset_to_liquidity * launched.oracle_answer,
        reserve_token=launched.tokens_to_liquidity * answer,
        asset_decimals=launched.asset_decimals,
    )


def downsample(snapshots: list[PriceSnapshot], *, start: int, seconds: int) -> list[PriceSnapshot]:
    """At most MAX_POINTS snapshots: `seconds` from `start` cut into equal buckets, the last snapshot of each."""
    bucket = seconds // MAX_POINTS + 1  # > seconds / MAX_POINTS, so at most MAX_POINTS buckets
    last_of_bucket: dict[int, PriceSnapshot] = {}
    for snapshot in snapshots:  # oldest first: a later one replaces an earlier one in its bucket
        last_of_bucket[(snapshot.block_timestamp - start) // bucket] = snapshot
    return list(last_of_bucket.values())


def series_from(*, snapshots: list[PriceSnapshot], launched: Launched, symbol: str, range_name: str) -> Series:
    """The chart's series from a range's snapshots (oldest first), already cut to the range."""
    in_usd = bool(snapshots) and all(_has_feed(s) for s in snapshots)
    feed_decimals = snapshots[-1].oracle_decimals if in_usd else None
    points = []
    for snapshot in snapshots:
        price = _pool_price(snapshot, asset_decimals=launched.asset_decimals, in_usd=in_usd)
        if price is not None:  # an emptied pair has no price
            points.append(Point(snapshot.block_timestamp, price, _oracle_price(snapshot, launched, in_usd=in_usd)))
    return Series(
        range=range_name,
        unit=USD if in_usd else symbol,
        decimals=market.USD_DECIMALS if in_usd else market.PRICE_DECIMALS,
        launch_price=_launch_price(launched, feed_decimals=feed_decimals),
        points=points,
    )


def launched_pool(*, pool_id: int) -> Pool | None:
    """A public, launched pool with its launch row, or None: the chart exists for nothing else."""
    return (
        Pool.objects.filter(pk=pool_id, status=Pool.Status.LAUNCHED, launch__step="launched")
        .select_related("launch")
        .first()
    )


def _since_newest(pool: Pool, seconds: int) -> ExpressionWrapper:
    """`seconds` before the pool's newest snapshot, as a subquery: the chain's clock, not the server's."""
    newest = PriceSnapshot.objects.filter(pool=pool).order_by("-block_number").values("block_timestamp")[:1]
    return ExpressionWrapper(Subquery(newest) - seconds, output_field=PositiveBigIntegerField())


def price_series(*, pool: Pool, range_name: str) -> Series:
    """The pool's price series over one of RANGES, ending at its newest snapshot (one query).

    The buckets divide the time the range's snapshots actually cover, so a pool launched an hour ago shows its
    hour in full detail under "7d" too.
    """
    snapshots = PriceSnapshot.objects.filter(pool=pool).only(*_FIELDS).order_by("block_number")
    if (seconds := RANGES[range_name]) is not None:
        snapshots = snapshots.filter(block_timestamp__gte=_since_newest(pool, seconds))
    chosen = list(snapshots)
    if chosen:
        start = chosen[0].block_timestamp
        chosen = downsample(chosen, start=start, seconds=chosen[-1].block_timestamp - start)
    return series_from(
        snapshots=chosen, launched=launched_from(pool=pool), symbol=pool.raise_asset_symbol, range_name=range_name
    )


# --- the text summary -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Quote:
    """One snapshot's price, in the raise asset and (when the feed was read) in USD."""

    price: int
    price_usd: int | None


@dataclass(frozen=True)
class Summary:
    first: Quote
    last: Quote
    low: Quote
    high: Quote
    count: int

    @property
    def labelled(self) -> list[tuple[str, Quote]]:
        return [("first", self.first), ("last", self.last), ("low", self.low), ("high", self.high)]


def _quote(snapshot: PriceSnapshot, asset_decimals: int) -> Quote | None:
    price = _pool_price(snapshot, asset_decimals=asset_decimals, in_usd=False)
    if price is None:
        return None
    usd = _pool_price(snapshot, asset_decimals=asset_decimals, in_usd=True) if _has_feed(snapshot) else None
    return Quote(price=price, price_usd=usd)


def recent_summary(*, pool: Pool, snapshots: Iterable[PriceSnapshot]) -> Summary | None:
    """First, last, low and high over the SUMMARY_SECONDS before the newest of `snapshots` (newest first).

    Low and high compare USD prices when every snapshot has them, else prices in the raise asset (like the chart).
    """
    snapshots = list(snapshots)
    if not snapshots:
        return None
    since = snapshots[0].block_timestamp - SUMMARY_SECONDS
    window = [s for s in reversed(snapshots) if s.block_timestamp >= since]
    quotes = [q for q in (_quote(s, pool.raise_asset_decimals) for s in window) if q is not None]
    if not quotes:
        return None
    in_usd = all(q.price_usd is not None for q in quotes)
    key = (lambda q: q.price_usd) if in_usd else (lambda q: q.price)
    return Summary(
        first=quotes[0],
        last=quotes[-1],
        low=min(quotes, key=key),
        high=max(quotes, key=key),
        count=len(quotes),
    )


def recent_snapshots(*, pool: Pool) -> list[PriceSnapshot]:
    """The pool's newest snapshots, newest first: the dashboard's prefetched ones, else the last SUMMARY_SECONDS'
    in one query (the newest's time as a subquery)."""
    prefetched = getattr(pool, "recent_snapshots", None)
    if prefetched is not None:
        return list(prefetched)
    recent = PriceSnapshot.objects.filter(pool=pool, block_timestamp__gte=_since_newest(pool, SUMMARY_SECONDS))
    return list(recent.only(*_FIELDS).order_by("-block_number"))
