"""Settings for the rate-limit load test (tests/api/test_rate_limits.py): the load settings (production-like, with
the trivial view to tell when gunicorn is ready), but with the app's real rate limits, from the environment."""

from load_settings import *  # noqa: F403 - an override of the load settings

from launchpad.settings import REST_FRAMEWORK  # noqa: F401 - the real rates, not the load settings' raised ones
