"""Sealed storage: every secret on disk is AES-GCM encrypted under a key derived from the sealing root.

The sealing root comes from dstack's key derivation inside a Phala dstack CVM (only that app, in that CVM
configuration, can derive it again), or, in development, from a configured secret or a random file.

File format, version 1:  MAGIC (8) | version (1) | salt (16) | nonce (12) | AES-256-GCM ciphertext + tag.
The header is authenticated as associated data, so changing any byte of the file makes it unreadable.
The salt selects the sealing key (HKDF over the root); rotation picks a new salt and, optionally, a new root.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import secrets
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from enclave_signer.config import LOCAL_CHAIN_IDS, SignerConfig

MAGIC = b"ESGNSEAL"
FORMAT_VERSION = 1
SALT_BYTES = 16
NONCE_BYTES = 12
HEADER_BYTES = len(MAGIC) + 1 + SALT_BYTES + NONCE_BYTES
TAG_BYTES = 16
SEALING_KEY_INFO = b"enclave-signer/sealing-key/v1"
DSTACK_SEALING_PATH = "enclave-signer/sealing-root"
TEE_DSTACK = "dstack (Intel TDX)"
TEE_NONE = "none (development)"

logger = logging.getLogger(__name__)


class SealingError(Exception):
    """The sealed store cannot be read or written safely."""


@dataclass(frozen=True)
class SealingRoot:
    """The secret every sealing key is derived from, and where it came from."""

    secret: bytes
    tee: str
    source: str

    @property
    def insecure(self) -> bool:
        return self.tee == TEE_NONE


def sealing_key(root: SealingRoot, *, salt: bytes) -> bytes:
    """The AES-256 key for one salt (one sealing-key generation)."""
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=salt, info=SEALING_KEY_INFO).derive(root.secret)


def sealing_key_id(root: SealingRoot, *, salt: bytes) -> str:
    """A public fingerprint of a sealing key, for the log (a hash, so it reveals nothing about the key)."""
    return hashlib.sha256(b"enclave-signer/sealing-key-id" + sealing_key(root, salt=salt)).hexdigest()[:16]


def seal(plaintext: bytes, *, root: SealingRoot, salt: bytes) -> bytes:
    """Encrypt `plaintext` into the versioned sealed format."""
    header = MAGIC + bytes([FORMAT_VERSION]) + salt + secrets.token_bytes(NONCE_BYTES)
    nonce = header[-NONCE_BYTES:]
    return header + AESGCM(sealing_key(root, salt=salt)).encrypt(nonce, plaintext, header)


def unseal(blob: bytes, *, root: SealingRoot) -> tuple[bytes, bytes]:
    """Decrypt a sealed blob; return (plaintext, salt). Refuses anything tampered with or truncated."""
    if len(blob) < HEADER_BYTES + TAG_BYTES or not blob.startswith(MAGIC):
        raise SealingError("sealed store is truncated or not a sealed store file")
    if blob[len(MAGIC)] != FORMAT_VERSION:
        raise SealingError(f"sealed store format version {blob[len(MAGIC)]} is not supported (want {FORMAT_VERSION})")
    header = blob[:HEADER_BYTES]
    salt = header[len(MAGIC) + 1 : len(MAGIC) + 1 + SALT_BYTES]
    try:
        plaintext = AESGCM(sealing_key(root, salt=salt)).decrypt(header[-NONCE_BYTES:], blob[HEADER_BYTES:], header)
    except InvalidTag as error:
        raise SealingError(
            "sealed store failed authentication: it was tampered with or truncated, or the sealing root is not "
            "the one it was sealed with"
        ) from error
    return plaintext, salt


def write_atomically(path: Path, data: bytes) -> None:
    """Write temp file, fsync, rename over `path`, fsync the directory: a crash leaves the old or the new file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, prefix=path.name + ".", delete=False) as handle:
        handle.write(data)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(handle.name, path)
    directory = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(directory)
    finally:
        os.close(directory)


def lock_data_dir(data_dir: Path) -> IO:
    """Hold an exclusive lock on the data dir for the life of the process (one signer, or one rotation, at a time)."""
    data_dir.mkdir(parents=True, exist_ok=True)
    handle = open(data_dir / "lock", "w")  # noqa: SIM115 - held open until the process exits
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError as error:
        handle.close()
        raise SealingError(f"{data_dir} is in use by another signer process; stop it first") from error
    return handle


def _dstack_root(socket: Path) -> SealingRoot:
    try:
        from dstack_sdk import DstackClient  # optional: only present in a dstack deployment
    except ImportError as error:
        raise SealingError(
            f"{socket} exists but dstack-sdk is not installed: pip install -r enclave_signer/requirements-dstack.txt"
        ) from error
    try:
        key = DstackClient(str(socket)).get_key(DSTACK_SEALING_PATH, "sealing").decode_key()
    except Exception as error:  # noqa: BLE001 - httpx, pydantic or OS errors: the signer must not start
        raise SealingError(f"cannot get the sealing key from dstack at {socket}: {error}") from error
    return SealingRoot(secret=key, tee=TEE_DSTACK, source=f"dstack get_key({DSTACK_SEALING_PATH!r})")


def obtain_sealing_root(config: SignerConfig) -> SealingRoot:
    """The dstack-derived root when the dstack socket exists; else the configured or generated development secret."""
    if config.dstack_socket.exists():
        if config.sealing_secret:
            logger.warning("ignoring SIGNER_SEALING_SECRET*: the dstack socket is present and takes precedence")
        return _dstack_root(config.dstack_socket)
    if config.sealing_secret:
        if config.chain_id not in LOCAL_CHAIN_IDS:
            logger.warning(
                "NO TEE on chain %s: every key is sealed under SIGNER_SEALING_SECRET(_FILE), a secret on this "
                "machine's disk. Whoever can read it and %s can read every key: keep both on a machine only you "
                "control, back the secret up offline, or run the signer in a dstack CVM (docs/deploy-cvm.md).",
                config.chain_id,
                config.data_dir,
            )
        return SealingRoot(secret=config.sealing_secret, tee=TEE_NONE, source="SIGNER_SEALING_SECRET(_FILE)")
    if config.chain_id not in LOCAL_CHAIN_IDS:
        raise SealingError(
            f"chain {config.chain_id} is not a local development chain, and the signer has no TEE and no sealing "
            "secret: it will not seal real keys under a development one. Set SIGNER_SEALING_SECRET_FILE to a secret "
            "file (`manage.py generate_secrets` writes one; back it up), or run the signer in a dstack CVM"
        )
    path = config.dev_secret_path
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as handle:
            handle.write(secrets.token_hex(32))
    logger.warning(
        "DEVELOPMENT MODE: no TEE and no configured sealing secret; sealing root is the plain file %s. "
        "Anyone who can read this directory can read every key. Never hold real funds like this.",
        path,
    )
    return SealingRoot(secret=path.read_bytes().strip(), tee=TEE_NONE, source=str(path))
