"""The sealed state: the root secret, registered pools, the refund record and signed-transaction cache.

Plaintext (JSON, inside the sealed file):
  version      state schema version
  root_secret  hex; every key is derived from it (keys.py); generated inside on first start, never exported
  pools        {pool_id: {chain_id, address, derivation_path, params}}
  refunds      {deposit_key: {amount, consumed: {"<address>/<nonce>": {tx_hash: amount}}}}
  signed       {"<address>/<chain_id>/<nonce>": {request_digest: result}}   (idempotent signing)
  ledgers, slots, mined   the signer's books (books.py)
  log_head     {seq, hash} of the log when the state was last written (detects a truncated log file)
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from enclave_signer.sealing import SALT_BYTES, SealingError, SealingRoot, seal, unseal, write_atomically

STATE_VERSION = 2


class SealedStore:
    """Reads and writes the state, sealed, atomically."""

    def __init__(self, *, path: Path, root: SealingRoot) -> None:
        self.path = path
        self.root = root
        self.salt = secrets.token_bytes(SALT_BYTES)

    def exists(self) -> bool:
        return self.path.exists()

    def load(self) -> dict:
        """Unseal and parse the state; raises SealingError for a tampered, truncated or foreign file."""
        plaintext, self.salt = unseal(self.path.read_bytes(), root=self.root)
        state = json.loads(plaintext)
        if state.get("version") == 1:
            state = upgrade_from_v1(state)
        if state.get("version") != STATE_VERSION:
            raise SealingError(f"sealed state version {state.get('version')} is not supported")
        return state

    def save(self, state: dict) -> None:
        """Seal and atomically replace the store file."""
        write_atomically(self.path, seal(json.dumps(state, sort_keys=True).encode(), root=self.root, salt=self.salt))

    def rotate(self, *, new_root: SealingRoot | None = None) -> dict:
        """Re-seal the whole state under a new sealing key (new salt; new root if given), atomically."""
        state = self.load()
        self.root = new_root or self.root
        self.salt = secrets.token_bytes(SALT_BYTES)
        self.save(state)
        return state


def new_state() -> dict:
    """The state of a signer that has never run: a fresh root secret generated here, inside."""
    return {
        "version": STATE_VERSION,
        "root_secret": secrets.token_hex(32),
        "pools": {},
        "refunds": {},
        "signed": {},
        "ledgers": {},
        "slots": {},
        "mined": {},
        "log_head": {"seq": -1, "hash": None},
    }


def upgrade_from_v1(state: dict) -> dict:
    """Version 1 kept one refund take per slot and no books: index what it signed, keep its takes as "legacy" (they
    count while their nonce is open, and once mined if what was mined there succeeded)."""
    slots: dict = {}
    for slot, results in state.get("signed", {}).items():
        address, _, nonce = slot.split("/")
        for result in results.values():
            intent = result["intent"]
            slots.setdefault(f"{address}/{nonce}", {})[result["tx_hash"]] = {
                "kind": intent.get("kind", "unknown"),
                "to": intent.get("to", ""),
                "value": intent.get("value", "0"),
                "max_fee": "0",
                "pool": intent.get("signer", {}).get("key", ""),
            }
    for record in state.get("refunds", {}).values():
        record["consumed"] = {slot: {"legacy": take} for slot, take in record["consumed"].items()}
    state.pop("gas_topups", None)
    return {**state, "version": STATE_VERSION, "ledgers": {}, "slots": slots, "mined": {}}
