"""The Idempotency-Key header in the views: read it, run the operation once, replay the stored response."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from agent_api.services.idempotency import IdempotentResult, idempotency_key_check, idempotent_call

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

_DESCRIPTION = (
    "A unique string per intended operation (a UUID). Sent again with the same request, the first response is "
    "replayed and nothing runs twice; the same key with a different request is refused (422 "
    "`idempotency_key_reused`). A request that failed with an error keeps no record: retry it with the same key."
)
IDEMPOTENCY_KEY_REQUIRED = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=True, description=_DESCRIPTION
)
IDEMPOTENCY_KEY_OPTIONAL = OpenApiParameter(
    HEADER, str, OpenApiParameter.HEADER, required=False, description=_DESCRIPTION
)


def run_idempotently(request, *, required: bool, execute: Callable[[], tuple[int, dict]]) -> IdempotentResult:
    """Run `execute` (→ status, body) under the request's Idempotency-Key, once per key and API key."""
    key = idempotency_key_check(key=request.headers.get(HEADER), required=required)
    return idempotent_call(
        api_key=request.auth, key=key, method=request.method, path=request.path, body=request.data, execute=execute
    )


def idempotent_response(result: IdempotentResult) -> Response:
    response = Response(result.body, status=result.status)
    if result.replayed:
        response[REPLAYED_HEADER] = "true"
    return response
