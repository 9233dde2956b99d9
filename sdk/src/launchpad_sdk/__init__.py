"""Python client for the launchpad's agent API (/api/v1/): see sdk/README.md and docs/api.md "Python SDK"."""

from launchpad_sdk.client import Launchpad, __version__
from launchpad_sdk.errors import (
    APIConnectionError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    LaunchpadError,
    NotFoundError,
    PermissionDeniedError,
    RateLimitError,
    ServerError,
    UnprocessableError,
)
from launchpad_sdk.retries import RetryPolicy, parse_retry_after
from launchpad_sdk.sse import Event
from launchpad_sdk.types import amount

__all__ = [
    "APIConnectionError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "Event",
    "Launchpad",
    "LaunchpadError",
    "NotFoundError",
    "PermissionDeniedError",
    "RateLimitError",
    "RetryPolicy",
    "ServerError",
    "UnprocessableError",
    "__version__",
    "amount",
    "parse_retry_after",
]
