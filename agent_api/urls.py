"""/api/v1/: one view per operation. Where two operations share a path (GET lists, POST acts), Django routes by path
only, so the path's class is composed of the two operation classes; each method keeps its own schema and docs."""

from django.urls import path, re_path

from agent_api.views import agent, bounds, depositors, events, public, quote, triggers, webhooks


class AgentPoolsApi(agent.AgentPoolProposeApi, agent.AgentPoolListApi):
    """GET: AgentPoolListApi; POST: AgentPoolProposeApi."""


class AgentPoolLaunchApi(triggers.AgentPoolLaunchApi, agent.AgentPoolLaunchStatusApi):
    """GET: AgentPoolLaunchStatusApi; POST: triggers.AgentPoolLaunchApi."""


class AgentPoolRefundsApi(triggers.AgentPoolRefundRequestApi, agent.AgentPoolRefundListApi):
    """GET: AgentPoolRefundListApi; POST: AgentPoolRefundRequestApi."""


class WebhooksApi(webhooks.WebhookCreateApi, webhooks.WebhookListApi):
    """GET: WebhookListApi; POST: WebhookCreateApi."""


urlpatterns = [
    # public
    path("pools/", public.PoolListApi.as_view(), name="api-pool-list"),
    path("pools/<int:pool_id>/", public.PoolDetailApi.as_view(), name="api-pool-detail"),
    path("pools/<int:pool_id>/deposits/", public.PoolDepositListApi.as_view(), name="api-pool-deposits"),
    path("pools/<int:pool_id>/claims/<str:address>/", depositors.PoolClaimApi.as_view(), name="api-pool-claim"),
    path("depositors/<str:address>/", depositors.DepositorApi.as_view(), name="api-depositor"),
    path(
        "pools/<int:pool_id>/allocations/<str:address>/",
        public.AllocationPublicApi.as_view(),
        name="api-pool-allocation",
    ),
    # agent (API key)
    path("agent/bounds/", bounds.AgentBoundsApi.as_view(), name="api-agent-bounds"),
    path("agent/events/", events.AgentEventStreamApi.as_view(), name="api-agent-events"),
    path("agent/pools/", AgentPoolsApi.as_view(), name="api-agent-pools"),
    path("agent/pools/quote/", quote.AgentProposalQuoteApi.as_view(), name="api-agent-proposal-quote"),
    path("agent/pools/<int:pool_id>/quote/", quote.AgentPoolQuoteApi.as_view(), name="api-agent-pool-quote"),
    path("agent/pools/<int:pool_id>/", agent.AgentPoolDetailApi.as_view(), name="api-agent-pool"),
    path(
        "agent/pools/<int:pool_id>/deposits/",
        agent.AgentPoolDepositListApi.as_view(),
        name="api-agent-pool-deposits",
    ),
    path("agent/pools/<int:pool_id>/refunds/", AgentPoolRefundsApi.as_view(), name="api-agent-pool-refunds"),
    path(
        "agent/pools/<int:pool_id>/allocations/",
        agent.AgentPoolAllocationListApi.as_view(),
        name="api-agent-pool-allocations",
    ),
    path("agent/pools/<int:pool_id>/launch/", AgentPoolLaunchApi.as_view(), name="api-agent-pool-launch"),
    path(
        "agent/pools/<int:pool_id>/launch/dry-run/",
        triggers.AgentPoolLaunchDryRunApi.as_view(),
        name="api-agent-pool-launch-dry-run",
    ),
    path("agent/webhooks/", WebhooksApi.as_view(), name="api-agent-webhooks"),
    path("agent/webhooks/<int:webhook_id>/", webhooks.WebhookDeleteApi.as_view(), name="api-agent-webhook"),
    path("agent/webhooks/<int:webhook_id>/test/", webhooks.WebhookTestApi.as_view(), name="api-agent-webhook-test"),
    path(
        "agent/webhooks/<int:webhook_id>/deliveries/",
        webhooks.WebhookDeliveryListApi.as_view(),
        name="api-agent-webhook-deliveries",
    ),
    path(
        "agent/webhooks/<int:webhook_id>/deliveries/<int:delivery_id>/redeliver/",
        webhooks.WebhookRedeliverApi.as_view(),
        name="api-agent-webhook-redeliver",
    ),
    re_path(r"^[\s\S]*$", public.NoSuchEndpointApi.as_view()),  # last: a JSON 404 for anything else under /api/v1/
]
