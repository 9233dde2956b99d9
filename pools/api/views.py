"""REST API views: one per operation, small input/output serializers, a selector or a service underneath."""

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.generics import ListAPIView
from rest_framework.permissions import AllowAny

from pools.models import Pool
from pools.selectors.pools import pool_list_public


class WeiAmount(serializers.Field):
    """An integer amount in the smallest unit, as a decimal string (JSON numbers lose precision above 2**53)."""

    def to_representation(self, value: int) -> str:
        return str(int(value))

    def to_internal_value(self, data) -> int:
        if not isinstance(data, str) or not data.isdigit():
            raise serializers.ValidationError('Give amounts as a string of digits in the smallest unit, e.g. "1000".')
        return int(data)


class PoolListApi(ListAPIView):
    """Public pools, newest first."""

    permission_classes = [AllowAny]

    class OutputSerializer(serializers.ModelSerializer):
        agent = serializers.CharField(source="agent.name")
        soft_cap = WeiAmount()
        hard_cap = WeiAmount()
        raised = WeiAmount()

        class Meta:
            model = Pool
            fields = [
                "id",
                "name",
                "agent",
                "token_name",
                "token_symbol",
                "status",
                "raise_asset",
                "raise_asset_symbol",
                "raise_asset_decimals",
                "soft_cap",
                "hard_cap",
                "raised",
                "opens_at",
                "closes_at",
                "deposit_address",
            ]

    serializer_class = OutputSerializer

    @extend_schema(operation_id="pools_list")
    def get(self, request, *args, **kwargs):
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return pool_list_public(search=self.request.query_params.get("q", "").strip()[:100])
