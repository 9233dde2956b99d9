"""Sending what the enclave signer signed: fees, nonces as the chain sees them, broadcast with typed node errors,
receipts.

Stateless: the transaction manager that persists every request before it is signed, allocates nonces and replaces
stuck transactions is pools/services/transactions.py, beside the rows it keeps. Node error text is read here and
nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from web3 import Web3
from web3.exceptions import TransactionNotFound, Web3RPCError

from chain.client import web3_client
from chain.errors import (
    AlreadyKnown,
    ChainError,
    ChainUnavailable,
    InsufficientFunds,
    NonceTooLow,
    ReplacementUnderpriced,
)

# Fees: twice the current base fee plus the tip leaves room for six full blocks of base-fee growth.
BASE_FEE_MULTIPLIER = 2
DEFAULT_PRIORITY_FEE_WEI = 10**9  # 1 gwei
REPLACEMENT_FEE_BUMP_PERCENT = 125  # nodes demand ≥ 110% to replace; 125% clears that with margin

_NODE_ERRORS = [
    ("nonce too low", NonceTooLow),
    ("already known", AlreadyKnown),
    ("known transaction", AlreadyKnown),
    ("insufficient funds", InsufficientFunds),
    ("replacement transaction underpriced", ReplacementUnderpriced),
    ("transaction underpriced", ReplacementUnderpriced),
]


def typed_node_error(error: Exception) -> ChainError:
    """The typed error for a node's complaint about a transaction (plain ChainError when it is none we know)."""
    text = str(error).lower()
    for fragment, kind in _NODE_ERRORS:
        if fragment in text:
            return kind(str(error))
    return ChainError(str(error))


@dataclass(frozen=True)
class Fees:
    max_fee_per_gas: int
    max_priority_fee_per_gas: int

    def bumped(self) -> Fees:
        """The fees of a replacement at the same nonce: high enough for nodes to accept it."""
        return Fees(
            max_fee_per_gas=self.max_fee_per_gas * REPLACEMENT_FEE_BUMP_PERCENT // 100,
            max_priority_fee_per_gas=self.max_priority_fee_per_gas * REPLACEMENT_FEE_BUMP_PERCENT // 100,
        )


def current_fees(*, w3: Web3 | None = None) -> Fees:
    w3 = w3 or web3_client()
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    return Fees(
        max_fee_per_gas=base_fee * BASE_FEE_MULTIPLIER + DEFAULT_PRIORITY_FEE_WEI,
        max_priority_fee_per_gas=DEFAULT_PRIORITY_FEE_WEI,
    )


def mined_nonce(*, address: str, w3: Web3 | None = None) -> int:
    """How many transactions from `address` the chain has mined: the lowest nonce still free."""
    return (w3 or web3_client()).eth.get_transaction_count(Web3.to_checksum_address(address), "latest")


def send_raw_transaction(raw_tx: str, *, w3: Web3 | None = None) -> None:
    """Broadcast signed bytes; the node's refusal as a typed error (AlreadyKnown, NonceTooLow, ...)."""
    w3 = w3 or web3_client()
    try:
        w3.eth.send_raw_transaction(raw_tx)
    except (Web3RPCError, ValueError) as error:
        raise typed_node_error(error) from error
    except OSError as error:
        raise ChainUnavailable(str(error)) from error


def transaction_receipt(tx_hash: str, *, w3: Web3 | None = None) -> Any | None:
    """The receipt of a mined transaction, or None while it is not mined (or unknown to the node)."""
    try:
        return (w3 or web3_client()).eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None
