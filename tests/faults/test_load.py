"""Load: 10,000 deposits over 100 blocks all credited exactly; 200 concurrent API clients, no errors."""

from __future__ import annotations

import os
import sys
from collections import Counter

import pytest
from django.db import connection
from django.db.models import Count, Sum
from eth_utils import keccak, to_checksum_address

from chain.rpc import JsonRpc
from pools.models import Allocation, Deposit, IndexerCursor, Pool
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID, PROJECT_ROOT
from tests.factories import PoolFactory
from tests.faults.http_load import run_load, start_gunicorn

sys.path.append(str(PROJECT_ROOT / "bench"))  # after everything else: its script names must shadow nothing
from indexing import BLOCKS, PER_BLOCK, POOLS_PER_ASSET, make_deposits  # noqa: E402 - the indexing bench's chain

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

LOAD_CLIENTS = 200
# A fixed amount of work, whatever the machine's speed: each client sends this many requests, one after another.
LOAD_REQUESTS_PER_CLIENT = int(os.environ.get("LAUNCHPAD_LOAD_REQUESTS", "5"))
# Only a failure bound: the whole load must be served within it.
LOAD_BOUND_SECONDS = 300
ETHER, USDC = 10**18, 10**6


def _expected_totals(pools_eth: list[Pool], pools_usdc: list[Pool]) -> dict[int, int]:
    """What make_deposits sends each pool (bench/indexing.py): block b, sender i sends (b·100 + i + 1)·10^12 wei;
    senders 0-39 straight to an ETH pool, 40-59 through a forwarding wallet, 60-99 that many USDC units / 10^6."""
    totals: Counter = Counter()
    for block in range(BLOCKS):
        for i in range(PER_BLOCK):
            amount = (block * PER_BLOCK + i + 1) * 10**12
            if i < 60:
                totals[pools_eth[i % POOLS_PER_ASSET].pk] += amount
            else:
                totals[pools_usdc[i % POOLS_PER_ASSET].pk] += amount // 10**6
    return dict(totals)


def test_ten_thousand_deposits_over_a_hundred_blocks_are_all_credited_exactly(
    settings, anvil, dev_chain, chain_snapshot
):
    settings.CHAIN_RPC_URL = anvil.rpc_url
    common = {"chain_id": ANVIL_CHAIN_ID, "opens_at": None, "closes_at": None, "soft_cap": 0, "confirmations": 2}
    address = lambda label: to_checksum_address(keccak(text=f"load-pool-{label}")[12:])  # noqa: E731
    pools_eth = [PoolFactory(deposit_address=address(f"eth-{i}"), hard_cap=10**9 * ETHER, **common) for i in range(5)]
    pools_usdc = [
        PoolFactory(deposit_address=address(f"usdc-{i}"), raise_asset=dev_chain.usdc, raise_asset_decimals=6,
                    raise_asset_symbol="USDC", hard_cap=10**15 * USDC, **common)
        for i in range(5)
    ]  # fmt: skip
    head = anvil.w3.eth.block_number
    IndexerCursor.objects.create(chain_id=ANVIL_CHAIN_ID, last_block=head, first_block=head + 1)

    make_deposits(anvil, pools_eth, pools_usdc)
    report = index_chain(chain_id=ANVIL_CHAIN_ID, time_budget=600, rpc=JsonRpc(url=anvil.rpc_url, timeout=120))

    assert report.caught_up
    deposits = Deposit.objects.filter(chain_id=ANVIL_CHAIN_ID)
    assert deposits.count() == BLOCKS * PER_BLOCK == 10_000
    assert deposits.values("tx_hash", "position").distinct().count() == 10_000, "no deposit counted twice"
    assert deposits.filter(status=Deposit.Status.CONFIRMED).count() == 10_000
    kinds = dict(deposits.values_list("kind").annotate(n=Count("id")))
    assert kinds == {"native_tx": 4_000, "native_internal": 2_000, "erc20": 4_000}
    assert deposits.values("block_number").distinct().count() == BLOCKS
    expected = _expected_totals(pools_eth, pools_usdc)
    for pool in Pool.objects.filter(pk__in=expected):
        credited = deposits.filter(pool=pool).aggregate(total=Sum("credited_amount"))["total"]
        assert pool.raised == int(credited) == expected[pool.pk], pool
        assert pool.refund_owed == 0
        assert pool.balance_difference == 0, "the pool address holds exactly what the books say"


def test_two_hundred_concurrent_api_clients_get_no_errors(tmp_path):
    """The public API under gunicorn (as in production) with 200 concurrent clients, each sending its requests one
    after another: pool detail, the pool list and allocation lookups with their Merkle proofs. Every request is
    answered, none with an error."""
    open_pool = PoolFactory(status=Pool.Status.OPEN)
    launched = PoolFactory(status=Pool.Status.LAUNCHED)
    holders = [to_checksum_address(keccak(text=f"load-holder-{i}")[12:]) for i in range(1_000)]
    proof = ["0x" + keccak(text=f"node-{i}").hex() for i in range(10)]
    Allocation.objects.bulk_create(
        [Allocation(pool=launched, address=a, contribution=ETHER, token_amount=10**21, proof=proof) for a in holders]
    )
    db = connection.settings_dict
    env = {"DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}"}
    server = start_gunicorn(env=env, log_path=tmp_path / "gunicorn.log")
    try:
        urls = [server.base_url + f"/api/v1/pools/{open_pool.pk}/", server.base_url + "/api/v1/pools/"] + [
            server.base_url + f"/api/v1/pools/{launched.pk}/allocations/{holder}/" for holder in holders[:50]
        ]
        result = run_load(
            urls, clients=LOAD_CLIENTS, seconds=LOAD_BOUND_SECONDS, requests_per_client=LOAD_REQUESTS_PER_CLIENT
        )
    finally:
        server.stop()

    print(f"\n{LOAD_CLIENTS} clients, {LOAD_REQUESTS_PER_CLIENT} requests each: {result.summary()}")
    assert not result.errors, f"{result.summary()}\n{server.log()}"
    assert len(result.latencies) == LOAD_CLIENTS * LOAD_REQUESTS_PER_CLIENT, "every request answered"
