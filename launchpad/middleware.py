"""What every answer carries: a request id (also in every log line written while serving it) and, when the request
was counted against a rate limit, the RateLimit headers."""

from __future__ import annotations

import contextvars
import logging
import re
import uuid

from django.http import HttpRequest, HttpResponse, JsonResponse

logger = logging.getLogger(__name__)

_request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id", default="-")

# A caller's own id is kept when it looks like one (a proxy's, or a client's for its own correlation); anything else
# is replaced, so the logs never carry a client's free text.
_CALLER_ID = re.compile(r"^[A-Za-z0-9._:-]{8,64}$")

HEADER = "X-Request-ID"


def current_request_id() -> str:
    return _request_id.get()


class RequestIdLogFilter(logging.Filter):
    """Adds `request_id` to every log record ("-" outside a request)."""

    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        return True


class RequestContextMiddleware:
    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        offered = request.META.get("HTTP_X_REQUEST_ID", "")
        request.request_id = offered if _CALLER_ID.match(offered) else uuid.uuid4().hex
        # Not reset on the way out: Django logs a 4xx/5xx answer after the middleware chain returns, and that line
        # should carry the id too. The next request in this thread sets its own.
        _request_id.set(request.request_id)
        response = self.get_response(request)
        response[HEADER] = request.request_id
        rate_limit = getattr(request, "rate_limit", None)
        if rate_limit is not None:
            for name, value in rate_limit.headers().items():
                response.setdefault(name, value)
        return response

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        """An error nobody handled in an API view (agent_api/errors.py maps every one the API expects): a 500 in the
        API's error shape with the request id to quote, and the trace in the log only. Pages keep Django's 500 page."""
        if not request.path.startswith("/api/"):
            return None
        logger.error("unhandled error serving %s %s", request.method, request.path, exc_info=exception)
        message = (
            f"Something went wrong on our side. Quote request id {request.request_id} if you report it; the request "
            "may be retried (with the same Idempotency-Key when it moves money)."
        )
        # The shape of agent_api/errors.py, written out: this module is loaded with the logging configuration, before
        # Django's apps, so it imports nothing of theirs.
        error = {"code": "server_error", "message": message, "details": {"request_id": request.request_id}}
        return JsonResponse({"error": error}, status=500)
