"""Refund evidence, checked on-chain: the signer verifies each cited deposit instead of trusting the caller.

A deposit is cited as {tx_hash, log_index} (ERC-20 Transfer log, block-wide log index as eth_getLogs reports it)
or {tx_hash} / {tx_hash, trace_address} (native: the top-level transaction, or the internal call at that
position of the callTracer tree). Its key -- chain, tx hash and position -- is what the refund record counts
against, so the same deposit cannot be cited twice under two spellings (top level == trace_address []).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from enclave_signer.calls import ERC20_TRANSFER_TOPIC
from enclave_signer.chain import ChainReader
from enclave_signer.params import ZERO_ADDRESS

TX_HASH_PATTERN = re.compile(r"^0x[0-9a-f]{64}$")
MAX_TRACE_DEPTH = 64


class EvidenceRefused(Exception):
    """A cited deposit does not check out; `code` is stable for callers."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class Citation:
    """One cited deposit, parsed."""

    tx_hash: str
    log_index: int | None
    trace_address: tuple[int, ...]

    def key(self, *, chain_id: int) -> str:
        if self.log_index is not None:
            return f"{chain_id}:{self.tx_hash}:log:{self.log_index}"
        return f"{chain_id}:{self.tx_hash}:trace:{'.'.join(map(str, self.trace_address))}"


@dataclass(frozen=True)
class Deposit:
    """A deposit proven on-chain: `amount` reached the pool address from `sender`."""

    key: str
    sender: str
    amount: int


def parse_citation(item: object) -> Citation:
    """Parse {tx_hash, log_index} | {tx_hash, trace_address?}; raises EvidenceRefused("malformed_evidence")."""
    if not isinstance(item, dict) or set(item) - {"tx_hash", "log_index", "trace_address"}:
        raise EvidenceRefused(
            "malformed_evidence",
            f"evidence item {item!r}: expected {{tx_hash, log_index}} or {{tx_hash, trace_address}}",
        )
    tx_hash = str(item.get("tx_hash", "")).lower()
    log_index, trace = item.get("log_index"), item.get("trace_address", [])
    valid = (
        TX_HASH_PATTERN.match(tx_hash)
        and (log_index is None or (type(log_index) is int and log_index >= 0))
        and (log_index is None or "trace_address" not in item)
        and isinstance(trace, list)
        and len(trace) <= MAX_TRACE_DEPTH
        and all(type(step) is int and step >= 0 for step in trace)
    )
    if not valid:
        raise EvidenceRefused("malformed_evidence", f"evidence item {item!r} is malformed")
    return Citation(tx_hash=tx_hash, log_index=log_index, trace_address=tuple(trace))


def _same(address_a: object, address_b: str) -> bool:
    return isinstance(address_a, str) and address_a.lower() == address_b.lower()


def _topic_address(topic: str) -> str:
    return "0x" + topic[-40:]


def check_deposit(
    chain: ChainReader,
    *,
    chain_id: int,
    citation: Citation,
    sender: str,
    pool_address: str,
    raise_asset: str,
    min_confirmations: int,
) -> Deposit:
    """Prove on-chain that `sender` paid `pool_address` in `raise_asset` in the cited place; return the amount."""
    receipt = chain.receipt(citation.tx_hash)
    if not receipt:
        raise EvidenceRefused("deposit_not_found", f"{citation.tx_hash} is not a mined transaction")
    if int(receipt["status"], 16) != 1:
        raise EvidenceRefused("deposit_failed", f"{citation.tx_hash} reverted")
    if chain.block_number() - int(receipt["blockNumber"], 16) + 1 < min_confirmations:
        raise EvidenceRefused(
            "deposit_unconfirmed", f"{citation.tx_hash} has fewer than {min_confirmations} confirmations"
        )
    native = raise_asset == ZERO_ADDRESS
    if native == (citation.log_index is not None):
        raise EvidenceRefused("wrong_asset", "cite native deposits by tx hash/trace address, ERC-20 ones by log index")
    key = citation.key(chain_id=chain_id)
    if not native:
        amount = _erc20_amount(receipt, citation=citation, sender=sender, pool=pool_address, token=raise_asset)
    elif not citation.trace_address:
        amount = _top_level_amount(chain.transaction(citation.tx_hash) or {}, sender=sender, pool=pool_address)
    else:
        amount = _internal_amount(
            chain.call_trace(citation.tx_hash), citation=citation, sender=sender, pool=pool_address
        )
    if amount <= 0:
        raise EvidenceRefused("not_a_deposit", f"{key} moved nothing")
    return Deposit(key=key, sender=sender, amount=amount)


def _erc20_amount(receipt: dict, *, citation: Citation, sender: str, pool: str, token: str) -> int:
    for log in receipt.get("logs", []):
        if int(log["logIndex"], 16) != citation.log_index:
            continue
        topics = log.get("topics", [])
        if not (
            _same(log.get("address"), token)
            and len(topics) == 3
            and topics[0].lower() == ERC20_TRANSFER_TOPIC
            and _same(_topic_address(topics[1]), sender)
            and _same(_topic_address(topics[2]), pool)
            and not log.get("removed")
        ):
            raise EvidenceRefused(
                "not_a_deposit",
                f"log {citation.log_index} of {citation.tx_hash} is not a Transfer "
                "of the raise asset from this recipient to this pool",
            )
        return int(log["data"], 16)
    raise EvidenceRefused("deposit_not_found", f"{citation.tx_hash} has no log {citation.log_index}")


def _top_level_amount(tx: dict, *, sender: str, pool: str) -> int:
    if not (_same(tx.get("from"), sender) and _same(tx.get("to"), pool)):
        raise EvidenceRefused("not_a_deposit", "the transaction is not from this recipient to this pool")
    return int(tx.get("value", "0x0"), 16)


def _internal_amount(trace: dict, *, citation: Citation, sender: str, pool: str) -> int:
    frame = trace
    for step in (None, *citation.trace_address):
        if step is not None:
            calls = frame.get("calls") or []
            if step >= len(calls):
                raise EvidenceRefused("deposit_not_found", f"no call at trace address {list(citation.trace_address)}")
            frame = calls[step]
        if frame.get("error"):  # a reverted frame undoes every value transfer beneath it
            raise EvidenceRefused("deposit_failed", f"call at trace address {list(citation.trace_address)} reverted")
    if frame.get("type") != "CALL" or not (_same(frame.get("from"), sender) and _same(frame.get("to"), pool)):
        raise EvidenceRefused("not_a_deposit", "the traced call is not a CALL from this recipient to this pool")
    return int(frame.get("value") or "0x0", 16)
