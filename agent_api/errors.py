"""One JSON error shape for the API: {"error": {"code": "...", "message": "...", "details": {...}}}.

Services raise ApplicationError (pools/errors.py, and the API's own in agent_api/services); this handler turns it, and
every DRF error, into that shape with a stable code.
"""

from django.core.exceptions import BadRequest, PermissionDenied, RequestDataTooBig, SuspiciousOperation
from django.http import Http404
from rest_framework import exceptions
from rest_framework.response import Response
from rest_framework.views import exception_handler

from agent_api.parsers import RequestBodyTooLarge
from agent_api.throttling import count_refused_caller
from pools.errors import ApplicationError


def _error(status: int, code: str, message: str, details) -> Response:
    return Response({"error": {"code": code, "message": message, "details": details}}, status=status)


def api_exception_handler(exc, context):
    """DRF's exception handler, reshaped so that every error carries a stable code and a human message."""
    if isinstance(exc, ApplicationError):
        return _error(exc.status_code, exc.code, exc.message, exc.details)
    if isinstance(exc, RequestDataTooBig):
        # Django's own limit (DATA_UPLOAD_MAX_MEMORY_SIZE), met when request.body is read; quote the API's, lower one.
        exc = RequestBodyTooLarge()
    elif isinstance(exc, SuspiciousOperation | BadRequest):
        # Django answers these with a 400 (a forged header, a malformed request); DRF leaves them unhandled.
        return _error(400, "bad_request", "The request is malformed.", {})
    elif isinstance(exc, Http404):
        exc = exceptions.NotFound()  # Django's own, raised by get_object_or_404 and the like: the same stable code
    elif isinstance(exc, PermissionDenied):
        exc = exceptions.PermissionDenied()
    refused = (exceptions.NotAuthenticated, exceptions.AuthenticationFailed, exceptions.PermissionDenied)
    if isinstance(exc, refused) and context.get("request") is not None and count_refused_caller(context["request"]):
        exc = exceptions.Throttled(wait=context["request"]._request.rate_limit.retry_after_seconds)
    response = exception_handler(exc, context)
    if response is None:
        return None
    if isinstance(exc, exceptions.ValidationError):
        return _error(response.status_code, "invalid", "The request is not valid; see details.", response.data)
    codes = exc.get_codes() if isinstance(exc, exceptions.APIException) else "error"
    message = response.data.get("detail", str(exc)) if isinstance(response.data, dict) else str(exc)
    error = _error(response.status_code, codes if isinstance(codes, str) else "error", str(message), {})
    for header in ("WWW-Authenticate", "Retry-After", "Allow"):
        if header in response:
            error[header] = response[header]
    return error
