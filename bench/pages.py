"""Benchmark: the website's pages with 1,000 pools, in milliseconds per page (server side: queries and rendering).

    .venv/bin/python scripts/devstack.py bench bench/pages.py     # throwaway PostgreSQL and Redis, migrated
    DATABASE_URL=postgres://... .venv/bin/python bench/pages.py   # an existing, disposable, migrated database

It makes 1,000 pools (400 open, 300 launched with an hour of dashboard snapshots each, 200 upcoming, 100 refunded),
2,000 deposits into one open pool, and one address that took part in 50 launched pools; then requests each page
through Django's test client (the whole middleware, view and template stack, no network) and prints the median and
the slowest of RUNS requests, with the number of queries. Chain and signer reads are left out: the claim page's
chain read is stubbed, and the transparency page (all signer, no database) is not timed.
"""

from __future__ import annotations

import os
import statistics
import sys
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

RUNS = 15
ETHER = 10**18


def setup_django() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchpad.settings")
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ["CHAIN_CHECK_ON_START"] = "false"
    import django

    django.setup()
    from django.conf import settings

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    settings.DEBUG = False


def make_data() -> dict:
    from django.utils import timezone
    from eth_utils import keccak, to_checksum_address

    from pools.models import Agent, Allocation, Deposit, Launch, Pool
    from web.market import uq112_price
    from web.models import FeedSnapshot, PriceSnapshot

    def address(label) -> str:
        return to_checksum_address(keccak(text=f"bench-{label}")[12:])

    now = timezone.now()
    agent = Agent.objects.create(name="Bench agent")
    statuses = ["open"] * 400 + ["launched"] * 300 + ["scheduled"] * 200 + ["refunded"] * 100
    pools = Pool.objects.bulk_create(
        [
            Pool(
                agent=agent, name=f"Bench pool {i}", token_name=f"Bench {i}", token_symbol=f"B{i}", status=status,
                soft_cap=10 * ETHER, hard_cap=100 * ETHER, raised=(i % 90) * ETHER, deposit_address=address(i),
                opens_at=now, closes_at=now + timedelta(days=1), chain_id=31337,
            )
            for i, status in enumerate(statuses)
        ]
    )  # fmt: skip
    launched = [p for p in pools if p.status == "launched"]
    Launch.objects.bulk_create(
        [
            Launch(
                pool=p, step="launched", token_address=address(f"t{p.pk}"), pair_address=address(f"p{p.pk}"),
                claim_vault_address=address(f"v{p.pk}"), lp_destination="0x000000000000000000000000000000000000dEaD",
                event={"asset_to_liquidity": str(80 * ETHER), "tokens_to_liquidity": str(400_000_000 * ETHER)},
                launched_at=now,
            )
            for p in launched
        ]
    )  # fmt: skip
    snapshots = []
    for p in launched:
        for minute in range(60):
            reserve_token, reserve_asset = 400_000_000 * ETHER, 80 * ETHER + minute * ETHER // 100
            snapshots.append(
                PriceSnapshot(
                    pool=p, block_number=1_000 + minute, block_timestamp=1_700_000_000 + 60 * minute,
                    reserve_token=reserve_token, reserve_asset=reserve_asset,
                    price_cumulative=uq112_price(reserve_self=reserve_token, reserve_other=reserve_asset) * minute * 60,
                    token_total_supply=10**9 * ETHER, token_locked=4 * 10**8 * ETHER, oracle_answer=3_000 * 10**8,
                    oracle_decimals=8, oracle_updated_at=1_700_000_000 + 60 * minute,
                )
            )  # fmt: skip
    PriceSnapshot.objects.bulk_create(snapshots, batch_size=5_000)
    FeedSnapshot.objects.create(
        chain_id=31337, asset="", symbol="ETH", feed_address=address("feed"), answer=3_000 * 10**8, decimals=8,
        updated_at=1_700_000_000, block_number=1_000, block_timestamp=1_700_000_000,
    )  # fmt: skip
    busy = next(p for p in pools if p.status == "open")
    Deposit.objects.bulk_create(
        [
            Deposit(
                pool=busy, chain_id=31337, tx_hash="0x" + keccak(text=f"tx{i}").hex(), position="tx",
                kind="native_tx", sender=address(f"d{i % 700}"), amount=ETHER // 10, block_number=100 + i,
                block_hash="0x" + "ab" * 32, tx_index=0, ordinal=0, block_timestamp=now,
                status="confirmed" if i < 1_990 else "pending", credited_amount=ETHER // 10 if i < 1_990 else 0,
            )
            for i in range(2_000)
        ],
        batch_size=1_000,
    )  # fmt: skip
    holder = address("holder")
    for p in launched[:50]:
        Deposit.objects.create(
            pool=p, chain_id=31337, tx_hash="0x" + keccak(text=f"h{p.pk}").hex(), position="tx", kind="native_tx",
            sender=holder, amount=ETHER, block_number=50, block_hash="0x" + "cd" * 32, tx_index=0, ordinal=0,
            block_timestamp=now, status="confirmed", credited_amount=ETHER,
        )  # fmt: skip
        Allocation.objects.create(pool=p, address=holder, contribution=ETHER, token_amount=10**6 * ETHER, proof=[])
    return {"busy": busy.pk, "launched": launched[0].pk, "holder": holder, "pools": len(pools)}


def time_pages(data: dict) -> None:
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    import web.views

    web.views.claim_status = lambda **_: None  # no chain here: time the database and the template
    client = Client()
    pages = {
        "pool list": "/",
        "pool list, open, search": "/?status=open&q=pool",
        "pool list, page 20": "/?page=20",
        "pool page (2,000 deposits)": f"/pools/{data['busy']}/",
        "pool live fragment": f"/pools/{data['busy']}/live/",
        "my contribution (50 pools)": f"/account/?address={data['holder']}",
        "claim page": f"/pools/{data['launched']}/claim/?address={data['holder']}",
        "dashboard (300 launched)": "/dashboard/",
        "dashboard, page 15": "/dashboard/?page=15",
    }
    print(f"{data['pools']:,} pools; {RUNS} requests per page; server-side time (test client, no network)")
    print(f"{'page':<30} {'median ms':>10} {'max ms':>8} {'queries':>8}")
    for name, url in pages.items():
        client.get(url)  # warm: connection, templates, caches
        times = []
        for _ in range(RUNS):
            start = time.perf_counter()
            response = client.get(url)
            times.append((time.perf_counter() - start) * 1000)
            assert response.status_code == 200, (url, response.status_code)
        with CaptureQueriesContext(connection) as queries:
            client.get(url)
        print(f"{name:<30} {statistics.median(times):>10.1f} {max(times):>8.1f} {len(queries):>8}")


def main() -> int:
    setup_django()
    from django.db import transaction

    from pools.models import Pool

    if Pool.objects.exists():
        print("the database already has pools: use a disposable one (scripts/devstack.py bench bench/pages.py)")
        return 2
    with transaction.atomic():
        started = time.perf_counter()
        data = make_data()
        print(f"made the data in {time.perf_counter() - started:.1f} s")
    time_pages(data)
    return 0


if __name__ == "__main__":
    sys.exit(main())
