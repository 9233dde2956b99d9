"""When to send a request again, and how long to wait first.

Retried, up to `max_retries` times:
- 429 and 503, always: the server refused before doing anything (rate limit; chain, signer or server unavailable);
- 500, 502, 504 and connection errors (the request may or may not have arrived) only when sending it twice cannot do
  the work twice: a read, a DELETE, or a write carrying an Idempotency-Key (the server replays the first answer).

The wait is the server's `Retry-After` when it sends one (seconds, or an HTTP date), else an exponential backoff with
jitter, and never more than `max_wait` (a longer Retry-After gives up at once rather than sleeping for minutes).
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

ALWAYS_RETRIED = frozenset({429, 503})
RETRIED_WHEN_SAFE = frozenset({500, 502, 504})


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 3
    backoff_base: float = 0.5
    backoff_max: float = 8.0
    max_wait: float = 60.0

    def should_retry(self, *, attempt: int, status: int | None, safe: bool) -> bool:
        """`attempt` counts from 0; `status` None is a connection error; `safe` is a read or a keyed write."""
        if attempt >= self.max_retries:
            return False
        if status is None:
            return safe
        return status in ALWAYS_RETRIED or (safe and status in RETRIED_WHEN_SAFE)

    def wait(self, *, attempt: int, retry_after: float | None) -> float | None:
        """Seconds to sleep before the next attempt, or None to give up (the server asks for longer than max_wait)."""
        if retry_after is not None:
            return retry_after if retry_after <= self.max_wait else None
        backoff = min(self.backoff_max, self.backoff_base * 2.0**attempt)
        return backoff * (0.5 + random.random() / 2)  # noqa: S311 - jitter, not a secret


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Retry-After as seconds to wait: `120`, or an HTTP date (`Wed, 21 Oct 2026 07:28:00 GMT`); None if unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():  # str.isdigit() also accepts "²", which float() refuses
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(tz=UTC))).total_seconds())
