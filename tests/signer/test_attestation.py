"""Attestation reports (development path only: no TDX hardware or dstack socket here, so no quote is tested)."""

from __future__ import annotations

import json
import shutil

from enclave_signer import attestation
from enclave_signer.attestation import code_measurement, verify_report
from enclave_signer.cli import main
from tests.signer.factories import CHAIN_ID, make_signer, pool_params


def report_of(data_dir, nonce="abc") -> dict:
    signer = make_signer(data_dir)
    signer.register_pool({"pool_id": 5, "chain_id": CHAIN_ID, "params": pool_params()})
    return signer.attestation(nonce=nonce)


def test_development_report_binds_keys_measurement_and_nonce_and_says_it_is_insecure(data_dir):
    report = report_of(data_dir)
    assert (report["tee"], report["insecure"], report["nonce"]) == ("none (development)", True, "abc")
    assert report["code_measurement"] == code_measurement()
    assert set(report["keys"]) == {"log_key", "gas", "pools"} and "5" in report["keys"]["pools"]
    assert "quote" not in report
    check = verify_report(report, nonce="abc", measurement=code_measurement())
    assert check.ok, check.problems
    assert any("DEVELOPMENT REPORT" in note for note in check.notes)


def test_an_edited_report_fails(data_dir):
    report = report_of(data_dir)
    report["keys"]["pools"]["5"]["address"] = "0x000000000000000000000000000000000000dEaD"
    assert "report edited" in verify_report(report).problems[0]


def test_a_report_resigned_by_another_key_fails(data_dir, tmp_path):
    report, other = report_of(data_dir), report_of(tmp_path / "other")
    report["signature"] = other["signature"]
    assert "not signed by the log key" in verify_report(report).problems[0]


def test_a_stale_nonce_or_foreign_measurement_fails(data_dir):
    report = report_of(data_dir, nonce="old")
    assert "nonce" in verify_report(report, nonce="new").problems[0]
    assert "measurement" in verify_report(report, measurement="sha256:" + "0" * 64).problems[0]


def test_measurement_covers_every_source_file(tmp_path):
    copy = tmp_path / "enclave_signer"
    shutil.copytree(attestation.SOURCE_DIR, copy, ignore=shutil.ignore_patterns("__pycache__"))
    assert code_measurement(copy) == code_measurement()
    (copy / "policy.py").write_text((copy / "policy.py").read_text() + "\n# changed\n")
    assert code_measurement(copy) != code_measurement()


def test_cli_verify_attestation(data_dir, tmp_path, capsys):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report_of(data_dir, nonce="n1")))
    assert main(["verify-attestation", str(path), "--nonce", "n1"]) == 0
    assert json.loads(capsys.readouterr().out)["ok"] is True
    assert main(["verify-attestation", str(path), "--nonce", "n2"]) == 1
