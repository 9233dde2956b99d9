"""A REPLAY of a dstack guest agent on a Unix socket: a test double for what cannot run here (a TDX CVM).

It speaks the guest agent's HTTP API as dstack-sdk 0.5.4 calls it (POST /GetQuote, /GetKey, /Info, /Version), so
the SDK's real request and parsing code runs against it. What it answers is not real:
- GetQuote returns a recorded real answer (tests/data/tee-samples/quote-report.json) whatever report data is asked
  for: the quote inside binds the recording's report data (0x1234...), not the caller's. It records what was asked.
- GetKey derives a key from a seed and the path: real dstack derives it from the app's identity in its KMS.
"""

from __future__ import annotations

import hashlib
import json
import socketserver
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from pathlib import Path

from tests.loopback import serving

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "tee-samples"
RECORDED_GET_QUOTE = SAMPLES / "quote-report.json"


@dataclass
class ReplayAgent:
    socket_path: Path
    seed: bytes
    quote_answer: dict = field(default_factory=lambda: json.loads(RECORDED_GET_QUOTE.read_text()))
    requests: list[tuple[str, dict]] = field(default_factory=list)

    def key(self, path: str, purpose: str) -> bytes:
        return hashlib.sha256(self.seed + b"\0" + path.encode() + b"\0" + purpose.encode()).digest()

    def answer(self, method: str, body: dict) -> dict | None:
        self.requests.append((method, body))
        if method == "GetQuote":
            return {**self.quote_answer}
        if method == "GetKey":
            return {"key": self.key(body.get("path", ""), body.get("purpose", "")).hex(), "signature_chain": []}
        if method == "Version":
            return {"version": "0.5.4-replay", "rev": "replay"}
        return None


class _UnixHTTPServer(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True


def _handler(agent: ReplayAgent):
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):  # noqa: N802 - http.server's naming
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            answer = agent.answer(self.path.lstrip("/"), body)
            data = json.dumps(answer if answer is not None else {"error": "not replayed"}).encode()
            self.send_response(200 if answer is not None else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def address_string(self) -> str:  # a Unix socket peer has no address
            return "unix"

        def log_message(self, *args) -> None:
            pass

    return Handler


@contextmanager
def replay_server(agent: ReplayAgent) -> Iterator[ReplayAgent]:
    """Serve `agent` on its Unix socket for a `with` block."""
    with serving(_UnixHTTPServer(str(agent.socket_path), _handler(agent))):
        try:
            yield agent
        finally:
            agent.socket_path.unlink(missing_ok=True)
