"""A server-sent events parser (the WHATWG rules the API's stream needs): `id:`, `event:`, `data:`, `retry:` fields,
comment lines (`:` heartbeats) ignored, an event dispatched at each blank line. As the standard says, an `id:` line
becomes the last event id only when its event is dispatched, so a frame torn by a dropped connection neither moves
the resume point nor reaches the caller (`new_connection()` drops it)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Event:
    """One event of GET /api/v1/agent/events/: `id` (resume after it with Last-Event-ID), `event` (its kind, e.g.
    `pool.launched`) and `data` (the JSON payload: `pool_id` and the kind's fields)."""

    id: str | None
    event: str
    data: Any
    raw_data: str = field(repr=False, default="")

    @property
    def pool_id(self) -> int | None:
        return self.data.get("pool_id") if isinstance(self.data, dict) else None


@dataclass
class _Pending:
    event: str = ""
    data: list[str] = field(default_factory=list)
    id: str | None = None  # the frame's `id:`, the last event id once the frame is dispatched


@dataclass
class SSEParser:
    """Feed it lines; it yields complete events and remembers the last id and the server's `retry:` hint (ms)."""

    last_event_id: str | None = None
    retry_ms: int | None = None
    _pending: _Pending = field(default_factory=_Pending)

    def new_connection(self) -> None:
        """Forget the unfinished frame of the previous connection: it ended mid-event and will be sent again."""
        self._pending = _Pending()

    def feed(self, lines: Iterable[str]) -> Iterator[Event]:
        for line in lines:
            if line == "":
                if event := self._dispatch():
                    yield event
                continue
            if line.startswith(":"):
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "event":
                self._pending.event = value
            elif name == "data":
                self._pending.data.append(value)
            elif name == "id" and "\x00" not in value:
                self._pending.id = value
            elif name == "retry" and value.isascii() and value.isdigit():
                self.retry_ms = int(value)

    def _dispatch(self) -> Event | None:
        pending, self._pending = self._pending, _Pending()
        if pending.id is not None:  # even a frame without data moves the resume point
            self.last_event_id = pending.id
        if not pending.data:
            return None
        raw = "\n".join(pending.data)
        try:
            data = json.loads(raw)
        except ValueError:
            data = raw
        return Event(id=self.last_event_id, event=pending.event or "message", data=data, raw_data=raw)
