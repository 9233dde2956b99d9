"""One JSON error shape for the API: {"error": {"code": "...", "message": "...", "details": {...}}}.

ApplicationError lives in pools/errors.py (services raise it); it is re-exported here. DRF is imported only when an
error is handled: DRF's settings import the API key authentication, which imports services, which must not import DRF
back while it is half-loaded.
"""

from pools.errors import ApplicationError

__all__ = ["ApplicationError", "api_exception_handler"]


def _error(status: int, code: str, message: str, details):
    from rest_framework.response import Response

    return Response({"error": {"code": code, "message": message, "details": details}}, status=status)


def api_exception_handler(exc, context):
    """DRF's exception handler, reshaped so that every error carries a stable code and a human message."""
    from rest_framework import exceptions
    from rest_framework.views import exception_handler

    if isinstance(exc, ApplicationError):
        return _error(exc.status_code, exc.code, exc.message, exc.details)
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
