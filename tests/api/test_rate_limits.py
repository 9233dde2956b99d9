"""Rate limits that hold: atomic under concurrency, keyed on the real client, announced in headers on every answer.

The API's own rates, sign-in (SIWE) and /healthz are all limited; tests/web/test_siwe.py and test_healthz_access.py
check their 429s one request at a time, the load test here checks all of them at once."""

from __future__ import annotations

import asyncio
import logging
import math
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import aiohttp
import pytest
from django.db import connection
from django.test import RequestFactory
from django.urls import reverse
from rest_framework.test import APIClient

from pools import ratelimit
from pools.checks import rate_limits_parse
from pools.models import Allocation, Pool
from tests.api.conftest import assert_error, make_agent_with_key
from tests.factories import PoolFactory
from tests.faults.http_load import start_gunicorn

HOLDER = "0x" + "ab" * 20


# --- the client's identity -------------------------------------------------------------------------------------


def _request(remote: str, forwarded: str | None = None):
    headers = {"HTTP_X_FORWARDED_FOR": forwarded} if forwarded is not None else {}
    return RequestFactory().get("/", REMOTE_ADDR=remote, **headers)


def test_without_trusted_proxies_x_forwarded_for_is_ignored(settings):
    settings.TRUSTED_PROXIES = 0

    assert ratelimit.client_ip(_request("203.0.113.7", "198.51.100.1")) == "203.0.113.7"


def test_behind_one_proxy_the_client_is_the_address_the_proxy_saw_not_what_the_client_prepended(settings):
    settings.TRUSTED_PROXIES = 1

    # The client sent "X-Forwarded-For: 1.2.3.4"; the proxy appended the address it saw.
    assert ratelimit.client_ip(_request("10.0.0.2", "1.2.3.4, 198.51.100.9")) == "198.51.100.9"
    assert ratelimit.client_ip(_request("10.0.0.2", "198.51.100.9")) == "198.51.100.9"
    # A request that did not come through the proxy (no header): the connecting address.
    assert ratelimit.client_ip(_request("198.51.100.10")) == "198.51.100.10"


def test_ipv6_clients_count_per_64_and_mapped_ipv4_as_ipv4(settings):
    settings.TRUSTED_PROXIES = 0

    assert ratelimit.client_ip(_request("2001:db8:1:2:aaaa::1")) == ratelimit.client_ip(_request("2001:db8:1:2::ffff"))
    assert ratelimit.client_ip(_request("2001:db8:1:3::1")) == "2001:db8:1:3::/64"
    assert ratelimit.client_ip(_request("::ffff:198.51.100.4")) == "198.51.100.4"


@pytest.mark.parametrize(
    ("text", "rate"),
    [("600/minute", (600, 60)), ("30/min", (30, 60)), ("5/10s", (5, 10)), ("2/hour", (2, 3600)), ("1/day", (1, 86400))],
)
def test_rates_parse(text, rate):
    parsed = ratelimit.Rate.parse(text)

    assert (parsed.limit, parsed.window_seconds) == rate


@pytest.mark.parametrize("text", ["", "10", "0/minute", "-1/minute", "ten/minute", "10/fortnight", "5/0s", "5/00s"])
def test_a_malformed_rate_is_refused(text):
    with pytest.raises(ValueError, match="not a rate"):
        ratelimit.Rate.parse(text)


def test_a_malformed_rate_in_the_settings_fails_the_system_checks(settings):
    settings.SIWE_RATE = "20/fortnight"

    errors = rate_limits_parse(None)

    assert [(error.id, error.msg.split(":")[0]) for error in errors] == [("pools.E001", "SIWE_RATE")]


def test_the_bucket_allows_a_burst_of_the_limit_then_refuses_with_the_time_to_wait():
    rate, key = ratelimit.Rate.parse("3/minute"), f"test:{uuid.uuid4().hex}"

    results = [ratelimit.hit(key, rate) for _ in range(4)]

    assert [r.allowed for r in results] == [True, True, True, False]
    assert [r.remaining for r in results[:3]] == [2, 1, 0]
    assert 19 <= results[3].retry_after <= 20  # one request every 20 s once the burst is spent
    assert results[3].headers()["Retry-After"] == "20"


# --- headers -----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_every_api_answer_carries_the_rate_limit_headers_and_a_request_id(alice_client):
    first = alice_client.get(reverse("api-agent-pools"))
    second = alice_client.get(reverse("api-agent-pools"))

    assert first.status_code == 200
    assert first["RateLimit-Limit"] == "600"
    assert first["RateLimit-Policy"] == "600;w=60"
    assert int(second["RateLimit-Remaining"]) == int(first["RateLimit-Remaining"]) - 1
    assert 0 < int(first["RateLimit-Reset"]) <= 60
    assert len(first["X-Request-ID"]) == 32 and first["X-Request-ID"] != second["X-Request-ID"]
    assert "Retry-After" not in first


@pytest.mark.django_db
def test_a_429_says_when_to_come_back_and_errors_carry_headers_too(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "1/minute"}}
    client = APIClient()

    missing = client.get("/api/v1/pools/999999/")
    refused = client.get("/api/v1/pools/999999/")

    assert missing.status_code == 404 and missing["RateLimit-Remaining"] == "0"
    assert_error(refused, 429, "throttled")
    assert refused["Retry-After"] == "60" and refused["RateLimit-Remaining"] == "0"


@pytest.mark.django_db
def test_refused_keys_count_against_the_address_so_guessing_keys_is_limited_too(settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "2/minute"}}
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Bearer lp_0123456789ab_" + "f" * 40)

    first, second, third = (guesser.get(reverse("api-agent-pools")) for _ in range(3))
    without_key = APIClient().get(reverse("api-agent-pools"))

    assert_error(first, 401, "invalid_api_key")
    assert (first["RateLimit-Remaining"], second["RateLimit-Remaining"]) == ("1", "0")
    assert_error(third, 429, "throttled")
    assert third["Retry-After"] == "30"
    assert_error(without_key, 429, "throttled")  # same address, no key: the same bucket


@pytest.mark.django_db
def test_a_callers_own_request_id_is_kept_when_it_looks_like_one_and_replaced_otherwise():
    client = APIClient()

    assert client.get("/api/v1/pools/", HTTP_X_REQUEST_ID="proxy-7f3a9c01")["X-Request-ID"] == "proxy-7f3a9c01"
    replaced = client.get("/api/v1/pools/", HTTP_X_REQUEST_ID="<script>alert(1)</script>")["X-Request-ID"]
    assert len(replaced) == 32 and "<" not in replaced


@pytest.mark.django_db
def test_the_request_id_is_in_the_log_lines_written_while_serving(caplog):
    caplog.set_level(logging.WARNING, logger="django.request")

    response = APIClient().get("/api/v1/pools/999999/", HTTP_X_REQUEST_ID="trace-0123456789")

    assert response.status_code == 404
    assert [record.request_id for record in caplog.records if record.name == "django.request"] == ["trace-0123456789"]


# --- under concurrency, through gunicorn --------------------------------------------------------------------------

CLIENTS = 50
SECONDS = 10.0
# Tight enough that 50 clients reach them within the run on a slow machine; the real defaults are the same code.
RATES = {
    "API_RATE_ANON": "60/minute",
    "API_RATE_AGENT": "120/minute",
    "API_RATE_AGENT_TRIGGER": "10/minute",
    "SIWE_RATE": "20/minute",
    "HEALTHZ_RATE": "10/minute",
}
# Django's CSRF check passes when the cookie and the header carry the same (well-formed) token.
CSRF = {"Cookie": "csrftoken=" + "a" * 32, "X-CSRFToken": "a" * 32}


@dataclass
class Tally:
    accepted: int = 0
    refused: int = 0
    refused_without_retry_after: int = 0
    other: Counter = field(default_factory=Counter)


async def _hammer(session, method, url, headers: dict, data: dict | None, deadline: float, tally: Tally, spoof: bool):
    while time.monotonic() < deadline:
        sent = dict(headers)
        if spoof:  # a new "client address" per request: ignored, since no proxy is trusted
            sent["X-Forwarded-For"] = f"198.51.{tally.accepted % 250}.{(tally.refused + 1) % 250}"
        async with session.request(method, url, headers=sent, data=data) as answer:
            await answer.read()
            if answer.status == 429:
                tally.refused += 1
                tally.refused_without_retry_after += "Retry-After" not in answer.headers
            elif answer.status != 500:
                tally.accepted += 1  # through the limit; what the view answered (/healthz: 503) does not matter
            else:
                tally.other[answer.status] += 1


async def _run(targets: dict[str, tuple[str, str, dict, dict | None, bool]]) -> dict[str, Tally]:
    tallies = {name: Tally() for name in targets}
    connector = aiohttp.TCPConnector(limit=CLIENTS * len(targets))
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=30)) as session:
        deadline = time.monotonic() + SECONDS
        await asyncio.gather(
            *(
                _hammer(session, method, url, headers, data, deadline, tallies[name], spoof)
                for name, (method, url, headers, data, spoof) in targets.items()
                for _ in range(CLIENTS)
            )
        )
    return tallies


def _ceiling(rate: str, seconds: float) -> int:
    """What a rate may accept in `seconds`: its burst, plus what refills meanwhile (one window at most), plus one."""
    parsed = ratelimit.Rate.parse(rate)
    return parsed.limit + math.ceil(min(seconds, parsed.window_seconds) * parsed.limit / parsed.window_seconds) + 1


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_fifty_clients_per_limited_endpoint_for_ten_seconds_get_no_more_than_the_limit(tmp_path):
    agent = make_agent_with_key(name="hammer")
    launched = PoolFactory(status=Pool.Status.LAUNCHED)
    Allocation.objects.create(pool=launched, address=HOLDER, contribution=1, token_amount=1, proof=[])
    draft = PoolFactory(agent=agent.agent, status=Pool.Status.DRAFT)
    db = connection.settings_dict
    env = {
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "HEALTH_CHECK_TIMEOUT": "0.5",  # the health checks find no worker, chain or signer: fail them fast
        **RATES,
    }
    server = start_gunicorn(env=env, log_path=tmp_path / "gunicorn.log", settings_module="tests.api.limits_settings")
    key = {"Authorization": f"Bearer {agent.key}"}
    base = server.base_url
    targets = {
        "API_RATE_ANON": ("GET", f"{base}/api/v1/pools/{launched.pk}/allocations/{HOLDER}/", {}, None, True),
        "API_RATE_AGENT": ("GET", f"{base}/api/v1/agent/pools/", key, None, False),
        "API_RATE_AGENT_TRIGGER": ("POST", f"{base}/api/v1/agent/pools/{draft.pk}/launch/dry-run/", key, None, False),
        "SIWE_RATE": ("POST", f"{base}/account/siwe/verify/", CSRF, {"message": "x", "signature": "0x"}, True),
        "HEALTHZ_RATE": ("GET", f"{base}/healthz", {}, None, True),
    }
    try:
        started = time.monotonic()
        with ThreadPoolExecutor(1) as thread:  # its own event loop: the suite's main thread may already run one
            tallies = thread.submit(asyncio.run, _run(targets)).result()
        elapsed = time.monotonic() - started
    finally:
        server.stop()

    for name, tally in tallies.items():
        summary = f"{name}={RATES[name]}: {tally} in {elapsed:.1f} s"
        print(summary)
        assert not tally.other, f"{summary}\n{server.log()}"
        assert tally.accepted >= ratelimit.Rate.parse(RATES[name]).limit, summary  # the whole burst was usable
        assert tally.accepted <= _ceiling(RATES[name], elapsed), summary
        assert tally.refused > 0 and tally.refused_without_retry_after == 0, summary
