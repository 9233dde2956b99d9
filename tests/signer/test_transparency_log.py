"""The transparency log: every decision is logged; edits, deletions, reorderings and truncation are detected."""

from __future__ import annotations

import json

import pytest

from enclave_signer.cli import main, verify_log_file
from enclave_signer.log import LogError, canonical_json, entry_hash, read_entries, verify_entries
from enclave_signer.sealing import SealingError
from tests.signer.factories import CHAIN_ID, LAUNCHER, make_signer, pool_params, wire_tx, write_contracts_file


@pytest.fixture
def busy_signer(data_dir, tmp_path):
    """A signer with registrations, a refusal and a few more entries in its log."""
    signer = make_signer(data_dir, SIGNER_CONTRACTS_FILE=str(write_contracts_file(tmp_path / "c.json")))
    for pool_id in (1, 2):
        signer.register_pool({"pool_id": pool_id, "chain_id": CHAIN_ID, "params": pool_params()})
    assert signer.sign({"pool_id": "1", "tx": wire_tx(to=LAUNCHER, data=b"\x12\x34\x56\x78")}).status == 403
    return signer


def exported(signer, tmp_path, *, transform=lambda entries: entries) -> tuple:
    entries = transform(read_entries(signer.log.path))
    path = tmp_path / "export.jsonl"
    path.write_text("".join(json.dumps(entry) + "\n" for entry in entries))
    return path, entries


def write_report(signer, tmp_path, nonce="n-1"):
    path = tmp_path / "attestation.json"
    path.write_text(json.dumps(signer.attestation(nonce=nonce)))
    return path


def test_every_decision_is_logged_in_a_verifiable_chain(busy_signer, tmp_path):
    kinds = [entry["kind"] for entry in busy_signer.log.entries(after=-1, limit=100)]
    assert kinds == [
        "signer_initialized",
        "key_created",
        "pool_registered",
        "key_created",
        "pool_registered",
        "refused",
    ]
    path, _ = exported(busy_signer, tmp_path)
    result = verify_log_file(path, attestation_path=write_report(busy_signer, tmp_path))
    assert result["entries"] == 6 and result["bound_to_attestation"] and result["log_key"] == busy_signer.log.signer


def test_an_edited_entry_is_detected(busy_signer, tmp_path):
    def edit(entries):
        entries[2]["payload"]["params"]["treasury"] = "0x000000000000000000000000000000000000dEaD"
        return entries

    path, _ = exported(busy_signer, tmp_path, transform=edit)
    with pytest.raises(LogError, match="entry 2: content does not match its hash"):
        verify_log_file(path, attestation_path=None)


def test_an_edited_and_rehashed_entry_is_detected_by_its_signature(busy_signer, tmp_path):
    def edit_and_rehash(entries):
        entries[-1]["payload"]["code"] = "signed after all"
        entries[-1]["hash"] = entry_hash(entries[-1])
        return entries

    path, _ = exported(busy_signer, tmp_path, transform=edit_and_rehash)
    with pytest.raises(LogError, match="signed by"):
        verify_log_file(path, attestation_path=None)


def test_a_deleted_entry_is_detected(busy_signer, tmp_path):
    path, _ = exported(busy_signer, tmp_path, transform=lambda entries: entries[:3] + entries[4:])
    with pytest.raises(LogError, match="entry 3: seq"):
        verify_log_file(path, attestation_path=None)


def test_reordered_entries_are_detected(busy_signer, tmp_path):
    path, _ = exported(
        busy_signer, tmp_path, transform=lambda entries: [entries[0], entries[2], entries[1], *entries[3:]]
    )
    with pytest.raises(LogError, match="entry 1"):
        verify_log_file(path, attestation_path=None)


def test_a_truncated_export_is_detected_against_the_attested_head(busy_signer, tmp_path):
    report = write_report(busy_signer, tmp_path)
    path, _ = exported(busy_signer, tmp_path, transform=lambda entries: entries[:-1])
    verify_log_file(path, attestation_path=None)  # a prefix is a valid log on its own ...
    with pytest.raises(LogError, match="attested head"):
        verify_log_file(path, attestation_path=report)  # ... but not the log the signer attested to


def test_a_log_signed_by_another_key_is_not_bound_to_the_attestation(busy_signer, tmp_path, data_dir):
    other = make_signer(tmp_path / "other")
    path, _ = exported(other, tmp_path)
    with pytest.raises(LogError, match="expected the log key"):
        verify_log_file(path, attestation_path=write_report(busy_signer, tmp_path))


def test_a_truncated_log_file_stops_the_signer(busy_signer, data_dir):
    log_path = data_dir / "log.jsonl"
    lines = log_path.read_bytes().splitlines(keepends=True)
    log_path.write_bytes(b"".join(lines[:2]))
    with pytest.raises(SealingError, match="truncated or replaced"):
        make_signer(data_dir)


def test_deleting_only_the_newest_entry_stops_the_signer(busy_signer, data_dir):
    log_path = data_dir / "log.jsonl"
    log_path.write_bytes(b"".join(log_path.read_bytes().splitlines(keepends=True)[:-1]))
    with pytest.raises(SealingError, match="truncated or replaced"):
        make_signer(data_dir)


def test_an_edited_log_file_stops_the_signer(busy_signer, data_dir):
    entries = read_entries(data_dir / "log.jsonl")
    entries[1]["payload"]["address"] = "0x000000000000000000000000000000000000dEaD"
    (data_dir / "log.jsonl").write_bytes(b"".join(canonical_json(entry) + b"\n" for entry in entries))
    with pytest.raises(LogError):
        make_signer(data_dir)


def test_log_pages_and_head(busy_signer):
    page = busy_signer.log_page(after=2, limit=2)
    assert [entry["seq"] for entry in page["entries"]] == [3, 4]
    assert page["head"] == {"seq": 5, "hash": busy_signer.log.entries(after=4, limit=1)[0]["hash"]}
    assert verify_entries(busy_signer.log.entries(after=-1, limit=100)).head == busy_signer.log.head


def test_cli_export_and_verify_log(busy_signer, data_dir, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("SIGNER_DATA_DIR", str(data_dir))
    export = tmp_path / "exported.jsonl"
    assert main(["export-log", "--out", str(export)]) == 0
    assert main(["verify-log", str(export), "--attestation", str(write_report(busy_signer, tmp_path))]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    export.write_text(export.read_text().replace('"refused"', '"signed"'))
    assert main(["verify-log", str(export)]) == 1
