"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchpad.settings")

application = get_asgi_application()

from chain.client import assert_configured_chain  # noqa: E402 - needs configured settings

assert_configured_chain()
