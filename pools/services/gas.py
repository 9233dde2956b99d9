"""Gas for a pool address: it pays its own gas. An ERC-20 pool (and any refund batch) is topped up with just enough
native currency by the gas-funding account, whose key the signer holds; every top-up is a ChainTransaction, so it is
accounted for."""

from __future__ import annotations

import logging

from django.conf import settings
from web3 import Web3

from chain.client import web3_client
from chain.devnet import LOCAL_CHAIN_IDS
from chain.l1fees import l1_fee, unsigned_transaction_bytes
from chain.transactions import Fees, current_fees
from pools.models import ChainTransaction, Pool
from pools.services.transactions import advance, create_transaction

logger = logging.getLogger(__name__)

TRANSFER_GAS = 21_000
DEV_GAS_ACCOUNT_FLOAT_WEI = 10 * 10**18
OPEN_STATUSES = [
    ChainTransaction.Status.UNSTARTED,
    ChainTransaction.Status.IN_PROGRESS,
    ChainTransaction.Status.UNCONFIRMED,
]


class GasAccountEmpty(Exception):
    """The gas-funding account cannot pay for a top-up: fund it."""

    code = "gas_account_empty"


def gas_account_address() -> str:
    from pools.signer import signer_client

    return Web3.to_checksum_address(signer_client().addresses()["gas"]["address"])


def _fund_dev_gas_account(w3: Web3, address: str, needed: int) -> None:
    """On a local development chain only: keep the gas account funded from anvil's first (unlocked) account."""
    if w3.eth.chain_id not in LOCAL_CHAIN_IDS or w3.eth.get_balance(address) >= needed:
        return
    tx = w3.eth.send_transaction({"from": w3.eth.accounts[0], "to": address, "value": DEV_GAS_ACCOUNT_FLOAT_WEI})
    w3.eth.wait_for_transaction_receipt(tx, timeout=30)


L1_FEE_MARGIN = 2


def _l1_fee_of(*, to: str, data: bytes, value: int, gas: int, fees: Fees, w3: Web3) -> int:
    """The OP-stack L1 data fee of a transaction like this one (0 elsewhere); nonce 0 stands in for its own, one byte
    in both cases for the first 128 transactions of an address."""
    tx = {"chainId": settings.CHAIN_ID, "nonce": 0, "to": to, "value": value, "data": data, "gas": gas}
    tx.update(maxFeePerGas=fees.max_fee_per_gas, maxPriorityFeePerGas=fees.max_priority_fee_per_gas)
    # Twice today's: the L1 base and blob fees may rise between this budget and the broadcast, and a node refuses a
    # signed transaction the address cannot pay for. What is not spent stays at the address, as every top-up does.
    return L1_FEE_MARGIN * l1_fee(unsigned_transaction_bytes(tx), w3=w3)


def ensure_gas(*, pool: Pool, gas: int, value: int = 0, to: str | None = None, data: bytes = b"") -> bool:
    """True when the pool address can pay `value` plus `gas` at current fees, plus on an OP-stack chain the L1 data
    fee of sending `data` to `to` (the calldata the budgeted transactions carry); else a top-up is sent (False)."""
    w3 = web3_client()
    pending = ChainTransaction.objects.filter(
        pool=pool, purpose=ChainTransaction.Purpose.GAS_TOPUP, status__in=OPEN_STATUSES
    )
    for topup in pending:
        advance(topup, w3=w3)
    if pending.exists():
        return False
    fees = current_fees(w3=w3)
    l1_data_fee = _l1_fee_of(to=to or pool.deposit_address, data=data, value=value, gas=gas, fees=fees, w3=w3)
    needed = value + gas * fees.max_fee_per_gas + l1_data_fee
    balance = w3.eth.get_balance(Web3.to_checksum_address(pool.deposit_address))
    if balance >= needed:
        return True
    amount = min(needed - balance, settings.GAS_TOPUP_MAX_WEI)
    source = gas_account_address()
    topup_l1_fee = _l1_fee_of(to=pool.deposit_address, data=b"", value=amount, gas=TRANSFER_GAS, fees=fees, w3=w3)
    topup_cost = amount + TRANSFER_GAS * fees.max_fee_per_gas + topup_l1_fee
    _fund_dev_gas_account(w3, source, topup_cost)
    if w3.eth.get_balance(source) < topup_cost:
        raise GasAccountEmpty(f"the gas-funding account {source} cannot pay a top-up of {amount} wei: fund it")
    create_transaction(
        pool=pool,
        purpose=ChainTransaction.Purpose.GAS_TOPUP,
        signer_key="gas",
        from_address=source,
        to_address=pool.deposit_address,
        data=b"",
        value=amount,
        gas=TRANSFER_GAS,
        w3=w3,
    )
    # Sent by the next call, not this one: the caller (the launch job) may hold this row in an open database
    # transaction, and a crash after the broadcast would roll back the only record of a top-up that reached the chain.
    logger.info("topping up %s with %s wei for gas (pool %s)", pool.deposit_address, amount, pool.pk)
    return False
