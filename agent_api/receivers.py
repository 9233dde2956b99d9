"""agent_api's receivers of other rooms' signals (connected in AgentApiConfig.ready)."""

from django.dispatch import receiver

from agent_api.services.webhooks import webhooks_for_pool_events
from pools.models import Pool, PoolEvent
from pools.signals import pool_events_recorded


@receiver(pool_events_recorded, sender=PoolEvent, dispatch_uid="agent_api.pool_events_to_webhooks")
def pool_events_to_webhooks(sender, *, pool: Pool, kind: str, event_ids: list[int], **kwargs) -> None:
    """A pool's new events become deliveries to its agent's webhooks."""
    webhooks_for_pool_events(pool=pool, kind=kind, event_ids=event_ids)
