"""`python -m enclave_signer verify-attestation REPORT`: what an attestation proves, checked offline, in words.

REPORT is one of:
- the signer's attestation report (`GET /attestation?nonce=N`): its keys, log key and log head, signed by the log
  key; under dstack it also carries the TDX quote over its report data, and dstack's event log;
- a dstack guest agent's GetQuote answer (`quote`, `event_log`, `report_data`, `vm_config`);
- a raw quote (binary, or hex).

The checks, one line each (✓ passed, ✗ failed, – not checked and why):
1. the report: its report_data is the hash of its body and the log key it names signed it; the nonce is yours;
2. the quote: dcap-qvl verifies its signature chain up to Intel's root with the collateral given, at the time given,
   and the platform's TCB level is UpToDate (another status fails unless allowed; Revoked always fails);
3. the TD is not a debug TD (the host could read a debug TD's memory);
4. the event log replays to the quote's RTMR0..3, and RTMR3 names the app-id, compose-hash and instance-id;
5. the compose-hash is the one expected (the hash of the app compose you reviewed, see docs/deploy-cvm.md);
6. MRTD and RTMR0..2 are the expected OS image's, when given;
7. the quote's report data is this report's report_data (so the quote vouches for these keys).

Exit status: 0 when nothing failed, 1 when a check failed, 2 when an input cannot be read.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path

from enclave_signer.attestation import report_data as report_body_hash
from enclave_signer.log import recover_digest_signer
from enclave_signer.tdx import (
    REPORT_DATA_BYTES,
    QuoteError,
    fetch_collateral,
    load_collateral,
    parse_quote,
    read_event_log,
    replay_event_log,
    verify_quote,
)

PHALA_PCCS_URL = "https://pccs.phala.network"
PASS, FAIL, SKIP = "pass", "fail", "skip"
MARKS = {PASS: "✓", FAIL: "✗", SKIP: "–"}
GOOD_TCB_STATUS = "UpToDate"
NEVER_ALLOWED_TCB_STATUSES = frozenset({"Revoked"})
MEASUREMENT_NAMES = ("mrtd", "rtmr0", "rtmr1", "rtmr2")

KIND_SIGNER_TDX = "signer report with a TDX quote (dstack)"
KIND_SIGNER_DEV = "signer development report (no TEE)"
KIND_DSTACK_QUOTE = "dstack GetQuote answer (not a signer report)"
KIND_RAW_QUOTE = "raw TDX quote"


class InputError(Exception):
    """An input file cannot be read: exit status 2."""


@dataclass(frozen=True)
class Check:
    name: str
    status: str
    detail: str


@dataclass(frozen=True)
class Expectations:
    """What the person verifying expects; anything left out is reported as not checked."""

    nonce: str | None = None
    compose_hash: str | None = None
    measurements: dict[str, str] | None = None
    allowed_tcb_statuses: frozenset[str] = frozenset()
    require_tee: bool = False


@dataclass
class Verdict:
    kind: str
    checks: list[Check] = field(default_factory=list)
    facts: dict = field(default_factory=dict)
    proven: list[str] = field(default_factory=list)
    not_proven: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.failed

    @property
    def failed(self) -> list[Check]:
        return [check for check in self.checks if check.status == FAIL]

    @property
    def development(self) -> bool:
        return self.kind == KIND_SIGNER_DEV

    def add(self, name: str, status: str, detail: str) -> None:
        self.checks.append(Check(name=name, status=status, detail=detail))

    @property
    def headline(self) -> str:
        if not self.ok:
            names = ", ".join(check.name for check in self.failed)
            return f"NOT VALID: {len(self.failed)} check(s) failed ({names})"
        if self.development:
            return "VALID DEVELOPMENT REPORT: the signer's own word, not evidence of a TEE"
        if self.kind == KIND_RAW_QUOTE:
            return "VALID QUOTE: a raw quote names no application and binds no keys"
        if any(check.name == "compose-hash" and check.status == SKIP for check in self.checks):
            return "VALID QUOTE, but the application was not compared with an expected compose-hash"
        return "VALID"

    def to_dict(self) -> dict:
        return {
            "ok": self.ok,
            "kind": self.kind,
            "headline": self.headline,
            "checks": [asdict(check) for check in self.checks],
            "facts": self.facts,
            "proven": self.proven,
            "not_proven": self.not_proven,
        }

    def render(self) -> str:
        width = max((len(check.name) for check in self.checks), default=0)
        lines = [f"{self.kind}", ""]
        lines += [f"  {MARKS[check.status]} {check.name:<{width}}  {check.detail}" for check in self.checks]
        lines += ["", f"Verdict: {self.headline}"]
        if self.proven:
            lines += ["", "Proven:"] + [f"  - {line}" for line in self.proven]
        if self.not_proven:
            lines += ["", "Not proven:"] + [f"  - {line}" for line in self.not_proven]
        return "\n".join(lines) + "\n"


def _hex(value: str) -> str:
    return value.lower().removeprefix("0x")


def _short(value: str, length: int = 16) -> str:
    return value if len(value) <= length + 3 else value[:length] + "…"


# -- the signer's report ----------------------------------------------------------------------------------------


def check_report(report: dict, verdict: Verdict, expect: Expectations) -> None:
    """The report's own binding (its body hash, the log key's signature) and its nonce."""
    try:
        body_hash = report_body_hash(report)
        if body_hash != report.get("report_data"):
            verdict.add("report", FAIL, "report_data is not the hash of the report body: the report was edited")
        elif recover_digest_signer(report["report_data"], report["signature"]) != report.get("log_key"):
            verdict.add("report", FAIL, "the report is not signed by the log key it names")
        else:
            verdict.add("report", PASS, f"report_data is the hash of its body, signed by log key {report['log_key']}")
    except (KeyError, TypeError, ValueError) as error:
        verdict.add("report", FAIL, f"malformed report: {error!r}")
    verdict.facts.update(
        {
            "log_key": report.get("log_key"),
            "log_head": report.get("log_head"),
            "chain_id": report.get("chain_id"),
            "issued_at": report.get("issued_at"),
            "tee_claimed": report.get("tee"),
        }
    )
    if expect.nonce is None:
        verdict.add("nonce", SKIP, "not checked: pass --nonce with the nonce you asked for, or the report may be old")
    elif report.get("nonce") == expect.nonce:
        verdict.add("nonce", PASS, f"{expect.nonce!r}, the one you asked for: the report is fresh")
    else:
        verdict.add("nonce", FAIL, f"{report.get('nonce')!r}, not {expect.nonce!r}: a stale or replayed report")


def _development(verdict: Verdict, report: dict, expect: Expectations) -> None:
    if report.get("tee") not in (None, "", "none (development)") or report.get("insecure") is False:
        verdict.add("quote", FAIL, f"the report claims tee {report.get('tee')!r} but carries no quote")
    elif expect.require_tee:
        verdict.add("quote", FAIL, "a development report carries no quote, and --require-tee was given")
    else:
        verdict.add("quote", SKIP, "none: a development report (tee: none) carries no hardware quote")
    verdict.proven.append("the keys listed and the log key belong together: the log key signed this report")
    verdict.not_proven += [
        "which code holds the keys, or where: nothing but the signer itself vouches for this report",
        "that nobody else can use the keys: whoever runs the signer's machine can read them",
    ]


# -- the quote --------------------------------------------------------------------------------------------------


def _check_quote(raw: bytes, verdict: Verdict, *, collateral, at: int, expect: Expectations):
    try:
        quote = parse_quote(raw)
    except QuoteError as error:
        verdict.add("quote", FAIL, str(error))
        return None
    if not quote.is_tdx:
        verdict.add("quote", FAIL, "an SGX quote, not a TDX quote")
        return None
    verdict.facts.update({"mr_td": quote.mr_td, "rtmrs": list(quote.rtmrs), "quote_report_data": quote.report_data})
    when = datetime.datetime.fromtimestamp(at, datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    if collateral is None:
        verdict.add(
            "quote",
            FAIL,
            "signature not checked: no collateral (pass --collateral FILE, or --fetch-collateral when online)",
        )
    else:
        try:
            result = verify_quote(raw, collateral, at=at)
        except QuoteError as error:
            verdict.add("quote", FAIL, f"does not verify at {when}: {error}")
        else:
            verdict.facts.update({"tcb_status": result.status, "advisory_ids": list(result.advisory_ids)})
            verdict.add("quote", PASS, f"signed by an Intel-certified TDX platform (dcap-qvl, at {when})")
            advisories = f"; advisories: {', '.join(result.advisory_ids)}" if result.advisory_ids else ""
            if result.status == GOOD_TCB_STATUS:
                verdict.add("TCB", PASS, f"{result.status}{advisories}")
            elif result.status in expect.allowed_tcb_statuses - NEVER_ALLOWED_TCB_STATUSES:
                verdict.add("TCB", PASS, f"{result.status}, allowed by --allow-tcb-status{advisories}")
            else:
                verdict.add("TCB", FAIL, f"{result.status}: the platform needs updates{advisories}")
    if quote.debug:
        verdict.add("debug", FAIL, "a debug TD: the host can read and change its memory")
    else:
        verdict.add("debug", PASS, "not a debug TD")
    return quote


def _check_event_log(event_log: object, quote, verdict: Verdict) -> dict | None:
    """The application's identity from a log that replays to the quote's registers; None if it does not."""
    if event_log is None:
        verdict.add("event log", FAIL, "missing: without it, which application runs is unknown")
        return None
    try:
        replay = replay_event_log(read_event_log(event_log))
    except QuoteError as error:
        verdict.add("event log", FAIL, str(error))
        return None
    mismatched = [f"RTMR{index}" for index in range(4) if replay.rtmrs[index] != quote.rtmrs[index]]
    problems = replay.problems + ([f"{', '.join(mismatched)} do(es) not replay to the quote's"] if mismatched else [])
    notes = f" ({'; '.join(replay.notes)})" if replay.notes else ""
    if problems:
        verdict.add("event log", FAIL, "; ".join(problems) + notes)
        return None
    verdict.add("event log", PASS, f"{replay.events} events replay to the quote's RTMR0..3{notes}")
    verdict.facts.update({key.replace("-", "_"): value for key, value in replay.app.items()})
    return replay.app


def _check_application(app: dict | None, verdict: Verdict, expect: Expectations) -> None:
    if app is None:
        verdict.add("compose-hash", FAIL, "not known: an event log that does not replay names nothing")
        return
    compose_hash = app.get("compose-hash")
    if not compose_hash:
        verdict.add("compose-hash", FAIL, "the event log names no compose-hash: which application runs is unknown")
        return
    identity = f"app-id {app.get('app-id', '?')}, instance-id {app.get('instance-id', '?')}"
    if expect.compose_hash is None:
        verdict.add(
            "compose-hash",
            SKIP,
            f"{compose_hash} ({identity}); not compared: pass --expect-compose-hash or --expect-compose",
        )
    elif _hex(expect.compose_hash) == compose_hash:
        verdict.add("compose-hash", PASS, f"{compose_hash}, the one expected ({identity})")
    else:
        verdict.add("compose-hash", FAIL, f"{compose_hash}, not the expected {_hex(expect.compose_hash)}")


def _check_measurements(quote, verdict: Verdict, expect: Expectations) -> None:
    if not expect.measurements:
        verdict.add(
            "OS image",
            SKIP,
            "MRTD and RTMR0..2 not compared: pass --expect-measurements FILE (dstack-mr's output for the OS image)",
        )
        return
    actual = dict(zip(MEASUREMENT_NAMES, (quote.mr_td, *quote.rtmrs[:3]), strict=True))
    wrong = [name for name, value in expect.measurements.items() if _hex(value) != actual.get(name)]
    if wrong:
        verdict.add("OS image", FAIL, f"{', '.join(wrong)} differ from the expected measurements")
    else:
        verdict.add("OS image", PASS, f"{', '.join(sorted(expect.measurements))} are the expected ones")


def _check_binding(quote, expected_hex: str, verdict: Verdict, what: str) -> None:
    expected = _hex(expected_hex)
    padded = expected.ljust(REPORT_DATA_BYTES * 2, "0") if len(expected) <= REPORT_DATA_BYTES * 2 else expected
    if quote.report_data == padded:
        verdict.add("report data", PASS, f"the quote's report data is {what}")
        return
    verdict.add(
        "report data",
        FAIL,
        f"the quote's report data {_short(quote.report_data)} is not {what} {_short(expected)}: "
        "the quote vouches for something else",
    )


def _tdx_story(verdict: Verdict, *, binds_report: bool) -> None:
    facts = verdict.facts
    by_check = {check.name: check.status for check in verdict.checks}
    said = []
    if by_check.get("event log") == PASS and facts.get("compose_hash"):
        said.append(
            f"the machine booted dstack app {facts.get('app_id')} with compose-hash {facts['compose_hash']} "
            f"(key provider: {facts.get('key_provider', 'not named')})"
        )
    if by_check.get("compose-hash") == PASS:
        said.append("the compose-hash is the expected one: the images it pins by digest are what runs")
    if binds_report and by_check.get("report data") == PASS:
        said.append("the quote vouches for this report: its keys, log key, log head and nonce")
    if by_check.get("quote") == PASS and by_check.get("TCB") == PASS:
        verdict.proven.append(
            f"an Intel TDX machine (TCB {facts.get('tcb_status')}) produced the quote: Intel's certificates vouch "
            "for it"
        )
        verdict.proven += said
    else:
        verdict.not_proven.append("that a genuine, up-to-date Intel TDX machine produced the quote")
        verdict.not_proven += [f"(rests on the quote) {line}" for line in said]
    if by_check.get("compose-hash") != PASS:
        verdict.not_proven.append("which application runs: compare the compose-hash with the release's")
    if by_check.get("OS image") != PASS:
        verdict.not_proven.append("that MRTD and RTMR0..2 are a genuine dstack OS image's (firmware, kernel, initrd)")
    if facts.get("tdx_attestation_variant") == "lite":
        verdict.not_proven.append("the ACPI tables: dstack's lite attestation variant does not measure them")
    verdict.not_proven += [
        "that the images were built from this project's source: rebuild them and compare the digests",
        "that the chain RPC the signer reads is honest, or the key provider (KMS), or whoever may add compose-hashes"
        " to the app's allow-list (an upgrade derives the same keys)",
    ]


def _vm_config_facts(document: dict, verdict: Verdict) -> None:
    """The attestation variant the host says it used: not measured, so used only to say more is unproven."""
    try:
        vm_config = document.get("vm_config") or {}
        vm_config = json.loads(vm_config) if isinstance(vm_config, str) else vm_config
        if vm_config.get("tdx_attestation_variant"):
            verdict.facts["tdx_attestation_variant"] = vm_config["tdx_attestation_variant"]
    except (ValueError, AttributeError):
        pass  # nothing is checked against vm_config


# -- entry points -----------------------------------------------------------------------------------------------


def read_document(data: bytes) -> dict | bytes:
    """A JSON report or GetQuote answer, or a raw quote (binary, or hex text)."""
    text = data.strip()
    if text.startswith(b"{"):
        try:
            document = json.loads(text)
        except json.JSONDecodeError as error:
            raise InputError(f"the report is not valid JSON: {error}") from error
        if not isinstance(document, dict) or not ({"signature", "quote"} & document.keys()):
            raise InputError("neither a signer report (no signature) nor a GetQuote answer (no quote)")
        return document
    try:
        return bytes.fromhex(text.decode().removeprefix("0x"))
    except (UnicodeDecodeError, ValueError):
        return data


def verify_attestation(
    document: dict | bytes, *, collateral=None, at: int, expect: Expectations = Expectations()
) -> Verdict:
    """Every check the document allows, with what it proves and what it does not."""
    if isinstance(document, bytes):
        verdict = Verdict(kind=KIND_RAW_QUOTE)
        quote = _check_quote(document, verdict, collateral=collateral, at=at, expect=expect)
        if quote is not None:
            verdict.add("event log", SKIP, "none with a raw quote: RTMR0..3 are not explained")
            _check_measurements(quote, verdict, expect)
            verdict.add("report data", SKIP, f"{_short(quote.report_data, 32)} (a raw quote binds nothing known)")
            _tdx_story(verdict, binds_report=False)
        return verdict
    is_report = "signature" in document
    if is_report and not document.get("quote"):
        verdict = Verdict(kind=KIND_SIGNER_DEV)
        check_report(document, verdict, expect)
        _development(verdict, document, expect)
        return verdict
    verdict = Verdict(kind=KIND_SIGNER_TDX if is_report else KIND_DSTACK_QUOTE)
    if is_report:
        check_report(document, verdict, expect)
    try:
        raw = bytes.fromhex(_hex(str(document["quote"])))
    except ValueError:
        verdict.add("quote", FAIL, "the quote is not hex")
        return verdict
    quote = _check_quote(raw, verdict, collateral=collateral, at=at, expect=expect)
    if quote is None:
        return verdict
    _vm_config_facts(document, verdict)
    app = _check_event_log(document.get("event_log"), quote, verdict)
    _check_application(app, verdict, expect)
    _check_measurements(quote, verdict, expect)
    what = "this report's report_data" if is_report else "the answer's report_data"
    _check_binding(quote, str(document.get("report_data", "")), verdict, what)
    if not is_report:
        verdict.not_proven.append("anything about the signer's keys: this is not a signer report")
    _tdx_story(verdict, binds_report=is_report)
    return verdict


def parse_time(text: str | None) -> int:
    """Unix seconds from an ISO 8601 date or time (UTC unless it says otherwise), or from a number; now if None."""
    if text is None:
        return int(datetime.datetime.now(datetime.UTC).timestamp())
    if text.isdigit():
        return int(text)
    try:
        moment = datetime.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as error:
        raise InputError(
            f"--at {text!r}: use an ISO 8601 time such as 2025-07-01T00:00:00Z, or unix seconds"
        ) from error
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.UTC)
    return int(moment.timestamp())


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except OSError as error:
        raise InputError(f"cannot read the {what} {path}: {error.strerror}") from error


def expectations_from_args(args) -> Expectations:
    compose_hash = args.expect_compose_hash
    if args.expect_compose is not None:
        compose_hash = hashlib.sha256(_read(args.expect_compose, "app compose")).hexdigest()
    measurements = None
    if args.expect_measurements is not None:
        try:
            data = json.loads(_read(args.expect_measurements, "measurements file"))
            measurements = {name: str(data[name]) for name in MEASUREMENT_NAMES if name in data}
        except (ValueError, TypeError) as error:
            raise InputError(f"{args.expect_measurements}: not a JSON object of {MEASUREMENT_NAMES}") from error
        if not measurements:
            raise InputError(f"{args.expect_measurements} names none of {', '.join(MEASUREMENT_NAMES)}")
    return Expectations(
        nonce=args.nonce,
        compose_hash=compose_hash,
        measurements=measurements,
        allowed_tcb_statuses=frozenset(args.allow_tcb_status or ()),
        require_tee=args.require_tee,
    )


def add_arguments(parser) -> None:
    parser.add_argument("file", type=Path, metavar="REPORT", help="a signer report, a GetQuote answer or a raw quote")
    parser.add_argument("--collateral", type=Path, help="Intel's collateral for the quote (dcap-qvl JSON)")
    parser.add_argument(
        "--fetch-collateral",
        nargs="?",
        const=PHALA_PCCS_URL,
        metavar="PCCS_URL",
        help=f"fetch the collateral (needs the network; default {PHALA_PCCS_URL})",
    )
    parser.add_argument(
        "--save-collateral", type=Path, help="write the fetched collateral here, to check again offline"
    )
    parser.add_argument("--at", help="verify as of this time (ISO 8601 or unix seconds; default now)")
    expected = parser.add_mutually_exclusive_group()
    expected.add_argument("--expect-compose-hash", metavar="H", help="the compose-hash the app must run with")
    expected.add_argument("--expect-compose", type=Path, metavar="FILE", help="the app-compose.json it must run")
    parser.add_argument("--expect-measurements", type=Path, metavar="FILE", help="JSON: mrtd, rtmr0, rtmr1, rtmr2")
    parser.add_argument("--nonce", help="the nonce you asked for")
    parser.add_argument(
        "--allow-tcb-status", action="append", metavar="STATUS", help="accept this TCB status too (never Revoked)"
    )
    parser.add_argument("--require-tee", action="store_true", help="fail a development report")
    parser.add_argument("--json", action="store_true", help="print the verdict as JSON")


def main(args) -> int:
    """Run the CLI command; print the verdict. 0 valid, 1 not valid, 2 an input cannot be read."""
    try:
        document = read_document(_read(args.file, "report"))
        expect = expectations_from_args(args)
        at = parse_time(args.at)
        collateral = None
        if args.collateral is not None:
            collateral = load_collateral(_read(args.collateral, "collateral").decode(errors="replace"))
        elif args.fetch_collateral and (isinstance(document, bytes) or document.get("quote")):
            raw = document if isinstance(document, bytes) else bytes.fromhex(_hex(str(document["quote"])))
            collateral = fetch_collateral(raw, pccs_url=args.fetch_collateral)
            if args.save_collateral is not None:
                args.save_collateral.write_text(collateral.to_json())
    except (InputError, QuoteError, ValueError) as error:
        print(f"verify-attestation: {error}", file=sys.stderr)
        return 2
    verdict = verify_attestation(document, collateral=collateral, at=at, expect=expect)
    print(json.dumps(verdict.to_dict(), indent=2) if args.json else verdict.render().rstrip("\n"))
    return 0 if verdict.ok else 1
