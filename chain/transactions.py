"""Sending what the enclave signer signed: fees, nonces as the chain sees them, broadcast with typed node errors,
receipts.

Stateless: the transaction manager that persists every request before it is signed, allocates nonces and replaces
stuck transactions is pools/services/transactions.py, beside the rows it keeps. Node error text is read here and
nowhere else.
"""

from __future__ import annotations

from dataclasses import dataclass
from statistics import median_low
from typing import Any

from django.conf import settings
from web3 import Web3
from web3.exceptions import BlockNotFound, TransactionNotFound, Web3RPCError

from chain.client import web3_client
from chain.errors import (
    AlreadyKnown,
    ChainError,
    ChainUnavailable,
    FeesTooHigh,
    InsufficientFunds,
    NonceTooLow,
    ReplacementUnderpriced,
)

# The tip when the node has no eth_maxPriorityFeePerGas: the median of what the last blocks' middle payers tipped.
FEE_HISTORY_BLOCKS = 10
FEE_HISTORY_PERCENTILE = 50
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


def _node_tip(w3: Web3) -> int | None:
    """The node's own tip suggestion (eth_maxPriorityFeePerGas), or None when it does not offer one."""
    try:
        answer = w3.manager.request_blocking("eth_maxPriorityFeePerGas", [])
    except (Web3RPCError, ValueError):
        return None
    return int(answer, 16) if isinstance(answer, str) else int(answer)


def _median_reward(history: dict) -> int:
    """The median of the blocks' 50th-percentile rewards; empty blocks (which reward nothing) say nothing, left out."""
    rewards = [int(block[0]) for block in history.get("reward") or [] if block and int(block[0]) > 0]
    return median_low(rewards) if rewards else 0


def current_fees(*, w3: Web3 | None = None) -> Fees:
    """The fees to send with now.

    The tip is the node's eth_maxPriorityFeePerGas, else the median reward of the last FEE_HISTORY_BLOCKS blocks, at
    most CHAIN_MAX_PRIORITY_FEE_WEI (a node that suggests nonsense cannot make us overpay block producers).
    maxFeePerGas is CHAIN_BASE_FEE_MULTIPLIER x the base fee -- the higher of the latest block's and the next one's,
    both in eth_feeHistory's answer -- plus the tip: room for the base fee to grow for a few full blocks.
    FeesTooHigh above CHAIN_MAX_FEE_PER_GAS_WEI: nothing is sent then; the caller waits and says why.
    """
    w3 = w3 or web3_client()
    history = w3.eth.fee_history(FEE_HISTORY_BLOCKS, "latest", [FEE_HISTORY_PERCENTILE])
    base_fee = max(int(fee) for fee in history["baseFeePerGas"][-2:])
    tip = _node_tip(w3)
    tip = min(_median_reward(history) if tip is None else tip, settings.CHAIN_MAX_PRIORITY_FEE_WEI)
    max_fee = base_fee * settings.CHAIN_BASE_FEE_MULTIPLIER + tip
    if max_fee > settings.CHAIN_MAX_FEE_PER_GAS_WEI:
        raise FeesTooHigh(base_fee=base_fee, max_fee_per_gas=max_fee, cap=settings.CHAIN_MAX_FEE_PER_GAS_WEI)
    return Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=tip)


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


def is_final(block_number: int, *, w3: Web3 | None = None) -> bool:
    """Whether a block is at or below the node's CHAIN_CONFIRMATION_TAG block ("latest": always, nothing asked)."""
    tag = settings.CHAIN_CONFIRMATION_TAG
    if tag == "latest":
        return True
    try:
        return block_number <= (w3 or web3_client()).eth.get_block(tag)["number"]
    except BlockNotFound:  # a young chain has no safe or finalized block yet
        return False


def transaction_receipt(tx_hash: str, *, w3: Web3 | None = None) -> Any | None:
    """The receipt of a mined transaction, or None while it is not mined (or unknown to the node)."""
    try:
        return (w3 or web3_client()).eth.get_transaction_receipt(tx_hash)
    except TransactionNotFound:
        return None
