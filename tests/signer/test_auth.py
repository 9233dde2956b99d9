"""HMAC authentication: wrong, expired and replayed requests are refused; two keys work at once for rotation."""

from __future__ import annotations

import pytest

from enclave_signer.auth import (
    HEADER_KEY_ID,
    HEADER_REQUEST_ID,
    HEADER_SIGNATURE,
    HEADER_TIMESTAMP,
    AuthError,
    RequestAuthenticator,
    request_signature,
    string_to_sign,
)
from enclave_signer.config import ConfigError, parse_hmac_keys
from pools import signer_client

NOW = 1_800_000_000
KEYS = {"current": b"k" * 32, "next": b"n" * 32}


class Clock:
    def __init__(self, now: float = NOW) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def signed_headers(
    *,
    key_id="current",
    secret=KEYS["current"],
    method="POST",
    path="/sign",
    body=b"{}",
    timestamp=NOW,
    request_id="req-1",
) -> dict:
    signature = request_signature(
        secret=secret, method=method, path=path, timestamp=str(timestamp), request_id=request_id, body=body
    )
    return {
        HEADER_KEY_ID: key_id,
        HEADER_TIMESTAMP: str(timestamp),
        HEADER_REQUEST_ID: request_id,
        HEADER_SIGNATURE: signature,
    }


def check(authenticator, headers, *, method="POST", path="/sign", body=b"{}") -> str:
    return authenticator.authenticate(method=method, path=path, headers=headers, body=body)


def refused_code(authenticator, headers, **request) -> str:
    with pytest.raises(AuthError) as refused:
        check(authenticator, headers, **request)
    return refused.value.code


def test_a_correctly_signed_request_is_accepted_with_either_key():
    authenticator = RequestAuthenticator(keys=KEYS, clock=Clock())
    assert check(authenticator, signed_headers()) == "current"
    assert check(authenticator, signed_headers(key_id="next", secret=KEYS["next"], request_id="req-2")) == "next"


def test_wrong_signature_or_unknown_key_is_refused():
    authenticator = RequestAuthenticator(keys=KEYS, clock=Clock())
    assert refused_code(authenticator, signed_headers(secret=b"x" * 32)) == "bad_signature"
    assert refused_code(authenticator, signed_headers(key_id="retired")) == "unknown_key"
    assert refused_code(authenticator, {}) == "unknown_key"


@pytest.mark.parametrize(
    "changed",
    [{"body": b'{"pool_id": "2"}'}, {"path": "/pools"}, {"method": "GET"}, {"path": "/sign?x=1"}],
)
def test_any_change_to_the_signed_request_is_refused(changed):
    authenticator = RequestAuthenticator(keys=KEYS, clock=Clock())
    assert refused_code(authenticator, signed_headers(), **changed) == "bad_signature"


def test_expired_and_future_timestamps_are_refused():
    clock = Clock(NOW - 1000)
    authenticator = RequestAuthenticator(keys=KEYS, clock=clock)
    clock.now = NOW + 301
    assert refused_code(authenticator, signed_headers()) == "expired"
    clock.now = NOW - 301
    assert refused_code(authenticator, signed_headers(request_id="req-2")) == "expired"
    clock.now = NOW + 299
    assert check(authenticator, signed_headers(request_id="req-3")) == "current"


def test_a_request_stamped_before_the_signer_started_is_refused():
    """Replay ids live in memory; a restart must not reopen the window for captured requests."""
    authenticator = RequestAuthenticator(keys=KEYS, clock=Clock(NOW + 10))
    assert refused_code(authenticator, signed_headers()) == "expired"


def test_a_replayed_request_id_is_refused():
    authenticator = RequestAuthenticator(keys=KEYS, clock=Clock())
    check(authenticator, signed_headers())
    assert refused_code(authenticator, signed_headers()) == "replayed"


def test_client_and_server_sign_the_same_bytes():
    arguments = {
        "method": "post",
        "path": "/log?after=3&limit=5",
        "timestamp": "123",
        "request_id": "abc",
        "body": b'{"a": 1}',
    }
    assert signer_client.request_signature(secret=b"s" * 32, **arguments) == request_signature(
        secret=b"s" * 32, **arguments
    )
    assert string_to_sign(**arguments).startswith(b"POST\n/log?after=3&limit=5\n123\nabc\n")


def test_hmac_key_configuration():
    assert parse_hmac_keys(f"a:{'00' * 16}, b:{'11' * 16}") == {"a": bytes(16), "b": b"\x11" * 16}
    for bad in (f"a:{'00' * 8}", "a:zz", f"a:{'00' * 16},b:{'00' * 16},c:{'00' * 16}", f":{'00' * 16}"):
        with pytest.raises(ConfigError):
            parse_hmac_keys(bad)
