"""Attestation reports: bind the signer's public keys, log key and log head to a caller's nonce.

report_data = sha256(canonical JSON of the report body): the nonce, the chain, the log key, the gas key, every pool
address and the log head. The log key signs it, so anyone can check the binding by address recovery. Under dstack
the report also carries a TDX quote whose report data is report_data (zero-padded to 64 bytes), and dstack's event
log, whose RTMR3 events name the app's compose-hash: that is what says which code holds the keys. A development
report is only the signer's own word and says so (`insecure`). verify_attestation.py checks either.

There is no self-computed "code measurement": a signer could report any hash of its own files. What counts is the
compose-hash the TDX hardware measured, and the image digests that compose pins (docs/deploy-cvm.md).
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from enclave_signer.log import canonical_json, sign_digest
from enclave_signer.sealing import TEE_DSTACK, TEE_NONE

REPORT_VERSION = 2
SIGNED_FIELDS_EXCLUDED = ("report_data", "signature", "quote", "event_log", "vm_config")


class QuoteUnavailable(Exception):
    """dstack's guest agent did not give a quote (the report would be a claim without evidence)."""


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
        "log_key": log_key_address,
        "keys": keys,
        "log_head": log_head,
    }
    report["report_data"] = report_data(report)
    report["signature"] = sign_digest(report["report_data"], private_key=log_key)
    if tee == TEE_DSTACK and dstack_socket is not None:
        from dstack_sdk import DstackClient  # only in a dstack deployment (enclave_signer/requirements-dstack.txt)

        try:
            quote = DstackClient(str(dstack_socket)).get_quote(bytes.fromhex(report["report_data"][2:]))
        except Exception as error:  # noqa: BLE001 - httpx, pydantic or OS errors: all mean no quote
            raise QuoteUnavailable(f"dstack get_quote on {dstack_socket} failed: {error}") from error
        report["quote"], report["event_log"], report["vm_config"] = quote.quote, quote.event_log, quote.vm_config
    return report
