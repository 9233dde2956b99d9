"""The price chart's data (pools/<id>/prices.json) and its text summary, from snapshot rows made directly."""

from fractions import Fraction
from math import floor

import pytest
from django.template.loader import render_to_string
from django.test import Client
from django.urls import reverse

from pools.models import Pool
from tests.factories import PoolFactory
from tests.web.support import ETHER, address, make_launch, make_snapshot
from web import charts
from web.models import PriceSnapshot

pytestmark = pytest.mark.django_db

TOKENS = 400_000_000 * ETHER  # what make_launch pairs with 80 ETH: a launch price of 0.0000002 ETH
ETH_USD = 3_000 * 10**8
NOW = 1_000_000


def exact(value: Fraction, decimals: int = 18) -> str:
    """What a decimal string with `decimals` places says for `value`, floored like the integer math."""
    units = floor(value * 10**decimals)
    whole, fraction = divmod(units, 10**decimals)
    digits = str(fraction).rjust(decimals, "0").rstrip("0")
    return f"{whole}.{digits}" if digits else str(whole)


@pytest.fixture
def launched():
    pool = PoolFactory(status=Pool.Status.LAUNCHED, token_symbol="CHT")
    make_launch(pool, oracle_answer=ETH_USD)
    return pool


def prices(pool, range_name="24h"):
    response = Client().get(reverse("pool-prices", args=[pool.pk]), {"range": range_name})
    assert response.status_code == 200, response.content
    return response.json()


def test_prices_are_exact_decimal_strings_in_usd_when_every_snapshot_has_the_feed(launched):
    make_snapshot(launched, block=1, timestamp=NOW - 1_800, reserve_token=TOKENS, reserve_asset=80 * ETHER)
    make_snapshot(
        launched, block=2, timestamp=NOW, reserve_token=TOKENS + 7, reserve_asset=88 * ETHER + 13,
        oracle_answer=3_300 * 10**8,
    )  # fmt: skip

    data = prices(launched)

    assert data["unit"] == "USD"
    assert data["launch_price"] == "0.0006"  # 80 ETH / 400M tokens at the launch's $3,000
    assert data["points"][0] == {"time": NOW - 1_800, "price": "0.0006", "oracle_price": "0.0006"}
    assert data["points"][1] == {
        "time": NOW,
        "price": exact(Fraction(88 * ETHER + 13, TOKENS + 7) * 3_300),
        # the launch price in ETH at this minute's answer: where the token would be had it held it
        "oracle_price": "0.00066",
    }
    assert all(isinstance(p["time"], int) for p in data["points"])


def test_prices_are_in_the_raise_asset_when_a_snapshot_lacks_the_feed(launched):
    make_snapshot(launched, block=1, timestamp=NOW - 1_800, reserve_token=TOKENS, reserve_asset=80 * ETHER,
                  oracle_answer=None, oracle_decimals=None, oracle_updated_at=None)  # fmt: skip
    make_snapshot(
        launched, block=2, timestamp=NOW, reserve_token=TOKENS, reserve_asset=88 * ETHER, oracle_answer=2_400 * 10**8
    )

    data = prices(launched)

    assert data["unit"] == "ETH"
    assert data["launch_price"] == "0.0000002"
    assert data["points"] == [
        {"time": NOW - 1_800, "price": "0.0000002", "oracle_price": None},
        # ETH fell from $3,000 to $2,400: holding the launch's $0.0006 takes 0.00000025 ETH
        {"time": NOW, "price": "0.00000022", "oracle_price": "0.00000025"},
    ]


def test_a_usd_target_pool_s_oracle_implied_price_is_the_target_through_the_feed():
    pool = PoolFactory(status=Pool.Status.LAUNCHED, price_mode=Pool.PriceMode.USD_TARGET, target_price_usd_e8=70_000)
    make_launch(pool, oracle_answer=ETH_USD)
    make_snapshot(pool, block=1, timestamp=NOW, reserve_token=TOKENS, reserve_asset=80 * ETHER,
                  oracle_answer=None, oracle_decimals=None, oracle_updated_at=None)  # fmt: skip
    make_snapshot(pool, block=2, timestamp=NOW + 1_800, reserve_token=TOKENS, reserve_asset=80 * ETHER,
                  oracle_answer=2_800 * 10**8)  # fmt: skip

    in_asset = prices(pool)
    PriceSnapshot.objects.filter(pool=pool, block_number=1).delete()
    in_usd = prices(pool)

    assert in_asset["points"][1]["oracle_price"] == "0.00000025"  # $0.0007 / $2,800
    assert in_usd["unit"] == "USD"
    assert in_usd["launch_price"] == "0.0007"  # the target, not what the pair happened to get


def test_a_launch_without_the_checked_answer_has_no_oracle_line_in_the_asset_and_no_usd_launch_price():
    pool = PoolFactory(status=Pool.Status.LAUNCHED)
    make_launch(pool)  # no oracle_answer recorded
    make_snapshot(pool, block=1, timestamp=NOW, reserve_token=TOKENS, reserve_asset=80 * ETHER)

    data = prices(pool)

    assert data["unit"] == "USD"
    assert data["launch_price"] is None
    assert data["points"][0]["oracle_price"] == "0.0006"  # the launch price in ETH at this answer needs no more


def test_a_usdc_pool_s_prices_account_for_six_decimals_and_floor_once():
    pool = PoolFactory(status=Pool.Status.LAUNCHED, raise_asset=address("usdc"), raise_asset_symbol="USDC",
                       raise_asset_decimals=6, soft_cap=10**10, hard_cap=10**12)  # fmt: skip
    event = {"asset_to_liquidity": str(1_000 * 10**6), "tokens_to_liquidity": str(1_000_000 * ETHER)}
    make_launch(pool, oracle_answer=10**8, event=event)
    make_snapshot(pool, block=1, timestamp=NOW, reserve_token=1_000_000 * ETHER, reserve_asset=1_000 * 10**6,
                  oracle_answer=None, oracle_decimals=None, oracle_updated_at=None)  # fmt: skip
    make_snapshot(pool, block=2, timestamp=NOW + 1_800, reserve_token=1_000_000 * ETHER,
                  reserve_asset=1_000 * 10**6, oracle_answer=99_995_000)  # fmt: skip

    data = prices(pool)

    assert (data["unit"], data["launch_price"]) == ("USDC", "0.001")
    # USDC at $0.99995: a little more USDC keeps the launch's $0.001
    assert data["points"][1]["oracle_price"] == exact(Fraction(1_000, 1_000_000) * Fraction(10**8, 99_995_000))


def test_a_launch_without_its_event_has_no_launch_price_and_no_oracle_line():
    pool = PoolFactory(status=Pool.Status.LAUNCHED)
    make_launch(pool, oracle_answer=ETH_USD, event=None)
    make_snapshot(pool, block=1, timestamp=NOW, reserve_token=TOKENS, reserve_asset=80 * ETHER)

    data = prices(pool)

    assert data["launch_price"] is None
    assert data["points"] == [{"time": NOW, "price": "0.0006", "oracle_price": None}]


@pytest.mark.parametrize(("range_name", "times"), [
    ("1h", [NOW - 3_000, NOW]),
    ("24h", [NOW - 7_200, NOW - 3_000, NOW]),
    ("7d", [NOW - 7_200, NOW - 3_000, NOW]),
    ("all", [NOW - 8 * 86_400, NOW - 7_200, NOW - 3_000, NOW]),
])  # fmt: skip
def test_ranges_end_at_the_newest_snapshot(launched, range_name, times):
    for block, at in enumerate([NOW - 8 * 86_400, NOW - 7_200, NOW - 3_000, NOW], start=1):
        make_snapshot(launched, block=block, timestamp=at, reserve_token=TOKENS, reserve_asset=80 * ETHER)

    data = prices(launched, range_name)

    assert data["range"] == range_name
    assert [p["time"] for p in data["points"]] == times


def test_downsampling_keeps_the_last_snapshot_of_each_bucket(monkeypatch):
    monkeypatch.setattr(charts, "MAX_POINTS", 3)
    snapshots = [PriceSnapshot(block_number=t, block_timestamp=t) for t in range(0, 100, 10)]

    kept = charts.downsample(snapshots, start=0, seconds=90)  # buckets of 31 s: 0–30, 31–61, 62–92

    assert [s.block_timestamp for s in kept] == [30, 60, 90]


def test_a_pool_launched_minutes_ago_shows_every_snapshot_under_the_longest_range(launched):
    for minute in range(11):
        make_snapshot(launched, block=minute + 1, timestamp=NOW + 60 * minute, reserve_token=TOKENS,
                      reserve_asset=80 * ETHER + minute)  # fmt: skip

    assert len(prices(launched, "7d")["points"]) == 11


def test_a_week_of_snapshots_comes_back_as_at_most_500_points_ending_at_the_newest(launched):
    PriceSnapshot.objects.bulk_create(
        PriceSnapshot(
            pool=launched, block_number=i, block_timestamp=NOW - 7 * 86_400 + 60 * i, reserve_token=TOKENS,
            reserve_asset=80 * ETHER + i, price_cumulative=0, token_total_supply=0, token_locked=0,
            oracle_answer=ETH_USD, oracle_decimals=8, oracle_updated_at=NOW,
        )
        for i in range(7 * 24 * 60 + 1)
    )  # fmt: skip

    points = prices(launched, "7d")["points"]

    assert 400 < len(points) <= charts.MAX_POINTS
    assert points[-1]["time"] == NOW
    assert [p["time"] for p in points] == sorted({p["time"] for p in points})


def test_a_bad_range_is_a_400_with_a_code(launched, client):
    response = client.get(reverse("pool-prices", args=[launched.pk]), {"range": "2h"})

    assert response.status_code == 400
    assert response.json() == {"code": "bad_range", "error": "range must be one of 1h, 24h, 7d, all."}


@pytest.mark.parametrize("status", [Pool.Status.DRAFT, Pool.Status.OPEN, Pool.Status.LAUNCHING])
def test_a_pool_that_is_not_public_and_launched_has_no_chart(client, status):
    pool = PoolFactory(status=status)
    if status == Pool.Status.LAUNCHING:
        make_launch(pool, step="sending")

    response = client.get(reverse("pool-prices", args=[pool.pk]))

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"


def test_the_series_is_cacheable_for_a_few_seconds_and_empty_before_the_first_snapshot(launched, client):
    response = client.get(reverse("pool-prices", args=[launched.pk]))

    assert "max-age=10" in response["Cache-Control"]
    assert response.json() == {"range": "24h", "unit": "ETH", "launch_price": "0.0000002", "points": []}


def test_the_partial_sums_up_the_last_hour_in_words_with_usd(launched, django_assert_num_queries):
    make_snapshot(launched, block=1, timestamp=NOW - 4_000, reserve_token=TOKENS, reserve_asset=100 * ETHER)
    make_snapshot(launched, block=2, timestamp=NOW - 3_600, reserve_token=TOKENS, reserve_asset=80 * ETHER)
    make_snapshot(launched, block=3, timestamp=NOW - 1_800, reserve_token=TOKENS, reserve_asset=88 * ETHER)
    make_snapshot(launched, block=4, timestamp=NOW, reserve_token=TOKENS, reserve_asset=72 * ETHER)
    pool = Pool.objects.select_related("launch").get(pk=launched.pk)

    with django_assert_num_queries(1):
        html = render_to_string("web/_price_chart.html", {"pool": pool, "launch": pool.launch})

    assert "Last hour</strong> (3 snapshots)" in html  # the 100 ETH snapshot is older than the hour
    assert '<span data-quote="first">0.0000002 ETH ($0.0006)</span>' in html
    assert '<span data-quote="last">0.00000018 ETH ($0.00054)</span>' in html
    assert '<span data-quote="low">0.00000018 ETH ($0.00054)</span>' in html
    assert '<span data-quote="high">0.00000022 ETH ($0.00066)</span>' in html
    assert f'id="price-chart-{pool.pk}"' in html
    assert 'hx-preserve="true"' in html
    assert f'data-price-chart="{reverse("pool-prices", args=[pool.pk])}"' in html
    assert html.count('aria-pressed="true"') == 1


def test_the_dashboard_draws_each_launched_pool_s_chart_from_its_prefetched_snapshots(client):
    pools = [PoolFactory(status=Pool.Status.LAUNCHED) for _ in range(3)]
    for pool in pools:
        make_launch(pool, oracle_answer=ETH_USD)
        make_snapshot(pool, block=1, timestamp=NOW, reserve_token=TOKENS, reserve_asset=80 * ETHER)

    body = client.get(reverse("dashboard")).content.decode()

    for pool in pools:
        assert f'id="price-chart-{pool.pk}"' in body
    assert body.count('<span data-quote="last">0.0000002 ETH ($0.0006)</span>') == 3
    assert "<polyline" not in body  # the old axis-less line is gone
