"""/api/v1/: one view per operation. Where two operations share a path (GET lists, POST acts), Django routes by path
only, so the path's class is composed of the two operation classes; each method keeps its own schema and docs."""

from django.urls import path, re_path

from pools.api import agent_views, trigger_views, views, webhook_views


class AgentPoolsApi(agent_views.AgentPoolProposeApi, agent_views.AgentPoolListApi):
    """GET: AgentPoolListApi; POST: AgentPoolProposeApi."""


class AgentPoolLaunchApi(trigger_views.AgentPoolLaunchApi, agent_views.AgentPoolLaunchStatusApi):
    """GET: AgentPoolLaunchStatusApi; POST: trigger_views.AgentPoolLaunchApi."""


class AgentPoolRefundsApi(trigger_views.AgentPoolRefundRequestApi, agent_views.AgentPoolRefundListApi):
    """GET: AgentPoolRefundListApi; POST: AgentPoolRefundRequestApi."""


class WebhooksApi(webhook_views.WebhookCreateApi, webhook_views.WebhookListApi):
    """GET: WebhookListApi; POST: WebhookCreateApi."""


urlpatterns = [
    # public
    path("pools/", views.PoolListApi.as_view(), name="api-pool-list"),
    path("pools/<int:pool_id>/", views.PoolDetailApi.as_view(), name="api-pool-detail"),
    path(
        "pools/<int:pool_id>/allocations/<str:address>/",
        views.AllocationPublicApi.as_view(),
        name="api-pool-allocation",
    ),
    # agent (API key)
    path("agent/pools/", AgentPoolsApi.as_view(), name="api-agent-pools"),
    path("agent/pools/<int:pool_id>/", agent_views.AgentPoolDetailApi.as_view(), name="api-agent-pool"),
    path(
        "agent/pools/<int:pool_id>/deposits/",
        agent_views.AgentPoolDepositListApi.as_view(),
        name="api-agent-pool-deposits",
    ),
    path("agent/pools/<int:pool_id>/refunds/", AgentPoolRefundsApi.as_view(), name="api-agent-pool-refunds"),
    path(
        "agent/pools/<int:pool_id>/allocations/",
        agent_views.AgentPoolAllocationListApi.as_view(),
        name="api-agent-pool-allocations",
    ),
    path("agent/pools/<int:pool_id>/launch/", AgentPoolLaunchApi.as_view(), name="api-agent-pool-launch"),
    path(
        "agent/pools/<int:pool_id>/launch/dry-run/",
        trigger_views.AgentPoolLaunchDryRunApi.as_view(),
        name="api-agent-pool-launch-dry-run",
    ),
    path("agent/webhooks/", WebhooksApi.as_view(), name="api-agent-webhooks"),
    path("agent/webhooks/<int:webhook_id>/", webhook_views.WebhookDeleteApi.as_view(), name="api-agent-webhook"),
    re_path(r"^[\s\S]*$", views.NoSuchEndpointApi.as_view()),  # last: a JSON 404 for anything else under /api/v1/
]
