"""Your webhook endpoints: list, add (the signing secret is shown once), read, delete; a test delivery, the
delivery log, and redelivery."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.generics import ListAPIView
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_api.models import DELIVERY_EVENT_CHOICES, WebhookDelivery, WebhookEndpoint, WebhookEvent
from agent_api.schema import error_responses
from agent_api.services.webhooks import (
    webhook_deliveries_for_endpoint,
    webhook_endpoint_create,
    webhook_endpoint_delete,
    webhook_endpoint_for_replay,
    webhook_endpoint_get,
    webhook_ping,
    webhook_redeliver,
)
from agent_api.views.idempotent import IDEMPOTENCY_KEY_OPTIONAL, idempotent_response, run_idempotently
from agent_api.views.params import StrictQueryParams


class WebhookEndpointSerializer(serializers.ModelSerializer):
    events = serializers.ListField(child=serializers.ChoiceField(choices=WebhookEvent.choices))

    class Meta:
        model = WebhookEndpoint
        fields = ["id", "url", "events", "active", "created_at"]


class WebhookListApi(StrictQueryParams, ListAPIView):
    serializer_class = WebhookEndpointSerializer

    @extend_schema(operation_id="agent_webhooks_list", responses={
        200: WebhookEndpointSerializer(many=True), **error_responses(400, 401, 429)
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
            min_length=1,
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
        """Add a webhook endpoint; keep the returned `secret` to verify the X-Launchpad-Signature header.

        Sent again with the same Idempotency-Key, the same answer comes back while the endpoint exists, and 409
        `webhook_deleted` once it was deleted (a deleted endpoint's secret is never shown again)."""

        def create() -> tuple[int, dict]:
            serializer = WebhookCreateApi.InputSerializer(data=request.data)
            serializer.is_valid(raise_exception=True)
            endpoint = webhook_endpoint_create(agent=request.user.agent, **serializer.validated_data)
            return status.HTTP_201_CREATED, WebhookCreateApi.OutputSerializer(endpoint).data

        def without_secret(body: dict) -> dict:
            # The Idempotency-Key's record never holds the secret: it would outlive a deleted endpoint.
            return {name: value for name, value in body.items() if name != "secret"}

        def with_current_secret(body: dict) -> dict:
            # A replay answers what the first request did while the endpoint exists, and 409 once it was deleted.
            endpoint = webhook_endpoint_for_replay(agent=request.user.agent, endpoint_id=body["id"])
            return {**body, "secret": endpoint.secret}

        result = run_idempotently(
            request, required=False, execute=create, stored=without_secret, replayed=with_current_secret
        )
        return idempotent_response(result)


class WebhookDeleteApi(StrictQueryParams, APIView):
    """GET: one of your webhook endpoints; DELETE: delete it (the path's two operations)."""

    @extend_schema(
        operation_id="agent_webhooks_retrieve",
        responses={200: WebhookEndpointSerializer, **error_responses(400, 401, 404, 429)},
    )
    def get(self, request, webhook_id: int):
        """One of your webhook endpoints (its secret is not shown again)."""
        endpoint = webhook_endpoint_get(agent=request.user.agent, endpoint_id=webhook_id)
        return Response(WebhookEndpointSerializer(endpoint).data)

    @extend_schema(
        operation_id="agent_webhooks_destroy",
        responses={204: OpenApiResponse(description="Deleted."), **error_responses(400, 401, 404, 429)},
    )
    def delete(self, request, webhook_id: int):
        """Delete one of your webhook endpoints; pending deliveries to it are dropped."""
        webhook_endpoint_delete(agent=request.user.agent, endpoint_id=webhook_id)
        return Response(status=status.HTTP_204_NO_CONTENT)


class WebhookDeliverySerializer(serializers.ModelSerializer):
    """One event to one endpoint, with its attempts so far."""

    delivery_id = serializers.UUIDField(
        read_only=True, help_text="The X-Launchpad-Delivery header and the body's `id`: the same on a redelivery."
    )
    event = serializers.ChoiceField(choices=DELIVERY_EVENT_CHOICES, read_only=True)
    status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, read_only=True)
    payload = serializers.DictField(read_only=True, help_text="The body's `data`, as sent.")

    class Meta:
        model = WebhookDelivery
        fields = [
            "id",
            "delivery_id",
            "event",
            "status",
            "attempts",
            "next_attempt_at",
            "last_attempt_at",
            "response_status",
            "last_error",
            "created_at",
            "delivered_at",
            "payload",
        ]
        read_only_fields = fields


class WebhookTestApi(StrictQueryParams, APIView):
    """Send a signed `ping` to one of your endpoints now, to check that it receives and verifies deliveries."""

    throttle_scopes = {"POST": "agent_trigger"}

    @extend_schema(
        operation_id="agent_webhooks_test_create",
        request=None,
        responses={
            202: OpenApiResponse(WebhookDeliverySerializer, description="Queued: the `ping` is on its way."),
            **error_responses(400, 401, 404, 409, 429),
        },
    )
    def post(self, request, webhook_id: int):
        """Queue a signed `ping` delivery to this endpoint now, whatever events it receives (202 with the delivery;
        follow it in the delivery log). 409 `webhook_inactive` for a deactivated endpoint."""
        delivery = webhook_ping(agent=request.user.agent, endpoint_id=webhook_id)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)


class WebhookDeliveryListApi(StrictQueryParams, ListAPIView):
    """The endpoint's delivery log, newest first."""

    serializer_class = WebhookDeliverySerializer

    class FilterSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=WebhookDelivery.Status.choices, required=False)

    @extend_schema(operation_id="agent_webhooks_deliveries_list", parameters=[FilterSerializer], responses={
        200: WebhookDeliverySerializer(many=True), **error_responses(400, 401, 404, 429)
    })  # fmt: skip
    def get(self, request, *args, **kwargs):
        """Deliveries to one of your endpoints, newest first, with their attempts and last error (`?status=`:
        pending, delivered or failed)."""
        return super().get(request, *args, **kwargs)

    def get_queryset(self):
        endpoint = webhook_endpoint_get(agent=self.request.user.agent, endpoint_id=self.kwargs["webhook_id"])
        return webhook_deliveries_for_endpoint(endpoint=endpoint, status=self.query_filters.get("status", ""))


class WebhookRedeliverApi(StrictQueryParams, APIView):
    """Send one delivery again, a delivered one too, keeping its delivery id."""

    throttle_scopes = {"POST": "agent_trigger"}

    @extend_schema(
        operation_id="agent_webhooks_deliveries_redeliver",
        request=None,
        responses={
            202: OpenApiResponse(
                WebhookDeliverySerializer, description="Queued: a fresh round of attempts starts now."
            ),
            **error_responses(400, 401, 404, 409, 429),
        },
    )
    def post(self, request, webhook_id: int, delivery_id: int):
        """Start a fresh round of attempts now (202 with the delivery); the X-Launchpad-Delivery id stays the same so
        that your receiver can tell a repeat. 404 `webhook_delivery_not_found`, 409 `webhook_inactive`."""
        delivery = webhook_redeliver(agent=request.user.agent, endpoint_id=webhook_id, delivery_id=delivery_id)
        return Response(WebhookDeliverySerializer(delivery).data, status=status.HTTP_202_ACCEPTED)
