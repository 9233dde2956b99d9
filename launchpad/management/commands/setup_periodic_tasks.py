"""Upsert launchpad.schedules.PERIODIC_TASKS into django-celery-beat, and disable the ones no longer declared."""

from django.core.management.base import BaseCommand
from django.db import transaction
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from launchpad.schedules import PERIODIC_TASKS


class Command(BaseCommand):
    help = "Declare the periodic tasks (from launchpad/schedules.py) in the beat schedule."

    @transaction.atomic
    def handle(self, *args, **options):
        declared = set()
        for spec in PERIODIC_TASKS:
            interval, _ = IntervalSchedule.objects.get_or_create(
                every=spec.every_seconds, period=IntervalSchedule.SECONDS
            )
            PeriodicTask.objects.update_or_create(
                name=spec.name, defaults={"task": spec.task, "interval": interval, "enabled": True}
            )
            declared.add(spec.name)
            self.stdout.write(f"  {spec.name}: {spec.task} every {spec.every_seconds}s")
        stale = PeriodicTask.objects.exclude(name__in=declared).exclude(name__startswith="celery.")
        disabled = stale.filter(enabled=True).update(enabled=False)
        if disabled:
            self.stdout.write(f"  disabled {disabled} periodic task(s) no longer declared")
