"""The Django project: settings, URLs, the Celery app."""

from launchpad.celery import app as celery_app

__all__ = ("celery_app",)
