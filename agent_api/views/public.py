"""Public REST API views (no key needed): one per operation, a selector underneath.

The agent-scoped views are in agent.py (reads, proposals), triggers.py (launch, dry run, refunds) and
webhooks.py.
"""

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers
from rest_framework.exceptions import NotFound
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_api import pool_cache
from agent_api.schema import ADDRESS_PATH_SCHEMA, error_responses
from agent_api.serializers import (
    AllocationSerializer,
    PoolDetailSerializer,
    PoolSummarySerializer,
    PublicDepositSerializer,
    WeiAmount,
)
from agent_api.views.params import StrictQueryParams
from pools.selectors.pools import allocation_get_public, deposit_list_for_pool, pool_get_public, pool_list_public
from pools.services.pool_state import remember_version

__all__ = [
    "AllocationPublicApi",
    "NoSuchEndpointApi",
    "PoolDepositListApi",
    "PoolDetailApi",
    "PoolListApi",
    "WeiAmount",
]


class PoolListApi(StrictQueryParams, ListAPIView):
    """Public pools, newest first."""

    permission_classes = [AllowAny]
    serializer_class = PoolSummarySerializer

    class FilterSerializer(serializers.Serializer):
        q = serializers.CharField(
            required=False,
            max_length=100,
            trim_whitespace=False,  # trimmed by the search: only empty is refused, as the schema's minLength says
            help_text="Part of the name, or the exact symbol.",
        )

    @extend_schema(operation_id="pools_list", parameters=[FilterSerializer], responses={
        200: PoolSummarySerializer(many=True), **error_responses(400, 401, 429)
    })  # fmt: skip
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return pool_list_public(search=self.query_filters.get("q", "").strip())


class PoolDetailApi(StrictQueryParams, APIView):
    """A public pool: its whole configuration, and its token's addresses once launched."""

    # Cached by the pool's state version (agent_api/pool_cache.py): a weak ETag on every 200, 304 for If-None-Match.

    permission_classes = [AllowAny]
    state_version: int | None = None

    def dispatch(self, request, *args, **kwargs):
        cached = pool_cache.cached_answer(request, pool_id=kwargs["pool_id"])
        return cached if cached is not None else super().dispatch(request, *args, **kwargs)

    @extend_schema(
        operation_id="pools_retrieve",
        parameters=[
            OpenApiParameter(
                "If-None-Match",
                str,
                OpenApiParameter.HEADER,
                description="The ETag of the pool you hold: 304 without a body while it is still current.",
            ),
            OpenApiParameter(
                "ETag",
                str,
                OpenApiParameter.HEADER,
                response=[200, 304],
                description="A weak validator of this answer: the pool's state version and a digest of the body.",
            ),
        ],
        responses={
            200: PoolDetailSerializer,
            304: OpenApiResponse(description="Not modified: the ETag in If-None-Match is still current."),
            **error_responses(400, 401, 404, 429),
        },
    )
    def get(self, request, pool_id: int):
        pool = pool_get_public(pool_id=pool_id)
        # Read with the pool's row, before the rest: what is rendered is at least as new as this version.
        self.state_version = pool.state_version
        remember_version(pool_id=pool.pk, version=pool.state_version)
        return Response(PoolDetailSerializer(pool).data)

    def finalize_response(self, request, response, *args, **kwargs):
        response = super().finalize_response(request, response, *args, **kwargs)
        return pool_cache.finish(request, response, pool_id=kwargs["pool_id"], version=self.state_version)


class PoolDepositListApi(StrictQueryParams, ListAPIView):
    """Every deposit recorded for a public pool, in chain order, each with its citation in the signer's evidence format:
    what `python -m enclave_signer verify-pool` proves on chain and checks complete against the pool address."""

    permission_classes = [AllowAny]
    serializer_class = PublicDepositSerializer

    @extend_schema(operation_id="pools_deposits_list", responses={
        200: PublicDepositSerializer(many=True), **error_responses(400, 401, 404, 429)
    })  # fmt: skip
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return deposit_list_for_pool(pool=pool_get_public(pool_id=self.kwargs["pool_id"]))


class AllocationPublicApi(StrictQueryParams, APIView):
    """A depositor's allocation in a launched pool, with the Merkle proof it needs to claim from the ClaimVault."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="pools_allocation_retrieve",
        parameters=[
            OpenApiParameter(
                "address",
                ADDRESS_PATH_SCHEMA,
                OpenApiParameter.PATH,
                description="The depositor's address (any case; a mixed-case one must carry a valid EIP-55 checksum).",
            )
        ],  # fmt: skip
        responses={200: AllocationSerializer, **error_responses(400, 401, 404, 429)},
    )
    def get(self, request, pool_id: int, address: str):
        return Response(AllocationSerializer(allocation_get_public(pool_id=pool_id, address=address)).data)


@extend_schema(exclude=True)
class NoSuchEndpointApi(APIView):
    """Any other path under /api/v1/: a 404 in the API's error shape rather than Django's HTML page."""

    permission_classes = [AllowAny]
    authentication_classes = []
    throttle_classes = []

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise NotFound("No such endpoint. Paths end with a slash; see /api/docs/.")

    def get(self, request, *args, **kwargs):
        raise NotFound("No such endpoint. Paths end with a slash; see /api/docs/.")
