"""Celery tasks of the website: interfaces that call one service each."""

from celery import shared_task


@shared_task(acks_late=False, expires=50)
def snapshot_prices() -> dict:
    """Scheduled every minute: every launched pool's pair and the USD feeds, for the dashboard and its charts."""
    from web.services import snapshots_prune, snapshots_take

    report = snapshots_take()
    return {
        "block_number": report.block_number,
        "pools": report.pools,
        "feeds": report.feeds,
        "pruned": snapshots_prune(),
    }
