"""GET /api/v1/agent/events/: your pools' events as a server-sent event stream, resumable with Last-Event-ID, or as
one JSON page (Accept: application/json) for whoever would rather poll.

The stream reads the PoolEvent table (the outbox every pool service writes in its own transaction), so it sends
exactly what webhooks send, in id order, and a client that reconnects with the last id it saw misses nothing. It
polls the database every STREAM_POLL_SECONDS, sends a comment every HEARTBEAT_SECONDS so that proxies keep the
connection open, and ends after AGENT_EVENTS_STREAM_SECONDS with a `retry:` hint: no web worker is held for long, and
EventSource clients reconnect by themselves with the Last-Event-ID header.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from time import monotonic, sleep
from types import SimpleNamespace

from django.conf import settings
from django.core.cache import cache
from django.core.serializers.json import DjangoJSONEncoder
from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.exceptions import Throttled, ValidationError
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_api.models import WebhookEvent
from agent_api.schema import error_responses
from agent_api.views.params import StrictQueryParams
from pools.models import PoolEvent
from pools.selectors.events import pool_event_latest_id, pool_events_for_agent

STREAM_POLL_SECONDS = 0.5
HEARTBEAT_SECONDS = 15
RECONNECT_MILLISECONDS = 1_000
STREAM_BATCH = 100
PAGE_DEFAULT, PAGE_MAX = 100, 500
LAST_EVENT_ID_HEADER = "Last-Event-ID"
EVENT_ID_MAX_DIGITS = 19  # a bigint: int() of thousands of digits would be refused by Python, as a 500


class EventStreamRenderer(BaseRenderer):
    """Lets content negotiation pick `text/event-stream`; the stream itself is a StreamingHttpResponse."""

    media_type = "text/event-stream"
    format = "sse"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return json.dumps(data, cls=DjangoJSONEncoder).encode()


def event_document(event: PoolEvent) -> dict:
    """An event as the JSON page shows it; `data` is what a webhook delivery of it carries."""
    return {
        "id": event.pk,
        "event": event.kind,
        "pool_id": event.pool_id,
        "created_at": event.created_at,
        "data": {"pool_id": event.pool_id, **event.payload},
    }


def sse_frame(event: PoolEvent) -> str:
    data = json.dumps({"pool_id": event.pool_id, **event.payload}, cls=DjangoJSONEncoder, separators=(",", ":"))
    return f"id: {event.pk}\nevent: {event.kind}\ndata: {data}\n\n"


def _streams_key(agent_id: int) -> str:
    return f"agent-event-streams:{agent_id}"


def stream_slot_take(*, agent_id: int, seconds: float) -> bool:
    """Count one more open stream of the agent's; False (and nothing counted) when it has as many as allowed.

    Each open stream holds a web thread: without a cap one key could hold them all. Counted in the cache, expiring
    a little after the longest stream so a crashed process does not keep its slots; a cache outage lets the stream
    through (the cap protects capacity, not money, like the rate limits)."""
    key = _streams_key(agent_id)
    try:
        cache.add(key, 0, timeout=seconds + 60)
        if cache.incr(key) > settings.AGENT_EVENTS_STREAMS_PER_AGENT:
            cache.decr(key)
            return False
        cache.touch(key, timeout=seconds + 60)
    except Exception:  # noqa: BLE001 - see above: no cache, no cap
        return True
    return True


def stream_slot_give_back(*, agent_id: int) -> None:
    with contextlib.suppress(Exception):  # expired, or no cache: nothing to give back
        cache.decr(_streams_key(agent_id))


class EventStream:
    """The agent's events after `after_id` as SSE frames, as they come, for `seconds`; then a reconnect hint.

    Its close() (which Django calls when the response is closed: the stream ended, or the client left, even before
    the first frame) gives back the agent's stream slot, once."""

    def __init__(self, *, agent_id: int, after_id: int, seconds: float):
        self.agent_id = agent_id
        self._frames = _event_frames(agent_id=agent_id, after_id=after_id, seconds=seconds)
        self._open = True

    def __iter__(self) -> Iterator[str]:
        return self

    def __next__(self) -> str:
        return next(self._frames)

    def close(self) -> None:
        self._frames.close()
        if self._open:
            self._open = False
            stream_slot_give_back(agent_id=self.agent_id)


def _event_frames(*, agent_id: int, after_id: int, seconds: float) -> Iterator[str]:
    started = last_sent = monotonic()
    yield f"retry: {RECONNECT_MILLISECONDS}\n: your pools' events after id {after_id}\n\n"
    while True:
        events = list(pool_events_for_agent(agent_id=agent_id, after_id=after_id, limit=STREAM_BATCH))
        for event in events:
            yield sse_frame(event)
            after_id = event.pk
        now = monotonic()
        if events:
            last_sent = now
        if now - started >= seconds:
            break
        if now - last_sent >= HEARTBEAT_SECONDS:
            yield ": heartbeat\n\n"
            last_sent = now
        if len(events) < STREAM_BATCH:
            sleep(min(STREAM_POLL_SECONDS, seconds - (now - started)))
    yield f"retry: {RECONNECT_MILLISECONDS}\n: the stream ends here; reconnect with Last-Event-ID: {after_id}\n\n"


_EVENT_PAGE = inline_serializer(
    name="AgentEventPage",
    fields={
        "events": inline_serializer(
            name="AgentEvent",
            many=True,
            fields={
                "id": serializers.IntegerField(help_text="Increasing; send the last one back as `last_event_id`."),
                "event": serializers.ChoiceField(choices=WebhookEvent.choices),
                "pool_id": serializers.IntegerField(),
                "created_at": serializers.DateTimeField(),
                "data": serializers.DictField(help_text="The webhook delivery's `data`: `pool_id` and the event's "
                                              "fields (docs/api.md lists them per event)."),
            },
        ),
        "last_event_id": serializers.IntegerField(
            help_text="The last id on this page (the one asked after when the page is empty): ask after it next."
        ),
        "more": serializers.BooleanField(help_text="True when more events are waiting after this page."),
    },
)  # fmt: skip

_STREAM_DESCRIPTION = (
    "`text/event-stream` (the default): one message per event, `id: <event id>`, `event: <event name>`, `data: "
    "<JSON: pool_id and the event's fields>`, comment heartbeats every 15 s, and the end after "
    "AGENT_EVENTS_STREAM_SECONDS (30 by default) with a `retry:` hint; reconnect with the Last-Event-ID header. "
    "`application/json`: one page of events after `last_event_id` (0 when left out)."
)


class AcceptHeaderOnly(DefaultContentNegotiation):
    """The representation is chosen by the Accept header alone: no `?format=` (a parameter the schema does not list,
    which StrictQueryParams refuses like any other)."""

    settings = SimpleNamespace(URL_FORMAT_OVERRIDE=None)

    def select_renderer(self, request, renderers, format_suffix=None):
        if request.method not in ("GET", "HEAD"):  # OPTIONS' metadata, a 405: JSON, as everywhere else
            renderer = next(r for r in renderers if r.media_type == "application/json")
            return renderer, renderer.media_type
        return super().select_renderer(request, renderers, format_suffix)


class AgentEventStreamApi(StrictQueryParams, APIView):
    """Your pools' events: a resumable server-sent event stream, or a JSON page of them."""

    renderer_classes = [EventStreamRenderer, JSONRenderer]
    content_negotiation_class = AcceptHeaderOnly

    class FilterSerializer(serializers.Serializer):
        last_event_id = serializers.IntegerField(
            min_value=0,
            max_value=2**63 - 1,
            required=False,
            help_text="Events after this id. The Last-Event-ID header wins when both are given. Left out: the stream "
            "sends new events only, the JSON page starts at the first event (0 replays everything).",
        )
        limit = serializers.IntegerField(
            min_value=1,
            max_value=PAGE_MAX,
            required=False,
            help_text=f"Events per JSON page, 1 to {PAGE_MAX} ({PAGE_DEFAULT} when left out); not for the stream.",
        )

    @extend_schema(
        operation_id="agent_events",
        parameters=[
            FilterSerializer,
            OpenApiParameter("format", exclude=True),
            OpenApiParameter(
                LAST_EVENT_ID_HEADER,
                {"type": "string", "pattern": f"^[0-9]{{0,{EVENT_ID_MAX_DIGITS}}}$"},  # as _after_id takes them
                OpenApiParameter.HEADER,
                required=False,
                description="The id of the last event you received (EventSource sends it when it reconnects).",
            ),
        ],
        responses={
            (200, "text/event-stream"): OpenApiResponse(OpenApiTypes.STR, description=_STREAM_DESCRIPTION),
            (200, "application/json"): OpenApiResponse(_EVENT_PAGE, description="One page of events."),
            **error_responses(400, 401, 429),
        },
    )
    def get(self, request):
        """Your pools' events in id order: a server-sent event stream you resume with Last-Event-ID, or with
        `Accept: application/json` one page of them after `last_event_id`."""
        agent_id = request.user.agent.pk
        after_id = self._after_id(request)
        if request.accepted_renderer.media_type == EventStreamRenderer.media_type:
            if after_id is None:
                after_id = pool_event_latest_id()
            seconds = settings.AGENT_EVENTS_STREAM_SECONDS
            if not stream_slot_take(agent_id=agent_id, seconds=seconds):
                raise Throttled(
                    wait=seconds,
                    detail=f"You have {settings.AGENT_EVENTS_STREAMS_PER_AGENT} event streams open already, as many "
                    "as allowed: close one, or poll with Accept: application/json.",
                )
            response = StreamingHttpResponse(
                EventStream(agent_id=agent_id, after_id=after_id, seconds=seconds), content_type="text/event-stream"
            )
            response["Cache-Control"] = "no-cache"
            response["X-Accel-Buffering"] = "no"  # nginx: pass each message on at once
            return response
        after_id = after_id or 0
        limit = self.query_filters.get("limit", PAGE_DEFAULT)
        events = list(pool_events_for_agent(agent_id=agent_id, after_id=after_id, limit=limit + 1))
        page = events[:limit]
        return Response(
            {
                "events": [event_document(event) for event in page],
                "last_event_id": page[-1].pk if page else after_id,
                "more": len(events) > limit,
            }
        )

    def _after_id(self, request) -> int | None:
        header = request.headers.get(LAST_EVENT_ID_HEADER)
        if header is None or header == "":
            return self.query_filters.get("last_event_id")
        if not (header.isascii() and header.isdigit()) or len(header) > EVENT_ID_MAX_DIGITS:
            raise ValidationError({LAST_EVENT_ID_HEADER: ["Not an event id: a whole number."]})
        return int(header)

    def handle_exception(self, exc):
        # Errors are JSON in the API's one shape, whatever the client asked for.
        response = super().handle_exception(exc)
        self.request.accepted_renderer, self.request.accepted_media_type = JSONRenderer(), "application/json"
        return response
