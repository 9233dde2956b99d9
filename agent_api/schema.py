"""drf-spectacular: describe the API key scheme, and the one error shape every error response has."""

from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, inline_serializer
from rest_framework import serializers


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


ErrorSerializer = inline_serializer(
    name="Error",
    fields={
        "error": inline_serializer(
            name="ErrorBody",
            fields={
                "code": serializers.CharField(help_text="Stable, machine-readable: see docs/api.md for the list."),
                "message": serializers.CharField(help_text="For people."),
                "details": serializers.DictField(help_text="Per-field messages, or context; may be empty."),
            },
        )
    },
)

_DESCRIPTIONS = {
    400: "Invalid request (code `invalid` with per-field details, or a more specific code).",
    401: "Missing, invalid (`invalid_api_key`) or revoked (`api_key_revoked`) API key.",
    403: "Not allowed (e.g. `proposals_not_allowed`).",
    404: "Not found, or not one of this agent's pools (`pool_not_found`, ...).",
    409: "The request conflicts with the pool's state (`pool_cannot_launch`, `pool_cannot_refund`, ...).",
    422: "`idempotency_key_reused`: the Idempotency-Key was used for a different request.",
    429: "`throttled`: too many requests; see Retry-After.",
    503: "`chain_unavailable`: the chain node did not answer; try again later.",
}


def error_responses(*statuses: int) -> dict:
    """extend_schema `responses` entries for these error statuses, all with the one error shape."""
    return {status: OpenApiResponse(ErrorSerializer, description=_DESCRIPTIONS[status]) for status in statuses}
