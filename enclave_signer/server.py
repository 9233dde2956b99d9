"""The HTTP API (stdlib ThreadingHTTPServer): routing, authentication and JSON in and out. No logic lives here.

GET  /health                       unauthenticated liveness for the web app's /healthz
GET  /attestation?nonce=...        attestation report
GET  /addresses                    log key, gas key and pool addresses
GET  /log?after=N&limit=M          log entries with seq > N
GET  /log/head                     {seq, hash}
POST /pools                        register a pool (idempotent)
POST /pools/deposits               prove deposits into a pool's ledger; prove it complete at a block
POST /pools/refund-all             every deposit of a pool is owed back in full from now on
POST /sign                         sign a transaction or refuse it
"""

from __future__ import annotations

import json
import logging
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from enclave_signer.auth import AuthError, RequestAuthenticator
from enclave_signer.service import EnclaveSigner, Outcome, RequestError

MAX_BODY_BYTES = 1_000_000
REQUEST_TIMEOUT_SECONDS = 30
logger = logging.getLogger(__name__)


def _query_int(query: dict, name: str, default: int) -> int:
    try:
        return int(query.get(name, [default])[0])
    except ValueError as error:
        raise RequestError(400, "malformed", f"{name} must be an integer") from error


def route(signer: EnclaveSigner, *, method: str, path: str, body: object) -> Outcome:
    """Dispatch an authenticated request to the signer."""
    parts = urlsplit(path)
    query = parse_qs(parts.query)
    match method, parts.path:
        case "GET", "/attestation":
            return Outcome(200, signer.attestation(nonce=query.get("nonce", [""])[0]))
        case "GET", "/addresses":
            return Outcome(200, signer.addresses())
        case "GET", "/log":
            after, limit = _query_int(query, "after", -1), _query_int(query, "limit", 100)
            return Outcome(200, signer.log_page(after=after, limit=limit))
        case "GET", "/log/head":
            return Outcome(200, signer.log.head)
        case "POST", "/pools":
            return signer.register_pool(body)
        case "POST", "/pools/deposits":
            return signer.record_deposits(body)
        case "POST", "/pools/refund-all":
            return signer.refund_all(body)
        case "POST", "/pools/set-aside":
            return signer.note_set_aside(body)
        case "POST", "/sign":
            return signer.sign(body)
    raise RequestError(404, "not_found", f"no route {method} {parts.path}")


def make_handler(signer: EnclaveSigner, authenticator: RequestAuthenticator) -> type[BaseHTTPRequestHandler]:
    """A request handler class bound to one signer."""

    class Handler(BaseHTTPRequestHandler):
        server_version = "enclave-signer"
        timeout = REQUEST_TIMEOUT_SECONDS  # a stalled client must not hold a thread forever
        sys_version = ""

        def do_GET(self) -> None:  # noqa: N802 - http.server's naming
            self._handle("GET")

        def do_POST(self) -> None:  # noqa: N802
            self._handle("POST")

        def _handle(self, method: str) -> None:
            try:
                if method == "GET" and self.path == "/health":
                    return self._reply(Outcome(200, signer.health()))
                length = int(self.headers.get("Content-Length") or 0)
                if not 0 <= length <= MAX_BODY_BYTES:
                    raise RequestError(413, "too_large", "missing, negative or too large Content-Length")
                raw = self.rfile.read(length)
                authenticator.authenticate(method=method, path=self.path, headers=self.headers, body=raw)
                try:
                    body = json.loads(raw) if raw else None
                except json.JSONDecodeError as error:
                    raise RequestError(400, "malformed", f"body is not JSON: {error}") from error
                self._reply(route(signer, method=method, path=self.path, body=body))
            except AuthError as error:
                self._reply(Outcome(401, {"error": error.code, "reason": error.reason}))
            except RequestError as error:
                self._reply(Outcome(error.status, {"error": error.code, "reason": error.reason}))
            except Exception:  # noqa: BLE001 - answer 500 and keep serving; the traceback goes to the log
                logger.exception("internal error on %s %s", method, self.path)
                self._reply(Outcome(500, {"error": "internal", "reason": "internal error (see the signer's log)"}))

        def _reply(self, outcome: Outcome) -> None:
            payload = json.dumps(outcome.body).encode()
            self.send_response(outcome.status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - http.server's signature
            logger.info("%s %s", self.address_string(), format % args)

    return Handler


def make_server(
    signer: EnclaveSigner, *, host: str, port: int, authenticator: RequestAuthenticator
) -> ThreadingHTTPServer:
    """An HTTP server for `signer` (port 0 picks a free port; see `server.server_address`)."""
    server = ThreadingHTTPServer((host, port), make_handler(signer, authenticator))
    server.daemon_threads = True
    return server
