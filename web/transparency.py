"""The transparency page's reads: the signer's attestation and its hash-chained log, shown like a block explorer.

The web tier is not trusted, so what it shows is a convenience: the page says how to fetch the same data and check
it offline with `python -m enclave_signer verify-attestation` and `verify-log`. The page runs the same attestation
verifier on the report it fetched, and the per-entry check here re-does verify-log's check for one entry.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass

from django.conf import settings
from django.core.cache import cache
from eth_account import Account
from eth_account.messages import encode_defunct

from enclave_signer import tdx
from enclave_signer.verify_attestation import SKIP, Check, Expectations, Verdict, verify_attestation
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


# Intel's collateral (TCB info, QE identity, CRLs) stays valid for weeks (its nextUpdate): an hour-old copy is fresh.
COLLATERAL_CACHE_SECONDS = 3600
# A PCCS that did not answer is asked again after this long, not on every page view.
COLLATERAL_FAILURE_CACHE_SECONDS = 60
COLLATERAL_CACHE_PREFIX = "transparency:collateral:"
PEM_CERTIFICATE = b"-----BEGIN CERTIFICATE-----"
QUOTE_HEADER_KIND_BYTES = 8  # version, attestation key type, TEE type (SGX or TDX)


def attestation(*, nonce: str) -> dict:
    return signer_client().attestation(nonce=nonce)


def verify_report(*, report: dict) -> Verdict:
    """The offline verifier's verdict on a report, as of now, against SIGNER_EXPECTED_COMPOSE_HASH when set.

    The quote's signature is checked only when ATTESTATION_PCCS_URL gives a place to fetch Intel's collateral from;
    a fetch that fails is one more line of the verdict, not an error page.
    """
    collateral, not_fetched = _collateral(report=report)
    verdict = verify_attestation(
        report,
        collateral=collateral,
        at=int(time.time()),
        expect=Expectations(compose_hash=settings.SIGNER_EXPECTED_COMPOSE_HASH or None),
    )
    if not_fetched:
        quote_at = next((i for i, check in enumerate(verdict.checks) if check.name == "quote"), len(verdict.checks))
        verdict.checks.insert(quote_at, Check(name="collateral", status=SKIP, detail=not_fetched))
    return verdict


def _collateral(*, report: dict):
    """Intel's collateral for the report's quote, and "" or why there is none although a PCCS is configured."""
    pccs_url = settings.ATTESTATION_PCCS_URL
    if not pccs_url or not report.get("quote"):
        return None, ""
    try:
        raw = bytes.fromhex(str(report["quote"]).removeprefix("0x"))
    except ValueError:
        return None, ""  # the verifier says the quote is not hex
    key = COLLATERAL_CACHE_PREFIX + _platform_digest(raw)
    cached = cache.get(key)
    if cached is None:
        try:
            cached = {"collateral": tdx.fetch_collateral(raw, pccs_url=pccs_url).to_json()}
            cache.set(key, cached, COLLATERAL_CACHE_SECONDS)
        except tdx.QuoteError as error:
            cached = {"error": str(error)}
            cache.set(key, cached, COLLATERAL_FAILURE_CACHE_SECONDS)
    if "error" in cached:
        return None, f"not fetched, so the quote's signature is not checked: {cached['error']}"
    try:
        return tdx.load_collateral(cached["collateral"]), ""
    except tdx.QuoteError as error:
        cache.delete(key)
        return None, f"unreadable, so the quote's signature is not checked: {error}"


def _platform_digest(raw_quote: bytes) -> str:
    """sha256 of the quote's version and TEE type and its PCK certificate chain: one collateral serves them all.

    Every report binds a fresh nonce, so the quote itself differs on every page view; the collateral depends only
    on the kind of quote and the platform (its FMSPC and PCK CA), which the certificate chain at its end names.
    """
    start = raw_quote.find(PEM_CERTIFICATE)
    platform = raw_quote[:QUOTE_HEADER_KIND_BYTES] + raw_quote[start:] if start >= 0 else raw_quote
    return hashlib.sha256(platform).hexdigest()


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
