"""drf-spectacular: the API key scheme, the one error shape with the codes each operation really answers, and the
headers every answer carries.

A client generated from /api/schema/ alone must meet no surprise, so the schema states what the server does:

- Each error response is the one Error shape with `error.code` narrowed to an `enum` of the codes that operation can
  answer with, and a description that lists them. A view lists its statuses with `error_responses(404, 409, ...)`
  (optionally `codes={404: ("webhook_not_found",)}`); `complete_the_schema`, the postprocessing hook, adds each
  operation's own codes from OPERATION_CODES (one table, next to the defaults, while several views change at once)
  and the codes every operation can meet (a malformed path is `not_found`, a bad key `invalid_api_key`, a body that
  is not JSON `unsupported_media_type`…), so that no view has to remember them.
- A proposal's body refuses unknown keys: its schema says `additionalProperties: false` (CLOSED_BODY_OPERATIONS).
- `complete_the_schema` also adds the headers: X-Request-ID and the RateLimit-* headers on every answer,
  `WWW-Authenticate` on a 401, `Retry-After` on a 429, `Idempotent-Replayed` on a replayed answer; 406 (an Accept
  header that excludes JSON), 413 and 415 where the body is read.

The webhooks' payloads are in the schema's `webhooks` section, one per event (agent_api/event_schemas.py).

schemathesis (tests/api/test_schema_fuzz.py) checks every answer against all of it, so the schema cannot drift.
"""

from __future__ import annotations

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = "agent_api.authentication.ApiKeyAuthentication"
    name = "agentApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "http",
            "scheme": "bearer",
            "bearerFormat": "lp_<prefix>_<secret>",
            "description": "An agent's API key, created by an admin and shown once.",
        }


# An address in a path. JSON Schema cannot say "a mixed-case address carries a valid EIP-55 checksum": the description
# of each such parameter does, and the server answers 400 `invalid_address` when it does not.
ADDRESS_PATH_SCHEMA = {"type": "string", "pattern": "^0x[0-9a-fA-F]{40}$"}

ERROR_REF = "#/components/schemas/Error"
# The one error shape (agent_api/errors.py), added to the components by complete_the_schema; each error response
# narrows `error.code` to its operation's codes.
ERROR_COMPONENTS = {
    "Error": {
        "type": "object",
        "properties": {"error": {"$ref": "#/components/schemas/ErrorBody"}},
        "required": ["error"],
    },
    "ErrorBody": {
        "type": "object",
        "properties": {
            "code": {"type": "string", "description": "Stable, machine-readable: see docs/api.md for the list."},
            "message": {"type": "string", "description": "For people."},
            "details": {
                "type": "object",
                "additionalProperties": {},
                "description": "Per-field messages, or context; may be empty.",
            },
        },
        "required": ["code", "message", "details"],
    },
}

# What each code means, in the words the error descriptions use (docs/api.md's Errors table says the same at length).
CODE_MEANINGS: dict[str, str] = {
    "invalid": "a field or query parameter does not parse or breaks a rule; `details` per field",
    "bad_request": "the request is malformed (e.g. a forged Host header)",
    "parse_error": "the body is not valid UTF-8 JSON (or holds NaN, a NUL, a lone surrogate…)",
    "too_deep": "the body nests more than 32 levels",
    "invalid_address": "an address in the path is not one",
    "invalid_pool_proposal": "the proposal breaks the configuration rules or your bounds; `details` per field",
    "image_type_not_allowed": "the image is SVG or not PNG, JPEG, WebP or GIF",
    "image_not_an_image": "the image is not a base64 data URL of a decodable image",
    "image_too_large": "the image is more than 1 MiB decoded",
    "image_too_many_pixels": "the image declares more than 4096×4096 pixels",
    "idempotency_key_required": "no Idempotency-Key header",
    "idempotency_key_invalid": "the Idempotency-Key is longer than 255 characters or not printable ASCII",
    "webhook_url_not_allowed": "the URL is not https or points to an internal address",
    "not_authenticated": "no `Authorization: Bearer` header",
    "invalid_api_key": "the key is not one we issued",
    "api_key_revoked": "the key was revoked",
    "proposals_not_allowed": "no admin has set bounds for your proposals",
    "not_found": "no such endpoint (e.g. an id that is not a number)",
    "pool_not_found": "no such pool, or not yours (public endpoints: not public)",
    "launch_not_found": "no launch was requested for the pool yet",
    "allocation_not_found": "the address has no allocation in the pool",
    "webhook_not_found": "no such webhook endpoint of yours",
    "not_acceptable": "the Accept header excludes application/json",
    "pool_cannot_launch": "the pool cannot launch now; `message` says why",
    "pool_cannot_refund": "nothing can be refunded now; `message` says why",
    "too_many_drafts": "you have as many drafts waiting as your bounds allow",
    "too_many_webhooks": "at most 10 webhook endpoints per agent",
    "too_large": "the body is larger than the limit (256 KiB; 1.5 MiB for a proposal)",
    "unsupported_media_type": "the body is not application/json",
    "idempotency_key_reused": "the Idempotency-Key was used for a different request",
    "throttled": "over the rate limit; wait `Retry-After` seconds",
    "pool_not_draft": "the pool is no longer a draft: an admin scheduled it",
    "pool_not_launched": "the pool has not launched (yet): nothing to claim",
    "webhook_delivery_not_found": "no such delivery to this endpoint",
    "webhook_inactive": "the endpoint is inactive",
    "webhook_deleted": "the endpoint was deleted",
    "chain_unavailable": "the chain node did not answer; try again shortly",
    "signer_unavailable": "the signer could not be reached; try again shortly",
}

# The codes a status has when the view names none. 403, 404 and 409 have no sensible default beyond the routing's
# own `not_found`: a view names its codes (a 404 of a webhook is not a `pool_not_found`).
DEFAULT_CODES: dict[int, tuple[str, ...]] = {
    400: ("invalid",),
    401: ("not_authenticated", "invalid_api_key", "api_key_revoked"),
    403: (),
    404: ("not_found",),
    406: ("not_acceptable",),
    409: (),
    413: ("too_large",),
    415: ("unsupported_media_type",),
    422: ("idempotency_key_reused",),
    429: ("throttled",),
    503: ("chain_unavailable", "signer_unavailable"),
}

_TITLES = {
    400: "Invalid request",
    401: "Missing, invalid or revoked API key",
    403: "Not allowed",
    404: "Not found",
    406: "Not acceptable",
    409: "Conflicts with the current state",
    413: "Body too large",
    415: "Unsupported media type",
    422: "Idempotency-Key reused",
    429: "Too many requests",
    503: "A dependency is unavailable",
}


def error_schema(codes: list[str] | tuple[str, ...]) -> dict:
    """The Error shape with `error.code` narrowed to `codes`."""
    return {
        "allOf": [
            {"$ref": ERROR_REF},
            {
                "type": "object",
                "properties": {"error": {"type": "object", "properties": {"code": {"enum": list(codes)}}}},
            },
        ]
    }


def error_description(status: int, codes: list[str] | tuple[str, ...]) -> str:
    listed = "; ".join(f"`{code}`: {CODE_MEANINGS.get(code, 'see docs/api.md')}" for code in codes)
    return f"{_TITLES.get(status, 'Error')}. {listed}." if listed else f"{_TITLES.get(status, 'Error')}."


def error_responses(*statuses: int, codes: dict[int, tuple[str, ...] | list[str]] | None = None) -> dict:
    """extend_schema `responses` entries for these error statuses: the one error shape, `error.code` one of the codes
    this operation answers with (the status's defaults plus `codes[status]`)."""
    codes = codes or {}
    responses = {}
    for status in statuses:
        listed = list(dict.fromkeys([*DEFAULT_CODES.get(status, ()), *codes.get(status, ())]))
        responses[status] = OpenApiResponse(error_schema(listed), description=error_description(status, listed))
    return responses


_PROPOSAL_400 = (
    "invalid_pool_proposal",
    "image_type_not_allowed",
    "image_not_an_image",
    "image_too_large",
    "image_too_many_pixels",
)
_KEY_400 = ("idempotency_key_invalid",)

# The codes each operation answers with beyond its statuses' defaults, by operation id: kept here, next to the
# defaults and the hook that merges them, so that a view's code and its schema meet in one table the fuzzer checks
# (tests/api/test_schema_fuzz.py fails on an answer whose code is not listed). A view may also pass `codes=` to
# error_responses; both are merged.
OPERATION_CODES: dict[str, dict[int, tuple[str, ...]]] = {
    "agent_bounds_retrieve": {403: ("proposals_not_allowed",)},
    "agent_pools_create": {
        400: (*_PROPOSAL_400, *_KEY_400),
        403: ("proposals_not_allowed",),
        409: ("too_many_drafts",),
    },
    "agent_pools_retrieve": {404: ("pool_not_found",)},
    "agent_pools_partial_update": {
        400: (*_PROPOSAL_400, *_KEY_400),
        403: ("proposals_not_allowed",),
        404: ("pool_not_found",),
        409: ("pool_not_draft",),
    },
    "agent_pools_destroy": {404: ("pool_not_found",), 409: ("pool_not_draft",)},
    "agent_pools_allocations_list": {404: ("pool_not_found",)},
    "agent_pools_deposits_list": {404: ("pool_not_found",)},
    "agent_pools_refunds_list": {404: ("pool_not_found",)},
    "agent_pools_launch_retrieve": {404: ("pool_not_found", "launch_not_found")},
    "agent_pools_launch_create": {
        400: ("idempotency_key_required", *_KEY_400),
        404: ("pool_not_found",),
        409: ("pool_cannot_launch",),
    },
    "agent_pools_launch_dry_run": {404: ("pool_not_found",), 409: ("pool_cannot_launch",)},
    "agent_pools_refunds_create": {
        400: ("idempotency_key_required", *_KEY_400),
        404: ("pool_not_found",),
        409: ("pool_cannot_refund",),
    },
    "agent_pools_quote": {404: ("pool_not_found",)},
    "agent_pools_quote_proposal": {400: _PROPOSAL_400, 403: ("proposals_not_allowed",)},
    "agent_webhooks_create": {
        400: ("webhook_url_not_allowed", *_KEY_400),
        409: ("too_many_webhooks", "webhook_deleted"),  # webhook_deleted: a key's replay after the endpoint's deletion
    },
    "agent_webhooks_retrieve": {404: ("webhook_not_found",)},
    "agent_webhooks_destroy": {404: ("webhook_not_found",)},
    "agent_webhooks_test_create": {404: ("webhook_not_found",), 409: ("webhook_inactive",)},
    "agent_webhooks_deliveries_list": {404: ("webhook_not_found",)},
    "agent_webhooks_deliveries_redeliver": {
        404: ("webhook_not_found", "webhook_delivery_not_found"),
        409: ("webhook_inactive",),
    },
    "pools_retrieve": {404: ("pool_not_found",)},
    "pools_deposits_list": {404: ("pool_not_found",)},
    "pools_allocation_retrieve": {400: ("invalid_address",), 404: ("pool_not_found", "allocation_not_found")},
    "pools_claim_retrieve": {
        400: ("invalid_address",),
        404: ("pool_not_found", "allocation_not_found"),
        409: ("pool_not_launched",),
    },
    "depositors_retrieve": {400: ("invalid_address",)},
}


# Operations whose body refuses a key it does not know (a proposal: a field an agent may not set, such as
# fee_recipient or status, must not pass silently), so their request schema says additionalProperties: false.
CLOSED_BODY_OPERATIONS = {"agent_pools_create", "agent_pools_partial_update", "agent_pools_quote_proposal"}


# --- the postprocessing hook ---------------------------------------------------------------------------------------

HEADERS = {
    "X-Request-ID": {
        "description": "This request's id, in every log line written while serving it: quote it when you report a "
        "problem. A well-formed X-Request-ID you send (8 to 64 of A-Z a-z 0-9 . _ : -) is kept.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[A-Za-z0-9._:-]{8,64}$"},
    },
    "RateLimit-Limit": {
        "description": "Requests allowed per window for the rate that counted this request (absent when none did).",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "RateLimit-Remaining": {
        "description": "Requests left in the current window.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "RateLimit-Reset": {
        "description": "Seconds until the window is full again.",
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "RateLimit-Policy": {
        "description": "The rate, e.g. `600;w=60` (600 requests per 60 seconds).",
        "schema": {"type": "string"},
    },
    "WWW-Authenticate": {
        "description": "How to authenticate: an API key as a Bearer token.",
        "required": True,
        "schema": {"type": "string", "example": 'Bearer realm="api"'},
    },
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "required": True,
        "schema": {"type": "string", "pattern": "^[0-9]+$"},
    },
    "Idempotent-Replayed": {
        "description": "`true` when this is the stored answer to an earlier request with the same Idempotency-Key "
        "(nothing ran again); absent on the first answer.",
        "schema": {"type": "string", "enum": ["true"]},
    },
}
_EVERY_ANSWER = ("X-Request-ID", "RateLimit-Limit", "RateLimit-Remaining", "RateLimit-Reset", "RateLimit-Policy")
_BY_STATUS = {"401": ("WWW-Authenticate",), "429": ("Retry-After",)}
_HTTP_METHODS = ("get", "put", "post", "delete", "patch", "options", "head", "trace")


def _add_error(operation: dict, status: int, codes: tuple[str, ...]) -> None:
    """Add `codes` to the operation's `status` error response, creating it when the view did not list the status."""
    responses = operation.setdefault("responses", {})
    response = responses.get(str(status))
    if response is None:
        responses[str(status)] = {
            "description": "",
            "content": {"application/json": {"schema": error_schema(list(codes))}},
        }
        return
    enum = _code_enum(response)
    if enum is not None:
        enum.extend(code for code in codes if code not in enum)


def _code_enum(response: dict) -> list | None:
    try:
        schema = response["content"]["application/json"]["schema"]
        return schema["allOf"][1]["properties"]["error"]["properties"]["code"]["enum"]
    except (KeyError, IndexError, TypeError):
        return None


def _reads_body(operation: dict) -> bool:
    # An operation reads the body when it declares one, and also when it takes an Idempotency-Key: the key's record
    # fingerprints the body (agent_api/views/idempotent.py), so DRF parses whatever was sent.
    takes_key = any(
        p.get("in") == "header" and p.get("name") == "Idempotency-Key" for p in operation.get("parameters", [])
    )
    return "requestBody" in operation or takes_key


def _close_request_body(result: dict, operation: dict) -> None:
    for content in operation.get("requestBody", {}).get("content", {}).values():
        ref = content.get("schema", {}).get("$ref", "")
        component = result["components"]["schemas"].get(ref.rsplit("/", 1)[-1]) if ref else content.get("schema")
        if component is not None:
            component["additionalProperties"] = False


def complete_the_schema(result: dict, generator, request, public) -> dict:
    """SPECTACULAR_SETTINGS POSTPROCESSING_HOOKS: the codes, statuses and headers every operation shares (see the
    module docstring), then each error description rewritten from its final list of codes."""
    components = result.setdefault("components", {})
    components.setdefault("headers", {}).update(HEADERS)
    components.setdefault("schemas", {}).update(ERROR_COMPONENTS)
    for path, item in result.get("paths", {}).items():
        for method in _HTTP_METHODS:
            operation = item.get(method)
            if operation is None:
                continue
            for status, codes in OPERATION_CODES.get(operation.get("operationId", ""), {}).items():
                _add_error(operation, status, codes)
            _add_error(operation, 401, DEFAULT_CODES[401])  # any request may carry a key that is not valid
            _add_error(operation, 406, DEFAULT_CODES[406])
            _add_error(operation, 429, DEFAULT_CODES[429])
            if "{" in path:  # a path parameter that does not match the route's pattern: the catch-all's 404
                _add_error(operation, 404, DEFAULT_CODES[404])
            if _reads_body(operation):
                _add_error(operation, 400, ("parse_error", "too_deep"))
                _add_error(operation, 413, DEFAULT_CODES[413])
                _add_error(operation, 415, DEFAULT_CODES[415])
            if operation.get("operationId") in CLOSED_BODY_OPERATIONS:
                _close_request_body(result, operation)
            replays = any(p.get("name") == "Idempotency-Key" for p in operation.get("parameters", []))
            for status, response in operation.get("responses", {}).items():
                headers = response.setdefault("headers", {})
                names = [*_EVERY_ANSWER, *_BY_STATUS.get(status, ())]
                if replays and status.startswith("2"):
                    names.append("Idempotent-Replayed")
                for name in names:
                    headers.setdefault(name, {"$ref": f"#/components/headers/{name}"})
                enum = _code_enum(response)
                if enum is not None:
                    response["description"] = error_description(int(status), enum)
            operation["responses"] = dict(sorted(operation["responses"].items()))
    return result
