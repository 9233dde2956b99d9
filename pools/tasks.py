"""Celery tasks are interfaces: take an id, load the row, call a service."""

from celery import shared_task

from pools.services.health import record_beat_heartbeat


@shared_task(acks_late=False)
def ping() -> str:
    """The health check's round trip through the broker, a worker and the result backend."""
    return "pong"


@shared_task(acks_late=False)
def beat_heartbeat() -> None:
    """Scheduled by beat; its timestamp shows beat and a worker are alive."""
    record_beat_heartbeat()
