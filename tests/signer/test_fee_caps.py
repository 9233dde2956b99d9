"""Fee caps that scale with the network: a launch's fees are judged by their price per gas
(SIGNER_MAX_FEE_PER_GAS_WEI), not by one absolute figure that a 6M-gas launch passes once fees rise past ~16.7 gwei;
SIGNER_MAX_TX_FEE_WEI stays as what any transaction may spend whatever its price; the pool's fee budget bounds the
total however many transactions a compromised caller asks for."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from enclave_signer.config import DEFAULT_MAX_FEE_PER_GAS_WEI, DEFAULT_MAX_TX_FEE_WEI, load_config
from enclave_signer.policy import Approval
from tests.signer.factories import GWEI, LAUNCHER
from tests.signer.test_policy_properties import (
    FEE_BUDGET_MIN,
    MAX_TX_FEE,
    POOL_ID,
    context,
    decide,
    refused,
    valid_launch,
)

LAUNCH_GAS = 6_000_000  # what the launch job asks for (pools/services/launch.py LAUNCH_GAS_LIMIT)


def test_a_6m_gas_launch_at_30_gwei_is_signed():
    """6M x 30 gwei = 0.18 ETH: above the old 0.1 ETH per-transaction cap, well within 500 gwei per gas."""
    assert LAUNCH_GAS * 30 * GWEI > DEFAULT_MAX_TX_FEE_WEI
    outcome = decide(POOL_ID, valid_launch(gas=LAUNCH_GAS, max_fee=30 * GWEI))
    assert isinstance(outcome, Approval), outcome
    assert outcome.tx["to"] == LAUNCHER


def test_a_launch_above_the_price_cap_is_refused_fee_cap():
    over = DEFAULT_MAX_FEE_PER_GAS_WEI + 1
    outcome = decide(POOL_ID, valid_launch(gas=LAUNCH_GAS, max_fee=over))
    assert refused(outcome, "fee_cap"), outcome
    assert str(DEFAULT_MAX_FEE_PER_GAS_WEI) in outcome.reason


def test_the_price_cap_is_the_operators_setting():
    """A signer configured to 20 gwei refuses the same 30 gwei launch."""
    strict = context(max_fee_per_gas_wei=20 * GWEI)
    assert refused(decide(POOL_ID, valid_launch(gas=LAUNCH_GAS, max_fee=30 * GWEI), ctx=strict), "fee_cap")
    assert load_config({"SIGNER_MAX_FEE_PER_GAS_WEI": str(20 * GWEI)}).max_fee_per_gas_wei == 20 * GWEI
    assert load_config({}).max_fee_per_gas_wei == DEFAULT_MAX_FEE_PER_GAS_WEI


@settings(max_examples=200)
@given(gas=st.integers(min_value=5_000_000, max_value=10_000_000), max_fee=st.integers(min_value=0, max_value=10**13))
def test_a_launchs_fees_pass_when_within_the_price_cap_or_the_per_transaction_floor(gas, max_fee):
    """Within the budget (nothing committed, a generous budget), fee_cap is exactly: above the price cap AND above
    SIGNER_MAX_TX_FEE_WEI in all."""
    ctx = context(fee_budget_min_wei=10**20)
    outcome = decide(POOL_ID, valid_launch(gas=gas, max_fee=max_fee), ctx=ctx)
    over_cap = max_fee > DEFAULT_MAX_FEE_PER_GAS_WEI and gas * max_fee > MAX_TX_FEE
    assert refused(outcome, "fee_cap") == over_cap, outcome
    if not over_cap:
        assert isinstance(outcome, Approval), outcome


def test_many_launches_at_the_price_cap_cannot_pass_the_pools_fee_budget():
    """A compromised caller signs launch after launch at open nonces, each at the price cap: what they may still pay
    counts (as the signer's books count every open slot's costliest transaction), and the budget stops them."""
    committed: list[int] = []
    ctx = context(fees_committed=lambda address, nonce: sum(committed))
    price = 16 * GWEI  # a 5M-gas launch at 16 gwei is 0.08 ETH: six of them pass the 0.5 ETH budget
    signed_fees = 0
    for nonce in range(20):
        outcome = decide(POOL_ID, valid_launch(nonce=nonce, max_fee=price), ctx=ctx)
        if refused(outcome):
            assert refused(outcome, "fee_budget"), outcome
            break
        fee = outcome.tx["gas"] * outcome.tx["maxFeePerGas"]
        committed.append(fee)
        signed_fees += fee
    else:
        raise AssertionError("twenty launches at the price cap were all signed")
    assert signed_fees <= FEE_BUDGET_MIN
    assert FEE_BUDGET_MIN - signed_fees < 5_000_000 * price  # the budget was used up, not refused early
