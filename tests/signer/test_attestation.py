"""verify-attestation on real TDX artifacts (tests/data/tee-samples, see SOURCES.md there) and on development reports.

The quotes and the dstack GetQuote answers were captured on real Intel TDX machines by dcap-qvl's and dstack's
authors; nothing here fakes a quote. Collateral expires, so every check of a real quote passes its time explicitly.
"""

from __future__ import annotations

import asyncio
import copy
import datetime
import hashlib
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from enclave_signer import tdx
from enclave_signer.cli import main
from enclave_signer.verify_attestation import (
    FAIL,
    KIND_DSTACK_QUOTE,
    KIND_RAW_QUOTE,
    KIND_SIGNER_DEV,
    PASS,
    SKIP,
    Expectations,
    parse_time,
    verify_attestation,
)
from tests.signer.dstack_replay import SAMPLES
from tests.signer.factories import CHAIN_ID, make_signer, pool_params
from tests.signer.pccs_replay import PccsReplay

QUOTE = (SAMPLES / "tdx_quote").read_bytes()
COLLATERAL = tdx.load_collateral((SAMPLES / "tdx_quote_collateral.json").read_text())
INSIDE_VALIDITY = parse_time("2025-07-01T00:00:00Z")  # the collateral was issued 2025-06-19
OUTDATED_QUOTE = (SAMPLES / "tdx_quote_outdated").read_bytes()
OUTDATED_COLLATERAL = tdx.load_collateral((SAMPLES / "tdx_quote_outdated_collateral.json").read_text())
DSTACK = json.loads((SAMPLES / "quote-report.json").read_text())
LITE = json.loads((SAMPLES / "tdx-lite-getquote.json").read_text())
DSTACK_APP_ID = "3763bc34552cf3a27ff71ad5f7a90471562a1a2d"
DSTACK_COMPOSE_HASH = "3763bc34552cf3a27ff71ad5f7a90471562a1a2df552dfc1998cba2d60da27e7"
DSTACK_INSTANCE_ID = "c3714eb66990eace777b4e664c16e09375dec4c9"
TD_ATTRIBUTES_OFFSET = 48 + 16 + 48 + 48 + 8  # header, TEE_TCB_SVN, MRSEAM, MRSIGNERSEAM, SEAMATTRIBUTES


def status(verdict, name: str) -> str:
    return {check.name: check.status for check in verdict.checks}[name]


def detail(verdict, name: str) -> str:
    return {check.name: check.detail for check in verdict.checks}[name]


def now() -> int:
    return int(datetime.datetime.now(datetime.UTC).timestamp())


# -- Intel TDX quotes with their collateral (from dcap-qvl) ------------------------------------------------------


def test_the_real_quote_verifies_inside_its_collaterals_validity_with_tcb_up_to_date():
    verdict = verify_attestation(QUOTE, collateral=COLLATERAL, at=INSIDE_VALIDITY)

    assert verdict.ok, verdict.render()
    assert verdict.kind == KIND_RAW_QUOTE
    assert (status(verdict, "quote"), status(verdict, "TCB"), status(verdict, "debug")) == (PASS, PASS, PASS)
    assert verdict.facts["tcb_status"] == "UpToDate"
    assert "a raw quote names no application and binds no keys" in verdict.headline


def test_the_real_quote_today_is_refused_because_its_collateral_expired():
    verdict = verify_attestation(QUOTE, collateral=COLLATERAL, at=now())

    assert not verdict.ok
    assert "CrlExpired" in detail(verdict, "quote") and "fetch fresh collateral" in detail(verdict, "quote")
    assert "2026-04-03T11:21:57Z" in detail(verdict, "quote")  # the CRL's next update, as a date


def test_the_outdated_platform_is_refused_with_dcap_qvls_reason():
    verdict = verify_attestation(OUTDATED_QUOTE, collateral=OUTDATED_COLLATERAL, at=parse_time("2026-02-19"))

    assert not verdict.ok
    assert "No matching TCB level found" in detail(verdict, "quote")
    assert "that a genuine, up-to-date Intel TDX machine produced the quote" in verdict.not_proven


# A version 4 TDX quote: header and TD report (signed), the signature, the attestation key, then the certification
# data: its type and size, the QE report and the QE's signature over it, then the PCK certificate chain as PEM text.
SIGNED_PARTS = {
    "header and TD report": range(0, 632),
    "signature": range(636, 700),
    "attestation key": range(700, 764),
    "QE report and its signature": range(770, 1218),
}


@pytest.mark.parametrize("part", SIGNED_PARTS)
def test_one_flipped_byte_is_refused(part):
    """Every other byte of each signed part. (A flipped line break in the PEM text or a byte of the zero padding
    after it changes nothing that is signed, and dcap-qvl rightly ignores it.)"""
    accepted = []
    for position in SIGNED_PARTS[part][::2]:
        flipped = bytearray(QUOTE)
        flipped[position] ^= 0x01
        verdict = verify_attestation(bytes(flipped), collateral=COLLATERAL, at=INSIDE_VALIDITY)
        if verdict.ok or status(verdict, "quote") != FAIL:
            accepted.append(position)

    assert accepted == []


def test_a_quote_without_collateral_is_not_taken_on_trust():
    verdict = verify_attestation(QUOTE, at=INSIDE_VALIDITY)

    assert not verdict.ok
    assert "no collateral" in detail(verdict, "quote")


def test_a_debug_td_is_refused():
    debug = bytearray(QUOTE)
    debug[TD_ATTRIBUTES_OFFSET] |= tdx.TD_ATTRIBUTES_DEBUG_BIT

    verdict = verify_attestation(bytes(debug), collateral=COLLATERAL, at=INSIDE_VALIDITY)

    assert status(verdict, "debug") == FAIL
    assert tdx.parse_quote(bytes(debug)).debug and not tdx.parse_quote(QUOTE).debug


def test_expected_os_measurements_are_compared():
    quote = tdx.parse_quote(QUOTE)
    right = {"mrtd": quote.mr_td, "rtmr0": quote.rtmrs[0], "rtmr1": quote.rtmrs[1], "rtmr2": "0x" + quote.rtmrs[2]}
    wrong = {**right, "rtmr1": "00" * 48}

    good = verify_attestation(QUOTE, collateral=COLLATERAL, at=INSIDE_VALIDITY, expect=Expectations(measurements=right))
    bad = verify_attestation(QUOTE, collateral=COLLATERAL, at=INSIDE_VALIDITY, expect=Expectations(measurements=wrong))

    assert status(good, "OS image") == PASS and good.ok
    assert status(bad, "OS image") == FAIL and "rtmr1" in detail(bad, "OS image")


# -- dstack GetQuote answers with their event logs (from dstack) ------------------------------------------------


def test_the_dstack_event_log_replays_to_the_quotes_rtmrs_and_names_the_app():
    replay = tdx.replay_event_log(tdx.read_event_log(DSTACK["event_log"]))
    quote = tdx.parse_quote(bytes.fromhex(DSTACK["quote"]))

    assert replay.rtmrs == list(quote.rtmrs) and not replay.problems
    assert replay.app["app-id"] == DSTACK_APP_ID
    assert replay.app["compose-hash"] == DSTACK_COMPOSE_HASH
    assert replay.app["instance-id"] == DSTACK_INSTANCE_ID
    assert replay.app["key-provider"] == "local-sgx"


def test_the_dstack_answer_with_the_expected_compose_hash():
    verdict = verify_attestation(DSTACK, at=now(), expect=Expectations(compose_hash="0x" + DSTACK_COMPOSE_HASH))

    assert verdict.kind == KIND_DSTACK_QUOTE
    assert (status(verdict, "event log"), status(verdict, "compose-hash")) == (PASS, PASS)
    assert status(verdict, "report data") == PASS  # the quote binds the answer's 0x1234... report data
    # There is no collateral for this quote among the samples: it is not taken on trust, and what the event log
    # says is reported as resting on it, not as proven.
    assert status(verdict, "quote") == FAIL and not verdict.ok
    assert not verdict.proven
    assert any(line.startswith("(rests on the quote) the machine booted dstack app") for line in verdict.not_proven)


def test_a_wrong_expected_compose_hash_is_refused():
    verdict = verify_attestation(DSTACK, at=now(), expect=Expectations(compose_hash="ab" * 32))

    assert status(verdict, "compose-hash") == FAIL
    assert f"{DSTACK_COMPOSE_HASH}, not the expected {'ab' * 32}" in detail(verdict, "compose-hash")


def _with_event(answer: dict, name: str, **changes) -> dict:
    edited = copy.deepcopy(answer)
    events = json.loads(edited["event_log"]) if isinstance(edited["event_log"], str) else edited["event_log"]
    for event in events:
        if event.get("event") == name:
            event.update(changes)
    edited["event_log"] = json.dumps(events)
    return edited


def test_an_edited_event_is_refused():
    other_hash = "00" * 32
    payload_only = _with_event(DSTACK, "compose-hash", event_payload=other_hash)
    with_its_digest = _with_event(
        DSTACK, "compose-hash", event_payload=other_hash,
        digest=tdx.runtime_event_digest("compose-hash", bytes(32)).hex(),
    )  # fmt: skip

    for edited in (payload_only, with_its_digest):
        verdict = verify_attestation(edited, at=now(), expect=Expectations(compose_hash=other_hash))
        assert status(verdict, "event log") == FAIL
        assert status(verdict, "compose-hash") == FAIL  # an event log that does not replay names nothing
    assert "listed digest is not the digest of its name and payload" in detail(
        verify_attestation(payload_only, at=now()), "event log"
    )
    assert "RTMR3 do(es) not replay" in detail(verify_attestation(with_its_digest, at=now()), "event log")


def test_an_edited_boot_event_breaks_the_replay():
    edited = copy.deepcopy(DSTACK)
    events = json.loads(edited["event_log"])
    events[0]["digest"] = "11" * 48
    edited["event_log"] = json.dumps(events)

    assert "RTMR0 do(es) not replay" in detail(verify_attestation(edited, at=now()), "event log")


def test_a_wrong_report_data_is_refused():
    edited = {**DSTACK, "report_data": "5678" + DSTACK["report_data"][4:]}

    verdict = verify_attestation(edited, at=now())

    assert status(verdict, "report data") == FAIL
    assert "the quote vouches for something else" in detail(verdict, "report data")


def test_the_lite_sample_lists_no_rtmr3_digests_and_says_so():
    """dstack 0.6's "lite" answer lists no digest for its RTMR3 events, so a replay of the digests as listed does not
    give the quote's RTMR3. Recomputed from each event's name and payload with dstack's v1 rule, they do: this is
    what the verifier does for every RTMR3 event (it must, to trust the compose-hash it reads), and it says so."""
    events = tdx.read_event_log(LITE["event_log"])
    quote = tdx.parse_quote(bytes.fromhex(LITE["quote"]))
    as_listed = bytes(48)
    for event in (event for event in events if int(event["imr"]) == 3):
        assert event["digest"] == ""
        as_listed = tdx.extend(as_listed, bytes(48))  # an empty digest, padded as dstack-sdk's replay does
    assert as_listed.hex() != quote.rtmrs[3]

    verdict = verify_attestation(LITE, at=now())

    assert status(verdict, "event log") == PASS
    assert "lists no RTMR3 digests" in detail(verdict, "event log")
    assert verdict.facts["tdx_attestation_variant"] == "lite"
    assert "the ACPI tables: dstack's lite attestation variant does not measure them" in verdict.not_proven
    assert not verdict.ok  # and without collateral its quote is not verified


def test_an_event_in_a_newer_digest_format_is_reported_not_passed():
    """An RTMR3 event whose listed digest is not the v1 digest of its content (here: dstack's newer v2 rule, a
    digest of canonical JSON) cannot be read with confidence, so it fails rather than passes."""
    events = tdx.read_event_log(LITE["event_log"])
    for event in events:
        if int(event["imr"]) == 3:
            canonical = json.dumps(
                {"name": event["event"], "payload": event["event_payload"], "type": tdx.DSTACK_RUNTIME_EVENT_TYPE},
                separators=(",", ":"), sort_keys=True,
            )  # fmt: skip
            event["digest"] = hashlib.sha384(canonical.encode()).hexdigest()

    verdict = verify_attestation({**LITE, "event_log": json.dumps(events)}, at=now())

    assert status(verdict, "event log") == FAIL
    assert "a newer event format this verifier does not know" in detail(verdict, "event log")


def test_a_duplicated_compose_hash_event_is_ambiguous_and_refused():
    events = tdx.read_event_log(DSTACK["event_log"])
    compose = next(event for event in events if event.get("event") == "compose-hash")

    replay = tdx.replay_event_log([*events, {**compose, "event_payload": "00" * 32, "digest": ""}])

    assert any("names 'compose-hash' twice" in problem for problem in replay.problems)


# -- development reports --------------------------------------------------------------------------------------


def report_of(data_dir, nonce="abc") -> dict:
    signer = make_signer(data_dir)
    signer.register_pool({"pool_id": 5, "chain_id": CHAIN_ID, "params": pool_params()})
    return signer.attestation(nonce=nonce)


def test_a_development_report_verifies_as_one_and_says_so(data_dir):
    report = report_of(data_dir)
    assert (report["tee"], report["insecure"], report["nonce"], report["version"]) == (
        "none (development)", True, "abc", 2,
    )  # fmt: skip
    assert set(report["keys"]) == {"log_key", "gas", "pools"} and "5" in report["keys"]["pools"]
    assert "quote" not in report and "code_measurement" not in report

    verdict = verify_attestation(report, at=now(), expect=Expectations(nonce="abc"))

    assert verdict.ok and verdict.kind == KIND_SIGNER_DEV
    assert verdict.headline.startswith("VALID DEVELOPMENT REPORT")
    assert status(verdict, "quote") == SKIP
    assert any("whoever runs the signer's machine can read them" in line for line in verdict.not_proven)
    assert not verify_attestation(report, at=now(), expect=Expectations(require_tee=True)).ok


def test_an_edited_or_resigned_report_fails(data_dir, tmp_path):
    report, other = report_of(data_dir), report_of(tmp_path / "other")
    edited = copy.deepcopy(report)
    edited["keys"]["pools"]["5"]["address"] = "0x000000000000000000000000000000000000dEaD"
    resigned = {**report, "signature": other["signature"]}

    assert "the report was edited" in detail(verify_attestation(edited, at=now()), "report")
    assert "not signed by the log key" in detail(verify_attestation(resigned, at=now()), "report")


def test_a_stale_nonce_fails_and_a_missing_quote_under_a_tee_claim_fails(data_dir):
    report = report_of(data_dir, nonce="old")
    assert status(verify_attestation(report, at=now(), expect=Expectations(nonce="new")), "nonce") == FAIL

    claims_tdx = {**report, "tee": "dstack (Intel TDX)", "insecure": False}
    verdict = verify_attestation(claims_tdx, at=now())
    assert status(verdict, "quote") == FAIL and "carries no quote" in detail(verdict, "quote")


# -- the command line -----------------------------------------------------------------------------------------


def test_cli_prints_a_verdict_and_exits_by_it(data_dir, tmp_path, capsys):
    path = tmp_path / "report.json"
    path.write_text(json.dumps(report_of(data_dir, nonce="n1")))

    assert main(["verify-attestation", str(path), "--nonce", "n1"]) == 0
    out = capsys.readouterr().out
    assert "Verdict: VALID DEVELOPMENT REPORT" in out and "✓ report" in out and "Not proven:" in out

    assert main(["verify-attestation", str(path), "--nonce", "n2", "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["ok"] is False
    # A development report has no quote: there is no collateral to fetch, and nothing fails for asking.
    assert main(["verify-attestation", str(path), "--fetch-collateral", "http://127.0.0.1:9"]) == 0
    capsys.readouterr()

    sample = str(SAMPLES / "tdx_quote")
    collateral = str(SAMPLES / "tdx_quote_collateral.json")
    assert main(["verify-attestation", sample, "--collateral", collateral, "--at", "2025-07-01T00:00:00Z"]) == 0
    assert "✓ TCB" in capsys.readouterr().out
    assert main(["verify-attestation", sample, "--collateral", collateral]) == 1
    assert "CrlExpired" in capsys.readouterr().out


def test_cli_expect_compose_takes_the_files_hash(tmp_path, capsys):
    compose = tmp_path / "app-compose.json"
    compose.write_bytes(b'{"name":"not the one"}')
    answer = str(SAMPLES / "quote-report.json")

    assert main(["verify-attestation", answer, "--expect-compose", str(compose)]) == 1
    assert hashlib.sha256(compose.read_bytes()).hexdigest() in capsys.readouterr().out


@pytest.mark.parametrize(
    "args, message",
    [
        (["missing.json"], "cannot read the report"),
        (["{SAMPLE}", "--at", "yesterday"], "--at 'yesterday'"),
        (["{SAMPLE}", "--collateral", "{SAMPLE}"], "not collateral dcap-qvl can read"),
        (["{SAMPLE}", "--expect-measurements", "{SAMPLE}"], "not a JSON object"),
    ],
)
def test_cli_unreadable_input_exits_2_with_one_line(args, message, capsys):
    sample = str(SAMPLES / "tdx_quote")
    argv = ["verify-attestation", *(arg.replace("{SAMPLE}", sample) for arg in args)]

    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1


def test_collateral_fetched_from_a_pccs_verifies_and_can_be_saved_to_check_offline(tmp_path, capsys):
    """The PCCS is a replay on loopback (tests/signer/pccs_replay.py) serving the recorded collateral: dcap-qvl's
    real fetching code asks it, as it would ask Phala's or Intel's."""
    sample, saved = str(SAMPLES / "tdx_quote"), tmp_path / "collateral.json"
    pccs = PccsReplay(SAMPLES / "tdx_quote_collateral.json")
    with pccs as url:
        fetched = main(["verify-attestation", sample, "--fetch-collateral", url, "--save-collateral", str(saved),
                        "--at", "2025-07-01T00:00:00Z"])  # fmt: skip

    assert fetched == 0 and "✓ TCB          UpToDate" in capsys.readouterr().out
    assert any(path.startswith("/tdx/certification/v4/tcb?fmspc=") for path in pccs.paths)
    assert main(["verify-attestation", sample, "--collateral", str(saved), "--at", "2025-07-01"]) == 0


def test_fetching_collateral_from_an_unreachable_pccs_says_so(capsys):
    sample = str(SAMPLES / "tdx_quote")

    assert main(["verify-attestation", sample, "--fetch-collateral", "http://127.0.0.1:9"]) == 2
    err = capsys.readouterr().err
    assert "cannot fetch collateral from http://127.0.0.1:9" in err and err.count("\n") == 1


def test_collateral_can_be_fetched_from_inside_a_running_event_loop():
    """As from an async view, or after another library left a loop running in this thread."""

    async def fetch_inside_a_loop(url: str):
        return tdx.fetch_collateral(QUOTE, pccs_url=url)

    def in_a_thread_running_a_loop(url: str):  # a thread of its own: this one may run a loop already
        loop = asyncio.new_event_loop()
        try:
            return loop.run_until_complete(fetch_inside_a_loop(url))
        finally:
            loop.close()

    with PccsReplay(SAMPLES / "tdx_quote_collateral.json") as url, ThreadPoolExecutor(max_workers=1) as thread:
        collateral = thread.submit(in_a_thread_running_a_loop, url).result()

    assert tdx.verify_quote(QUOTE, collateral, at=INSIDE_VALIDITY).status == "UpToDate"
