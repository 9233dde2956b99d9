"""Sign-In with Ethereum (EIP-4361): the server writes the message, the wallet signs it, the server checks every field.

    POST message  ->  siwe_message_prepare: a nonce, kept in Redis for SIWE_NONCE_TTL and bound to the browser
                      session that asked (a random cookie; Redis keeps only its hash), and the message to sign
    POST verify   ->  siwe_login_verify: each field checked in turn, each refusal a SiweError with its own code;
                      the nonce used up last, atomically (SET NX), so a replay or a concurrent twin is refused

No database row per request: an anonymous visitor can ask for many messages, and each one's nonce expires from
Redis by itself. The nonce is bound to a sign-in cookie of its own, not to Django's session, because the session
lives in the database and would cost a row per anonymous request that lives for weeks.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import redis
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from eth_account import Account
from eth_account.messages import encode_defunct
from eth_utils import is_address, to_checksum_address

from pools.errors import ApplicationError

with warnings.catch_warnings():
    # abnf warns that siwe's grammar redefines the RFC 5234 core rules (identically); nothing to act on here.
    warnings.simplefilter("ignore")
    from siwe import SiweMessage
    from siwe.siwe import datetime_from_iso8601_string

SIWE_NONCE_TTL = timedelta(minutes=10)
# How far ahead of our clock a message's Issued At or Not Before may be: the wallet's clock may run a little fast.
SIWE_CLOCK_SKEW = timedelta(minutes=1)
SIWE_STATEMENT = "Sign in to the AI-Pool Launchpad to see your contributions. This costs nothing and sends nothing."
SIWE_VERSION = "1"

_BINDING = re.compile(r"^[A-Za-z0-9_-]{43}$")  # secrets.token_urlsafe(32)
_VERSION_LINE = re.compile(r"^Version: (.*)$", re.MULTILINE)
_DEFAULT_PORTS = {"http": 80, "https": 443}
_NONCE_MAX_LENGTH = 64  # ours are 32; a longer one was never issued and is not worth a Redis key
_MESSAGE_MAX_LENGTH = 4096  # ours are about 500 characters; the ABNF parser is slow on long text


class SiweError(ApplicationError):
    """A sign-in refused: a stable `code` for programs, a `message` a person can act on."""

    def __init__(self, code: str, message: str, *, status_code: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.status_code = status_code


@dataclass(frozen=True)
class SiweChallenge:
    message: str
    binding: str  # the value of the browser's sign-in cookie (new or kept)


def siwe_binding_for(*, cookie: str) -> str:
    """The browser's sign-in binding: its cookie when it holds one of ours, else a fresh one."""
    return cookie if _BINDING.match(cookie or "") else secrets.token_urlsafe(32)


def siwe_message_prepare(
    *, address: str, domain: str, origin: str, binding: str, now: datetime | None = None
) -> SiweChallenge:
    """A fresh EIP-4361 message for `address` to sign on this site (`domain`, `origin`); its nonce bound to `binding`
    (the browser's sign-in cookie, kept when it is one of ours, else a fresh one that the challenge carries back)."""
    if not is_address(address):
        raise SiweError("invalid_address", "That is not an Ethereum address: 0x followed by 40 hexadecimal characters.")
    now = now or timezone.now()
    address = to_checksum_address(address)
    binding = siwe_binding_for(cookie=binding)
    nonce = secrets.token_hex(16)
    record = {"binding": _digest(binding), "address": address}
    try:
        cache.set(_nonce_key(nonce), record, timeout=int(SIWE_NONCE_TTL.total_seconds()))
    except redis.RedisError as exc:
        raise _unavailable() from exc
    message = SiweMessage(
        domain=domain,
        address=address,
        statement=SIWE_STATEMENT,
        uri=origin.rstrip("/") + "/",
        version=SIWE_VERSION,
        chain_id=settings.CHAIN_ID,
        nonce=nonce,
        issued_at=_iso(now),
        expiration_time=_iso(now + SIWE_NONCE_TTL),
    )
    return SiweChallenge(message=message.prepare_message(), binding=binding)


def siwe_login_verify(
    *, message: str, signature: str, domain: str, origin: str, binding: str, now: datetime | None = None
) -> str:
    """The checksummed address a signed EIP-4361 message proves, its nonce used up; else SiweError.

    In this order: the message parses and is version 1; it is for this site (scheme when given, domain, URI of the
    same origin) and our chain; it was issued lately and not in the future, has not expired and is valid already;
    its nonce is one we issued to this browser session for this address and not used yet; the signature is the
    address's own. Only then is the nonce used up, so a refused attempt never burns it.
    """
    now = now or timezone.now()
    parsed = _parse(message)
    _check_site(parsed, domain=domain, origin=origin)
    _check_times(parsed, now=now)
    if len(parsed.nonce) > _NONCE_MAX_LENGTH:
        raise _unknown_nonce()
    try:
        record = cache.get(_nonce_key(parsed.nonce))
        used = record is None and cache.get(_used_key(parsed.nonce)) is not None
    except redis.RedisError as exc:
        raise _unavailable() from exc
    _check_nonce(parsed, record=record, used=used, binding=binding)
    _check_signature(message, signature=signature, address=parsed.address)
    try:
        first = cache.add(_used_key(parsed.nonce), True, timeout=int(SIWE_NONCE_TTL.total_seconds()))
        if first:
            cache.delete(_nonce_key(parsed.nonce))
    except redis.RedisError as exc:
        raise _unavailable() from exc
    if not first:
        raise SiweError("nonce_used", "This sign-in message was already used: ask for a new one.")
    return parsed.address


# --- the checks, one field at a time ----------------------------------------------------------------------------


def _parse(message: str) -> SiweMessage:
    if len(message) > _MESSAGE_MAX_LENGTH:
        raise _malformed()
    version = _VERSION_LINE.search(message)
    if version and version.group(1) != SIWE_VERSION:
        raise SiweError(
            "unsupported_version",
            f"The message is EIP-4361 version {version.group(1)[:20]!r}; this site accepts version {SIWE_VERSION}.",
        )
    try:
        return SiweMessage.from_message(message=message)
    except Exception as exc:  # noqa: BLE001 - the siwe parser raises several types for malformed text
        raise _malformed() from exc


def _check_site(parsed: SiweMessage, *, domain: str, origin: str) -> None:
    ours = urlsplit(origin)
    if parsed.scheme is not None and parsed.scheme.lower() != ours.scheme:
        raise SiweError(
            "wrong_scheme", f"The message is for {parsed.scheme}://, but this site is served over {ours.scheme}://."
        )
    if parsed.domain.lower() != domain.lower():
        raise SiweError("wrong_domain", f"The message is for {parsed.domain}, not for this site ({domain}).")
    if _origin_of(parsed.uri) != _origin_of(origin):
        raise SiweError("wrong_uri", f"The message's URI {parsed.uri} is not on this site ({origin.rstrip('/')}).")
    if parsed.chain_id != settings.CHAIN_ID:
        raise SiweError(
            "wrong_chain", f"The message is for chain {parsed.chain_id}; this site serves chain {settings.CHAIN_ID}."
        )


def _check_times(parsed: SiweMessage, *, now: datetime) -> None:
    issued_at = _moment(parsed.issued_at)
    if issued_at > now + SIWE_CLOCK_SKEW:
        raise SiweError(
            "issued_in_future",
            f"The message says it was issued at {parsed.issued_at}, which is in the future: check your clock.",
        )
    if issued_at < now - SIWE_NONCE_TTL:
        minutes = int(SIWE_NONCE_TTL.total_seconds() // 60)
        raise SiweError(
            "message_too_old", f"The message was issued more than {minutes} minutes ago: ask for a new one."
        )
    if parsed.expiration_time is not None and now >= _moment(parsed.expiration_time):
        raise SiweError("expired", f"The message expired at {parsed.expiration_time}: ask for a new one.")
    if parsed.not_before is not None and now + SIWE_CLOCK_SKEW < _moment(parsed.not_before):
        raise SiweError("not_yet_valid", f"The message is not valid before {parsed.not_before}.")


def _check_nonce(parsed: SiweMessage, *, record: dict | None, used: bool, binding: str) -> None:
    if record is None and used:
        raise SiweError("nonce_used", "This sign-in message was already used: ask for a new one.")
    if record is None:
        raise _unknown_nonce()
    if not hmac.compare_digest(record["binding"], _digest(binding or "")):
        raise SiweError(
            "nonce_other_session",
            "That nonce was issued to another browser session: ask for a new message in this one.",
        )
    if record["address"] != parsed.address:
        raise SiweError(
            "wrong_address", f"The message is for {parsed.address}, but its nonce was issued for {record['address']}."
        )


def _check_signature(message: str, *, signature: str, address: str) -> None:
    try:
        signer = Account.recover_message(encode_defunct(text=message), signature=signature)
    except Exception:  # noqa: BLE001 - not hex, wrong length, not a point on the curve: all "not a signature"
        signer = None
    if signer != address:
        raise SiweError("bad_signature", f"The signature is not {address}'s signature of this message.")


# --- helpers --------------------------------------------------------------------------------------------------------


def _origin_of(url: str) -> tuple[str, str, int | None] | None:
    """(scheme, host, port) with the scheme's default port filled in; None for what is not a plain origin."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    if parts.username is not None or parts.password is not None or not parts.hostname:
        return None
    scheme = parts.scheme.lower()
    return scheme, parts.hostname.lower(), port if port is not None else _DEFAULT_PORTS.get(scheme)


def _moment(text: str) -> datetime:
    return datetime_from_iso8601_string(text)  # the parser's own reading, so what parsed also converts


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _digest(binding: str) -> str:
    return hashlib.sha256(binding.encode()).hexdigest()


def _nonce_key(nonce: str) -> str:
    return f"siwe:nonce:{nonce}"


def _used_key(nonce: str) -> str:
    return f"siwe:used:{nonce}"


def _malformed() -> SiweError:
    return SiweError("malformed_message", "The sign-in message is not an EIP-4361 message.")


def _unknown_nonce() -> SiweError:
    return SiweError("nonce_unknown", "This site did not issue that nonce, or it has expired: ask for a new message.")


def _unavailable() -> SiweError:
    return SiweError("unavailable", "Sign-in is unavailable right now; try again in a minute.", status_code=503)
