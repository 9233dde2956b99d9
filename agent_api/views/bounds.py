"""GET /api/v1/agent/bounds/: the bounds an admin set for your proposals, and the pool defaults.

An agent that can read its limits and the defaults proposes within them the first time, instead of finding them by
trial. Every bound on AgentBounds is listed with its model's help text as its description, so a new bound shows here
and in the schema without a change to this module; the defaults are the Pool model's, as a proposal stores them.
"""

from __future__ import annotations

import copy

from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_serializer
from rest_framework import serializers
from rest_framework.fields import empty
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_api.models import AgentBounds, AllowedFeeRecipient, AllowedRaiseAsset, AllowedTreasury
from agent_api.schema import error_responses
from agent_api.serializers import EthAddress, OptionalEthAddress, WeiAmount
from agent_api.services.proposals import ProposalsNotAllowed
from agent_api.views.agent import AgentPoolProposeApi
from agent_api.views.params import StrictQueryParams
from pools.models import Pool
from pools.selectors.feeds import default_oracle_max_age
from pools.selectors.pools import pool_list_for_agent

# Optional proposal fields with no default worth stating: no image unless one is sent.
_NO_DEFAULT = frozenset({"image"})


def proposal_defaults(*, bounds: AgentBounds) -> dict:
    """What a proposal stores for each optional field it leaves out: the Pool model's defaults, and the oracle max age
    of an ETH raise (the default raise asset) within the agent's bound, as pool_propose sets it."""
    fields = AgentPoolProposeApi.InputSerializer().fields
    defaults = {
        name: Pool._meta.get_field(name).get_default()
        for name, field in fields.items()
        if not field.required and name not in _NO_DEFAULT
    }
    defaults["oracle_max_age_seconds"] = default_oracle_max_age(
        raise_asset=defaults["raise_asset"], most=bounds.max_oracle_max_age_seconds
    )
    return defaults


def _defaults_serializer() -> type[serializers.Serializer]:
    """The defaults' schema: each optional proposal field's own field (its type and limits), as an output field."""
    fields = {}
    for name, field in AgentPoolProposeApi.InputSerializer().fields.items():
        if field.required or name in _NO_DEFAULT:
            continue
        clone = copy.deepcopy(field)  # unbound, with the same arguments
        clone.read_only, clone.required, clone.default = True, False, empty
        fields[name] = clone
    fields[
        "oracle_max_age_seconds"
    ].help_text = (
        "For an ETH raise (the default raise asset); per asset, see raise_assets[].default_oracle_max_age_seconds."
    )
    serializer = type("ProposalDefaultsSerializer", (serializers.Serializer,), fields)
    return extend_schema_serializer(component_name="ProposalDefaults")(serializer)


ProposalDefaultsSerializer = _defaults_serializer()


class AllowedRaiseAssetSerializer(serializers.ModelSerializer):
    address = OptionalEthAddress(help_text="The ERC-20's address; empty for ETH.")
    max_hard_cap = WeiAmount(help_text="The largest hard cap you may propose in it, in its smallest unit.")
    default_oracle_max_age_seconds = serializers.SerializerMethodField(
        help_text="A proposal raising this asset without oracle_max_age_seconds gets this: its feed's heartbeat, "
        "within your bound."
    )

    class Meta:
        model = AllowedRaiseAsset
        fields = ["address", "symbol", "decimals", "max_hard_cap", "default_oracle_max_age_seconds"]

    @extend_schema_field(serializers.IntegerField())
    def get_default_oracle_max_age_seconds(self, asset: AllowedRaiseAsset) -> int:
        return default_oracle_max_age(raise_asset=asset.address, most=asset.bounds.max_oracle_max_age_seconds)


class AllowedTreasurySerializer(serializers.ModelSerializer):
    address = EthAddress()

    class Meta:
        model = AllowedTreasury
        fields = ["address", "label"]


class AllowedFeeRecipientSerializer(serializers.ModelSerializer):
    address = EthAddress()

    class Meta:
        model = AllowedFeeRecipient
        fields = ["address", "label"]


class AllowedLpPolicies(serializers.ListField):
    child = serializers.ChoiceField(choices=Pool.LpPolicy.choices)


@extend_schema_serializer(component_name="AgentBounds")
class BoundsSerializer(serializers.ModelSerializer):
    # The model's JSON field holds a list of LP policies: say so in the schema.
    allowed_lp_policies = AllowedLpPolicies(help_text=AgentBounds._meta.get_field("allowed_lp_policies").help_text)
    raise_assets = AllowedRaiseAssetSerializer(many=True, help_text="The assets you may raise, with their hard caps.")
    treasuries = AllowedTreasurySerializer(
        many=True, help_text="The treasuries you may name; none listed: any address will do."
    )
    fee_recipients = AllowedFeeRecipientSerializer(
        many=True,
        help_text="The fee recipients you may name; none listed: a proposal may not name one, and the admin's choice "
        "at scheduling applies.",
    )
    drafts_in_use = serializers.SerializerMethodField(
        help_text="Your pools in DRAFT now, out of max_pools_in_draft: a proposal beyond it is refused (409)."
    )
    defaults = serializers.SerializerMethodField(
        help_text="What a proposal stores for each optional field it leaves out."
    )

    class Meta:
        model = AgentBounds
        exclude = ["id", "agent"]

    @extend_schema_field(serializers.IntegerField())
    def get_drafts_in_use(self, bounds: AgentBounds) -> int:
        return pool_list_for_agent(agent_id=bounds.agent_id, status=Pool.Status.DRAFT).count()

    @extend_schema_field(ProposalDefaultsSerializer)
    def get_defaults(self, bounds: AgentBounds) -> dict:
        return ProposalDefaultsSerializer(proposal_defaults(bounds=bounds)).data


BOUNDS_LISTS = ("raise_assets", "treasuries", "fee_recipients")


class AgentBoundsApi(StrictQueryParams, APIView):
    """The bounds an admin set for your proposals, the assets and treasuries you may use, and the pool defaults."""

    @extend_schema(
        operation_id="agent_bounds_retrieve",
        responses={200: BoundsSerializer, **error_responses(401, 403, 429)},
    )
    def get(self, request):
        """Your bounds (403 `proposals_not_allowed` until an admin sets them), drafts in use, and the defaults."""
        bounds = AgentBounds.objects.filter(agent=request.user.agent).prefetch_related(*BOUNDS_LISTS).first()
        if bounds is None:
            raise ProposalsNotAllowed(
                "An admin has not set bounds for your proposals yet: an admin must set them before you can propose "
                "pools or read them here."
            )
        return Response(BoundsSerializer(bounds).data)
