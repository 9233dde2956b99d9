"""The transaction manager on the real parts (PostgreSQL, anvil, the signer process): a transaction the chain does
not mine is replaced at its nonce with fees raised 25%, and the one that is mined settles both."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from web3 import Web3

from pools.models import ChainTransaction
from pools.services.gas import ensure_gas
from pools.services.transactions import STUCK_AFTER, advance
from tests.launch.test_lifecycle import chain, scheduled_pool  # noqa: F401 - `chain` is a fixture

pytestmark = [pytest.mark.integration, pytest.mark.chain]

Status = ChainTransaction.Status


@pytest.mark.django_db(transaction=True)
def test_a_stuck_transaction_is_replaced_at_its_nonce_with_raised_fees_and_the_mined_one_settles_both(chain):  # noqa: F811
    pool = scheduled_pool(chain)
    address = Web3.to_checksum_address(pool.deposit_address)
    assert ensure_gas(pool=pool, gas=100_000) is False  # a gas top-up is created, not yet sent
    original = ChainTransaction.objects.get(pool=pool, purpose=ChainTransaction.Purpose.GAS_TOPUP)
    balance_before = chain.w3.eth.get_balance(address)

    with chain.manual_mining():
        original = advance(original)
        assert original.status == Status.UNCONFIRMED
        # A minute passes with the transaction unmined (the fee market moved past it).
        ChainTransaction.objects.filter(pk=original.pk).update(
            first_broadcast_at=timezone.now() - STUCK_AFTER - timedelta(seconds=1)
        )
        original.refresh_from_db()
        replacement = advance(original)
        chain.mine()

    assert replacement.pk != original.pk and replacement.replaces_id == original.pk
    assert replacement.status == Status.UNCONFIRMED
    assert (replacement.nonce, replacement.to_address, replacement.value, replacement.data) == (
        original.nonce,
        original.to_address,
        original.value,
        original.data,
    )
    assert replacement.max_fee_per_gas == original.max_fee_per_gas * 125 // 100
    assert replacement.max_priority_fee_per_gas == original.max_priority_fee_per_gas * 125 // 100

    settled = advance(original)

    original.refresh_from_db()
    assert settled.pk == replacement.pk and settled.status == Status.CONFIRMED
    assert original.status == Status.REPLACED
    assert chain.w3.eth.get_transaction_receipt(settled.tx_hash)["status"] == 1
    assert chain.w3.eth.get_balance(address) == balance_before + original.value  # paid once


@pytest.mark.django_db(transaction=True)
def test_a_transaction_stuck_behind_a_fee_spike_is_replaced_with_the_networks_current_fees(chain):  # noqa: F811
    """25% more is not enough when the base fee jumped tenfold: the replacement asks what the network asks now."""
    pool = scheduled_pool(chain)
    assert ensure_gas(pool=pool, gas=100_000) is False
    original = ChainTransaction.objects.get(pool=pool, purpose=ChainTransaction.Purpose.GAS_TOPUP)

    with chain.manual_mining():
        original = advance(original)
        spiked = max(50 * 10**9, original.max_fee_per_gas * 10)
        chain.anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(spiked)])
        chain.mine()  # the spike's block: the original, bidding far below its base fee, is not in it
        assert chain.w3.eth.get_transaction_count(original.from_address) == original.nonce
        ChainTransaction.objects.filter(pk=original.pk).update(
            first_broadcast_at=timezone.now() - STUCK_AFTER - timedelta(seconds=1)
        )
        original.refresh_from_db()
        replacement = advance(original)
        chain.mine()

    base_fee = chain.w3.eth.get_block(chain.head() - 1)["baseFeePerGas"]
    assert replacement.replaces_id == original.pk
    assert replacement.max_fee_per_gas >= 2 * base_fee > original.max_fee_per_gas * 125 // 100
    settled = advance(original)
    assert settled.pk == replacement.pk and settled.status == Status.CONFIRMED
