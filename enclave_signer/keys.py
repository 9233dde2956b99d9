"""Key derivation: every key is derived from the sealed root secret and a recorded path, so it can be re-derived
after a restart or a sealing-key rotation, and is never stored or returned on its own."""

from __future__ import annotations

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from eth_account import Account

# The order of the secp256k1 group: a private key must be in [1, n - 1].
SECP256K1_ORDER = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
KEY_DERIVATION_SALT = b"enclave-signer/key-derivation/v1"
LOG_KEY_PATH = "log/1"


def pool_key_path(pool_id: int) -> str:
    """The derivation path of a pool's deposit key (the pool id is the app's pool primary key)."""
    return f"pool/{pool_id}"


def gas_key_path(chain_id: int) -> str:
    """The derivation path of the gas-funding key of one chain."""
    return f"gas/{chain_id}"


def derive_private_key(root_secret: bytes, *, path: str) -> bytes:
    """HKDF-SHA256(root, path || counter); the counter moves on in the (astronomically rare) out-of-range case."""
    for counter in range(256):
        info = path.encode() + b"#" + counter.to_bytes(1, "big")
        candidate = HKDF(algorithm=hashes.SHA256(), length=32, salt=KEY_DERIVATION_SALT, info=info).derive(root_secret)
        if 0 < int.from_bytes(candidate, "big") < SECP256K1_ORDER:
            return candidate
    raise RuntimeError(f"no valid key for {path}")  # unreachable in practice: p(out of range) ~ 2**-128


def address_of(private_key: bytes) -> str:
    """The checksum address of a private key."""
    return Account.from_key(private_key).address
