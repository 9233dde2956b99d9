"""Caller authentication: HMAC-SHA256 over method, path (with query), timestamp, request id and body hash.

    string to sign = METHOD "\\n" PATH?QUERY "\\n" TIMESTAMP "\\n" REQUEST_ID "\\n" hex(sha256(BODY))
    X-Signer-Signature = hex(HMAC-SHA256(secret of X-Signer-Key-Id, string to sign))

Timestamps more than five minutes away are refused, and a request id is accepted once (ids are remembered
for the window). The pools/signer_client.py side builds the same string; a test keeps the two in step.
"""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from collections.abc import Callable, Mapping

HEADER_KEY_ID = "X-Signer-Key-Id"
HEADER_TIMESTAMP = "X-Signer-Timestamp"
HEADER_REQUEST_ID = "X-Signer-Request-Id"
HEADER_SIGNATURE = "X-Signer-Signature"
WINDOW_SECONDS = 300
MAX_REQUEST_ID_LENGTH = 128


class AuthError(Exception):
    """The request is not authenticated; `code` is stable for callers."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


def string_to_sign(*, method: str, path: str, timestamp: str, request_id: str, body: bytes) -> bytes:
    """The exact bytes both sides MAC."""
    return "\n".join([method.upper(), path, timestamp, request_id, hashlib.sha256(body).hexdigest()]).encode()


def request_signature(*, secret: bytes, method: str, path: str, timestamp: str, request_id: str, body: bytes) -> str:
    """The hex HMAC-SHA256 of a request."""
    message = string_to_sign(method=method, path=path, timestamp=timestamp, request_id=request_id, body=body)
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


class RequestAuthenticator:
    """Checks signatures, the time window and replays. Thread-safe."""

    def __init__(self, *, keys: Mapping[str, bytes], clock: Callable[[], float] = time.time) -> None:
        self._keys = dict(keys)
        self._clock = clock
        # Request ids seen before a restart are forgotten, so refuse requests stamped before this process
        # started: a captured request cannot be replayed across a restart.
        self._not_before = int(clock())
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()

    def authenticate(self, *, method: str, path: str, headers: Mapping[str, str], body: bytes) -> str:
        """Return the caller's key id, or raise AuthError."""
        key_id = headers.get(HEADER_KEY_ID, "")
        timestamp = headers.get(HEADER_TIMESTAMP, "")
        request_id = headers.get(HEADER_REQUEST_ID, "")
        signature = headers.get(HEADER_SIGNATURE, "")
        secret = self._keys.get(key_id)
        if secret is None:
            raise AuthError("unknown_key", f"unknown or missing {HEADER_KEY_ID}")
        if not request_id or len(request_id) > MAX_REQUEST_ID_LENGTH:
            raise AuthError("bad_request_id", f"{HEADER_REQUEST_ID} must be 1..{MAX_REQUEST_ID_LENGTH} characters")
        expected = request_signature(
            secret=secret, method=method, path=path, timestamp=timestamp, request_id=request_id, body=body
        )
        if not hmac.compare_digest(expected, signature.lower()):
            raise AuthError("bad_signature", "signature does not match the request")
        now = self._clock()
        if not timestamp.isdigit() or abs(now - int(timestamp)) > WINDOW_SECONDS:
            raise AuthError("expired", f"timestamp is missing or more than {WINDOW_SECONDS} s from the signer's clock")
        if int(timestamp) < self._not_before:
            raise AuthError("expired", "timestamp predates the signer's start; sign the request again")
        with self._lock:
            self._seen = {rid: seen for rid, seen in self._seen.items() if now - seen <= 2 * WINDOW_SECONDS}
            if request_id in self._seen:
                raise AuthError("replayed", "this request id was already used")
            self._seen[request_id] = now
        return key_id
