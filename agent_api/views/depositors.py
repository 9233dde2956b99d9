"""Public reads for depositors (no key): what an address can claim from a launched pool, with the exact transaction
that claims it, and one address across every public pool (docs/api.md, "Claims and depositors")."""

from django.urls import reverse
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_field
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_api.schema import ADDRESS_PATH_SCHEMA, error_responses
from agent_api.serializers import DepositSerializer, EthAddress, OptionalEthAddress, RefundSerializer, WeiAmount
from agent_api.views.params import StrictQueryParams
from pools.models import Pool
from pools.selectors.depositors import DepositorPool, claim_get_public, depositor_pool_list, depositor_pools

ADDRESS_PARAMETER = OpenApiParameter(
    "address", ADDRESS_PATH_SCHEMA, OpenApiParameter.PATH,
    description="The depositor's address (any case; a mixed-case one must carry a valid EIP-55 checksum).",
)  # fmt: skip


class ClaimSerializer(serializers.Serializer):
    pool_id = serializers.IntegerField(source="pool.pk")
    address = EthAddress(source="allocation.address", help_text="The depositor, who must send the claim itself.")
    token_address = EthAddress(source="launch.token_address")
    claim_vault_address = EthAddress(source="launch.claim_vault_address")
    allocation = WeiAmount(source="allocation.token_amount", help_text="All the tokens allocated, in token units.")
    contribution = WeiAmount(source="allocation.contribution", help_text="The credited contribution it is for.")
    proof = serializers.ListField(
        source="allocation.proof", child=serializers.CharField(), help_text="Merkle proof: 32-byte hashes, hex."
    )
    claimed = WeiAmount(source="status.claimed", allow_null=True, help_text="Claimed so far; null if not read.")
    vested = WeiAmount(source="status.vested", allow_null=True, help_text="Vested by now; null if not read.")
    claimable_now = WeiAmount(
        source="status.claimable",
        allow_null=True,
        help_text="vested - claimed at the latest block, what ClaimVault.claimable(address, allocation) says; null "
        "when the chain did not answer (see claimable_unavailable). With vesting, a claim mined later gets a little "
        "more.",
    )
    claimable_unavailable = serializers.CharField(
        source="unavailable", allow_null=True, help_text="Why the amounts read on chain are null; null when read."
    )
    launched_at = serializers.DateTimeField(source="launch.launched_at", allow_null=True)
    vesting_start = serializers.DateTimeField(
        allow_null=True, help_text="The end of the cliff: the vesting line starts here (null if not read)."
    )
    vesting_end = serializers.DateTimeField(
        allow_null=True, help_text="Everything vested from here (null if not read)."
    )
    chain_time = serializers.DateTimeField(allow_null=True, help_text="The latest block's time the amounts are at.")
    to = EthAddress(source="launch.claim_vault_address", help_text="The claim transaction's `to`: the ClaimVault.")
    value = serializers.SerializerMethodField(help_text='The claim transaction\'s value: always "0".')
    calldata = serializers.CharField(
        help_text="The claim transaction's data, `ClaimVault.claim(allocation, proof)`, 0x-hex: send it from address."
    )

    @extend_schema_field(WeiAmount())
    def get_value(self, claim) -> str:
        return "0"

    def to_representation(self, claim) -> dict:
        data = super().to_representation(claim)
        data["claimable_unavailable"] = claim.unavailable or None
        return data


class PoolClaimApi(StrictQueryParams, APIView):
    """What an address can claim from a launched pool now, read on chain, with the exact claim transaction."""

    permission_classes = [AllowAny]

    @extend_schema(
        operation_id="pools_claim_retrieve",
        parameters=[ADDRESS_PARAMETER],
        responses={200: ClaimSerializer, **error_responses(400, 401, 404, 409, 429)},
    )
    def get(self, request, pool_id: int, address: str):
        return Response(ClaimSerializer(claim_get_public(pool_id=pool_id, address=address)).data)


class DepositorPoolRefSerializer(serializers.Serializer):
    id = serializers.IntegerField(source="pk")
    name = serializers.CharField()
    status = serializers.ChoiceField(choices=Pool.Status.choices)
    token_symbol = serializers.CharField()
    raise_asset = OptionalEthAddress(help_text="ERC-20 address, or empty for native ETH.")
    raise_asset_symbol = serializers.CharField()
    raise_asset_decimals = serializers.IntegerField()


class DepositorAllocationSerializer(serializers.Serializer):
    token_amount = WeiAmount(help_text="Tokens allocated, in token units.")
    contribution = WeiAmount(help_text="The credited contribution they are for.")
    claim_url = serializers.SerializerMethodField(help_text="What can be claimed now, and the claim transaction.")

    def get_claim_url(self, allocation) -> str:
        return reverse("api-pool-claim", args=[allocation.pool_id, allocation.address])


class DepositorTotalsSerializer(serializers.Serializer):
    deposited = WeiAmount(help_text="Every deposit of the address, pending ones included.")
    pending = WeiAmount(help_text="Deposits still waiting for their confirmations.")
    credited = WeiAmount(help_text="Counted toward the raise; 0 once the raise failed or was cancelled.")
    refund_owed = WeiAmount(help_text="Owed back in all, paid or not.")
    refund_paid = WeiAmount(help_text="Paid back so far.")
    refund_still_owed = WeiAmount(help_text="refund_owed - refund_paid.")


class DepositorPoolSerializer(serializers.Serializer):
    pool = DepositorPoolRefSerializer()
    deposits = DepositSerializer(many=True, help_text="The address's deposits to the pool, in chain order.")
    refunds = RefundSerializer(many=True, help_text="Refunds to the address (owed, sending, paid, set aside).")
    allocation = DepositorAllocationSerializer(allow_null=True, help_text="Its tokens, once the pool launched.")
    totals = DepositorTotalsSerializer(source="*")


class DepositorApi(StrictQueryParams, ListAPIView):
    """One address across every public pool, newest pool first: its deposits and their split, its refunds, its
    allocation, and totals per pool (in each pool's raise asset)."""

    permission_classes = [AllowAny]
    serializer_class = DepositorPoolSerializer

    @extend_schema(
        operation_id="depositors_retrieve",
        parameters=[ADDRESS_PARAMETER],
        responses={200: DepositorPoolSerializer(many=True), **error_responses(400, 401, 429)},
    )
    def get(self, request, address: str):
        page = self.paginate_queryset(depositor_pool_list(address=address))
        entries: list[DepositorPool] = depositor_pools(address=address, pools=page)
        parts = {pk: p for entry in entries for pk, p in entry.parts.items()}
        data = DepositorPoolSerializer(entries, many=True, context={"deposit_parts": parts}).data
        return self.get_paginated_response(data)
