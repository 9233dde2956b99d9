"""Attestation reports: bind the signer's public keys and its code measurement to a caller's nonce.

report_data = sha256(canonical JSON of the report body) -- the body holds the nonce, the code measurement,
the log key, the gas key and every pool address. The report is signed by the log key (so anyone can check
the binding by address recovery). Under dstack the report also carries a TDX quote over report_data, which
is what makes it evidence: a development report is only the signer's own word and says so (`insecure`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass, field
from pathlib import Path

from enclave_signer.log import canonical_json, recover_digest_signer, sign_digest
from enclave_signer.sealing import TEE_DSTACK, TEE_NONE

REPORT_VERSION = 1
SOURCE_DIR = Path(__file__).resolve().parent
MEASURED_PATTERNS = ("*.py", "requirements.txt")
SIGNED_FIELDS_EXCLUDED = ("report_data", "signature", "quote", "event_log")


def code_measurement(source_dir: Path = SOURCE_DIR) -> str:
    """sha256 over "<name>\\0<sha256 of file>\\n" for the signer's own source files, sorted by name."""
    files = sorted({path for pattern in MEASURED_PATTERNS for path in source_dir.glob(pattern)})
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.name.encode() + b"\0" + hashlib.sha256(path.read_bytes()).hexdigest().encode() + b"\n")
    return "sha256:" + digest.hexdigest()


def report_data(report: dict) -> str:
    """The hash that the signature (and, under dstack, the quote) commits to."""
    body = {key: value for key, value in report.items() if key not in SIGNED_FIELDS_EXCLUDED}
    return "0x" + hashlib.sha256(canonical_json(body)).hexdigest()


def build_report(
    *,
    nonce: str,
    tee: str,
    chain_id: int,
    log_key: bytes,
    log_key_address: str,
    keys: dict,
    log_head: dict,
    dstack_socket: Path | None = None,
) -> dict:
    """An attestation report for `nonce`, signed by the log key, with a dstack quote when running under dstack."""
    report = {
        "version": REPORT_VERSION,
        "tee": tee,
        "insecure": tee == TEE_NONE,
        "nonce": nonce,
        "issued_at": int(time.time()),
        "chain_id": chain_id,
        "code_measurement": code_measurement(),
        "log_key": log_key_address,
        "keys": keys,
        "log_head": log_head,
    }
    report["report_data"] = report_data(report)
    report["signature"] = sign_digest(report["report_data"], private_key=log_key)
    if tee == TEE_DSTACK and dstack_socket is not None:
        from dstack_sdk import DstackClient  # optional: only present in a dstack deployment

        quote = DstackClient(str(dstack_socket)).get_quote(bytes.fromhex(report["report_data"][2:]))
        report["quote"], report["event_log"] = quote.quote, quote.event_log
    return report


@dataclass
class ReportCheck:
    """The outcome of `verify_report`: problems (empty = valid) and notes for the reader."""

    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def _verify_quote(report: dict, check: ReportCheck) -> None:
    try:
        import dcap_qvl  # optional: verifies Intel TDX quotes against Intel's collateral
    except ImportError:
        check.problems.append("the report carries a TDX quote, but dcap-qvl is not installed to verify it")
        return
    if not report.get("quote"):
        check.problems.append("tee is dstack but the report carries no quote")
        return
    try:
        raw = bytes.fromhex(report["quote"].removeprefix("0x"))
        quoted = bytes(dcap_qvl.parse_quote(raw).report.report_data)
        verified = asyncio.run(dcap_qvl.get_collateral_and_verify(raw))
    except (ValueError, RuntimeError) as error:
        check.problems.append(f"quote does not verify: {error}")
        return
    if quoted[:32] != bytes.fromhex(report["report_data"][2:]):
        check.problems.append("the quote's report data is not this report's report_data")
    if verified.status != "OK":
        check.notes.append(f"quote TCB status {verified.status} (advisories: {', '.join(verified.advisory_ids)})")
    check.notes.append("quote verified by dcap-qvl; compare the quote's measurements (RTMRs) with the app's compose")


def verify_report(report: dict, *, nonce: str | None = None, measurement: str | None = None) -> ReportCheck:
    """Check the binding (report_data, log-key signature), the nonce, the measurement and, under dstack, the quote."""
    check = ReportCheck()
    try:
        if report_data(report) != report.get("report_data"):
            check.problems.append("report_data does not match the report body (report edited)")
        elif recover_digest_signer(report["report_data"], report["signature"]) != report["log_key"]:
            check.problems.append("the report is not signed by the log key it names")
    except (KeyError, TypeError, ValueError) as error:
        check.problems.append(f"malformed report: {error!r}")
        return check
    if nonce is not None and report.get("nonce") != nonce:
        check.problems.append(f"nonce is {report.get('nonce')!r}, expected {nonce!r} (stale or replayed report)")
    if measurement is not None and report.get("code_measurement") != measurement:
        check.problems.append(f"code measurement {report.get('code_measurement')} is not the expected {measurement}")
    if report.get("tee") == TEE_DSTACK:
        _verify_quote(report, check)
    else:
        check.notes.append(
            "DEVELOPMENT REPORT (tee: none): self-signed by the log key. It proves the keys belong together, "
            "not which code holds them: a modified signer could claim any measurement."
        )
    return check
