"""index_chain as a service: idempotent over the same range, safe with two indexers at once, skips when locked."""

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, transaction

from pools.indexer.base import BlockWindow, WatchedPools
from pools.indexer.chain import ChainIndexer
from pools.models import Deposit, IndexerCursor
from pools.services.indexing import index_chain
from pools.tasks import index_chain_task
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, eth_transfer, fresh_address

pytestmark = pytest.mark.chain


def deposit_rows() -> list[tuple]:
    return list(
        Deposit.objects.order_by("id").values_list(
            "id", "pool_id", "tx_hash", "position", "amount", "block_hash", "status", "credited_amount", "refund_amount"
        )
    )


def mine_deposits(chain, pool, *, blocks: int, per_block: int) -> int:
    senders = [fresh_address(f"sender-{i}") for i in range(blocks * per_block)]
    chain.fund(senders)
    for b in range(blocks):
        chunk = senders[b * per_block : (b + 1) * per_block]
        chain.block([eth_transfer(sender, pool.deposit_address, ETHER) for sender in chunk])
    chain.mine(2)
    return len(senders)


@pytest.mark.django_db
def test_reindexing_the_same_range_changes_nothing(chain, cursor, eth_pool):
    mine_deposits(chain, eth_pool, blocks=3, per_block=4)
    index_chain(chain_id=ANVIL_CHAIN_ID)
    before, raised = deposit_rows(), type(eth_pool).objects.get().raised

    IndexerCursor.objects.update(last_block=cursor.last_block)  # rewind to where the test began
    report = index_chain(chain_id=ANVIL_CHAIN_ID)

    assert report.blocks > 0 and report.deposits_found == 12
    assert report.deposits_new == 0
    assert deposit_rows() == before
    assert type(eth_pool).objects.get().raised == raised == 12 * ETHER


def run_in_thread(function):
    try:
        return function()
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_two_indexers_at_once_credit_nothing_twice(chain, cursor, eth_pool):
    count = mine_deposits(chain, eth_pool, blocks=8, per_block=5)
    IndexerCursor.objects.update(window=1)  # many small steps, so the two take turns
    start = threading.Barrier(2)

    def index():
        start.wait()
        return index_chain(chain_id=ANVIL_CHAIN_ID)

    with ThreadPoolExecutor(max_workers=2) as workers:
        reports = list(workers.map(lambda _: run_in_thread(index), range(2)))
    index_chain(chain_id=ANVIL_CHAIN_ID)  # whichever stopped early, finish

    assert Deposit.objects.count() == count
    assert sum(report.deposits_new for report in reports) <= count
    eth_pool.refresh_from_db()
    assert eth_pool.raised == count * ETHER


@pytest.mark.django_db(transaction=True)
def test_the_same_deposits_stored_by_two_transactions_at_once_are_stored_once(chain, cursor, eth_pool):
    """The last line of defence, without the cursor lock: the unique key and ON CONFLICT DO NOTHING."""
    mine_deposits(chain, eth_pool, blocks=2, per_block=5)
    indexer = ChainIndexer(chain_id=ANVIL_CHAIN_ID, rpc=chain.rpc)
    findings = indexer.find_deposits(
        window=BlockWindow(cursor.last_block + 1, chain.head()), pools=WatchedPools.load(chain_id=ANVIL_CHAIN_ID)
    )
    blocks, deposits = findings.blocks, findings.deposits
    start = threading.Barrier(2)

    def store():
        start.wait()
        with transaction.atomic():
            return indexer.store(blocks=blocks, deposits=deposits)

    with ThreadPoolExecutor(max_workers=2) as workers:
        list(workers.map(lambda _: run_in_thread(store), range(2)))

    assert Deposit.objects.count() == len(deposits) == 10


@pytest.mark.django_db(transaction=True)
def test_an_indexer_finding_the_cursor_locked_skips(chain, cursor, eth_pool):
    mine_deposits(chain, eth_pool, blocks=1, per_block=2)
    locked, release = threading.Event(), threading.Event()

    def hold_the_cursor():
        with transaction.atomic():
            IndexerCursor.objects.select_for_update().get(chain_id=ANVIL_CHAIN_ID)
            locked.set()
            release.wait(timeout=30)

    with ThreadPoolExecutor(max_workers=1) as workers:
        holder = workers.submit(run_in_thread, hold_the_cursor)
        locked.wait(timeout=30)
        report = index_chain(chain_id=ANVIL_CHAIN_ID)
        release.set()
        holder.result()

    assert report.skipped
    assert not Deposit.objects.exists()


@pytest.mark.django_db
def test_the_task_indexes_the_configured_chain(chain, cursor, eth_pool):
    mine_deposits(chain, eth_pool, blocks=1, per_block=3)

    result = index_chain_task.run()

    assert result["deposits_new"] == 3
    assert result["last_block"] == chain.head()
