"""The public pool detail cached by the pool's state version: answered from memory (no query, no Redis round trip),
validated by a weak ETag (304), and still refused as DRF would (bad parameters, bad keys, over the rate)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.utils import timezone
from rest_framework.test import APIClient

from agent_api import pool_cache
from pools import ratelimit
from pools.models import Pool
from pools.services import pool_state
from pools.services.pool_state import touch_pool
from pools.services.pools import pools_close_due
from tests.api.conftest import assert_error
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


def detail(client, pool: Pool, **headers):
    return client.get(f"/api/v1/pools/{pool.pk}/", **headers)


@pytest.fixture
def long_lived_reads(monkeypatch):
    """Stored answers and known versions that only a state version change can replace (not the clock)."""
    monkeypatch.setattr(pool_cache.CACHE, "max_age_seconds", 3600)
    monkeypatch.setattr(pool_state, "VERSION_TTL_SECONDS", 3600)


@pytest.fixture
def redis_calls(monkeypatch):
    """How many times the throttle asked Redis."""
    calls = []
    real = ratelimit.hit

    def counting(key, rate, **kwargs):
        calls.append(key)
        return real(key, rate, **kwargs)

    monkeypatch.setattr(ratelimit, "hit", counting)
    return calls


def test_a_cached_detail_costs_no_query_and_no_redis_round_trip(
    long_lived_reads, redis_calls, django_assert_num_queries, settings
):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute"}}
    pool = PoolFactory(status=Pool.Status.OPEN, raised=3 * 10**18)
    client = APIClient()
    first = detail(client, pool)
    assert first.status_code == 200

    with django_assert_num_queries(0):
        answers = [detail(client, pool) for _ in range(50)]

    assert {answer.status_code for answer in answers} == {200}
    assert {answer.content for answer in answers} == {first.content}
    assert json.loads(first.content)["raised"] == str(3 * 10**18)
    assert len(redis_calls) <= 2  # one round trip per LOCAL_MAX_BATCH requests, not one each
    assert answers[-1]["RateLimit-Limit"] == "100000"  # still counted, and still said


def test_every_200_carries_a_weak_etag_and_if_none_match_gets_a_304_without_a_body(long_lived_reads):
    pool = PoolFactory(status=Pool.Status.OPEN)
    client = APIClient()
    first = detail(client, pool)
    etag = first["ETag"]

    again = detail(client, pool, HTTP_IF_NONE_MATCH=etag)
    listed = detail(client, pool, HTTP_IF_NONE_MATCH=f'W/"other", {etag.removeprefix("W/")}')
    other = detail(client, pool, HTTP_IF_NONE_MATCH='W/"p1v1-0000000000000000"')

    assert etag.startswith(f'W/"p{pool.pk}v') and first["Cache-Control"] == "public, max-age=1"
    assert again.status_code == 304 and again.content == b"" and again["ETag"] == etag
    assert again["Cache-Control"] == "public, max-age=1"
    assert listed.status_code == 304
    assert other.status_code == 200 and other.content == first.content


def test_a_service_change_moves_the_version_so_the_old_etag_gets_the_new_body(long_lived_reads):
    pool = PoolFactory(status=Pool.Status.OPEN, closes_at=timezone.now() - timedelta(minutes=1))
    client = APIClient()
    before = detail(client, pool)
    version = Pool.objects.get(pk=pool.pk).state_version

    assert pools_close_due() == [pool.pk]
    after = detail(client, pool, HTTP_IF_NONE_MATCH=before["ETag"])

    assert Pool.objects.get(pk=pool.pk).state_version > version
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert json.loads(before.content)["status"] == "open" and json.loads(after.content)["status"] == "closed"


def test_a_write_behind_the_services_back_is_served_until_the_version_moves(long_lived_reads):
    """What the version is for, shown from the other side: without touch_pool the cache would not know."""
    pool = PoolFactory(status=Pool.Status.OPEN, raised=0)
    client = APIClient()
    detail(client, pool)
    Pool.objects.filter(pk=pool.pk).update(raised=7)

    stale = detail(client, pool)
    touch_pool(pool_id=pool.pk)
    fresh = detail(client, pool)

    assert json.loads(stale.content)["raised"] == "0"
    assert json.loads(fresh.content)["raised"] == "7"


def test_the_stored_answer_expires_after_its_max_age_whatever_the_version():
    pool = PoolFactory(status=Pool.Status.OPEN, raised=0)
    client = APIClient()
    detail(client, pool)
    Pool.objects.filter(pk=pool.pk).update(raised=9)
    pool_state.forget_versions()
    pool_cache.CACHE._entries[(pool.pk, "")] = pool_cache.CACHE._entries[(pool.pk, "")].__class__(
        **{**pool_cache.CACHE._entries[(pool.pk, "")].__dict__, "stored_at": 0.0}
    )

    assert json.loads(detail(client, pool).content)["raised"] == "9"


def test_cached_or_not_a_bad_parameter_is_a_400_and_a_bad_key_a_401(long_lived_reads):
    pool = PoolFactory(status=Pool.Status.OPEN)
    client = APIClient()
    assert detail(client, pool).status_code == 200

    assert_error(client.get(f"/api/v1/pools/{pool.pk}/?status=open"), 400, "invalid")
    assert_error(detail(client, pool, HTTP_AUTHORIZATION="Bearer lp_0123456789ab_" + "f" * 40), 401, "invalid_api_key")
    assert detail(client, PoolFactory(status=Pool.Status.DRAFT)).status_code == 404


def test_cached_or_not_a_client_over_its_rate_gets_the_429(long_lived_reads, settings):
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "2/minute"}}
    pool = PoolFactory(status=Pool.Status.OPEN)
    client = APIClient()

    first, second, third = (detail(client, pool) for _ in range(3))

    assert (first.status_code, second.status_code) == (200, 200)
    assert second["RateLimit-Remaining"] == "0"
    assert_error(third, 429, "throttled")
    assert third["Retry-After"] == "30"


def test_each_accept_header_has_its_own_stored_answer(long_lived_reads):
    pool = PoolFactory(status=Pool.Status.OPEN)
    client = APIClient()

    plain = detail(client, pool)
    indented = detail(client, pool, HTTP_ACCEPT="application/json; indent=4")
    indented_again = detail(client, pool, HTTP_ACCEPT="application/json; indent=4")
    refused = detail(client, pool, HTTP_ACCEPT="text/html")

    assert b"\n" not in plain.content and b'\n    "id"' in indented.content
    assert indented_again.content == indented.content
    assert refused.status_code == 406


# --- the throttle's local counting (pools/ratelimit.hit_batched) -------------------------------------------------


def _redis_remaining(key: str, rate: ratelimit.Rate) -> int:
    """What Redis has left for the bucket, read without spending from it."""
    client = redis.Redis.from_url(settings.REDIS_URL)
    tat = client.get(f"launchpad:rl:{key}")
    if tat is None:
        return rate.limit
    seconds, micros = client.time()
    now = seconds * 1_000_000 + micros
    interval = rate.window_seconds * 1_000_000 / rate.limit
    return int((now + rate.window_seconds * 1_000_000 - max(float(tat), now)) // interval)


def test_near_the_limit_every_request_asks_redis_and_the_limit_is_exact(redis_calls):
    rate, key = ratelimit.Rate.parse("10/minute"), "test:batched-exact"

    results = [ratelimit.hit_batched(key, rate) for _ in range(11)]

    assert [r.allowed for r in results] == [True] * 10 + [False]
    assert len(redis_calls) == 11


def test_far_from_the_limit_requests_are_counted_locally_and_all_charged_at_the_next_round_trip(
    redis_calls, monkeypatch
):
    rate, key = ratelimit.Rate.parse("1000/hour"), "test:batched-charged"

    results = [ratelimit.hit_batched(key, rate) for _ in range(200)]
    asked = len(redis_calls)
    monkeypatch.setattr(ratelimit, "LOCAL_SYNC_SECONDS", 0)  # the next request asks Redis, and pays the debt
    ratelimit.hit_batched(key, rate)

    assert all(r.allowed for r in results)
    assert asked < 20  # 1/16 of what is left per round trip: 62, 58, 54, … requests each
    assert _redis_remaining(key, rate) == 1000 - 201
    assert [r.remaining for r in results[:3]] == [999, 998, 997]


def test_a_refusal_is_remembered_until_its_retry_after_without_asking_redis_again(redis_calls):
    rate, key = ratelimit.Rate.parse("3/minute"), "test:batched-refused"

    results = [ratelimit.hit_batched(key, rate) for _ in range(6)]

    assert [r.allowed for r in results] == [True, True, True, False, False, False]
    assert len(redis_calls) == 4
    assert all(19 <= r.retry_after <= 20 for r in results[3:])


def test_processes_counting_one_client_together_never_let_more_than_the_limit_through(monkeypatch):
    """Four processes (four local tables) serving one client in turn: what Redis charged plus what each served on
    its own never exceeds the limit."""
    rate, key = ratelimit.Rate.parse("640/hour"), "test:batched-processes"
    tables = [type(ratelimit._local)() for _ in range(4)]
    allowed = 0
    for n in range(1_000):
        monkeypatch.setattr(ratelimit, "_local", tables[n % 4])
        allowed += ratelimit.hit_batched(key, rate).allowed

    assert allowed <= 640
    assert allowed >= 640 - 4 * 640 // ratelimit.LOCAL_SHARE  # at most each one's last allowance unused


def test_an_agents_answer_is_marked_private_so_no_shared_cache_keeps_its_rate_limit_headers(
    long_lived_reads, alice_client
):
    pool = PoolFactory(status=Pool.Status.OPEN)

    agent = detail(alice_client, pool)
    anonymous = detail(APIClient(), pool)

    assert agent.status_code == 200 and agent["Cache-Control"] == "private, no-cache"
    assert agent["RateLimit-Policy"] != anonymous["RateLimit-Policy"]  # the key's rate, not the address's
    assert anonymous["Cache-Control"] == "public, max-age=1"
    assert agent.content == anonymous.content and agent["ETag"] == anonymous["ETag"]


def test_while_another_thread_renders_the_previous_answer_is_served_only_within_its_bound(monkeypatch):
    clock = [1000.0]
    monkeypatch.setattr(pool_state.time, "monotonic", lambda: clock[0])
    cache = pool_state.ReadCache(max_entries=10, max_age_seconds=2.0)
    cache.put("k", pool_state.CachedRead(version=1, body=b"old", etag='W/"x"', stored_at=clock[0]))

    clock[0] += 2.5  # expired: this thread claims the render
    assert cache.get_or_claim("k", version=lambda: 1) == (None, True)
    clock[0] += 0.1  # meanwhile another thread gets the previous answer
    entry, claimed = cache.get_or_claim("k", version=lambda: 1)
    assert entry is not None and entry.body == b"old" and not claimed

    cache.release("k")
    clock[0] = 1000.0 + 2.0 + pool_state.RENDER_CLAIM_SECONDS + 0.2  # older than max age + one render claim
    assert cache.get_or_claim("k", version=lambda: 1) == (None, True)  # a render starts (and may stall)
    clock[0] += 0.1  # its claim still holds, but the previous answer is too old to stand in
    assert cache.get_or_claim("k", version=lambda: 1) == (None, True)
