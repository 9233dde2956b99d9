"""Intel TDX quotes and dstack event logs: what a quote measures, and what the event log says was measured.

A TDX quote carries the TD's measurements: MRTD (the initial memory: firmware) and four run-time registers,
RTMR0..3, each extended as rtmr = sha384(rtmr || digest) from 48 zero bytes. dstack measures the firmware's
configuration into RTMR0, the kernel into RTMR1, its command line and initrd into RTMR2, and the application into
RTMR3: one "runtime event" per fact (app-id, compose-hash, instance-id, key-provider, ...).

Replaying the event log and finding the quote's registers proves the log is the one that was measured. For RTMR3 the
digest of each event is recomputed from its name and payload (dstack's v1 rule, below), so the app-id and
compose-hash read from the log are the measured ones; a log that lists digests must list those. Events of RTMR0..2
are firmware and boot records whose digests cannot be recomputed from the log: they are replayed as listed, which
proves the list is the measured one but not what each entry means (compare MRTD and RTMR0..2 with the dstack OS
image's published measurements for that).

dcap-qvl (imported lazily: the signer does not need it to run) parses and verifies quotes.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import re
from dataclasses import dataclass, field

DSTACK_RUNTIME_EVENT_TYPE = 0x08000001
RTMR_COUNT = 4
RTMR_BYTES = 48
REPORT_DATA_BYTES = 64
TD_ATTRIBUTES_DEBUG_BIT = 0x01  # TDATTRIBUTES bit 0: a debug TD, whose memory the host can read
FETCH_TIMEOUT_SECONDS = 20
APP_EVENTS = ("app-id", "compose-hash", "instance-id", "key-provider", "os-image-hash")


class QuoteError(Exception):
    """The quote or event log cannot be read."""


def _dcap_qvl():
    try:
        import dcap_qvl  # optional: verifies Intel TDX quotes against Intel's collateral
    except ImportError as error:
        raise QuoteError("dcap-qvl is not installed: pip install dcap-qvl==0.7.0") from error
    return dcap_qvl


@dataclass(frozen=True)
class Quote:
    """The parts of a TDX quote a verifier looks at, as hex (no 0x)."""

    is_tdx: bool
    mr_td: str
    rtmrs: tuple[str, str, str, str]
    report_data: str
    td_attributes: str

    @property
    def debug(self) -> bool:
        return bool(bytes.fromhex(self.td_attributes)[0] & TD_ATTRIBUTES_DEBUG_BIT)


def parse_quote(raw: bytes) -> Quote:
    """Parse a quote (no signature check: see `verify_quote`)."""
    try:
        parsed = _dcap_qvl().parse_quote(raw)
    except ValueError as error:
        raise QuoteError(f"not a quote dcap-qvl can parse: {error}") from error
    if not parsed.is_tdx():
        return Quote(is_tdx=False, mr_td="", rtmrs=("",) * 4, report_data="", td_attributes="00")
    report = parsed.report
    return Quote(
        is_tdx=True,
        mr_td=bytes(report.mr_td).hex(),
        rtmrs=tuple(bytes(getattr(report, f"rt_mr{index}")).hex() for index in range(RTMR_COUNT)),
        report_data=bytes(report.report_data).hex(),
        td_attributes=bytes(report.td_attributes).hex(),
    )


@dataclass(frozen=True)
class QuoteVerification:
    """dcap-qvl's answer: the platform's TCB status and the Intel advisories that apply to it."""

    status: str
    advisory_ids: tuple[str, ...]


def load_collateral(text: str):
    """Collateral in dcap-qvl's JSON form (what `get_collateral` returns and `to_json` writes)."""
    try:
        return _dcap_qvl().QuoteCollateralV3.from_json(text)
    except ValueError as error:
        raise QuoteError(f"not collateral dcap-qvl can read: {error}") from error


def fetch_collateral(raw: bytes, *, pccs_url: str, timeout: float = FETCH_TIMEOUT_SECONDS):
    """Fetch the quote's collateral from a PCCS (or Intel's PCS). Needs the network."""
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    dcap_qvl = _dcap_qvl()

    async def fetch():  # dcap-qvl's get_collateral wants a running event loop when it is called
        return await asyncio.wait_for(dcap_qvl.get_collateral(pccs_url, raw), timeout)

    try:
        # A loop of its own, in a thread of its own: the caller may already run an event loop (an async view).
        with ThreadPoolExecutor(max_workers=1) as thread:
            return thread.submit(asyncio.run, fetch()).result()
    except TimeoutError as error:
        raise QuoteError(f"cannot fetch collateral from {pccs_url}: no answer in {timeout:.0f} s") from error
    except (ValueError, RuntimeError) as error:
        raise QuoteError(f"cannot fetch collateral from {pccs_url}: {error}") from error


def verify_quote(raw: bytes, collateral, *, at: int) -> QuoteVerification:
    """Check the quote's signature chain up to Intel's root, and its TCB level, as of `at` (unix seconds).

    Raises QuoteError with dcap-qvl's reason when the quote does not verify: a bad signature, expired or revoked
    certificates and CRLs at that time, or a platform with no matching TCB level.
    """
    try:
        verified = _dcap_qvl().verify(raw, collateral, at)
    except ValueError as error:
        reason = UNIX_TIME.sub(_iso, str(error).removeprefix("Verification failed: "))
        if "Expired" in reason:
            reason += " (the collateral is out of date at this time: fetch fresh collateral)"
        raise QuoteError(reason) from error
    return QuoteVerification(status=verified.status, advisory_ids=tuple(verified.advisory_ids))


UNIX_TIME = re.compile(r"UnixTime\((\d+)\)")


def _iso(match: re.Match) -> str:
    moment = datetime.datetime.fromtimestamp(int(match.group(1)), datetime.UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def runtime_event_digest(event: str, payload: bytes) -> bytes:
    """dstack's v1 digest of an RTMR3 event: sha384(type as 4 bytes little-endian || ":" || name || ":" || payload)."""
    preimage = DSTACK_RUNTIME_EVENT_TYPE.to_bytes(4, "little") + b":" + event.encode() + b":" + payload
    return hashlib.sha384(preimage).digest()


def extend(register: bytes, digest: bytes) -> bytes:
    return hashlib.sha384(register + digest).digest()


@dataclass
class Replay:
    """The outcome of replaying an event log: the registers it gives, and what it found wrong or worth saying."""

    rtmrs: list[str]
    events: int
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    app: dict[str, str] = field(default_factory=dict)


def read_event_log(value: object) -> list[dict]:
    """The event log as a list of events (dstack's GetQuote answer carries it as a JSON string)."""
    try:
        events = json.loads(value) if isinstance(value, str) else value
    except json.JSONDecodeError as error:
        raise QuoteError(f"the event log is not JSON: {error}") from error
    if not isinstance(events, list) or not all(isinstance(event, dict) for event in events):
        raise QuoteError("the event log is not a list of events")
    return events


def _app_value(name: str, payload: bytes) -> str:
    if name == "key-provider":
        try:
            return json.loads(payload).get("name", payload.decode())
        except (ValueError, AttributeError):
            return payload.hex()
    return payload.hex()


def replay_event_log(events: list[dict]) -> Replay:
    """Replay RTMR0..3; read the application's identity from the (recomputed) RTMR3 events."""
    registers = [bytes(RTMR_BYTES) for _ in range(RTMR_COUNT)]
    replay = Replay(rtmrs=[], events=len(events))
    listed_rtmr3_digests = rtmr3_events = 0
    for number, event in enumerate(events):
        try:
            index = int(event["imr"])
            listed = bytes.fromhex(str(event.get("digest") or ""))
            payload = bytes.fromhex(str(event.get("event_payload") or ""))
            name = str(event.get("event") or "")
            event_type = int(event.get("event_type", 0))
        except (KeyError, TypeError, ValueError) as error:
            replay.problems.append(f"event {number} is malformed ({error!r})")
            continue
        if not 0 <= index < RTMR_COUNT:
            replay.problems.append(f"event {number} names RTMR{index}, which does not exist")
            continue
        if index < 3:
            if len(listed) != RTMR_BYTES:
                replay.problems.append(f"event {number} (RTMR{index}) has no 48-byte digest to replay")
                continue
            registers[index] = extend(registers[index], listed)
            continue
        if event_type != DSTACK_RUNTIME_EVENT_TYPE:
            replay.problems.append(
                f"event {number} in RTMR3 is of type {event_type:#x}, not a dstack runtime event: its digest "
                "cannot be recomputed, so what it says cannot be checked"
            )
            continue
        rtmr3_events += 1
        digest = runtime_event_digest(name, payload)
        if listed:
            listed_rtmr3_digests += 1
            if listed != digest:
                replay.problems.append(
                    f"RTMR3 event {name!r}: its listed digest is not the digest of its name and payload under "
                    "dstack's v1 rule (an edited event, or a newer event format this verifier does not know)"
                )
        registers[3] = extend(registers[3], digest)
        if name in APP_EVENTS:
            if name in replay.app:
                replay.problems.append(f"RTMR3 names {name!r} twice: which one the app runs as is ambiguous")
            replay.app[name] = _app_value(name, payload)
    if rtmr3_events and not listed_rtmr3_digests:
        replay.notes.append(
            "the log lists no RTMR3 digests, as in dstack's compact format: each was computed from its event"
        )
    replay.rtmrs = [register.hex() for register in registers]
    return replay
