"""Every periodic task, declared in one place; `manage.py setup_periodic_tasks` upserts them into the beat schedule."""

from dataclasses import dataclass


@dataclass(frozen=True)
class PeriodicTask:
    name: str
    task: str
    every_seconds: int


PERIODIC_TASKS = [
    PeriodicTask(name="beat heartbeat", task="pools.tasks.beat_heartbeat", every_seconds=15),
]
