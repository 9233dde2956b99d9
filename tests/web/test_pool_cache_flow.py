"""Every state change of a real launch and of a real refund moves the pool's state version, so the cached reads (the
API's pool detail, the page's live fragment) never show an old state: on anvil with the signer process, the indexer
and the jobs driven as the workers drive them.

The caches here keep their answers and versions for an hour: only a moved version can replace what they serve. The
public reads the pool after every write the services commit (a database execute wrapper: at once in autocommit, on
commit inside a transaction), so the caches hold whatever was current between any two commits; after each step the
test compares what they serve with a fresh rendering. A service that changed what is shown without touch_pool, in
its transaction or after it, would leave an old answer in the cache, and the comparison would fail.
"""

from __future__ import annotations

import contextlib
import json
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.test import Client
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from agent_api import pool_cache
from agent_api.serializers import PoolDetailSerializer
from chain.rpc import JsonRpc
from pools.models import Launch, Pool
from pools.selectors.pools import pool_get_public
from pools.services import pool_state
from pools.services.indexing import index_chain
from pools.services.launch import launch_advance, launch_request
from pools.services.pools import pool_settle
from pools.services.refunds import refund_request, refunds_advance
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, ChainDriver
from tests.launch.test_lifecycle import chain_now, close_raise, deposit_from, index_until_confirmed, scheduled_pool
from web import views

pytestmark = [pytest.mark.integration, pytest.mark.chain]


@pytest.fixture
def chain(signer_stack, anvil, chain_snapshot) -> ChainDriver:
    return ChainDriver(anvil=anvil, rpc=JsonRpc(url=anvil.rpc_url, timeout=30))


@pytest.fixture(autouse=True)
def long_lived_reads(monkeypatch, settings):
    monkeypatch.setattr(pool_cache.CACHE, "max_age_seconds", 3600)
    monkeypatch.setattr(views.LIVE_CACHE, "max_age_seconds", 3600)
    monkeypatch.setattr(pool_state, "VERSION_TTL_SECONDS", 3600)
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute"}}


class Watcher:
    """Reads a pool as the public does after every committed write, and checks the cached answers against fresh
    renderings after each step."""

    def __init__(self, pool: Pool) -> None:
        self.pool_id = pool.pk
        self.api, self.page = APIClient(), Client()
        self.version = self._version()
        self.fresh: tuple[dict, bytes] | None = None
        self.states: list[str] = []
        self.reads_after_writes = 0
        self._reading = self._waiting_for_commit = False
        self.check("scheduled and open")

    def after_writes(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        if not self._reading and sql.lstrip()[:6].upper() in ("INSERT", "UPDATE", "DELETE"):
            if not connection.in_atomic_block:
                self._read()
            elif not self._waiting_for_commit:
                self._waiting_for_commit = True
                transaction.on_commit(self._read)
        return result

    def _read(self) -> None:
        """What the public reads now is stored in the caches, under the version current now."""
        self._reading, self._waiting_for_commit = True, False
        try:
            self.api.get(f"/api/v1/pools/{self.pool_id}/")
            self.page.get(f"/pools/{self.pool_id}/live/")
            self.reads_after_writes += 1
        finally:
            self._reading = False

    def _version(self) -> int:
        return Pool.objects.values_list("state_version", flat=True).get(pk=self.pool_id)

    def check(self, step: str) -> None:
        served_api = self.api.get(f"/api/v1/pools/{self.pool_id}/")
        served_live = self.page.get(f"/pools/{self.pool_id}/live/")
        fresh_api = json.loads(JSONRenderer().render(PoolDetailSerializer(pool_get_public(pool_id=self.pool_id)).data))
        fresh_live = self.page.get(f"/pools/{self.pool_id}/live/", {"amount": ""}).content  # rendered, never stored
        assert served_api.status_code == served_live.status_code == 200, step
        assert json.loads(served_api.content) == fresh_api, f"{step}: the API served an old state"
        assert served_live.content == fresh_live, f"{step}: the live fragment served an old state"
        version = self._version()
        if self.fresh is not None and (fresh_api, fresh_live) != self.fresh:
            assert version > self.version, f"{step}: what is shown changed, the version did not"
            self.states.append(step)
        self.version, self.fresh = version, (fresh_api, fresh_live)


@pytest.fixture
def watch_pool():
    """watch_pool(pool) → a Watcher reading the pool after every write until the test ends."""
    with contextlib.ExitStack() as stack:

        def start(pool: Pool) -> Watcher:
            watcher = Watcher(pool)
            stack.enter_context(connection.execute_wrapper(watcher.after_writes))
            return watcher

        yield start


@pytest.mark.django_db(transaction=True)
def test_every_step_of_a_launch_and_its_over_cap_refund_shows_at_once(chain, watch_pool):
    pool = scheduled_pool(chain, soft_cap=5 * ETHER)
    watch = watch_pool(pool)

    deposit_from(chain, pool, [3 * ETHER, 7 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="cache-flow")
    index_chain(chain_id=ANVIL_CHAIN_ID)
    watch.check("deposits seen, waiting for confirmations")
    index_until_confirmed(chain)
    watch.check("deposits confirmed and credited (2 ETH of the 7 over the maximum, owed back)")
    pool = close_raise(chain, pool)
    watch.check("closed at its close time")
    launch_request(pool_id=pool.pk, requested_by="test")
    watch.check("launch requested")
    for _ in range(30):
        launch = launch_advance(pool_id=pool.pk)
        watch.check(f"launch step {launch.step}")
        if launch.step in (Launch.Step.LAUNCHED, Launch.Step.FAILED):
            break
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    refund_request(pool_id=pool.pk, requested_by="test")
    watch.check("over-cap refund requested")
    for _ in range(30):
        left = refunds_advance(pool_id=pool.pk)
        watch.check("refund pass")
        if left == 0:
            break
    index_until_confirmed(chain)
    watch.check("indexed after the refund")

    served = json.loads(APIClient().get(f"/api/v1/pools/{pool.pk}/").content)
    assert served["status"] == "launched" and served["refunds"]["paid"] == str(2 * ETHER)
    assert len(watch.states) >= 7, watch.states
    assert watch.reads_after_writes > 15


@pytest.mark.django_db(transaction=True)
def test_every_step_of_a_failed_raise_and_its_refunds_shows_at_once(chain, watch_pool):
    pool = scheduled_pool(chain, soft_cap=50 * ETHER)
    watch = watch_pool(pool)

    deposit_from(chain, pool, [ETHER, 2 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="cache-failed")
    index_until_confirmed(chain)
    watch.check("deposits credited")
    pool = close_raise(chain, pool)
    watch.check("closed")
    pool_settle(pool_id=pool.pk, confirmed_through=chain_now(chain))
    watch.check("soft cap missed: refunding")
    refund_request(pool_id=pool.pk, requested_by="test")
    watch.check("refunds requested")
    for _ in range(30):
        left = refunds_advance(pool_id=pool.pk)
        watch.check("refund pass")
        if left == 0:
            break

    served = json.loads(APIClient().get(f"/api/v1/pools/{pool.pk}/").content)
    assert served["status"] == "refunded" and served["refunds"]["still_owed"] == "0"
    assert len(watch.states) >= 5, watch.states
    assert watch.reads_after_writes > 10
