"""The dashboard's integer math against exact fractions: spot, USD, TWAP (UQ112x112), caps, deviation, staleness."""

from fractions import Fraction
from math import floor

from hypothesis import given
from hypothesis import strategies as st

from web import market
from web.market import Q112, UINT32, UINT256

ETHER = 10**18
USDC = 10**6
FEED = 8  # Chainlink USD feeds have 8 decimals
ETH_USD = 3_000 * 10**FEED


def test_spot_price_is_asset_per_whole_token_with_18_decimals():
    price = market.spot_price(reserve_asset=80 * ETHER, reserve_token=400_000_000 * ETHER, asset_decimals=18)

    assert price == 2 * 10**11  # 0.0000002 ETH per token


def test_spot_price_of_a_usdc_pair_accounts_for_six_decimals():
    price = market.spot_price(reserve_asset=1_000 * USDC, reserve_token=1_000_000 * ETHER, asset_decimals=6)

    assert price == 10**15  # 0.001 USDC per token


def test_an_empty_pair_has_no_price():
    assert market.spot_price(reserve_asset=0, reserve_token=0, asset_decimals=18) is None


def test_usd_price_goes_through_the_feed_answer():
    usd = market.spot_price_usd(
        reserve_asset=80 * ETHER, reserve_token=400_000_000 * ETHER, asset_decimals=18, answer=ETH_USD, feed_decimals=8
    )

    assert usd == 6 * 10**14  # $0.0006


def test_liquidity_is_both_sides_at_spot():
    value = market.liquidity_usd(reserve_asset=80 * ETHER, asset_decimals=18, answer=ETH_USD, feed_decimals=FEED)

    assert value == 480_000 * 10**18


def test_market_cap_counts_only_circulating_supply_and_fdv_all_of_it():
    figures = market.pair_figures(
        reserve_token=400_000_000 * ETHER,
        reserve_asset=80 * ETHER,
        asset_decimals=18,
        total_supply=1_000_000_000 * ETHER,
        locked_supply=500_000_000 * ETHER,
        launch_asset_to_liquidity=80 * ETHER,
        launch_tokens_to_liquidity=400_000_000 * ETHER,
        answer=ETH_USD,
        feed_decimals=FEED,
        oracle_updated_at=1_000,
        chain_time=1_060,
        max_oracle_age=3_600,
    )

    assert figures.fdv_usd == 600_000 * 10**18  # 1e9 tokens × $0.0006
    assert figures.market_cap_usd == 300_000 * 10**18
    assert figures.deviation_bps == 0
    assert figures.launch_price == figures.price
    assert figures.oracle_stale is False
    assert figures.twap is None


def test_twap_of_constant_reserves_is_the_spot_price_to_the_last_unit():
    reserve_token, reserve_asset = 400_000_000 * ETHER + 7, 80 * ETHER + 13
    uq = market.uq112_price(reserve_self=reserve_token, reserve_other=reserve_asset)

    twap = market.twap_price(
        cumulative_start=uq * 1_000,
        timestamp_start=1_000,
        cumulative_end=uq * 4_600,
        timestamp_end=4_600,
        asset_decimals=18,
    )

    spot = market.spot_price(reserve_asset=reserve_asset, reserve_token=reserve_token, asset_decimals=18)
    assert spot - 1 <= twap <= spot  # UQ112x112 floors once more than the exact ratio


def test_twap_weights_each_price_by_how_long_it_held():
    cheap = market.uq112_price(reserve_self=1_000 * ETHER, reserve_other=1 * ETHER)  # 0.001
    dear = market.uq112_price(reserve_self=1_000 * ETHER, reserve_other=5 * ETHER)  # 0.005
    start = 123 * Q112
    end = start + cheap * 10 + dear * 30

    twap = market.twap_price(
        cumulative_start=start, timestamp_start=100, cumulative_end=end, timestamp_end=140, asset_decimals=18
    )

    assert twap == floor(Fraction(cheap * 10 + dear * 30, 40 * Q112) * 10**18)  # 0.004
    assert 4 * 10**15 - 1 <= twap <= 4 * 10**15


def test_twap_survives_the_cumulative_wrapping_around_uint256():
    uq = market.uq112_price(reserve_self=1_000 * ETHER, reserve_other=2 * ETHER)
    start = UINT256 - uq * 5
    end = (start + uq * 60) % UINT256
    assert end < start

    twap = market.twap_price(
        cumulative_start=start, timestamp_start=0, cumulative_end=end, timestamp_end=60, asset_decimals=18
    )

    assert twap == uq * 10**18 // Q112


def test_current_cumulative_brings_the_stored_value_up_to_now_across_a_uint32_timestamp_wrap():
    uq = market.uq112_price(reserve_self=10, reserve_other=20)

    now = market.current_cumulative(
        cumulative_last=5, reserve_self=10, reserve_other=20, block_timestamp_last=UINT32 - 10, now=UINT32 + 20
    )

    assert now == 5 + uq * 30


def test_twap_needs_time_between_readings():
    assert (
        market.twap_price(cumulative_start=1, timestamp_start=5, cumulative_end=9, timestamp_end=5, asset_decimals=18)
        is None
    )


def test_deviation_is_signed_and_truncated_toward_zero():
    assert market.deviation_bps(current=11_050, reference=10_000) == 1_050
    assert market.deviation_bps(current=8_999, reference=10_000) == -1_001
    assert market.deviation_bps(current=9_999_99, reference=10_000_00) == 0
    assert market.ratio_deviation_bps(numerator=3, denominator=2, ref_numerator=1, ref_denominator=1) == 5_000
    assert market.ratio_deviation_bps(numerator=2, denominator=3, ref_numerator=1, ref_denominator=1) == -3_333


def test_an_oracle_is_stale_once_older_than_the_pools_limit_by_chain_time():
    assert market.oracle_is_stale(updated_at=1_000, chain_time=4_600, max_age_seconds=3_600) is False
    assert market.oracle_is_stale(updated_at=1_000, chain_time=4_601, max_age_seconds=3_600) is True


def test_raised_in_usd_of_usdc_and_eth():
    assert market.to_usd(asset_amount=1_234_567_891, asset_decimals=6, answer=10**8, feed_decimals=8) == (
        1_234_567_891 * 10**12
    )
    assert market.to_usd(asset_amount=ETHER // 3, asset_decimals=18, answer=ETH_USD, feed_decimals=8) == (
        (ETHER // 3) * 3_000
    )


reserves = st.integers(min_value=1, max_value=2**112 - 1)
decimals = st.sampled_from([6, 8, 18])


@given(reserve_asset=reserves, reserve_token=reserves, asset_decimals=decimals, answer=st.integers(1, 10**14))
def test_usd_price_is_the_floor_of_the_exact_fraction(reserve_asset, reserve_token, asset_decimals, answer):
    exact = Fraction(reserve_asset, 10**asset_decimals) / Fraction(reserve_token, ETHER) * Fraction(answer, 10**FEED)

    usd = market.spot_price_usd(
        reserve_asset=reserve_asset,
        reserve_token=reserve_token,
        asset_decimals=asset_decimals,
        answer=answer,
        feed_decimals=FEED,
    )

    assert usd == floor(exact * 10**market.USD_DECIMALS)


@given(reserve_asset=reserves, reserve_token=reserves, seconds=st.integers(1, 10**7))
def test_twap_never_exceeds_the_spot_price_and_is_within_one_unit(reserve_asset, reserve_token, seconds):
    uq = market.uq112_price(reserve_self=reserve_token, reserve_other=reserve_asset)
    spot = market.spot_price(reserve_asset=reserve_asset, reserve_token=reserve_token, asset_decimals=18)

    twap = market.twap_price(
        cumulative_start=0, timestamp_start=0, cumulative_end=uq * seconds, timestamp_end=seconds, asset_decimals=18
    )

    assert spot - 1 <= twap <= spot
