"""Settings, all from the environment (django-environ), with safe development defaults.

Every variable read here is listed in `.env.example` with one line of explanation.
"""

from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
environ.Env.read_env(BASE_DIR / ".env", overwrite=False)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
# The development secrets: this built-in key, and those scripts/devstack.py generates into DEV_SECRETS_FILE for `make
# run`. Never accepted outside development: `make run` with DJANGO_DEBUG=false refuses them, and so do the preflight
# and generate_secrets.
DEVELOPMENT_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
DEVELOPMENT_SIGNER_CLIENT_KEY = "dev:" + "00" * 32
DEV_SECRETS_FILE = VAR_DIR / "dev-secrets.env"
SECRET_KEY = env("DJANGO_SECRET_KEY", default=DEVELOPMENT_SECRET_KEY if DEBUG else environ.Env.NOTSET)
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "django_celery_beat",
    "launchpad",  # the project: the periodic task schedule and its management command
    "pools",
    "agent_api",
    "web",
]

MIDDLEWARE = [
    "launchpad.middleware.RequestContextMiddleware",  # a request id on every answer and log line; RateLimit headers
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

if not DEBUG:
    # Production serves collectstatic's output itself (runserver does it in development).
    MIDDLEWARE.insert(2, "whitenoise.middleware.WhiteNoiseMiddleware")

ROOT_URLCONF = "launchpad.urls"
WSGI_APPLICATION = "launchpad.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

DATABASES = {"default": env.db("DATABASE_URL", default="postgres://launchpad:launchpad@127.0.0.1:54320/launchpad")}
DATABASES["default"]["CONN_MAX_AGE"] = env.int("DATABASE_CONN_MAX_AGE", default=60)
DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Front-end libraries come from their npm packages (package.json), never copied into the repository; each is served
# under static/vendor/<name>/: htmx, its idiomorph extension (morphing swaps keep focus and typed input) and
# TradingView's lightweight-charts.
STATICFILES_DIRS = [
    BASE_DIR / "static",
    ("vendor/htmx", BASE_DIR / "node_modules" / "htmx.org" / "dist"),
    ("vendor/idiomorph", BASE_DIR / "node_modules" / "idiomorph" / "dist"),
    ("vendor/lightweight-charts", BASE_DIR / "node_modules" / "lightweight-charts" / "dist"),
]
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", default=str(VAR_DIR / "staticfiles")))
# Production (DEBUG off) serves collectstatic's output through WhiteNoise, compressed and with hashed names.
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Redis, Celery -------------------------------------------------------------------------------------------
REDIS_URL = env("REDIS_URL", default="redis://127.0.0.1:63790/0")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default=REDIS_URL)
CELERY_RESULT_BACKEND = env("CELERY_RESULT_BACKEND", default=REDIS_URL)
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_RESULT_EXPIRES = 3600
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", default=300)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", default=240)
# A task that moves money is acknowledged only when it finished, and re-queued if its worker died.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
CELERY_TIMEZONE = TIME_ZONE

# --- Chain ---------------------------------------------------------------------------------------------------
CHAIN_RPC_URL = env("CHAIN_RPC_URL", default="http://127.0.0.1:8545")
CHAIN_ID = env.int("CHAIN_ID", default=31337)
CHAIN_RPC_TIMEOUT = env.int("CHAIN_RPC_TIMEOUT", default=10)
# Refuse to start web and worker processes when the RPC's chain id differs from CHAIN_ID.
CHAIN_CHECK_ON_START = env.bool("CHAIN_CHECK_ON_START", default=True)
# Where the local chain's fixture addresses are recorded by `manage.py deploy_dev_fixtures`.
CHAIN_DEPLOYMENT_FILE = Path(env("CHAIN_DEPLOYMENT_FILE", default=str(VAR_DIR / "chain" / "deployment.json")))
# On a real network these come from here instead (canonical Uniswap V2 and Chainlink addresses).
CHAIN_ADDRESSES = {
    "weth": env("CHAIN_WETH_ADDRESS", default=""),
    "uniswap_v2_factory": env("CHAIN_UNISWAP_V2_FACTORY", default=""),
    "uniswap_v2_router": env("CHAIN_UNISWAP_V2_ROUTER", default=""),
    "eth_usd_feed": env("CHAIN_ETH_USD_FEED", default=""),
    "usdc": env("CHAIN_USDC_ADDRESS", default=""),
    "usdc_usd_feed": env("CHAIN_USDC_USD_FEED", default=""),
    "launcher": env("CHAIN_LAUNCHER_ADDRESS", default=""),
    "refunder": env("CHAIN_REFUNDER_ADDRESS", default=""),
}
CHAIN_EXPLORER_URL = env("CHAIN_EXPLORER_URL", default="")
# An RPC URL depositors' wallets may be given to add the chain (wallet_addEthereumChain): a public one, never
# CHAIN_RPC_URL on a real network, which may hold a provider's key. On the local chain, CHAIN_RPC_URL is given.
CHAIN_PUBLIC_RPC_URL = env("CHAIN_PUBLIC_RPC_URL", default="")
# --- Real-network parameters (docs/real-network.md) -----------------------------------------------------------
# Fees: the tip is the node's eth_maxPriorityFeePerGas (eth_feeHistory's median reward when it has none), at most
# CHAIN_MAX_PRIORITY_FEE_WEI; maxFeePerGas is CHAIN_BASE_FEE_MULTIPLIER x the base fee plus the tip. Above
# CHAIN_MAX_FEE_PER_GAS_WEI nothing is sent: jobs wait for fees to come down and say so.
CHAIN_MAX_PRIORITY_FEE_WEI = env.int("CHAIN_MAX_PRIORITY_FEE_WEI", default=5 * 10**9)
CHAIN_MAX_FEE_PER_GAS_WEI = env.int("CHAIN_MAX_FEE_PER_GAS_WEI", default=500 * 10**9)
CHAIN_BASE_FEE_MULTIPLIER = env.int("CHAIN_BASE_FEE_MULTIPLIER", default=2)
# OP-stack chains (Optimism, Base) charge an L1 data fee beside the L2 gas: counted in gas budgets and reconciliation.
OP_STACK_CHAIN_IDS = frozenset({10, 420, 8453, 84531, 84532, 11155420, 7777777, 34443})
CHAIN_OP_STACK = env.bool("CHAIN_OP_STACK", default=CHAIN_ID in OP_STACK_CHAIN_IDS)
# When a block counts as final: at least the pool's confirmations deep AND at or below this block tag ("latest",
# "safe" or "finalized"). Defaults per chain are in docs/real-network.md: "safe" on Ethereum and Base.
SAFE_TAG_CHAIN_IDS = frozenset({1, 11155111, 17000, 8453, 84532, 10, 11155420})
CHAIN_CONFIRMATION_TAG = env("CHAIN_CONFIRMATION_TAG", default="safe" if CHAIN_ID in SAFE_TAG_CHAIN_IDS else "latest")
# Each price feed's heartbeat: the most its answer may age (Chainlink publishes it per feed; stablecoin feeds are
# often 24 h). A pool's default oracle max age is its feed's heartbeat; the preflight checks each feed against it.
CHAIN_ETH_USD_FEED_HEARTBEAT = env.int("CHAIN_ETH_USD_FEED_HEARTBEAT", default=3600)
CHAIN_USDC_USD_FEED_HEARTBEAT = env.int("CHAIN_USDC_USD_FEED_HEARTBEAT", default=86_400)
# /healthz caches the preflight (every configured address, the signer's allow-list, the RPC, the gas account).
PREFLIGHT_CACHE_SECONDS = env.int("PREFLIGHT_CACHE_SECONDS", default=60)

# Local chain: where deploy_dev_fixtures also writes the addresses the signer allows (the signer reads this file).
SIGNER_CONTRACTS_FILE = Path(env("SIGNER_CONTRACTS_FILE", default=str(VAR_DIR / "chain" / "signer-contracts.json")))

# --- Enclave signer ------------------------------------------------------------------------------------------
SIGNER_URL = env("SIGNER_URL", default="http://127.0.0.1:8600")
# The key this web tier uses to authenticate to the signer: `keyid:hexsecret` (one of the signer's SIGNER_HMAC_KEYS).
SIGNER_CLIENT_KEY = env("SIGNER_CLIENT_KEY", default=DEVELOPMENT_SIGNER_CLIENT_KEY)
SIGNER_TIMEOUT = env.int("SIGNER_TIMEOUT", default=10)
# The transparency page runs the attestation verifier on the signer's report. It compares the compose-hash with this
# one (the release's, or `python -m enclave_signer app-compose`'s; docs/deploy-cvm.md) and suggests it in the command.
SIGNER_EXPECTED_COMPOSE_HASH = env("SIGNER_EXPECTED_COMPOSE_HASH", default="")
# Where it fetches Intel's collateral to check the quote's signature (e.g. https://pccs.phala.network); unset: the
# quote is not checked, and the page says so.
ATTESTATION_PCCS_URL = env("ATTESTATION_PCCS_URL", default="")

# The most one gas top-up from the gas-funding account sends (the signer enforces its own SIGNER_GAS_TOPUP_MAX_WEI).
GAS_TOPUP_MAX_WEI = env.int("GAS_TOPUP_MAX_WEI", default=10**16)
# Refund batches (docs/refunds.md): at most this many recipients per transaction (~38k gas each for ETH, but a
# native batch budgets 90k each for a recipient that burns its stipend), and at most this much gas (and half a block).
# Each batch also stays within the signer's value cap (the pool's hard cap) and its per-transaction fee cap.
REFUND_BATCH_SIZE = env.int("REFUND_BATCH_SIZE", default=100)
REFUND_BATCH_MAX_GAS = env.int("REFUND_BATCH_MAX_GAS", default=10_000_000)
# A launch or refund job that has waited this long shows as stuck in /healthz (a warning, not an error).
JOB_STUCK_AFTER_SECONDS = env.int("JOB_STUCK_AFTER_SECONDS", default=900)

# Webhooks may go to private or loopback addresses (development); never in production, where that is an SSRF hole.
WEBHOOK_ALLOW_PRIVATE_URLS = env.bool("WEBHOOK_ALLOW_PRIVATE_URLS", default=DEBUG)

# --- Clients, proxies, rate limits ----------------------------------------------------------------------------
# How many reverse proxies stand in front of the web tier, each appending to X-Forwarded-For. 0 (the default): the
# client is REMOTE_ADDR and X-Forwarded-For is ignored, since anyone can send one. Set it to exactly the number of
# proxies you run: one more lets a client choose its own address, and with it its own rate limit.
TRUSTED_PROXIES = env.int("TRUSTED_PROXIES", default=0)
# Sign-in with Ethereum per client address, its message and verify requests counted together (two per sign-in).
SIWE_RATE = env("SIWE_RATE", default="20/minute")

# --- HTTPS ----------------------------------------------------------------------------------------------------
# With DEBUG off the site is served over HTTPS only, so `manage.py check --deploy` passes with no warning: plain HTTP
# is redirected (except /healthz, for health probes inside the host or cluster), browsers are told to stick to HTTPS
# (HSTS), and cookies are never sent in clear. Behind a TLS-terminating proxy, TRUSTED_PROXIES > 0 makes Django
# believe the proxy's X-Forwarded-Proto (DJANGO_SECURE_PROXY_SSL_HEADER, which names the header). HSTS with
# preload and subdomains is a commitment for the whole domain: turn those two off if other hosts under it are HTTP.
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_REDIRECT_EXEMPT = [r"^healthz/?$"]
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=0 if DEBUG else 31_536_000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=not DEBUG)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=not DEBUG)
SESSION_COOKIE_SECURE = env.bool("DJANGO_SECURE_COOKIES", default=not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
_proxy_ssl_header = env("DJANGO_SECURE_PROXY_SSL_HEADER", default="X-Forwarded-Proto" if TRUSTED_PROXIES else "")
SECURE_PROXY_SSL_HEADER = (
    ("HTTP_" + _proxy_ssl_header.upper().replace("-", "_"), "https") if _proxy_ssl_header else None
)

# --- REST API ------------------------------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_PAGINATION_CLASS": "agent_api.pagination.LimitOffset",
    "PAGE_SIZE": 50,
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["agent_api.parsers.LimitedJSONParser"],
    "EXCEPTION_HANDLER": "agent_api.errors.api_exception_handler",
    # Deny by default: a view is public only when it says AllowAny. Agents authenticate with API keys.
    "DEFAULT_AUTHENTICATION_CLASSES": ["agent_api.authentication.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["agent_api.permissions.IsAgent"],
    # Per API key (anonymous callers: per client address), counted atomically in Redis (pools/ratelimit.py).
    # agent_trigger: launch, dry run and refund requests.
    "DEFAULT_THROTTLE_CLASSES": ["agent_api.throttling.ApiKeyRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("API_RATE_ANON", default="120/minute"),
        "agent": env("API_RATE_AGENT", default="600/minute"),
        "agent_trigger": env("API_RATE_AGENT_TRIGGER", default="30/minute"),
    },
    # DRF's own idea of the client (unused by our throttle, which asks pools.ratelimit.client_ip): the same.
    "NUM_PROXIES": TRUSTED_PROXIES,
}
# The REST API's JSON bodies (agent_api/parsers.py): a larger one is 413 `too_large`, deeper nesting 400 `too_deep`.
# A proposal is about 2 KB, or up to 1.4 MB with the token's image (1 MiB decoded, as base64); the deepest body, a
# webhook's events, nests 2 levels.
API_MAX_BODY_BYTES = 256 * 1024
API_MAX_PROPOSAL_BODY_BYTES = 1536 * 1024
API_MAX_JSON_DEPTH = 32
# GET /api/v1/agent/events/ streams for this long, then ends with a `retry:` hint and the client reconnects with
# Last-Event-ID: a stream holds a web worker thread (Procfile.production runs gthread workers) only this long.
AGENT_EVENTS_STREAM_SECONDS = env.float("AGENT_EVENTS_STREAM_SECONDS", default=30)
# Open event streams per agent at once: each holds a web thread while it lasts.
AGENT_EVENTS_STREAMS_PER_AGENT = env.int("AGENT_EVENTS_STREAMS_PER_AGENT", default=3)
SPECTACULAR_SETTINGS = {
    "TITLE": "AI-Pool Launchpad API",
    "DESCRIPTION": "Agents read and run their pools. Amounts are integers in the asset's smallest unit, as strings.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from the installed sidecar package, not a CDN: the docs work offline and leak no visits.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "ENUM_NAME_OVERRIDES": {
        "PoolStatusEnum": "pools.models.Pool.Status",
        "DepositStatusEnum": "pools.models.Deposit.Status",
        "RefundStatusEnum": "pools.models.Refund.Status",
        "ChainTransactionStatusEnum": "pools.models.ChainTransaction.Status",
        "LaunchStepEnum": "pools.models.Launch.Step",
        "LpPolicyEnum": "pools.models.Pool.LpPolicy",
        "EventKindEnum": "pools.models.PoolEvent.Kind",
    },
    "SCHEMA_PATH_PREFIX": "/api/v1",
    # 3.1: for the `webhooks` section (each event's payload) and JSON Schema 2020-12.
    "OAS_VERSION": "3.1.0",
    "WEBHOOKS": "agent_api.event_schemas.WEBHOOKS",
    # After the enums: the error codes, statuses and headers every operation shares (agent_api/schema.py).
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "agent_api.schema.complete_the_schema",
    ],
    "TAGS": [
        {"name": "pools", "description": "Public: pools and depositors' allocations (no key needed)."},
        {"name": "agent", "description": "Your own pools, proposals, launch and refunds (API key required)."},
    ],
}
# The cache is Redis: API throttling counts there, shared by every web process.
CACHES = {
    "default": {
        "BACKEND": "django.core.cache.backends.redis.RedisCache",
        "LOCATION": REDIS_URL,
        "KEY_PREFIX": "launchpad",
        "TIMEOUT": 300,
    }
}
# The pool detail API and the pool page's live fragment are served from each web process's memory while the pool's
# state version stands (docs/architecture.md, "Pool reads under load"); this bounds what follows the clock instead
# (countdown, oracle price). 0 turns both caches off (bench/load_settings.py does, for its comparison).
POOL_READ_CACHE_SECONDS = 2.0

# --- Health --------------------------------------------------------------------------------------------------
HEALTH_CHECK_TIMEOUT = env.float("HEALTH_CHECK_TIMEOUT", default=3.0)
# /healthz per client address: enough for load balancers and compose polling every few seconds.
HEALTHZ_RATE = env("HEALTHZ_RATE", default="60/minute")
# The per-component detail of /healthz goes to staff and to callers sending `Authorization: Bearer <this>`; empty:
# staff only. Everyone else gets the summary ("ok" or "error").
HEALTHZ_TOKEN = env("HEALTHZ_TOKEN", default="")
# Seconds the public summary is reused (per web process), so that frequent public calls cost the checks once.
HEALTHZ_SUMMARY_MAX_AGE = 5

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "launchpad.middleware.RequestIdLogFilter"}},
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s [%(request_id)s] %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain", "filters": ["request_id"]}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", default="INFO")},
}
