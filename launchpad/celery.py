"""The Celery app, next to the settings (cookiecutter-django layout)."""

import os

from celery import Celery
from celery.signals import worker_init

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchpad.settings")

app = Celery("launchpad")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@worker_init.connect
def _refuse_wrong_chain(**_kwargs) -> None:
    """A worker pointed at the wrong chain must not start (it would index and sign for the wrong network)."""
    from chain.client import assert_configured_chain

    assert_configured_chain()
