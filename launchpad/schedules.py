"""Every periodic task of every room, declared in one place (the project knows all the rooms; no room knows another's
tasks); `manage.py setup_periodic_tasks` upserts them into the beat schedule."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    task: str
    every_seconds: int


PERIODIC_TASKS = [
    PeriodicTask(name="beat heartbeat", task="pools.tasks.beat_heartbeat", every_seconds=15),
    # Deposits on settings.CHAIN_ID (the task's default chain); a run that finds the cursor locked skips.
    PeriodicTask(name="index chain", task="pools.tasks.index_chain_task", every_seconds=3),
    PeriodicTask(name="open and close pools on time", task="pools.tasks.pools_on_time", every_seconds=5),
    # Jobs whose queue message was lost (a Redis restart, a purge) are picked up again from their database state.
    PeriodicTask(name="resume launches and refunds", task="pools.tasks.resume_jobs", every_seconds=30),
    # A no-op except on a local development chain, where nothing else keeps the development feeds fresh.
    PeriodicTask(name="refresh development price feeds", task="pools.tasks.refresh_dev_price_feeds", every_seconds=600),
    PeriodicTask(name="dashboard price snapshots", task="web.tasks.snapshot_prices", every_seconds=60),
    PeriodicTask(
        name="webhook deliveries retry", task="agent_api.tasks.webhook_deliveries_retry_due_task", every_seconds=60
    ),
    PeriodicTask(name="idempotency prune", task="agent_api.tasks.idempotency_records_prune_task", every_seconds=3600),
]
