"""The Idempotency-Key header in the views: read it, run the operation once, replay the stored response."""

from __future__ import annotations

from collections.abc import Callable

from drf_spectacular.utils import OpenApiParameter
from rest_framework.response import Response

from agent_api.services.idempotency import (
    MAX_KEY_LENGTH,
    BodyTransform,
    IdempotentResult,
    idempotency_key_check,
    idempotent_call,
)

HEADER = "Idempotency-Key"
REPLAYED_HEADER = "Idempotent-Replayed"

_DESCRIPTION = (
    "A unique string per intended operation (a UUID). Sent again with the same request, the first response is "
    "replayed and nothing runs twice; the same key with a different request is refused (422 "
    "`idempotency_key_reused`). A request that failed with an error keeps no record: retry it with the same key."
)
# What idempotency_key_check accepts: 1 to 255 printable ASCII characters (surrounding spaces are not part of a header
# value); an empty key counts as none, which a request that requires one refuses.
_KEY_SCHEMA = {"type": "string", "minLength": 1, "maxLength": MAX_KEY_LENGTH, "pattern": "^[!-~]([ -~]*[!-~])?$"}
IDEMPOTENCY_KEY_REQUIRED = OpenApiParameter(
    HEADER, _KEY_SCHEMA, OpenApiParameter.HEADER, required=True, description=_DESCRIPTION
)
_OPTIONAL_KEY_SCHEMA = {**_KEY_SCHEMA, "minLength": 0, "pattern": "^([!-~]([ -~]*[!-~])?)?$"}
IDEMPOTENCY_KEY_OPTIONAL = OpenApiParameter(
    HEADER, _OPTIONAL_KEY_SCHEMA, OpenApiParameter.HEADER, required=False, description=_DESCRIPTION
)


def run_idempotently(
    request,
    *,
    required: bool,
    execute: Callable[[], tuple[int, dict]],
    stored: BodyTransform | None = None,
    replayed: BodyTransform | None = None,
) -> IdempotentResult:
    """Run `execute` (→ status, body) under the request's Idempotency-Key, once per key and API key; `stored` and
    `replayed` as in idempotent_call (keep a secret out of the record, rebuild it on a replay)."""
    key = idempotency_key_check(key=request.headers.get(HEADER), required=required)
    return idempotent_call(
        api_key=request.auth,
        key=key,
        method=request.method,
        path=request.path,
        body=request.data,
        execute=execute,
        stored=stored,
        replayed=replayed,
    )


def idempotent_response(result: IdempotentResult) -> Response:
    response = Response(result.body, status=result.status)
    if result.replayed:
        response[REPLAYED_HEADER] = "true"
    return response
