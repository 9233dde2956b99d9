"""Your webhook endpoints: list, add (the signing secret is shown once), delete."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_api.models import WebhookEndpoint, WebhookEvent
from agent_api.schema import error_responses
from agent_api.services.webhooks import webhook_endpoint_create, webhook_endpoint_delete
from agent_api.views.idempotent import IDEMPOTENCY_KEY_OPTIONAL, idempotent_response, run_idempotently


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at"]


class WebhookListApi(ListAPIView):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(operation_id="agent_webhooks_list", responses={
        200: WebhookEndpointSerializer(many=True), **error_responses(401, 429)
    })  # fmt: skip
    def get(self, request, *args, **kwargs):
        """Your webhook endpoints (their secrets are not shown again)."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        return WebhookEndpoint.objects.filter(agent=self.request.user.agent).order_by("-created_at", "-id")


class WebhookCreateApi(APIView):
    @extend_schema_serializer(component_name="WebhookEndpointCreate")
    class InputSerializer(serializers.Serializer):
        url = serializers.URLField(max_length=500, help_text="https URL that receives POSTed events.")
        events = serializers.ListField(
            child=serializers.ChoiceField(choices=WebhookEvent.choices),
            required=False,
            allow_empty=False,
            max_length=len(WebhookEvent.values) * 2,
            help_text="Events to receive; all of them when left out.",
        )

    @extend_schema_serializer(component_name="WebhookEndpointWithSecret")
    class OutputSerializer(WebhookEndpointSerializer):
        class Meta(WebhookEndpointSerializer.Meta):
            fields = [*WebhookEndpointSerializer.Meta.fields, "secret"]

    @extend_schema(
        operation_id="agent_webhooks_create",
        request=InputSerializer,
        parameters=[IDEMPOTENCY_KEY_OPTIONAL],
        responses={
            201: OpenApiResponse(OutputSerializer, description="Created; `secret` signs every delivery and is shown "
                                 "only now."),
            **error_responses(400, 401, 409, 422, 429),
        },
    )  # fmt: skip
    def post(self, request):
        """Add a webhook endpoint; keep the returned `secret` to verify the X-Launchpad-Signature header."""

        def create() -> tuple[int, dict]:
            serializer = WebhookCreateApi.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            endpoint = webhook_endpoint_create(agent=request.user.agent, **serializer.validated_data)
            return status.HTTP_201_CREATED, WebhookCreateApi.OutputSerializer(endpoint).data

        return idempotent_response(run_idempotently(request, required=False, execute=create))


class WebhookDeleteApi(APIView):
    @extend_schema(
        operation_id="agent_webhooks_destroy",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(401, 404, 429)},
    )
    def delete(self, request, webhook_id: int):
        """Delete one of your webhook endpoints; pending deliveries to it are dropped."""
        webhook_endpoint_delete(agent=request.user.agent, endpoint_id=webhook_id)
        return Response(status=status.HTTP_204_NO_CONTENT)
