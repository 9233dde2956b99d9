"""Settings for load measurements only (bench/api_load.py, tests/faults/test_load.py): the app's settings, production-
like, with a trivial view to compare with. Never used to serve anything else.

- DEBUG off, as in production (DEBUG keeps every SQL query in memory and renders slower error pages).
- The throttle's rates raised out of the way: every load client comes from 127.0.0.1, which the anonymous rate
  (120 a minute) would stop at once; the throttle itself still runs and counts in Redis, so its cost is measured.
- ROOT_URLCONF adds /bench/trivial/ (load_urls.py) to the app's URLs.
- BENCH_POOL_READ_CACHE=off (environment): the pool read caches off, for bench/api_load.py's comparison.
"""

import os

from launchpad.settings import *  # noqa: F403 - an override of the app's settings
from launchpad.settings import REST_FRAMEWORK

DEBUG = False
ROOT_URLCONF = "load_urls"
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {scope: "1000000/second" for scope in REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"]},
}

# bench/api_load.py's second server measures the pool reads with their caches off (agent_api/pool_cache.py,
# web/views.pool_live): a stored answer is then never young enough to serve.
POOL_READ_CACHE_SECONDS = 0.0 if os.environ.get("BENCH_POOL_READ_CACHE") == "off" else 2.0
