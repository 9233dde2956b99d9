"""Idempotency-Key: the same state-changing request, sent again with the same key, gets the same response and does
not run again.

The record is inserted in the same database transaction as the work, before it: a concurrent duplicate blocks on
the unique index until the first one commits, then finds the record and replays it. A request that fails with an
error rolls back with its record, so nothing is kept for it and the key can be used again.

What is stored may be less than what was answered: a caller passes `stored` to keep a secret out of the table (a
webhook's signing secret), and `replayed` to rebuild the answer from what still exists when the key comes again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone

from agent_api.models import ApiKey, IdempotencyRecord
from pools.errors import ApplicationError

logger = logging.getLogger(__name__)

MAX_KEY_LENGTH = 255
RECORD_TTL = timedelta(hours=24)


class IdempotencyKeyRequired(ApplicationError):
    code = "idempotency_key_required"


class IdempotencyKeyInvalid(ApplicationError):
    code = "idempotency_key_invalid"


class IdempotencyKeyReused(ApplicationError):
    status_code = 422
    code = "idempotency_key_reused"


@dataclass(frozen=True)
class IdempotentResult:
    status: int
    body: dict
    replayed: bool


def idempotency_key_check(*, key: str | None, required: bool) -> str | None:
    """The key if it is well formed, None when absent and optional; raises the API's errors otherwise."""
    if key is None or key == "":
        if required:
            raise IdempotencyKeyRequired("This request needs an Idempotency-Key header (e.g. a UUID).")
        return None
    if len(key) > MAX_KEY_LENGTH or not key.isascii() or not key.isprintable():
        raise IdempotencyKeyInvalid(f"An Idempotency-Key is 1 to {MAX_KEY_LENGTH} printable ASCII characters.")
    return key


def request_fingerprint(*, method: str, path: str, body) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method.upper()} {path}\n{canonical}".encode()).hexdigest()


BodyTransform = Callable[[dict], dict]


def _replay(
    record: IdempotencyRecord, *, method: str, path: str, request_hash: str, replayed: BodyTransform | None = None
) -> IdempotentResult:
    if (record.method, record.path, record.request_hash) != (method, path, request_hash):
        raise IdempotencyKeyReused(
            "This Idempotency-Key was already used for a different request; use a new key for a new request.",
            details={"method": record.method, "path": record.path},
        )
    body = replayed(record.response_body) if replayed else record.response_body
    return IdempotentResult(status=record.response_status, body=body, replayed=True)


def idempotent_call(
    *,
    api_key: ApiKey,
    key: str | None,
    method: str,
    path: str,
    body,
    execute: Callable[[], tuple[int, dict]],
    stored: BodyTransform | None = None,
    replayed: BodyTransform | None = None,
) -> IdempotentResult:
    """Run `execute` (→ status, JSON body) once per (api key, idempotency key); replay its response afterwards.

    Without a key, `execute` simply runs. ApplicationErrors from `execute` propagate and nothing is recorded.
    `stored(body)` is what the record keeps (the whole body when None); `replayed(stored body)` is what a replay
    answers (it may raise an ApplicationError, e.g. when what the request made is gone).
    """
    if key is None:
        status, response_body = execute()
        return IdempotentResult(status=status, body=response_body, replayed=False)
    method, path = method.upper(), path[:255]
    request_hash = request_fingerprint(method=method, path=path, body=body)
    lookup = {"api_key": api_key, "key": key}
    existing = IdempotencyRecord.objects.filter(**lookup).first()
    if existing is not None:
        return _replay(existing, method=method, path=path, request_hash=request_hash, replayed=replayed)
    with transaction.atomic():
        try:
            with transaction.atomic():
                # Placeholder response; waits here while a concurrent twin's transaction is open.
                record = IdempotencyRecord.objects.create(
                    **lookup, method=method, path=path, request_hash=request_hash, response_status=0,
                    response_body={},
                )  # fmt: skip
        except IntegrityError:
            record = None
        if record is None:
            # The twin committed first: its record is visible to this new statement (READ COMMITTED).
            logger.info("Idempotency-Key %r: waited for a concurrent twin, replaying its response", key)
            twin = IdempotencyRecord.objects.get(**lookup)
            return _replay(twin, method=method, path=path, request_hash=request_hash, replayed=replayed)
        status, response_body = execute()
        record.response_status = status
        record.response_body = stored(response_body) if stored else response_body
        record.save(update_fields=["response_status", "response_body"])
    return IdempotentResult(status=status, body=response_body, replayed=False)


def idempotency_records_prune(*, older_than: timedelta = RECORD_TTL) -> int:
    """Delete records past their time to live; returns how many."""
    deleted, _ = IdempotencyRecord.objects.filter(created_at__lt=timezone.now() - older_than).delete()
    return deleted
