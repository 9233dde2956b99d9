"""The API's one error shape, {"error": {"code", "message", "details"}}, as exceptions.

Programs branch on `code` (stable, listed in docs/api.md "Errors"), or on the subclass for the HTTP status; `message`
is for people; `request_id` is the server's X-Request-ID, to quote when reporting a problem.
"""

from __future__ import annotations

from typing import Any


class LaunchpadError(Exception):
    """An answer in the API's error shape (or, for `APIConnectionError`, no answer at all)."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: str = "error",
        details: Any = None,
        request_id: str | None = None,
        retry_after: float | None = None,
    ):
        super().__init__(f"{status} {code}: {message}" if status else f"{code}: {message}")
        self.status = status
        self.code = code
        self.message = message
        self.details = {} if details is None else details
        self.request_id = request_id
        self.retry_after = retry_after


class BadRequestError(LaunchpadError):
    """400: the request does not parse, or breaks a rule or a bound (`details` maps each field to its messages)."""


class AuthenticationError(LaunchpadError):
    """401: no key, an unknown key, or a revoked one."""


class PermissionDeniedError(LaunchpadError):
    """403: e.g. `proposals_not_allowed` until an admin sets your bounds."""


class NotFoundError(LaunchpadError):
    """404: no such pool (or not yours), launch, allocation, webhook or endpoint."""


class ConflictError(LaunchpadError):
    """409: not now (`pool_cannot_launch`, `pool_cannot_refund`, `too_many_drafts`, …); `message` says why."""


class UnprocessableError(LaunchpadError):
    """422: `idempotency_key_reused`, the key was used for a different request."""


class RateLimitError(LaunchpadError):
    """429 `throttled`, after the client's retries ran out; `retry_after` is the server's Retry-After in seconds."""


class ServerError(LaunchpadError):
    """5xx: a fault on the server's side, or the chain or the signer unreachable (503), after the retries ran out."""


class APIConnectionError(LaunchpadError):
    """No answer: the connection failed or timed out (after the retries, for requests that may be retried)."""


_BY_STATUS: dict[int, type[LaunchpadError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    409: ConflictError,
    422: UnprocessableError,
    429: RateLimitError,
}


def error_for(status: int, body: Any, *, request_id: str | None, retry_after: float | None) -> LaunchpadError:
    """The exception for an error answer; a body not in the API's shape (a proxy's HTML page) keeps its status."""
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict) and isinstance(error.get("code"), str):
        code, message, details = error["code"], str(error.get("message", "")), error.get("details")
    else:
        code, message, details = "http_error", f"HTTP {status} without the API's error shape", {"body": body}
    cls = _BY_STATUS.get(status) or (ServerError if status >= 500 else LaunchpadError)
    return cls(message, status=status, code=code, details=details, request_id=request_id, retry_after=retry_after)
