"""Celery tasks are interfaces: take an id, load the row, call a service."""

from celery import shared_task


@shared_task(acks_late=True)
def webhook_deliver_task(delivery_id: int) -> str:
    """One attempt at a webhook delivery; a failed attempt schedules the next one itself (backoff in the row)."""
    from agent_api.services.webhooks import webhook_deliver

    delivery = webhook_deliver(delivery_id=delivery_id)
    return "skipped" if delivery is None else delivery.status


@shared_task(acks_late=True, expires=60)
def webhook_deliveries_retry_due_task() -> int:
    """Periodic safety net: enqueue pending deliveries whose next attempt is due (lost messages, broker outages)."""
    from agent_api.services.webhooks import webhook_deliveries_retry_due

    return webhook_deliveries_retry_due()


@shared_task(acks_late=True, expires=3600)
def idempotency_records_prune_task() -> int:
    """Periodic: forget Idempotency-Key responses older than a day."""
    from agent_api.services.idempotency import idempotency_records_prune

    return idempotency_records_prune()
