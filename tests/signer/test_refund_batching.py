"""Property test of refund batching (no chain): for random owed amounts, value caps, fees and gas limits, every batch
the web tier plans passes the signer's real policy, and the batches pay each recipient exactly what it is owed.

The web tier's planner is pools/services/refund_batches.py; the judge is enclave_signer.policy.evaluate, with the
signer's books as the small fakes of test_policy_properties.py.
"""

from __future__ import annotations

import dataclasses

import pytest
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.contracts import ascending_batch
from enclave_signer.params import normalize_pool_params
from enclave_signer.policy import Refusal
from pools.services.refund_batches import BatchLimits, Owed, batch_gas, next_batch, split
from tests.signer.factories import ETHER, GWEI, USDC, pool_params
from tests.signer.test_policy_properties import (
    POOL_ADDRESS,
    POOL_ID,
    USDC_POOL_ADDRESS,
    USDC_POOL_ID,
    citation,
    context,
    decide,
    deposit_key,
    refund_wire,
    tx_hash_of,
)

RECIPIENTS = [to_checksum_address(f"0x{n:040x}") for n in range(0x100, 0x100 + 40)]


def fits(batch: list[Owed], limits: BatchLimits) -> bool:
    """What `next_batch` promises, written out independently of it."""
    gas = batch_gas(len(batch), native=limits.native)
    return (
        0 < len(batch) <= limits.max_count
        and len({item.recipient for item in batch}) == len(batch)
        and sum(item.amount for item in batch) <= limits.max_value
        and gas <= limits.max_gas
        and gas * limits.max_fee_per_gas <= limits.max_tx_fee
    )


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    owed=st.lists(st.integers(min_value=1, max_value=10 * ETHER), min_size=1, max_size=20),
    value_cap=st.one_of(st.integers(min_value=2 * ETHER, max_value=100 * ETHER), st.just(10**30)),
    max_count=st.integers(min_value=1, max_value=100),
    max_gas=st.integers(min_value=200_000, max_value=15_000_000),
    max_fee_per_gas=st.one_of(st.integers(min_value=1, max_value=500 * GWEI), st.just(GWEI)),
    max_tx_fee=st.sampled_from([10**16, 10**17, 10**18]),
    erc20=st.booleans(),
)
def test_every_planned_batch_passes_the_signer_and_each_recipient_is_paid_exactly_once(
    owed, value_cap, max_count, max_gas, max_fee_per_gas, max_tx_fee, erc20
):
    pool_id, pool_address = (USDC_POOL_ID, USDC_POOL_ADDRESS) if erc20 else (POOL_ID, POOL_ADDRESS)
    asset = {"raise_asset": USDC} if erc20 else {}
    params = normalize_pool_params(pool_params(**asset, soft_cap=1, hard_cap=value_cap, max_value_wei=value_cap))
    limits = BatchLimits(
        native=not erc20,
        max_count=max_count,
        max_value=value_cap,
        max_gas=max_gas,
        max_tx_fee=max_tx_fee,
        max_fee_per_gas=max_fee_per_gas,
    )
    # Each recipient made one deposit, all of it owed back; the refund job splits what one transaction cannot carry.
    recipients = RECIPIENTS[: len(owed)]
    ledger = {
        deposit_key(n, erc20=erc20): (pool_address, r, amount)
        for n, (r, amount) in enumerate(zip(recipients, owed, strict=True))
    }
    parts = [
        Owed(key=(n, i), recipient=r, amount=part)
        for n, (r, amount) in enumerate(zip(recipients, owed, strict=True))
        for i, part in enumerate(split(amount, cap=value_cap))
    ]
    refunds: dict = {}
    base = context(ledger=ledger, refunds=refunds, max_tx_fee_wei=max_tx_fee)
    ctx = dataclasses.replace(base, pools={**base.pools, pool_id: {**base.pools[pool_id], "params": params}})

    paid: dict[str, int] = dict.fromkeys(recipients, 0)
    remaining, nonce = list(parts), 0
    if limits.most_recipients() == 0:
        assert next_batch(remaining, limits) == []  # fees too high for one recipient: the job waits
        return
    while remaining:
        batch = next_batch(remaining, limits)
        assert batch and fits(batch, limits), (batch, limits)
        assert batch[0] == remaining[0]  # the oldest part always goes first: nothing waits behind it for ever
        # In the order the refund job's encoder (chain.contracts) puts it: recipients ascending, as the Refunder wants.
        recipients_sent, amounts_sent = ascending_batch(
            recipients=[item.recipient for item in batch], amounts=[item.amount for item in batch]
        )
        wire = refund_wire(recipients_sent, amounts_sent, erc20=erc20, nonce=nonce)
        wire["maxFeePerGas"], wire["maxPriorityFeePerGas"] = str(max_fee_per_gas), str(min(GWEI, max_fee_per_gas))
        evidence = {item.recipient: [citation(item.key[0], erc20=erc20)] for item in batch}
        approval = decide(pool_id, wire, evidence=evidence, ctx=ctx)
        assert not isinstance(approval, Refusal), approval
        # Recorded as the signer records a signed refund (and mined: one transaction per nonce).
        for key, consumption in approval.consumptions.items():
            record = refunds.setdefault(key, {"amount": str(consumption["amount"]), "consumed": {}})
            record["consumed"].setdefault(f"{pool_address}/{nonce}", {})[tx_hash_of(nonce)] = str(consumption["take"])
        for item in batch:
            paid[item.recipient] += item.amount
            remaining.remove(item)
        nonce += 1
    assert paid == dict(zip(recipients, owed, strict=True))


def test_a_recipient_owed_more_than_one_transaction_may_carry_is_split():
    assert split(250, cap=100) == [100, 100, 50]
    assert split(200, cap=100) == [100, 100]
    assert split(1, cap=100) == [1]
    with pytest.raises(ValueError):
        split(1, cap=0)


def test_a_large_part_does_not_hold_back_the_smaller_ones_behind_it():
    limits = BatchLimits(native=True, max_count=10, max_value=100, max_gas=10**7, max_tx_fee=10**18, max_fee_per_gas=1)
    owed = [Owed(1, RECIPIENTS[0], 60), Owed(2, RECIPIENTS[1], 60), Owed(3, RECIPIENTS[2], 30)]

    assert [item.key for item in next_batch(owed, limits)] == [1, 3]


def test_fees_shrink_the_batch_and_above_the_cap_nothing_is_planned():
    owed = [Owed(n, recipient, 1) for n, recipient in enumerate(RECIPIENTS)]
    cheap = BatchLimits(
        native=True, max_count=100, max_value=10**6, max_gas=10**7, max_tx_fee=10**17, max_fee_per_gas=GWEI
    )
    spike = dataclasses.replace(cheap, max_fee_per_gas=100 * GWEI)
    extreme = dataclasses.replace(cheap, max_fee_per_gas=1000 * GWEI)

    assert len(next_batch(owed, cheap)) == 40
    assert len(next_batch(owed, spike)) == 10  # 0.1 ETH at 100 gwei buys 1M gas: 60k + 10 x 90k
    assert next_batch(owed, extreme) == []
