"""OP-stack L1 data fees: budgeted in gas top-ups (read from the GasPriceOracle predeploy), and counted with gas in
reconciliation and in the signer's books (from receipts' `l1Fee`), so an ETH pool that sent a transaction shows no
false balance difference."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from web3 import Web3

from chain.l1fees import GAS_PRICE_ORACLE, receipt_l1_fee
from chain.transactions import current_fees
from enclave_signer.books import Books
from pools.indexer.reconcile import books_balance
from pools.models import ChainTransaction, Deposit, Launch
from pools.services.gas import L1_FEE_MARGIN, ensure_gas
from pools.services.launch import launch_request
from tests.indexer.support import ETHER, fresh_address
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    assert_conserved,
    chain,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    scheduled_pool,
)

GWEI = 10**9
L1_FEE = 7 * 10**14  # 0.0007 ETH: what the stand-in oracle below charges for any transaction
# Runtime bytecode of a stand-in GasPriceOracle: whatever it is asked (getL1Fee(bytes) included), it returns L1_FEE
# as one uint256 word. PUSH32 L1_FEE, PUSH1 0, MSTORE, PUSH1 32, PUSH1 0, RETURN.
ORACLE_CODE = "0x7f" + L1_FEE.to_bytes(32, "big").hex() + "600052" + "60206000f3"


def _receipt(**fields) -> dict:
    return {"blockNumber": "0x10", "status": "0x1", "gasUsed": hex(21_000), "effectiveGasPrice": hex(GWEI), **fields}


def test_a_receipts_l1_fee_is_read_from_its_hex_field_and_is_zero_without_one():
    assert receipt_l1_fee(_receipt(l1Fee=hex(L1_FEE))) == L1_FEE
    assert receipt_l1_fee({"l1Fee": L1_FEE}) == L1_FEE  # web3's formatted receipts carry ints
    assert receipt_l1_fee(_receipt()) == 0


@pytest.mark.django_db
def test_an_eth_pools_books_count_the_l1_fee_its_transaction_paid():
    """5 ETH in; a refund of 1 ETH out, paying 50,000 gas at 3 gwei and the L1 fee: the books hold exactly what the
    address holds then, 5 - 1 - gas - L1 fee."""
    from tests.factories import PoolFactory

    pool = PoolFactory(deposit_address=fresh_address("l1-pool"), soft_cap=0)
    Deposit.objects.create(
        pool=pool,
        chain_id=pool.chain_id,
        tx_hash="0x" + "ab" * 32,
        position="0",
        kind=Deposit.Kind.NATIVE_TX,
        tx_index=0,
        ordinal=0,
        block_number=10,
        block_hash="0x" + "cd" * 32,
        block_timestamp=timezone.now() - timedelta(hours=1),
        sender=fresh_address("l1-depositor"),
        amount=5 * ETHER,
        credited_amount=5 * ETHER,
        status=Deposit.Status.CONFIRMED,
    )
    ChainTransaction.objects.create(
        pool=pool,
        purpose=ChainTransaction.Purpose.REFUND,
        signer_key=str(pool.pk),
        chain_id=pool.chain_id,
        from_address=pool.deposit_address,
        nonce=0,
        to_address=fresh_address("refunder"),
        value=ETHER,
        gas=100_000,
        max_fee_per_gas=10 * GWEI,
        max_priority_fee_per_gas=GWEI,
        status=ChainTransaction.Status.CONFIRMED,
        block_number=12,
        gas_used=50_000,
        effective_gas_price=3 * GWEI,
        l1_fee=L1_FEE,
    )

    assert books_balance(pool_id=pool.pk, through_block=12) == 5 * ETHER - ETHER - 50_000 * 3 * GWEI - L1_FEE
    assert books_balance(pool_id=pool.pk, through_block=11) == 5 * ETHER  # not mined yet at 11


class OpStackReceipts:
    """Test double for the signer's chain reader, answering as an OP-stack node does (a receipt with `l1Fee`): no
    such node runs here. Only what Books.mined asks."""

    def __init__(self, receipt: dict) -> None:
        self._receipt = receipt

    def nonce(self, address: str, block: int | None = None) -> int:
        return 1

    def receipt(self, tx_hash: str) -> dict:
        return self._receipt


def test_the_signers_books_count_the_l1_fee_in_what_a_mined_transaction_took_out():
    address, tx_hash = fresh_address("signer-pool"), "0x" + "ef" * 32
    books = Books(state={}, chain=OpStackReceipts(_receipt(l1Fee=hex(L1_FEE), logs=[])), gas_address=address)
    books.note_signed(address=address, nonce=0, tx_hash=tx_hash, info={"kind": "refund", "to": address, "value": "5"})

    mined = books.mined(address, 0)

    assert mined.fee == 21_000 * GWEI + L1_FEE
    assert mined.value == 5


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_gas_top_up_includes_the_l1_fee_the_gas_price_oracle_asks(settings, chain):  # noqa: F811
    """On anvil, a stand-in GasPriceOracle at the predeploy address: the top-up for an empty pool address is the gas
    budget plus exactly its L1 fee; with CHAIN_OP_STACK off, the gas budget alone."""
    gas = 100_000
    chain.anvil.rpc("anvil_setCode", [GAS_PRICE_ORACLE, ORACLE_CODE])
    oracle = Web3.to_checksum_address(GAS_PRICE_ORACLE)
    assert int.from_bytes(chain.w3.eth.call({"to": oracle, "data": "0x49948e0e"}), "big") == L1_FEE

    def top_up_for(pool) -> int:
        fees = current_fees(w3=chain.w3)  # what ensure_gas prices with: no block is mined before it does
        assert ensure_gas(pool=pool, gas=gas, to=fresh_address("launcher"), data=b"\x5a" * 600) is False
        topup = ChainTransaction.objects.get(pool=pool, purpose=ChainTransaction.Purpose.GAS_TOPUP)
        return topup.value - gas * fees.max_fee_per_gas

    settings.CHAIN_OP_STACK = True
    assert top_up_for(scheduled_pool(chain)) == L1_FEE_MARGIN * L1_FEE  # with its margin for a rising L1 fee

    settings.CHAIN_OP_STACK = False
    assert top_up_for(scheduled_pool(chain)) == 0


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_an_eth_launch_on_an_op_stack_chain_first_brings_its_l1_fee_to_the_pool_address(settings, chain):  # noqa: F811
    """The launch's value leaves exactly gas x maxFeePerGas of the raise at the address, and the node also wants the
    L1 fee there: a top-up of that fee (twice it: its margin) comes first, the launch carries the whole raise less
    its gas budget (the signer agrees), and every wei is accounted for."""
    settings.CHAIN_OP_STACK = True
    chain.anvil.rpc("anvil_setCode", [GAS_PRICE_ORACLE, ORACLE_CODE])
    pool = scheduled_pool(chain, soft_cap=10 * ETHER)
    deposit_from(chain, pool, [5 * ETHER, 5 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="op-stack")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)

    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(pool, chain=chain)

    assert launch.step == Launch.Step.LAUNCHED, launch.error
    topup = ChainTransaction.objects.get(pool=pool, purpose=ChainTransaction.Purpose.GAS_TOPUP)
    assert topup.status == ChainTransaction.Status.CONFIRMED and topup.value == L1_FEE_MARGIN * L1_FEE
    assert topup.block_number < launch.transaction.block_number
    assert launch.raise_amount == 10 * ETHER - launch.transaction.gas * launch.transaction.max_fee_per_gas
    assert_conserved(chain, pool, deposited=10 * ETHER)
