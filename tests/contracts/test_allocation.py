"""Integer splits and pro-rata allocations: parts always sum to the whole, never negative; same as the Launcher."""

from __future__ import annotations

import pytest
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave_signer.allocation import (
    BPS_DENOMINATOR,
    allocate_pro_rata,
    liquidity_tokens,
    split_raise,
    split_supply,
)
from tests.contracts.support import ChainEnv, eth_launch_params, launch

amounts = st.integers(min_value=0, max_value=2**200)
bps = st.integers(min_value=0, max_value=BPS_DENOMINATOR)
addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)


@st.composite
def bps_pairs(draw) -> tuple[int, int]:
    first = draw(bps)
    return first, draw(st.integers(min_value=0, max_value=BPS_DENOMINATOR - first))


@given(amounts, bps_pairs())
def test_the_supply_split_sums_to_the_supply_and_is_never_negative(total: int, pair: tuple[int, int]):
    split = split_supply(total_supply=total, liquidity_bps=pair[0], depositor_bps=pair[1])
    assert split.liquidity + split.depositors + split.agent == total
    assert min(split.liquidity, split.depositors, split.agent) >= 0
    assert split.liquidity == total * pair[0] // BPS_DENOMINATOR


@given(amounts, bps_pairs())
def test_the_raise_split_sums_to_the_raise_and_is_never_negative(total: int, pair: tuple[int, int]):
    split = split_raise(raise_amount=total, liquidity_bps=pair[0], fee_bps=pair[1])
    assert split.liquidity + split.fee + split.treasury == total
    assert min(split.liquidity, split.fee, split.treasury) >= 0


def test_splits_over_ten_thousand_bps_are_refused():
    with pytest.raises(ValueError):
        split_supply(total_supply=100, liquidity_bps=6_000, depositor_bps=4_001)
    with pytest.raises(ValueError):
        split_raise(raise_amount=100, liquidity_bps=-1, fee_bps=0)


@given(amounts, st.dictionaries(addresses, st.integers(min_value=0, max_value=2**128), min_size=1, max_size=60))
def test_pro_rata_allocations_sum_exactly_and_stay_within_one_unit_of_exact(total: int, contributions: dict):
    contributed = sum(contributions.values())
    if contributed == 0:
        if total:
            with pytest.raises(ValueError):
                allocate_pro_rata(total=total, contributions=contributions)
        return
    shares = allocate_pro_rata(total=total, contributions=contributions)
    assert sum(shares.values()) == total
    for address, amount in contributions.items():
        floor = total * amount // contributed
        assert floor <= shares[address] <= floor + 1
        if amount == 0:
            assert shares[address] == 0


@given(amounts, st.dictionaries(addresses, st.integers(min_value=1, max_value=10**30), min_size=1, max_size=30))
def test_pro_rata_allocation_does_not_depend_on_input_order_or_address_case(total: int, contributions: dict):
    reordered = {address.lower(): amount for address, amount in reversed(list(contributions.items()))}
    assert allocate_pro_rata(total=total, contributions=contributions) == allocate_pro_rata(
        total=total, contributions=reordered
    )


def test_the_left_over_unit_goes_to_the_largest_remainder_then_the_lowest_address():
    low, mid, high = ("0x" + digit * 40 for digit in "123")
    assert allocate_pro_rata(total=2, contributions={high: 1, mid: 1, low: 1}) == {
        to_checksum_address(low): 1,
        to_checksum_address(mid): 1,
        to_checksum_address(high): 0,
    }
    # 10 split 1:2 → 3.33 and 6.66: the one left over unit goes to the larger remainder (6.66 → 7).
    assert allocate_pro_rata(total=10, contributions={low: 1, high: 2}) == {
        to_checksum_address(low): 3,
        to_checksum_address(high): 7,
    }


def test_negative_and_duplicate_contributions_are_refused():
    with pytest.raises(ValueError, match="negative"):
        allocate_pro_rata(total=1, contributions={"0x" + "11" * 20: -1})
    with pytest.raises(ValueError, match="twice"):
        allocate_pro_rata(total=1, contributions={"0x" + "ab" * 20: 1, to_checksum_address("0x" + "ab" * 20): 1})


@given(
    st.integers(min_value=0, max_value=10**30),
    st.integers(min_value=1, max_value=10**30),
    st.integers(min_value=1, max_value=10**12),
    st.integers(min_value=0, max_value=10**12),
    st.sampled_from([6, 8, 18]),
)
def test_the_paired_tokens_never_exceed_the_share_and_paired_plus_burned_is_the_share(
    share: int, asset: int, answer: int, target: int, decimals: int
):
    plan = liquidity_tokens(
        liquidity_share=share,
        asset_to_liquidity=asset,
        oracle_answer=answer,
        target_price_usd=target,
        asset_decimals=decimals,
    )
    assert 0 <= plan.paired <= share and plan.paired + plan.burned == share
    if target == 0:
        assert plan.burned == 0


@pytest.mark.chain
@settings(max_examples=12, deadline=None)
@given(
    total_supply=st.integers(min_value=10**21, max_value=10**33),
    supply_bps=bps_pairs(),
    raise_amount=st.integers(min_value=10**15, max_value=50 * 10**18),
    liquidity_raise_bps=st.integers(min_value=1_000, max_value=9_000),
    fee_bps=st.integers(min_value=0, max_value=1_000),
)
def test_the_launcher_splits_exactly_like_the_python_math(
    anvil, dev_chain, total_supply, supply_bps, raise_amount, liquidity_raise_bps, fee_bps
):
    liquidity_bps, depositor_bps = supply_bps
    if liquidity_bps == 0:
        liquidity_bps = 1
        depositor_bps = min(depositor_bps, BPS_DENOMINATOR - 1)
    snapshot = anvil.rpc("evm_snapshot")
    try:
        env = ChainEnv(
            anvil=anvil, deployment=dev_chain, deployer=anvil.account(0).address, pool=anvil.account(1).address
        )
        params = eth_launch_params(
            env,
            total_supply=total_supply,
            liquidity_supply_bps=liquidity_bps,
            depositor_supply_bps=depositor_bps,
            raise_amount=raise_amount,
            liquidity_raise_bps=liquidity_raise_bps,
            fee_bps=fee_bps,
        )
        _, event = launch(env, params)
    finally:
        anvil.rpc("evm_revert", [snapshot])
    supply = split_supply(total_supply=total_supply, liquidity_bps=liquidity_bps, depositor_bps=depositor_bps)
    raised = split_raise(raise_amount=raise_amount, liquidity_bps=liquidity_raise_bps, fee_bps=fee_bps)
    assert (event.tokens_to_liquidity, event.depositor_tokens, event.agent_tokens) == (
        supply.liquidity,
        supply.depositors,
        supply.agent,
    )
    assert (event.asset_to_liquidity, event.fee, event.treasury_amount) == (
        raised.liquidity,
        raised.fee,
        raised.treasury,
    )
