"""The SDK's HTTP behaviour against a scripted HTTP server on 127.0.0.1: retries that honour Retry-After, one
Idempotency-Key per call across its retries, the error shape, pagination, and the event stream's reconnection."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import httpx
import pytest
from launchpad_sdk import (
    APIConnectionError,
    ConflictError,
    Launchpad,
    LaunchpadError,
    RateLimitError,
    ServerError,
    amount,
    parse_retry_after,
)


@dataclass
class Answer:
    status: int = 200
    body: object = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None  # sent as is (an event stream)
    drop: bool = False  # close the connection without answering


@dataclass
class Seen:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes
    at: float


class ScriptedServer:
    """Answers each request with the next scripted Answer (the last one is repeated) and records what it saw."""

    def __init__(self, answers: list[Answer]):
        self.answers = list(answers)
        self.seen: list[Seen] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                headers = {name.lower(): value for name, value in self.headers.items()}
                server.seen.append(Seen(self.command, self.path, headers, body, time.monotonic()))
                answer = server.answers.pop(0) if len(server.answers) > 1 else server.answers[0]
                if answer.drop:
                    self.close_connection = True
                    return
                payload = answer.raw if answer.raw is not None else json.dumps(answer.body).encode()
                self.send_response(answer.status)
                content_type = "text/event-stream" if answer.raw is not None else "application/json"
                self.send_header("Content-Type", content_type)
                for name, value in answer.headers.items():
                    self.send_header(name, value)
                if answer.raw is None:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PATCH = do_DELETE = _answer

            def log_message(self, *args) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def serve() -> Iterator:
    servers: list[ScriptedServer] = []

    def start(*answers: Answer) -> ScriptedServer:
        servers.append(ScriptedServer(list(answers)))
        return servers[-1]

    yield start
    for server in servers:
        server.stop()


def error(code: str, message: str = "no", details: object = None) -> dict:
    return {"error": {"code": code, "message": message, "details": details or {}}}


LAUNCH = {"pool_id": 7, "pool_status": "launching", "step": "requested"}


def test_a_429_is_retried_after_its_retry_after_with_the_same_idempotency_key(serve):
    server = serve(Answer(429, error("throttled"), {"Retry-After": "1"}), Answer(202, LAUNCH))
    with Launchpad(server.url, api_key="lp_test_key") as lp:
        launched = lp.launch(7)

    assert launched == LAUNCH
    first, second = server.seen
    assert (first.method, first.path) == ("POST", "/api/v1/agent/pools/7/launch/")
    assert second.at - first.at >= 1.0
    assert first.headers["idempotency-key"] == second.headers["idempotency-key"]
    assert len(first.headers["idempotency-key"]) == 36  # a UUID
    assert first.headers["authorization"] == "Bearer lp_test_key"


def test_each_call_gets_its_own_idempotency_key_unless_one_is_given(serve):
    server = serve(Answer(202, LAUNCH))
    with Launchpad(server.url, api_key="k") as lp:
        lp.launch(7)
        lp.launch(7)
        lp.launch(7, idempotency_key="my-key-1")
    keys = [seen.headers["idempotency-key"] for seen in server.seen]
    assert keys[0] != keys[1] and keys[2] == "my-key-1"


def test_a_503_with_an_http_date_retry_after_waits_until_that_date(serve):
    # An HTTP date has whole seconds: the second after the next one is at least a second away.
    now = datetime.now(tz=UTC)
    when = format_datetime(now.replace(microsecond=0) + timedelta(seconds=2), usegmt=True)
    server = serve(Answer(503, error("chain_unavailable"), {"Retry-After": when}), Answer(200, {"would_succeed": True}))
    with Launchpad(server.url, api_key="k") as lp:
        assert lp.dry_run(3) == {"would_succeed": True}
    first, second = server.seen
    assert second.at - first.at >= 0.9  # the date was read a few milliseconds after `now`


def test_retry_after_reads_seconds_and_dates():
    now = datetime(2026, 12, 2, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after("Wed, 02 Dec 2026 12:00:05 GMT", now=now) == 5.0
    assert parse_retry_after("Wed, 02 Dec 2026 11:00:00 GMT", now=now) == 0.0
    assert parse_retry_after("soon") is None and parse_retry_after(None) is None
    assert parse_retry_after("²") is None and parse_retry_after("١٢") is None  # digits to str.isdigit(), not seconds


def test_it_gives_up_after_max_retries_with_the_last_error(serve):
    server = serve(Answer(503, error("signer_unavailable", "The signer could not be reached."), {"Retry-After": "0"}))
    with Launchpad(server.url, api_key="k", max_retries=2) as lp, pytest.raises(ServerError) as raised:
        lp.dry_run(3)
    assert len(server.seen) == 3
    assert (raised.value.status, raised.value.code) == (503, "signer_unavailable")
    assert raised.value.message == "The signer could not be reached."


def test_a_retry_after_longer_than_the_clients_patience_is_not_slept_through(serve):
    server = serve(Answer(429, error("throttled"), {"Retry-After": "3600"}))
    started = time.monotonic()
    with Launchpad(server.url, api_key="k", max_retry_wait=5) as lp, pytest.raises(RateLimitError) as raised:
        lp.pool(1)
    assert time.monotonic() - started < 5 and len(server.seen) == 1
    assert raised.value.retry_after == 3600.0


def test_the_error_shape_becomes_an_exception_with_code_details_and_request_id(serve):
    body = error("pool_cannot_launch", "The raise missed its soft cap.", {"status": "closed"})
    server = serve(Answer(409, body, {"X-Request-ID": "req-1234abcd"}))
    with Launchpad(server.url, api_key="k") as lp, pytest.raises(ConflictError) as raised:
        lp.launch(9)
    err = raised.value
    assert (err.status, err.code, err.message) == (409, "pool_cannot_launch", "The raise missed its soft cap.")
    assert err.details == {"status": "closed"} and err.request_id == "req-1234abcd"
    assert isinstance(err, LaunchpadError) and len(server.seen) == 1  # a 409 is not retried


def test_an_answer_without_the_error_shape_keeps_its_status(serve):
    server = serve(Answer(404, "<html>not here</html>"))
    with Launchpad(server.url) as lp, pytest.raises(LaunchpadError) as raised:
        lp.public_pool(1)
    assert (raised.value.status, raised.value.code) == (404, "http_error")


def test_a_dropped_connection_is_retried_for_a_read_and_for_a_keyed_write(serve):
    server = serve(Answer(drop=True), Answer(200, {"id": 1}), Answer(drop=True), Answer(202, LAUNCH))
    with Launchpad(server.url, api_key="k") as lp:
        assert lp.pool(1) == {"id": 1}
        assert lp.launch(1) == LAUNCH
    assert server.seen[2].headers["idempotency-key"] == server.seen[3].headers["idempotency-key"]


def test_a_delete_whose_first_attempt_got_no_answer_is_done_when_the_retry_finds_it_gone(serve):
    server = serve(Answer(drop=True), Answer(404, error("pool_not_found")))
    with Launchpad(server.url, api_key="k") as lp:
        assert lp.withdraw_draft(4) is None
    assert [seen.method for seen in server.seen] == ["DELETE", "DELETE"]
    refused = Answer(503, error("server_unavailable"), {"Retry-After": "0"})
    server.answers = [refused, Answer(404, error("pool_not_found"))]
    with Launchpad(server.url, api_key="k") as lp, pytest.raises(LaunchpadError) as raised:
        lp.withdraw_draft(4)  # refused, then not found: it never existed
    assert raised.value.code == "pool_not_found"


def test_a_server_error_is_not_retried_for_a_write_without_a_key(serve):
    server = serve(Answer(502, error("bad_gateway")))
    with Launchpad(server.url, api_key="k") as lp, pytest.raises(ServerError):
        lp.request("POST", "agent/pools/", body={"name": "x"})
    assert len(server.seen) == 1


def test_no_server_at_all_is_a_connection_error(serve):
    server = serve(Answer(200, {}))
    server.stop()
    with Launchpad(server.url, max_retries=1) as lp, pytest.raises(APIConnectionError):
        lp.public_pool(1)


def test_lists_are_read_page_by_page_with_limit_and_offset(serve):
    def page(ids, more):
        return Answer(200, {"count": 5, "next": "http://elsewhere/next" if more else None, "previous": None,
                            "results": [{"id": i} for i in ids]})  # fmt: skip

    server = serve(page([1, 2], True), page([3, 4], True), page([5], False))
    with Launchpad(server.url, api_key="k") as lp:
        ids = [pool["id"] for pool in lp.pools(status="open")]
    assert ids == [1, 2, 3, 4, 5]
    assert [seen.path for seen in server.seen] == [
        "/api/v1/agent/pools/?status=open&limit=100&offset=0",
        "/api/v1/agent/pools/?status=open&limit=100&offset=2",
        "/api/v1/agent/pools/?status=open&limit=100&offset=4",
    ]


def test_amounts_go_out_as_strings_and_floats_are_refused(serve):
    server = serve(Answer(201, {"id": 1}))
    with Launchpad(server.url, api_key="k") as lp:
        lp.propose(name="Mind", soft_cap=10 * 10**18, hard_cap="100000000000000000000", fee_bps=100)
        with pytest.raises(TypeError):
            lp.propose(name="Mind", soft_cap=1.5e19)
    sent = json.loads(server.seen[0].body)
    assert sent == {"name": "Mind", "soft_cap": "10000000000000000000", "hard_cap": "100000000000000000000",
                    "fee_bps": 100}  # fmt: skip
    assert len(server.seen) == 1
    assert amount("1000000000000000000000000000") == 10**27 and amount(None) is None
    assert amount("-250000000000") == -250000000000  # an oracle's int256 answer
    for not_an_amount in ("1_000", " 12", "1e18", "", "0x10"):
        with pytest.raises(ValueError):
            amount(not_an_amount)


def stream(*events: tuple[int, str, dict], retry_ms: int = 10) -> bytes:
    text = f"retry: {retry_ms}\n\n: heartbeat\n\n"
    for event_id, kind, data in events:
        text += f"id: {event_id}\nevent: {kind}\ndata: {json.dumps(data)}\n\n"
    return text.encode()


def test_the_event_stream_reconnects_with_last_event_id_when_the_server_ends_it(serve):
    server = serve(
        Answer(raw=stream((11, "pool.opened", {"pool_id": 1}), (12, "deposit.credited", {"pool_id": 1}))),
        Answer(429, error("throttled"), {"Retry-After": "0"}),
        Answer(raw=stream((13, "pool.closed", {"pool_id": 1, "status": "closed"}))),
    )
    with Launchpad(server.url, api_key="k") as lp:
        events = []
        for event in lp.events(last_event_id=10, max_seconds=20):
            events.append(event)
            if event.event == "pool.closed":
                break
    seen = [(event.id, event.event) for event in events]
    assert seen == [("11", "pool.opened"), ("12", "deposit.credited"), ("13", "pool.closed")]
    assert events[2].data == {"pool_id": 1, "status": "closed"} and events[2].pool_id == 1
    assert [seen.headers.get("last-event-id") for seen in server.seen] == ["10", "12", "12"]
    assert all(seen.headers["accept"] == "text/event-stream" for seen in server.seen)


def test_a_frame_torn_by_a_dropped_connection_is_neither_dispatched_nor_resumed_from(serve):
    torn = stream((41, "pool.opened", {"pool_id": 1})) + b'id: 42\nevent: b\ndata: {"pool_id": 1}\n'
    server = serve(Answer(raw=torn), Answer(raw=stream((42, "pool.closed", {"pool_id": 1}))))
    with Launchpad(server.url, api_key="k") as lp:
        events = []
        for event in lp.events(last_event_id=40, max_seconds=20):
            events.append(event)
            if event.event == "pool.closed":
                break
    # The next connection's first blank line must not complete the torn frame, and 42 was never received whole.
    assert [(event.id, event.event) for event in events] == [("41", "pool.opened"), ("42", "pool.closed")]
    assert [seen.headers.get("last-event-id") for seen in server.seen] == ["40", "41"]


def test_the_event_stream_stops_after_max_seconds(serve):
    server = serve(Answer(raw=stream(retry_ms=200)))
    started = time.monotonic()
    with Launchpad(server.url, api_key="k") as lp:
        assert list(lp.events(max_seconds=1)) == []
    assert time.monotonic() - started < 3
    assert "last-event-id" not in server.seen[0].headers and len(server.seen) >= 2


def test_any_httpx_transport_can_carry_the_calls():
    seen = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json={"id": 5, "status": "open"})

    with Launchpad("https://launchpad.example/", api_key="k", transport=httpx.MockTransport(answer)) as lp:
        assert lp.pool(5) == {"id": 5, "status": "open"}
    assert str(seen[0].url) == "https://launchpad.example/api/v1/agent/pools/5/"
