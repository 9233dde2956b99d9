"""WSGI entry point (gunicorn in production, runserver in development)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchpad.settings")

application = get_wsgi_application()

from chain.client import assert_configured_chain  # noqa: E402 - needs configured settings

assert_configured_chain()
