"""The adaptive block window: how many blocks the next window spans.

Doubles while windows are quick and full, halves when one is slow. A node that refuses a window as too large
(too many results, range too wide) also sets a ceiling just below that size, so the window does not keep bumping
into the same limit; the ceiling lapses after a while, because result-count limits depend on how busy the blocks are.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from pools.indexer.constants import (
    FAST_WINDOW_SECONDS,
    MAX_WINDOW,
    MIN_WINDOW,
    SLOW_WINDOW_SECONDS,
    WINDOW_CEILING_SECONDS,
)


def shrunk(window: int) -> int:
    """After an error or a too-large answer: half as many blocks (at least one)."""
    return max(MIN_WINDOW, window // 2)


def ceiling_after_refusal(window: int) -> int:
    """The largest window to try after the node refused `window` blocks as too many."""
    return max(MIN_WINDOW, window - 1)


def ceiling_in_force(*, ceiling: int, set_at: datetime | None, now: datetime) -> int:
    """The ceiling if it is still fresh, else 0 (none)."""
    if not ceiling or set_at is None or now - set_at > timedelta(seconds=WINDOW_CEILING_SECONDS):
        return 0
    return ceiling


def next_window(*, window: int, elapsed: float, full: bool, ceiling: int = 0) -> int:
    """After a window that worked: double it if it was quick and full, halve it if it was slow."""
    limit = min(MAX_WINDOW, ceiling) if ceiling else MAX_WINDOW
    if elapsed > SLOW_WINDOW_SECONDS:
        return shrunk(window)
    if full and elapsed < FAST_WINDOW_SECONDS:
        return max(MIN_WINDOW, min(limit, window * 2))
    return max(MIN_WINDOW, min(limit, window))
