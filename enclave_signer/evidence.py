"""Deposit evidence, checked on-chain: the signer proves each cited deposit itself before its ledger counts it.

A deposit is cited as {tx_hash, log_index} (ERC-20 Transfer log, block-wide log index as eth_getLogs reports it)
or {tx_hash} / {tx_hash, trace_address} (native: the top-level transaction, or the internal call at that
position of the callTracer tree). Its key -- chain, tx hash and position -- identifies it in the ledger and the
refund record, so the same deposit cannot be counted twice under two spellings (top level == trace_address []).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from eth_utils import to_checksum_address

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
    """A deposit proven on-chain: `amount` reached the pool address from `sender`, at this place in the chain."""

    key: str
    sender: str
    amount: int
    block: int
    tx_index: int
    position: tuple[int, ...]  # (log index,) for ERC-20, the trace address for native
    at: int  # the block's timestamp

    def record(self) -> dict:
        """The ledger's form (sealed state, JSON)."""
        return {
            "sender": self.sender,
            "amount": str(self.amount),
            "block": self.block,
            "tx_index": self.tx_index,
            "position": list(self.position),
            "at": self.at,
        }


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


def prove_deposits(
    chain: ChainReader,
    *,
    chain_id: int,
    citations: list[Citation],
    pool_address: str,
    raise_asset: str,
    min_confirmations: int,
    not_from: frozenset[str] = frozenset(),
) -> list[Deposit]:
    """Prove each cited deposit on chain, in batched reads; the sender is read from the chain, never taken.

    Raises EvidenceRefused naming the first citation that does not check out. `not_from` are lower-cased addresses
    whose transfers are never deposits (the gas-funding account's top-ups).
    """
    if not citations:
        return []
    head = chain.block_number()
    hashes = sorted({citation.tx_hash for citation in citations})
    receipts = dict(zip(hashes, chain.batch([("eth_getTransactionReceipt", [h]) for h in hashes]), strict=True))
    native = raise_asset == ZERO_ADDRESS
    for citation in citations:
        receipt = receipts[citation.tx_hash]
        if not receipt:
            raise EvidenceRefused("deposit_not_found", f"{citation.tx_hash} is not a mined transaction")
        if int(receipt["status"], 16) != 1:
            raise EvidenceRefused("deposit_failed", f"{citation.tx_hash} reverted")
        if head - int(receipt["blockNumber"], 16) + 1 < min_confirmations:
            raise EvidenceRefused(
                "deposit_unconfirmed", f"{citation.tx_hash} has fewer than {min_confirmations} confirmations"
            )
        if native == (citation.log_index is not None):
            raise EvidenceRefused(
                "wrong_asset", "cite native deposits by tx hash/trace address, ERC-20 ones by log index"
            )
    top_level = sorted({c.tx_hash for c in citations if native and not c.trace_address})
    traced = sorted({c.tx_hash for c in citations if native and c.trace_address})
    transactions = dict(
        zip(top_level, chain.batch([("eth_getTransactionByHash", [h]) for h in top_level]), strict=True)
    )
    traces = dict(
        zip(
            traced,
            chain.batch([("debug_traceTransaction", [h, {"tracer": "callTracer"}]) for h in traced]),
            strict=True,
        )
    )
    numbers = sorted({int(receipts[h]["blockNumber"], 16) for h in hashes})
    blocks = dict(zip(numbers, chain.batch([("eth_getBlockByNumber", [hex(n), False]) for n in numbers]), strict=True))
    proven = []
    for citation in citations:
        receipt = receipts[citation.tx_hash]
        number = int(receipt["blockNumber"], 16)
        block = blocks[number]
        if not block or str(block.get("hash", "")).lower() != str(receipt["blockHash"]).lower():
            raise EvidenceRefused("deposit_not_found", f"{citation.tx_hash}: its block changed while reading")
        if not native:
            sender, amount = _erc20_transfer(receipt, citation=citation, pool=pool_address, token=raise_asset)
            position: tuple[int, ...] = (citation.log_index,)
        elif not citation.trace_address:
            sender, amount = _top_level_transfer(transactions[citation.tx_hash] or {}, pool=pool_address)
            position = ()
        else:
            sender, amount = _internal_transfer(traces[citation.tx_hash] or {}, citation=citation, pool=pool_address)
            position = citation.trace_address
        key = citation.key(chain_id=chain_id)
        if amount <= 0:
            raise EvidenceRefused("not_a_deposit", f"{key} moved nothing")
        if sender.lower() in not_from:
            raise EvidenceRefused("not_a_deposit", f"{key}: the gas-funding account's top-ups are not deposits")
        proven.append(
            Deposit(
                key=key,
                sender=to_checksum_address(sender),
                amount=amount,
                block=number,
                tx_index=int(receipt["transactionIndex"], 16),
                position=position,
                at=int(block["timestamp"], 16),
            )
        )
    return proven


def _erc20_transfer(receipt: dict, *, citation: Citation, pool: str, token: str) -> tuple[str, int]:
    for log in receipt.get("logs", []):
        if int(log["logIndex"], 16) != citation.log_index:
            continue
        topics = log.get("topics", [])
        if not (
            _same(log.get("address"), token)
            and len(topics) == 3
            and topics[0].lower() == ERC20_TRANSFER_TOPIC
            and _same(_topic_address(topics[2]), pool)
            and not log.get("removed")
        ):
            raise EvidenceRefused(
                "not_a_deposit",
                f"log {citation.log_index} of {citation.tx_hash} is not a Transfer of the raise asset to this pool",
            )
        return _topic_address(topics[1]), int(log["data"], 16)
    raise EvidenceRefused("deposit_not_found", f"{citation.tx_hash} has no log {citation.log_index}")


def _top_level_transfer(tx: dict, *, pool: str) -> tuple[str, int]:
    if not _same(tx.get("to"), pool) or not isinstance(tx.get("from"), str):
        raise EvidenceRefused("not_a_deposit", "the transaction is not to this pool")
    return tx["from"], int(tx.get("value", "0x0"), 16)


# Frames that move value to their `to`: a call, and a self-destruct's balance going to its beneficiary. DELEGATECALL
# and CALLCODE show the caller's value but move nothing; STATICCALL cannot carry value. The web tier's indexer
# imports this set: what it credits, the signer can prove (or anyone could block a pool for a few cents).
VALUE_MOVING_FRAMES = frozenset({"CALL", "SELFDESTRUCT"})


def _internal_transfer(trace: dict, *, citation: Citation, pool: str) -> tuple[str, int]:
    frame = trace
    for step in (None, *citation.trace_address):
        if step is not None:
            calls = frame.get("calls") or []
            if step >= len(calls):
                raise EvidenceRefused("deposit_not_found", f"no call at trace address {list(citation.trace_address)}")
            frame = calls[step]
        if frame.get("error"):  # a reverted frame undoes every value transfer beneath it
            raise EvidenceRefused("deposit_failed", f"call at trace address {list(citation.trace_address)} reverted")
    if frame.get("type") not in VALUE_MOVING_FRAMES or not _same(frame.get("to"), pool):
        raise EvidenceRefused("not_a_deposit", "the traced frame is not a CALL or SELFDESTRUCT to this pool")
    return frame["from"], int(frame.get("value") or "0x0", 16)
