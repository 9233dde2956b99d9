"""Agent-scoped REST API views (an API key is required): the agent's own pools, what hangs off them, proposals.

Another agent's pool answers 404 like a pool that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.fields import SkipField
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.views import APIView

from agent_api.parsers import ProposalJSONParser
from agent_api.schema import error_responses
from agent_api.serializers import (
    DESCRIPTION_MAX_CHARS,
    LINKS_MAX,
    AllocationSerializer,
    DepositSerializer,
    EthAddress,
    LaunchStatusSerializer,
    OptionalEthAddress,
    PoolDetailSerializer,
    PoolSummarySerializer,
    RefundSerializer,
    TokenImageUpload,
    TokenLinkSerializer,
    WeiAmount,
)
from agent_api.services.proposals import pool_propose
from agent_api.views.idempotent import IDEMPOTENCY_KEY_OPTIONAL, idempotent_response, run_idempotently
from pools.models import BPS, Deposit, Pool, Refund
from pools.selectors.pools import (
    allocation_list_for_pool,
    deposit_list_for_pool,
    launch_get_for_pool,
    pool_get_for_agent,
    pool_list_for_agent,
    refund_list_for_pool,
)

LIST_ERRORS = error_responses(400, 401, 404, 429)
MAX_DURATION_SECONDS = 10 * 365 * 86_400


class AgentPoolListApi(ListAPIView):
    """Your pools, drafts included, newest first."""

    serializer_class = PoolSummarySerializer

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Pool.Status.choices, required=False)

    @extend_schema(operation_id="agent_pools_list", parameters=[FilterSerializer], responses={
        200: PoolSummarySerializer(many=True), **error_responses(400, 401, 429)
    })  # fmt: skip
    def get(self, request, *args, **kwargs):
        """Your pools, drafts included, newest first."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return pool_list_for_agent(agent_id=self.request.user.agent.pk, status=filters.validated_data.get("status", ""))


class AgentPoolProposeApi(APIView):
    """Propose a pool: it is created as a DRAFT within the bounds an admin set for you, and an admin schedules it.

    The raise asset's symbol and decimals come from your bounds; the fee recipient and any whitelist are set by
    the admin. Every problem is reported at once, per field in `details`: fields that do not parse, the configuration
    rules, and every bound the proposal breaks. The token's image is judged first, on its own: one that cannot be used
    is refused with a code of its own (image_not_an_image, image_type_not_allowed, image_too_large,
    image_too_many_pixels).
    """

    parser_classes = [ProposalJSONParser]

    @extend_schema_serializer(component_name="PoolProposal")
    class InputSerializer(serializers.Serializer):
        name = serializers.CharField(max_length=100)
        token_name = serializers.CharField(max_length=50)
        token_symbol = serializers.CharField(max_length=11)
        raise_asset = OptionalEthAddress(required=False, help_text="ERC-20 address; empty for ETH.")
        soft_cap = WeiAmount()
        hard_cap = WeiAmount()
        min_contribution = WeiAmount(required=False)
        max_contribution = WeiAmount(required=False)
        access = serializers.ChoiceField(choices=Pool.Access.choices, required=False)
        whitelist_until = serializers.DateTimeField(required=False, allow_null=True)
        opens_at = serializers.DateTimeField()
        closes_at = serializers.DateTimeField()
        total_supply = WeiAmount(required=False)
        liquidity_supply_bps = serializers.IntegerField(min_value=0, max_value=BPS, required=False)
        depositor_supply_bps = serializers.IntegerField(min_value=0, max_value=BPS, required=False)
        agent_supply_bps = serializers.IntegerField(min_value=0, max_value=BPS, required=False)
        liquidity_raise_bps = serializers.IntegerField(min_value=0, max_value=BPS, required=False)
        depositor_cliff_seconds = serializers.IntegerField(min_value=0, max_value=MAX_DURATION_SECONDS, required=False)
        depositor_vesting_seconds = serializers.IntegerField(
            min_value=0, max_value=MAX_DURATION_SECONDS, required=False
        )
        agent_cliff_seconds = serializers.IntegerField(min_value=0, max_value=MAX_DURATION_SECONDS, required=False)
        agent_vesting_seconds = serializers.IntegerField(min_value=0, max_value=MAX_DURATION_SECONDS, required=False)
        protection_blocks = serializers.IntegerField(min_value=0, max_value=10_000, required=False)
        max_buy_per_tx = WeiAmount(required=False)
        fee_bps = serializers.IntegerField(min_value=0, max_value=BPS, required=False)
        treasury_address = EthAddress(help_text="Receives the raise beyond the liquidity share and the fee.")
        lp_policy = serializers.ChoiceField(choices=Pool.LpPolicy.choices, required=False)
        lp_lock_until = serializers.DateTimeField(required=False, allow_null=True)
        price_mode = serializers.ChoiceField(choices=Pool.PriceMode.choices, required=False)
        target_price_usd_e8 = WeiAmount(required=False)
        oracle_tolerance_bps = serializers.IntegerField(min_value=0, max_value=BPS, required=False)
        oracle_max_age_seconds = serializers.IntegerField(min_value=60, max_value=86_400, required=False)
        description = serializers.CharField(
            max_length=DESCRIPTION_MAX_CHARS, allow_blank=True, required=False,
            help_text="What the token is for, in plain text (no HTML, no Markdown): shown on the pool page.",
        )  # fmt: skip
        image = TokenImageUpload(required=False)
        links = serializers.ListField(
            child=TokenLinkSerializer(), max_length=LINKS_MAX, required=False,
            help_text=f"At most {LINKS_MAX} links (website, X, docs…), https only.",
        )  # fmt: skip

        def parse_each_field(self) -> tuple[dict, dict[str, list]]:
            """The values of the fields that parse, and the messages of those that do not, unknown ones included.

            Unlike is_valid(), a field that does not parse stops nothing: the service judges the others against the
            rules and the agent's bounds, and one answer lists every problem.
            """
            if not isinstance(self.initial_data, Mapping):
                raise serializers.ValidationError(
                    {api_settings.NON_FIELD_ERRORS_KEY: ["Send the proposal as an object."]}
                )
            values, errors = {}, {}
            for name, field in self.fields.items():
                try:
                    values[name] = field.run_validation(field.get_value(self.initial_data))
                except serializers.ValidationError as exc:
                    errors[name] = exc.detail
                except SkipField:  # left out, not required: the pool's default applies
                    continue
            # A field an agent may not set (fee_recipient, status…) is refused, not silently ignored.
            for name in sorted(set(self.initial_data) - set(self.fields)):
                errors[name] = ["Not a field a proposal can set."]
            return values, errors

    @extend_schema(
        operation_id="agent_pools_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={201: PoolDetailSerializer, **error_responses(400, 401, 403, 409, 422, 429)},
    )
    def post(self, request):
        """Propose a pool (a DRAFT within your bounds; an admin schedules it). Problems are listed per field."""
        agent = request.user.agent

        def propose() -> tuple[int, dict]:
            values, unparsed = AgentPoolProposeApi.InputSerializer(data=request.data).parse_each_field()
            pool = pool_propose(agent=agent, data=values, unparsed=unparsed)
            return status.HTTP_201_CREATED, PoolDetailSerializer(pool).data

        return idempotent_response(run_idempotently(request, required=False, execute=propose))


class AgentPoolDetailApi(APIView):
    """One of your pools, whatever its status."""

    @extend_schema(operation_id="agent_pools_retrieve", responses={
        200: PoolDetailSerializer, **error_responses(401, 404, 429)
    })  # fmt: skip
    def get(self, request, pool_id: int):
        """One of your pools, whatever its status."""
        return Response(PoolDetailSerializer(pool_get_for_agent(agent_id=request.user.agent.pk, pool_id=pool_id)).data)


class _PoolChildListApi(ListAPIView):
    """A list under one of the agent's pools (looked up first: another agent's pool is a 404)."""

    def pool(self) -> Pool:
        return pool_get_for_agent(agent_id=self.request.user.agent.pk, pool_id=self.kwargs["pool_id"])


class AgentPoolDepositListApi(_PoolChildListApi):
    """Deposits to your pool in chain order: confirmed or pending, what was credited and what is owed back."""

    serializer_class = DepositSerializer

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Deposit.Status.choices, required=False)
        sender = EthAddress(required=False)

    @extend_schema(operation_id="agent_pools_deposits_list", parameters=[FilterSerializer], responses={
        200: DepositSerializer(many=True), **LIST_ERRORS
    })  # fmt: skip
    def get(self, request, *args, **kwargs):
        """Deposits to your pool in chain order: what was credited and what is owed back."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        pool = self.pool()
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return deposit_list_for_pool(pool=pool, **filters.validated_data)


class AgentPoolRefundListApi(_PoolChildListApi):
    """Refunds of your pool: who is owed what, and the transaction that paid it."""

    serializer_class = RefundSerializer

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=Refund.Status.choices, required=False)

    @extend_schema(operation_id="agent_pools_refunds_list", parameters=[FilterSerializer], responses={
        200: RefundSerializer(many=True), **LIST_ERRORS
    })  # fmt: skip
    def get(self, request, *args, **kwargs):
        """Refunds of your pool: who is owed what, and the transaction that paid it."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        pool = self.pool()
        filters = self.FilterSerializer(data=self.request.query_params)
        filters.is_valid(raise_exception=True)
        return refund_list_for_pool(pool=pool, **filters.validated_data).prefetch_related("deposits")


class AgentPoolAllocationListApi(_PoolChildListApi):
    """Every depositor's allocation in your launched pool, with Merkle proofs, by address."""

    serializer_class = AllocationSerializer

    @extend_schema(operation_id="agent_pools_allocations_list", responses={
        200: AllocationSerializer(many=True), **LIST_ERRORS
    })  # fmt: skip
    def get(self, request, *args, **kwargs):
        """Every depositor's allocation in your launched pool, with its Merkle proof."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return allocation_list_for_pool(pool=self.pool())


class AgentPoolLaunchStatusApi(APIView):
    """Your pool's launch: its step, its addresses once launched, and its transactions."""

    @extend_schema(
        operation_id="agent_pools_launch_retrieve",
        parameters=[OpenApiParameter("pool_id", int, OpenApiParameter.PATH)],
        responses={200: LaunchStatusSerializer, **error_responses(401, 404, 429)},
    )
    def get(self, request, pool_id: int):
        """Your pool's launch: its step, its addresses once launched, and its transactions (404 before a request)."""
        pool = pool_get_for_agent(agent_id=request.user.agent.pk, pool_id=pool_id)
        return Response(LaunchStatusSerializer(launch_get_for_pool(pool=pool)).data)
