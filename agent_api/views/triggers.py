"""Agent-triggered jobs: launch (Idempotency-Key required), its dry run, and refunds (Idempotency-Key required).

The services are looked up on their modules at call time (`launch.launch_request`), so the unit tests of these views
can put a stand-in in place of the launch and refund jobs.
"""

from __future__ import annotations

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_serializer
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from agent_api.schema import error_responses
from agent_api.serializers import LaunchStatusSerializer, WeiAmount
from agent_api.views.idempotent import IDEMPOTENCY_KEY_REQUIRED, idempotent_response, run_idempotently
from agent_api.views.params import StrictQueryParams
from agent_api.views.quote import SignedInteger
from chain.errors import ChainError
from pools.errors import ApplicationError
from pools.models import Pool
from pools.selectors.pools import launch_get_for_pool, pool_get_for_agent
from pools.services import launch, refunds
from pools.signer_client import SignerError


class ChainUnavailable(ApplicationError):
    status_code = 503
    code = "chain_unavailable"


class SignerUnavailable(ApplicationError):
    status_code = 503
    code = "signer_unavailable"


def _requested_by(request) -> str:
    return f"agent {request.user.agent.name} (API key lp_{request.auth.prefix})"


class AgentPoolLaunchApi(APIView):
    """Ask for your pool's launch: exactly one launch happens however often this is called."""

    throttle_scopes = {"POST": "agent_trigger"}

    @extend_schema(
        operation_id="agent_pools_launch_create",
        request=None,
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        responses={
            202: OpenApiResponse(LaunchStatusSerializer, description="Accepted: the launch job is on its way."),
            **error_responses(400, 401, 404, 409, 422, 429),
        },
    )
    def post(self, request, pool_id: int):
        """Launch a CLOSED pool that met its soft cap (202 with the launch status; 409 with the reason when not)."""
        pool = pool_get_for_agent(agent_id=request.user.agent.pk, pool_id=pool_id)

        def request_launch() -> tuple[int, dict]:
            launch.launch_request(pool_id=pool.pk, requested_by=_requested_by(request))
            return status.HTTP_202_ACCEPTED, LaunchStatusSerializer(launch_get_for_pool(pool=pool)).data

        return idempotent_response(run_idempotently(request, required=True, execute=request_launch))


class AgentPoolLaunchDryRunApi(StrictQueryParams, APIView):
    """Simulate your pool's launch against the current chain (eth_call); nothing is sent or changed."""

    throttle_scopes = {"POST": "agent_trigger"}

    @extend_schema_serializer(component_name="LaunchDryRun")
    class OutputSerializer(serializers.Serializer):
        would_succeed = serializers.BooleanField()
        error = serializers.CharField(allow_blank=True)
        token_address = serializers.CharField()
        raise_amount = WeiAmount()
        liquidity_funds = WeiAmount()
        fee = WeiAmount()
        treasury = WeiAmount()
        liquidity_tokens = WeiAmount()
        burned_tokens = WeiAmount()
        depositor_tokens = WeiAmount()
        agent_tokens = WeiAmount()
        price_in_asset = WeiAmount(allow_null=True)
        price_usd_e8 = WeiAmount(allow_null=True)
        oracle_answer = SignedInteger(help_text="The price feed's answer (int256: may be negative).")
        merkle_root = serializers.CharField()
        gas = serializers.IntegerField(allow_null=True)
        simulated_in_ms = serializers.IntegerField()

    @extend_schema(
        operation_id="agent_pools_launch_dry_run",
        request=None,
        responses={200: OutputSerializer, **error_responses(400, 401, 404, 409, 429, 503)},
    )
    def post(self, request, pool_id: int):
        """What the launch would do now: token address, amounts, price in the asset and in USD, gas."""
        pool = pool_get_for_agent(agent_id=request.user.agent.pk, pool_id=pool_id)
        try:
            result = launch.launch_dry_run(pool_id=pool.pk)
        except ChainError as exc:
            raise ChainUnavailable(f"The chain could not be read: {type(exc).__name__}. Try again shortly.") from exc
        except SignerError as exc:
            raise SignerUnavailable(f"The signer could not be reached: {type(exc).__name__}.") from exc
        return Response(result)


class AgentPoolRefundRequestApi(APIView):
    """Ask for the refunds your pool owes (a failed or cancelled raise, over-cap parts, rejected deposits)."""

    throttle_scopes = {"POST": "agent_trigger"}

    @extend_schema_serializer(component_name="RefundRequestAccepted")
    class OutputSerializer(serializers.Serializer):
        pool_id = serializers.IntegerField()
        pool_status = serializers.ChoiceField(choices=Pool.Status.choices)
        refund_count = serializers.IntegerField(help_text="Refunds this request created (0: all is in one already).")
        refund_amount = WeiAmount(help_text="Their total, in the raise asset's smallest unit.")

    @extend_schema(
        operation_id="agent_pools_refunds_create",
        request=None,
        parameters=[IDEMPOTENCY_KEY_REQUIRED],
        responses={
            202: OpenApiResponse(OutputSerializer, description="Accepted: the refund job is on its way."),
            **error_responses(400, 401, 404, 409, 422, 429),
        },
    )
    def post(self, request, pool_id: int):
        """Create the refunds owed and enqueue the refund job (202; 409 with the reason when nothing is refundable)."""
        pool = pool_get_for_agent(agent_id=request.user.agent.pk, pool_id=pool_id)

        def request_refunds() -> tuple[int, dict]:
            created = refunds.refund_request(pool_id=pool.pk, requested_by=_requested_by(request))
            pool.refresh_from_db(fields=["status"])
            body = {
                "pool_id": pool.pk,
                "pool_status": pool.status,
                "refund_count": len(created),
                "refund_amount": sum(refund.amount for refund in created),
            }
            return status.HTTP_202_ACCEPTED, self.OutputSerializer(body).data

        return idempotent_response(run_idempotently(request, required=True, execute=request_refunds))
