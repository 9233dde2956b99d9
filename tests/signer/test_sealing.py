"""Sealed storage: tampering and truncation are refused; rotation re-seals atomically and keeps every address."""

from __future__ import annotations

import pytest

from enclave_signer.cli import rotate_sealing_key
from enclave_signer.config import load_config
from enclave_signer.sealing import (
    HEADER_BYTES,
    MAGIC,
    SealingError,
    SealingRoot,
    lock_data_dir,
    obtain_sealing_root,
    seal,
    unseal,
)
from tests.signer.factories import CHAIN_ID, make_signer, pool_params, signer_env

ROOT = SealingRoot(secret=b"root", tee="none (development)", source="test")


def registered_signer(data_dir, **env):
    signer = make_signer(data_dir, **env)
    for pool_id in (1, 2, 3):
        signer.register_pool({"pool_id": pool_id, "chain_id": CHAIN_ID, "params": pool_params()})
    return signer


def test_seal_roundtrip_and_every_flipped_byte_is_detected():
    blob = seal(b"secret state", root=ROOT, salt=b"s" * 16)
    assert unseal(blob, root=ROOT) == (b"secret state", b"s" * 16)
    assert b"secret state" not in blob
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x01
        with pytest.raises(SealingError):
            unseal(bytes(tampered), root=ROOT)


def test_truncated_or_foreign_store_is_refused_with_a_clear_error():
    blob = seal(b"state", root=ROOT, salt=b"s" * 16)
    with pytest.raises(SealingError, match="truncated"):
        unseal(blob[: HEADER_BYTES + 3], root=ROOT)
    with pytest.raises(SealingError, match="tampered with or truncated"):
        unseal(blob[:-1], root=ROOT)
    with pytest.raises(SealingError, match="not a sealed store"):
        unseal(b"{}" * 40, root=ROOT)
    with pytest.raises(SealingError, match="version 9"):
        unseal(MAGIC + b"\x09" + blob[len(MAGIC) + 1 :], root=ROOT)
    with pytest.raises(SealingError, match="sealing root"):
        unseal(blob, root=SealingRoot(secret=b"other", tee="none (development)", source="test"))


def test_a_tampered_store_file_stops_the_signer(data_dir):
    registered_signer(data_dir)
    store = data_dir / "store.sealed"
    data = bytearray(store.read_bytes())
    data[len(data) // 2] ^= 0xFF
    store.write_bytes(bytes(data))
    with pytest.raises(SealingError, match="tampered"):
        make_signer(data_dir)


def test_a_truncated_store_file_stops_the_signer(data_dir):
    registered_signer(data_dir)
    store = data_dir / "store.sealed"
    store.write_bytes(store.read_bytes()[:-20])
    with pytest.raises(SealingError):
        make_signer(data_dir)


def test_a_deleted_store_next_to_a_log_is_not_silently_recreated(data_dir):
    registered_signer(data_dir)
    (data_dir / "store.sealed").unlink()
    with pytest.raises(SealingError, match="missing"):
        make_signer(data_dir)


def test_wrong_sealing_secret_cannot_open_the_store(data_dir):
    registered_signer(data_dir)
    with pytest.raises(SealingError):
        make_signer(data_dir, SIGNER_SEALING_SECRET="a different secret")


def test_rotation_keeps_every_address_and_is_logged(data_dir):
    before = registered_signer(data_dir).addresses()
    old_file = (data_dir / "store.sealed").read_bytes()
    result = rotate_sealing_key(load_config(signer_env(data_dir)), new_secret_file=None)
    assert result["old_sealing_key_id"] != result["new_sealing_key_id"]
    assert (data_dir / "store.sealed").read_bytes()[len(MAGIC) + 1 : HEADER_BYTES] != old_file[
        len(MAGIC) + 1 : HEADER_BYTES
    ]
    reopened = make_signer(data_dir)
    assert reopened.addresses() == before
    assert reopened.log.entries(after=-1, limit=1000)[-1]["kind"] == "sealing_key_rotated"
    assert not list(data_dir.glob("store.sealed.*")), "no temp file is left behind"


def test_rotation_to_a_new_root_secret(data_dir, tmp_path):
    before = registered_signer(data_dir).addresses()
    new_secret = tmp_path / "new-secret"
    new_secret.write_text("the new sealing root secret")
    rotate_sealing_key(load_config(signer_env(data_dir)), new_secret_file=new_secret)
    with pytest.raises(SealingError):
        make_signer(data_dir)
    assert (
        make_signer(data_dir, SIGNER_SEALING_SECRET_FILE=str(new_secret), SIGNER_SEALING_SECRET="").addresses()
        == before
    )


def test_rotation_refuses_while_a_signer_holds_the_data_dir(data_dir):
    registered_signer(data_dir)
    held = lock_data_dir(data_dir)
    try:
        with pytest.raises(SealingError, match="in use"):
            rotate_sealing_key(load_config(signer_env(data_dir)), new_secret_file=None)
    finally:
        held.close()


def test_without_a_secret_or_dstack_a_development_secret_is_generated_once(data_dir):
    config = load_config(signer_env(data_dir, SIGNER_SEALING_SECRET=""))
    first = obtain_sealing_root(config)
    assert first.insecure and first.tee == "none (development)"
    assert (data_dir / "dev-sealing-secret").stat().st_mode & 0o077 == 0
    assert obtain_sealing_root(config).secret == first.secret
