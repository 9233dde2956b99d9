"""A real Celery worker killed (SIGKILL) at each dangerous point of a launch still ends with exactly one launch."""

from __future__ import annotations

import time
from datetime import timedelta

import pytest
from django.conf import settings
from django.db import connection

from pools.models import ChainTransaction, Launch, Pool
from pools.services.launch import launch_request
from tests.indexer.support import ETHER
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    assert_conserved,
    chain,
    close_raise,
    deposit_from,
    index_until_confirmed,
    scheduled_pool,
)
from tests.processes import start_celery_worker

pytestmark = [pytest.mark.integration, pytest.mark.chain]


def worker_env(marker, crash_at: str) -> dict[str, str]:
    """The worker sees the test's database, chain and signer, and kills itself once at `crash_at`."""
    db = connection.settings_dict
    return {
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CHAIN_RPC_URL": settings.CHAIN_RPC_URL,
        "CHAIN_ID": str(settings.CHAIN_ID),
        "CHAIN_DEPLOYMENT_FILE": str(settings.CHAIN_DEPLOYMENT_FILE),
        "SIGNER_URL": settings.SIGNER_URL,
        "SIGNER_CLIENT_KEY": settings.SIGNER_CLIENT_KEY,
        "LAUNCHPAD_CRASH_AT": crash_at,
        "LAUNCHPAD_CRASH_MARKER": str(marker),
    }


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("crash_at", ["signed", "sent"])
def test_a_worker_killed_mid_launch_still_launches_exactly_once(chain, tmp_path, crash_at):  # noqa: F811
    pool = scheduled_pool(chain)
    deposit_from(chain, pool, [5 * ETHER] * 3, at=pool.opens_at + timedelta(minutes=1), label=f"crash-{crash_at}")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    marker = tmp_path / "crashed"
    worker = start_celery_worker(log_dir=tmp_path, env=worker_env(marker, crash_at), pool="prefork")
    try:
        launch_request(pool_id=pool.pk, requested_by="agent")  # enqueues the job for the worker on commit
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            step = Launch.objects.get(pool=pool).step
            if step in (Launch.Step.LAUNCHED, Launch.Step.FAILED):
                break
            time.sleep(0.1)
    finally:
        worker.stop()

    assert marker.exists(), f"the worker never reached {crash_at}:\n{worker.log()}"
    launch = Launch.objects.get(pool=pool)
    assert launch.step == Launch.Step.LAUNCHED, f"{launch.error}\n{worker.log()}"
    assert Pool.objects.get(pk=pool.pk).status == Pool.Status.LAUNCHED
    launches = ChainTransaction.objects.filter(pool=pool, purpose=ChainTransaction.Purpose.LAUNCH)
    assert launches.filter(status=ChainTransaction.Status.CONFIRMED).count() == 1
    assert {tx.nonce for tx in launches} == {launch.transaction.nonce}
    # One transaction ever left the pool address: its nonce moved by exactly one.
    assert chain.w3.eth.get_transaction_count(pool.deposit_address) == 1
    assert_conserved(chain, pool, deposited=3 * 5 * ETHER)
