"""The transparency page's reads: the signer's attestation and its hash-chained log, shown like a block explorer.

The web tier is not trusted, so what it shows is a convenience: the page says how to fetch the same data and check
it offline with `python -m enclave_signer verify-log`. The per-entry check here re-does that check for one entry.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass

from eth_account import Account
from eth_account.messages import encode_defunct

from pools.signer import signer_client

LOG_PAGE_SIZE = 25
DOWNLOAD_CHUNK = 1000  # the signer's largest page
HASHED_FIELDS = ("seq", "prev", "timestamp", "kind", "payload")

# What each kind of entry means, in words.
KIND_LABELS = {
    "signer_initialized": "Signer started with a new root secret",
    "key_created": "Key created",
    "pool_registered": "Pool registered",
    "pool_params_changed": "Pool parameters changed (before any deposit)",
    "registration_refused": "Registration refused",
    "signed": "Signed",
    "sign_repeated": "Signed again (same request)",
    "refused": "Refused",
    "sealing_key_rotated": "Sealing key rotated",
}


def attestation(*, nonce: str) -> dict:
    return signer_client().attestation(nonce=nonce)


@dataclass(frozen=True)
class LogRow:
    seq: int
    timestamp: int
    kind: str
    label: str
    decision: str  # "signed", "refused", or "" for bookkeeping entries
    intent_kind: str
    pool_id: str
    to: str
    tx_hash: str
    code: str
    reason: str
    hash: str
    prev: str


def _row(entry: dict) -> LogRow:
    payload = entry.get("payload") or {}
    intent = payload.get("intent") or {}
    kind = entry.get("kind", "")
    decision = {"signed": "signed", "sign_repeated": "signed", "refused": "refused"}.get(kind, "")
    if kind == "registration_refused":
        decision = "refused"
    signer = intent.get("signer") or {}
    pool_id = str(payload.get("pool_id") or signer.get("key", "").removeprefix("pool/"))
    return LogRow(
        seq=entry["seq"],
        timestamp=entry.get("timestamp", 0),
        kind=kind,
        label=KIND_LABELS.get(kind, kind),
        decision=decision,
        intent_kind=intent.get("kind", ""),
        pool_id=pool_id if pool_id and pool_id != "gas" and not pool_id.startswith("gas/") else "",
        to=intent.get("to", ""),
        tx_hash=payload.get("tx_hash", ""),
        code=payload.get("code", ""),
        reason=payload.get("reason", ""),
        hash=entry.get("hash", ""),
        prev=entry.get("prev", ""),
    )


@dataclass(frozen=True)
class LogPage:
    rows: list[LogRow]  # newest first
    head_seq: int
    head_hash: str
    older: int | None  # `before` for the next (older) page
    newer: int | None  # `before` for the previous (newer) page; 0 means the newest page


def log_page(*, before: int | None = None) -> LogPage:
    """Up to LOG_PAGE_SIZE entries with seq < before (default: the newest), newest first."""
    client = signer_client()
    head = client.log_head()
    top = head["seq"] + 1 if before is None else min(before, head["seq"] + 1)
    after = max(top - LOG_PAGE_SIZE - 1, -1)
    entries = client.log_entries(after=after, limit=top - after - 1)["entries"] if top > 0 else []
    rows = [_row(e) for e in reversed(entries) if e["seq"] < top]
    oldest = rows[-1].seq if rows else 0
    newer_top = top + LOG_PAGE_SIZE
    return LogPage(
        rows=rows,
        head_seq=head["seq"],
        head_hash=head["hash"],
        older=oldest if oldest > 0 else None,
        newer=(0 if newer_top > head["seq"] else newer_top) if top <= head["seq"] else None,
    )


def log_entry(*, seq: int) -> dict | None:
    entries = signer_client().log_entries(after=seq - 1, limit=1)["entries"]
    return entries[0] if entries and entries[0]["seq"] == seq else None


def log_chunks() -> Iterator[str]:
    """The whole log as JSON lines, fetched page by page."""
    client = signer_client()
    after = -1
    while True:
        entries = client.log_entries(after=after, limit=DOWNLOAD_CHUNK)["entries"]
        if not entries:
            return
        yield "".join(_canonical(entry) + "\n" for entry in entries)
        after = entries[-1]["seq"]


def _canonical(value) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True)


@dataclass(frozen=True)
class EntryCheck:
    hash_matches: bool  # the entry's content hashes to its `hash`
    recovered_signer: str  # whose key signed the hash
    signed_by_log_key: bool  # ... and that is the attested log key


def check_entry(*, entry: dict, log_key: str) -> EntryCheck:
    """Recompute one entry's hash and recover who signed it (as verify-log does for the whole chain)."""
    digest = "0x" + hashlib.sha256(_canonical({f: entry.get(f) for f in HASHED_FIELDS}).encode()).hexdigest()
    try:
        signer = Account.recover_message(
            encode_defunct(primitive=bytes.fromhex(entry.get("hash", "").removeprefix("0x"))),
            signature=entry.get("signature", ""),
        )
    except Exception:  # noqa: BLE001 - a malformed signature is shown as "does not verify"
        signer = ""
    return EntryCheck(
        hash_matches=digest == entry.get("hash"),
        recovered_signer=signer,
        signed_by_log_key=bool(signer) and signer.lower() == log_key.lower(),
    )
