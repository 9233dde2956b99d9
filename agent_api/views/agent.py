"""Agent-scoped REST API views (an API key is required): the agent's own pools, what hangs off them, proposals.

Another agent's pool answers 404 like a pool that does not exist.
"""

from __future__ import annotations

from collections.abc import Mapping

from drf_spectacular.drainage import get_override
from drf_spectacular.utils import (
    OpenApiParameter,
    OpenApiResponse,
    extend_schema,
    extend_schema_field,
    extend_schema_serializer,
)
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
from agent_api.services.proposals import pool_draft_update, pool_draft_withdraw, pool_propose
from agent_api.views.idempotent import IDEMPOTENCY_KEY_OPTIONAL, idempotent_response, run_idempotently
from agent_api.views.params import StrictQueryParams
from pools.models import BPS, Deposit, Pool, Refund
from pools.selectors.pools import (
    allocation_list_for_pool,
    deposit_list_for_pool,
    launch_get_for_pool,
    pool_get_for_agent,
    pool_list_for_agent,
    refund_list_for_pool,
)
from pools.services.pools import MAX_PROTECTION_BLOCKS, SYMBOL_PATTERN

LIST_ERRORS = error_responses(400, 401, 404, 429)
MAX_DURATION_SECONDS = 10 * 365 * 86_400
MAX_FEE_BPS = 1_000  # the platform's cap (pools.services.pools.pool_configuration_problems)
MAX_ORACLE_TOLERANCE_BPS = 2_000


@extend_schema_field(
    {"type": "string", "pattern": "^(0x[0-9a-fA-F]{40})?$", "maxLength": 42,
     "example": "0x5aAeb6053F3E94C9b9A09f33669435E7Ef1BeAed"}
)  # fmt: skip
class _AddressOrEmpty(serializers.Field):
    """An address, or empty: OptionalEthAddress's rules, declared without the minLength a CharField gets in requests
    (which would refuse, in the schema, the empty string the server takes)."""

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("An address as a string, or an empty string.")
        return OptionalEthAddress().run_validation(data)

    def to_representation(self, value) -> str:
        return value


@extend_schema_field(
    {**get_override(TokenImageUpload, "field"), "pattern": "^(data:image/(png|jpeg|webp|gif);base64,|$)"}
)
class _ImageOrEmpty(serializers.Field):
    """TokenImageUpload, declared without a CharField's minLength: empty is no image, as the server takes it."""

    def to_internal_value(self, data) -> str:
        if not isinstance(data, str):
            raise serializers.ValidationError("A data: URL as a string, or an empty string for no image.")
        return TokenImageUpload().run_validation(data)

    def to_representation(self, value) -> str:
        return value


def _pool_default(field: str):
    """The pool's own default for a proposal field: what a proposal that leaves the field out gets."""
    return Pool._meta.get_field(field).default


def _bps(field: str, *, least: int = 0, most: int = BPS) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=least, max_value=most, default=_pool_default(field))


def _seconds(field: str) -> serializers.IntegerField:
    return serializers.IntegerField(min_value=0, max_value=MAX_DURATION_SECONDS, default=_pool_default(field))


class AgentPoolListApi(StrictQueryParams, ListAPIView):
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
        return pool_list_for_agent(agent_id=self.request.user.agent.pk, status=self.query_filters.get("status", ""))


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
        """A proposal's fields, with the pool's defaults and exactly the limits the server enforces on each value
        (tests/api/test_proposal_schema_limits.py holds them to it). Rules between fields and the agent's bounds are
        the service's."""

        name = serializers.CharField(max_length=100)
        token_name = serializers.CharField(max_length=50)
        token_symbol = serializers.RegexField(
            SYMBOL_PATTERN, min_length=2, max_length=11,
            help_text="2 to 11 capital letters and digits, starting with a letter.",
        )  # fmt: skip
        raise_asset = _AddressOrEmpty(
            default=_pool_default("raise_asset"),
            help_text="ERC-20 address; empty, or the zero address, for ETH (kept as empty). Must be among your bounds' "
            "raise assets.",
        )
        soft_cap = WeiAmount(help_text="Above zero, in the raise asset's smallest unit.")
        hard_cap = WeiAmount(help_text="At least the soft cap, and at most your bound for the raise asset.")
        min_contribution = WeiAmount(default=_pool_default("min_contribution"), help_text="Per wallet; 0: none.")
        max_contribution = WeiAmount(default=_pool_default("max_contribution"), help_text="Per wallet; 0: none.")
        access = serializers.ChoiceField(choices=Pool.Access.choices, default=_pool_default("access"))
        whitelist_until = serializers.DateTimeField(default=None, allow_null=True)
        opens_at = serializers.DateTimeField()
        closes_at = serializers.DateTimeField()
        total_supply = WeiAmount(
            default=_pool_default("total_supply"), help_text="In token units (18 decimals): above 0, at most 2^128."
        )
        liquidity_supply_bps = _bps("liquidity_supply_bps", least=1)  # some of the supply must pair the raise
        # The three shares add up to 10,000 and the liquidity pool's is at least 1: each of the others is at most 9,999.
        depositor_supply_bps = _bps("depositor_supply_bps", most=BPS - 1)
        agent_supply_bps = _bps("agent_supply_bps", most=BPS - 1)
        liquidity_raise_bps = _bps("liquidity_raise_bps", least=1)
        depositor_cliff_seconds = _seconds("depositor_cliff_seconds")
        depositor_vesting_seconds = _seconds("depositor_vesting_seconds")
        agent_cliff_seconds = _seconds("agent_cliff_seconds")
        agent_vesting_seconds = _seconds("agent_vesting_seconds")
        protection_blocks = serializers.IntegerField(
            min_value=0, max_value=MAX_PROTECTION_BLOCKS, default=_pool_default("protection_blocks"),
            help_text=f"Anti-snipe window after the launch, in blocks (the Launcher's cap is {MAX_PROTECTION_BLOCKS}).",
        )  # fmt: skip
        max_buy_per_tx = WeiAmount(
            default=_pool_default("max_buy_per_tx"), help_text="Token units one buy may take during the protection."
        )
        fee_bps = _bps("fee_bps", most=MAX_FEE_BPS)
        fee_recipient = _AddressOrEmpty(
            default="",
            help_text="Receives the platform fee. Only one of your bounds' allowed fee recipients; with none listed, "
            "leave it out (or empty): an admin sets it.",
        )
        treasury_address = EthAddress(help_text="Receives the raise beyond the liquidity share and the fee.")
        lp_policy = serializers.ChoiceField(choices=Pool.LpPolicy.choices, default=_pool_default("lp_policy"))
        lp_lock_until = serializers.DateTimeField(default=None, allow_null=True)
        price_mode = serializers.ChoiceField(choices=Pool.PriceMode.choices, default=_pool_default("price_mode"))
        target_price_usd_e8 = WeiAmount(default=_pool_default("target_price_usd_e8"))
        oracle_tolerance_bps = _bps("oracle_tolerance_bps", least=1, most=MAX_ORACLE_TOLERANCE_BPS)
        oracle_max_age_seconds = serializers.IntegerField(
            min_value=60, max_value=86_400, default=_pool_default("oracle_max_age_seconds"),
            help_text="Left out: the price feed's heartbeat (ETH/USD's for ETH, USDC/USD's for an ERC-20), at most "
            "your bound.",
        )  # fmt: skip
        description = serializers.CharField(
            max_length=DESCRIPTION_MAX_CHARS, allow_blank=True, default="",
            help_text="What the token is for, in plain text (no HTML, no Markdown): shown on the pool page.",
        )  # fmt: skip
        image = _ImageOrEmpty(required=False)
        links = serializers.ListField(
            child=TokenLinkSerializer(), max_length=LINKS_MAX, default=[],
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
                if name not in self.initial_data and (self.partial or not field.required):
                    continue  # left out: the pool's default applies (a draft being changed keeps its value)
                try:
                    values[name] = field.run_validation(field.get_value(self.initial_data))
                except serializers.ValidationError as exc:
                    errors[name] = exc.detail
                except SkipField:
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


class AgentPoolDetailApi(StrictQueryParams, APIView):
    """One of your pools, whatever its status; while it is a DRAFT, change it (PATCH) or withdraw it (DELETE)."""

    parser_classes = [ProposalJSONParser]

    @extend_schema(operation_id="agent_pools_retrieve", responses={
        200: PoolDetailSerializer, **error_responses(400, 401, 404, 429)
    })  # fmt: skip
    def get(self, request, pool_id: int):
        """One of your pools, whatever its status."""
        return Response(PoolDetailSerializer(pool_get_for_agent(agent_id=request.user.agent.pk, pool_id=pool_id)).data)

    @extend_schema(
        operation_id="agent_pools_partial_update",
        request=AgentPoolProposeApi.InputSerializer,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={200: PoolDetailSerializer, **error_responses(400, 401, 404, 409, 422, 429)},
    )
    def patch(self, request, pool_id: int):
        """Change your DRAFT pool: any of the proposal's fields. The draft with your changes on top is judged like a
        proposal, every problem at once; 409 `pool_not_draft` once an admin has scheduled it."""
        agent = request.user.agent

        def update() -> tuple[int, dict]:
            serializer = AgentPoolProposeApi.InputSerializer(data=request.data, partial=True)
            values, unparsed = serializer.parse_each_field()
            pool = pool_draft_update(agent=agent, pool_id=pool_id, data=values, unparsed=unparsed)
            return status.HTTP_200_OK, PoolDetailSerializer(pool).data

        return idempotent_response(run_idempotently(request, required=False, execute=update))

    @extend_schema(
        operation_id="agent_pools_destroy",
        responses={204: OpenApiResponse(description="Withdrawn: the draft is gone."), **error_responses(
            400, 401, 404, 409, 429
        )},
    )  # fmt: skip
    def delete(self, request, pool_id: int):
        """Withdraw your DRAFT pool: it is deleted. 409 `pool_not_draft` once an admin has scheduled it."""
        pool_draft_withdraw(agent=request.user.agent, pool_id=pool_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class _PoolChildListApi(StrictQueryParams, ListAPIView):
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
        return deposit_list_for_pool(pool=self.pool(), **self.query_filters)


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
        return refund_list_for_pool(pool=self.pool(), **self.query_filters).prefetch_related("deposits")


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


class AgentPoolLaunchStatusApi(StrictQueryParams, APIView):
    """Your pool's launch: its step, its addresses once launched, and its transactions."""

    @extend_schema(
        operation_id="agent_pools_launch_retrieve",
        parameters=[OpenApiParameter("pool_id", int, OpenApiParameter.PATH)],
        responses={200: LaunchStatusSerializer, **error_responses(400, 401, 404, 429)},
    )
    def get(self, request, pool_id: int):
        """Your pool's launch: its step, its addresses once launched, and its transactions (404 before a request)."""
        pool = pool_get_for_agent(agent_id=request.user.agent.pk, pool_id=pool_id)
        return Response(LaunchStatusSerializer(launch_get_for_pool(pool=pool)).data)
