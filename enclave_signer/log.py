"""The transparency log: an append-only JSON-lines file of hash-chained entries, each signed by the log key.

Entry: {seq, prev, timestamp, kind, payload, hash, signature}
- hash      = "0x" + sha256(canonical JSON of {seq, prev, timestamp, kind, payload})
- prev      = the previous entry's hash (GENESIS_PREV for seq 0)
- signature = EIP-191 personal-sign of the 32 hash bytes by the log key, so anyone can check it by address
              recovery with standard Ethereum tooling.
Editing, deleting or reordering an entry breaks the chain; the head hash is anchored on-chain by each launch.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from eth_account import Account
from eth_account.messages import encode_defunct

GENESIS_PREV = "0x" + "00" * 32
HASHED_FIELDS = ("seq", "prev", "timestamp", "kind", "payload")


class LogError(Exception):
    """The log is not an unbroken chain of entries signed by the expected key."""


def canonical_json(value: Any) -> bytes:
    """The one byte encoding that is hashed and signed: sorted keys, no spaces, ASCII only."""
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=True).encode()


def entry_hash(entry: dict) -> str:
    """The hash of an entry's content (every field except hash and signature)."""
    return "0x" + hashlib.sha256(canonical_json({field: entry[field] for field in HASHED_FIELDS})).hexdigest()


def sign_digest(digest_hex: str, *, private_key: bytes) -> str:
    """EIP-191 signature of a 32-byte digest (never a transaction: the prefix keeps the domains apart)."""
    message = encode_defunct(primitive=bytes.fromhex(digest_hex.removeprefix("0x")))
    return "0x" + Account.sign_message(message, private_key).signature.hex()


def recover_digest_signer(digest_hex: str, signature: str) -> str:
    """The address that produced `signature` over `digest_hex` with `sign_digest`."""
    message = encode_defunct(primitive=bytes.fromhex(digest_hex.removeprefix("0x")))
    return Account.recover_message(message, signature=signature)


@dataclass(frozen=True)
class LogCheck:
    """What `verify_entries` established."""

    count: int
    head: dict
    signer: str | None


def verify_entries(entries: list[dict], *, expected_signer: str | None = None) -> LogCheck:
    """Check seq numbering, hash chain and signatures; every entry must be signed by one key.

    Without `expected_signer` the key announced by the first entry's payload (`log_key`) is expected.
    """
    prev, signer = GENESIS_PREV, expected_signer
    for index, entry in enumerate(entries):
        try:
            if entry["seq"] != index:
                raise LogError(f"entry {index}: seq is {entry['seq']} (an entry was deleted, inserted or reordered)")
            if entry["prev"] != prev:
                raise LogError(f"entry {index}: prev does not match the previous entry's hash (chain broken)")
            if entry_hash(entry) != entry["hash"]:
                raise LogError(f"entry {index}: content does not match its hash (entry edited)")
            if signer is None:
                signer = entry["payload"].get("log_key")
            recovered = recover_digest_signer(entry["hash"], entry["signature"])
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise LogError(f"entry {index}: malformed ({error!r})") from error
        if signer is None or recovered.lower() != signer.lower():
            raise LogError(f"entry {index}: signed by {recovered}, expected the log key {signer}")
        prev = entry["hash"]
    head = {"seq": len(entries) - 1, "hash": prev}
    return LogCheck(count=len(entries), head=head, signer=signer)


def read_entries(path: Path) -> list[dict]:
    """Parse a JSON-lines log file (an exported log or the signer's own file)."""
    if not path.exists():
        return []
    entries = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if line.strip():
            try:
                entries.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise LogError(f"line {number}: not JSON ({error})") from error
    return entries


class TransparencyLog:
    """The signer's own log: verified when opened, then appended to under a lock."""

    def __init__(self, *, path: Path, private_key: bytes) -> None:
        self.path = path
        self._private_key = private_key
        self.signer = Account.from_key(private_key).address
        self._lock = threading.Lock()
        self._entries = read_entries(path)
        verify_entries(self._entries, expected_signer=self.signer)

    @property
    def head(self) -> dict:
        """{seq, hash} of the last entry; seq -1 and the genesis hash when empty."""
        with self._lock:
            if not self._entries:
                return {"seq": -1, "hash": GENESIS_PREV}
            return {"seq": self._entries[-1]["seq"], "hash": self._entries[-1]["hash"]}

    def contains(self, *, seq: int, hash_: str) -> bool:
        """True when the log holds entry `seq` with hash `hash_` (the sealed store remembers its last head)."""
        with self._lock:
            return seq == -1 or (0 <= seq < len(self._entries) and self._entries[seq]["hash"] == hash_)

    def append(self, kind: str, payload: dict) -> dict:
        """Append a signed entry and fsync it before returning (a decision is not answered before it is logged)."""
        with self._lock:
            prev = self._entries[-1]["hash"] if self._entries else GENESIS_PREV
            entry = {"seq": len(self._entries), "prev": prev, "timestamp": int(time.time()), "kind": kind}
            entry["payload"] = payload
            entry["hash"] = entry_hash(entry)
            entry["signature"] = sign_digest(entry["hash"], private_key=self._private_key)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            with open(self.path, "ab") as handle:
                handle.write(canonical_json(entry) + b"\n")
                handle.flush()
                os.fsync(handle.fileno())
            self._entries.append(entry)
            return entry

    def entries(self, *, after: int, limit: int) -> list[dict]:
        """Entries with seq > after, at most `limit` of them."""
        with self._lock:
            start = max(after + 1, 0)
            return list(self._entries[start : start + limit])
