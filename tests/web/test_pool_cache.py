"""The pool page's live fragment cached by the pool's state version, for visitors without an address of their own."""

from __future__ import annotations

import re

import pytest
from django.urls import reverse

from pools.models import Pool
from pools.services import pool_state
from pools.services.pool_state import touch_pool
from tests.factories import PoolFactory
from tests.web.support import ETHER, address, make_deposit
from web import views

pytestmark = pytest.mark.django_db

DEPOSIT_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def long_lived_reads(monkeypatch):
    """Stored fragments and known versions that only a state version change can replace (not the clock)."""
    monkeypatch.setattr(views.LIVE_CACHE, "max_age_seconds", 3600)
    monkeypatch.setattr(pool_state, "VERSION_TTL_SECONDS", 3600)


@pytest.fixture
def pool():
    return PoolFactory(status=Pool.Status.OPEN, deposit_address=DEPOSIT_ADDRESS, max_contribution=5 * ETHER)


def live(client, pool: Pool, *, if_none_match: str = "", **params):
    headers = {"If-None-Match": if_none_match} if if_none_match else {}
    return client.get(reverse("pool-live", args=[pool.pk]), params, headers=headers)


def version_of(response) -> str:
    return re.search(r'data-version="([0-9a-f]+)"', response.content.decode()).group(1)


def test_the_shared_fragment_and_its_204_cost_no_query_once_rendered(
    client, pool, long_lived_reads, django_assert_num_queries
):
    first = live(client, pool)

    with django_assert_num_queries(0):
        again = live(client, pool)
        unchanged = live(client, pool, v=version_of(first))

    assert first.status_code == again.status_code == 200 and again.content == first.content
    assert unchanged.status_code == 204 and unchanged.content == b""


def test_a_200_carries_a_weak_etag_and_if_none_match_gets_a_304(client, pool, long_lived_reads):
    first = live(client, pool)

    revalidated = live(client, pool, if_none_match=first["ETag"])

    assert first["ETag"].startswith(f'W/"p{pool.pk}v')
    assert revalidated.status_code == 304 and revalidated.content == b""
    assert "no-store" in revalidated["Cache-Control"]  # the browser keeps the htmx protocol (204, 286) to itself


def test_a_deposit_credited_by_the_services_shows_at_once(client, pool, long_lived_reads):
    before = live(client, pool)
    make_deposit(pool, sender=address("carol"), amount=2 * ETHER)
    Pool.objects.filter(pk=pool.pk).update(raised=2 * ETHER)

    stale = live(client, pool)  # behind the services' back: the version did not move
    touch_pool(pool_id=pool.pk)  # what crediting does in the same transaction
    after = live(client, pool, if_none_match=before["ETag"])

    assert stale.content == before.content
    assert after.status_code == 200 and after["ETag"] != before["ETag"]
    assert "2 ETH" in after.content.decode() and version_of(after) != version_of(before)


def test_a_visitor_with_an_address_gets_their_own_fragment_never_the_shared_one(client, pool, long_lived_reads):
    make_deposit(pool, sender=address("dave"), amount=ETHER)
    shared = live(client, pool)

    own = live(client, pool, address=address("dave"))
    session = client.session
    session[views.SESSION_ADDRESS] = address("dave")
    session.save()
    signed_in = live(client, pool)
    client.cookies.clear()
    shared_again = live(client, pool)

    assert "data-you" not in shared.content.decode()
    assert "data-you-sent" in own.content.decode() and "data-you-sent" in signed_in.content.decode()
    assert shared_again.content == shared.content


def test_a_final_pool_still_answers_286_from_the_cache(client, long_lived_reads):
    cancelled = PoolFactory(status=Pool.Status.CANCELLED, deposit_address=DEPOSIT_ADDRESS)
    first = live(client, cancelled)

    last = live(client, cancelled, v=version_of(first))

    assert last.status_code == 286 and last.content == first.content
