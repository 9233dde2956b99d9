"""A pool's state version, and the public reads cached by it (the API's pool detail, the pool page's live fragment).

`touch_pool(pool_id=...)` is the one place the version moves: `UPDATE pools_pool SET state_version = state_version +
1`. Every service that changes something those reads show calls it, inside the transaction that makes the change
(or after it commits, never before: a reader that saw the new version with the old rows would cache old rows under
the new version). The callers: pools.services.pools (schedule, open, close, close early, cancel, the whitelist),
crediting (credits, totals, the hard-cap close: every confirmation and reorganisation goes through it), the
indexer's deposit insert and gap re-trace (pending deposits), launch (request, steps, allocation, launched, failed),
refunds (owed, batches, paid, waiting), transactions (a pool's transaction signed or mined: after the step commits,
so the pool row's lock is not held through the broadcast), the token image and the demo seed.
tests/web/test_pool_cache_flow.py walks a real launch and refund and checks the version moved at each.

A web process learns a pool's version from the database at most every VERSION_TTL_SECONDS (one indexed query per
pool per process per interval, whatever the traffic), so a change shows within that bound; the process that made
the change forgets what it knew at once. A cached read is also never older than its cache's max age, which bounds
what the version does not cover: what follows the clock rather than a service (the countdown, the oracle's price,
the indexer's trace notice) and any write that bypasses the services (the admin renaming an agent).
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import F

from pools.models import Pool

VERSION_TTL_SECONDS = 0.5
_KNOWN_MAX = 10_000

_known: dict[int, tuple[int | None, float]] = {}  # pool id → (version or None for no such pool, learned at)
_known_lock = threading.Lock()


def touch_pool(*, pool_id: int) -> None:
    """Something the pool's public reads show changed: move its state version. Call inside the change's transaction."""
    touch_pools(pool_ids=[pool_id])


def touch_pools(*, pool_ids: Iterable[int]) -> None:
    """touch_pool for several pools at once (in id order, so two transactions never lock pools crosswise)."""
    ids = sorted({int(pool_id) for pool_id in pool_ids if pool_id is not None})
    if not ids:
        return
    Pool.objects.filter(pk__in=ids).order_by("pk").update(state_version=F("state_version") + 1)
    _forget(ids)
    transaction.on_commit(lambda: _forget(ids))


def _forget(ids: list[int]) -> None:
    with _known_lock:
        for pool_id in ids:
            _known.pop(pool_id, None)


def forget_versions() -> None:
    """Forget every version this process learned (tests)."""
    with _known_lock:
        _known.clear()


def pool_state_version(*, pool_id: int) -> int | None:
    """The pool's state version as this process knows it (at most VERSION_TTL_SECONDS old), or None if no such pool."""
    now = time.monotonic()
    known = _known.get(pool_id)
    if known is not None and now - known[1] < VERSION_TTL_SECONDS:
        return known[0]
    version = Pool.objects.filter(pk=pool_id).values_list("state_version", flat=True).first()
    remember_version(pool_id=pool_id, version=version, learned_at=now)
    return version


def remember_version(*, pool_id: int, version: int | None, learned_at: float | None = None) -> None:
    """Keep a version read along with the pool's row (a render reads it anyway), never going back to an older one."""
    learned_at = time.monotonic() if learned_at is None else learned_at
    with _known_lock:
        if len(_known) >= _KNOWN_MAX:
            _known.clear()
        known = _known.get(pool_id)
        if known is not None and known[0] is not None and version is not None and known[0] > version:
            return
        _known[pool_id] = (version, learned_at)


# --- the cached reads ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CachedRead:
    """One rendered answer: valid while its pool's version is `version` and it is younger than its cache's max age."""

    version: int
    body: bytes
    etag: str
    headers: tuple[tuple[str, str], ...] = ()
    extra: dict = field(default_factory=dict)
    stored_at: float = field(default_factory=time.monotonic)


# How long a thread's claim to render a key holds others off (they serve the previous answer meanwhile); a render
# that takes longer (a stalled database) lets the next thread try too.
RENDER_CLAIM_SECONDS = 1.0


class ReadCache:
    """A bounded LRU of rendered reads in this process's memory, thread-safe (gunicorn runs threads).

    One thread at a time renders a key (get_or_claim): when an answer expires under load, the process's other
    threads keep serving the previous one for the few milliseconds the render takes, instead of all rendering it at
    once behind the GIL (which is what a p99 would show)."""

    def __init__(self, *, max_entries: int, max_age_seconds: float) -> None:
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self._entries: OrderedDict[Hashable, CachedRead] = OrderedDict()
        self._rendering: dict[Hashable, float] = {}
        self._lock = threading.Lock()

    def get_or_claim(self, key: Hashable, *, version: Callable[[], int | None]) -> tuple[CachedRead | None, bool]:
        """(answer, claimed): the stored answer while valid; else, while another thread renders this key, the
        previous answer; else (None, True) and this thread renders, then put()s or release()s. `version` is asked
        only when there is an answer to check (a render reads the version with the pool's row anyway)."""
        now = time.monotonic()
        with self._lock:
            entry = self._entries.get(key)
        current = version() if entry is not None else None
        with self._lock:
            entry = self._entries.get(key)
            if entry is not None and entry.version == current and now - entry.stored_at < self.max_age_seconds:
                self._entries.move_to_end(key)
                return entry, False
            claimed_at = self._rendering.get(key)
            rendering = claimed_at is not None and now - claimed_at < RENDER_CLAIM_SECONDS
            if (
                rendering
                and entry is not None
                and self.max_age_seconds > 0
                and now - entry.stored_at < self.max_age_seconds + RENDER_CLAIM_SECONDS
            ):
                return entry, False  # bounded: never older than the max age plus one render claim
            self._rendering[key] = now
            return None, True

    def release(self, key: Hashable) -> None:
        with self._lock:
            self._rendering.pop(key, None)

    def put(self, key: Hashable, entry: CachedRead) -> None:
        with self._lock:
            self._rendering.pop(key, None)
            current = self._entries.get(key)
            if current is not None and current.version > entry.version:
                return  # a slower render of an older state must not replace a newer one
            self._entries[key] = entry
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._rendering.clear()


def weak_etag(*, pool_id: int, version: int, body: bytes) -> str:
    """The pool, its state version and a digest of the bytes: the version says when it changed, the digest covers
    what follows the clock and a new deployment's rendering."""
    return f'W/"p{pool_id}v{version}-{hashlib.blake2b(body, digest_size=8).hexdigest()}"'


def etag_matches(if_none_match: str, etag: str) -> bool:
    """If-None-Match's weak comparison (RFC 9110 13.1.2): any listed tag, W/ or not, or *."""
    if not if_none_match:
        return False
    wanted = etag.removeprefix("W/")
    for tag in if_none_match.split(","):
        tag = tag.strip()
        if tag == "*" or tag.removeprefix("W/") == wanted:
            return True
    return False
