"""API keys: created (and shown) once, stored as a SHA-256, checked in constant time, revocable."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from django.utils import timezone

from agent_api.models import ApiKey
from pools.errors import ApplicationError
from pools.models import Agent

KEY_SCHEME = "lp"
PREFIX_BYTES = 6  # 12 hex digits: public, unique, shown in lists
_PREFIX = re.compile(f"[0-9a-f]{{{2 * PREFIX_BYTES}}}")
SECRET_BYTES = 32
# last_used_at is written at most this often per key, so a busy key costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class ApiKeyNotFound(ApplicationError):
    status_code = 404
    code = "api_key_not_found"


@dataclass(frozen=True)
class NewApiKey:
    api_key: ApiKey
    key: str  # the whole key: give it to the agent now, it is never shown again


def _hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_key_create(*, agent: Agent, name: str = "") -> NewApiKey:
    """A new key for the agent; the returned `key` is the only copy of the secret."""
    prefix = secrets.token_hex(PREFIX_BYTES)
    key = f"{KEY_SCHEME}_{prefix}_{secrets.token_urlsafe(SECRET_BYTES)}"
    api_key = ApiKey.objects.create(agent=agent, name=name[:100], prefix=prefix, key_hash=_hash(key))
    return NewApiKey(api_key=api_key, key=key)


def api_key_revoke(*, prefix: str) -> ApiKey:
    """Revoke the key with this prefix (the `lp_<prefix>_` part may be given whole); revoking twice is harmless."""
    prefix = prefix.removeprefix(f"{KEY_SCHEME}_").rstrip("_").split("_")[0]
    api_key = ApiKey.objects.filter(prefix=prefix).select_related("agent").first()
    if api_key is None:
        raise ApiKeyNotFound(f"No API key has the prefix {prefix!r}.")
    if api_key.revoked_at is None:
        api_key.revoked_at = timezone.now()
        api_key.save(update_fields=["revoked_at"])
    return api_key


def api_key_parse_prefix(key: str) -> str | None:
    """The prefix of a well-formed key, or None."""
    scheme, _, rest = key.partition("_")
    prefix, _, secret = rest.partition("_")
    # Hex digits only, as api_key_create makes them: whatever else a client sends (a NUL, which PostgreSQL refuses in
    # a query) never reaches the database.
    if scheme != KEY_SCHEME or not _PREFIX.fullmatch(prefix) or not secret:
        return None
    return prefix


def api_key_matches(*, api_key: ApiKey, key: str) -> bool:
    """Constant-time comparison of the presented key's hash with the stored one."""
    return hmac.compare_digest(_hash(key), api_key.key_hash)


def api_key_mark_used(*, api_key: ApiKey) -> None:
    """Record the use, at most once per LAST_USED_RESOLUTION (one conditional UPDATE, no read)."""
    now = timezone.now()
    if api_key.last_used_at is not None and now - api_key.last_used_at < LAST_USED_RESOLUTION:
        return
    ApiKey.objects.filter(pk=api_key.pk).update(last_used_at=now)
    api_key.last_used_at = now
