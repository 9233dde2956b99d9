"""Allocation and Merkle tree build for 100,000 depositors, and the proof lookup's latency through the API.

    .venv/bin/python scripts/devstack.py bench bench/allocation.py      (or: make bench, which runs them all)

The allocation is the launch job's own step (`pools.services.launch._allocate`): read the credited contributions
from PostgreSQL, divide the depositors' tokens pro rata (exact integers), build the OpenZeppelin-compatible Merkle
tree, build every depositor's proof level by level, check a random sample of the stored proofs against the root, and
COPY 100,000 Allocation rows with their proofs into PostgreSQL. Its parts are timed by wrapping the functions it
calls. The reference is the issue's target (10 s); the step took 45.3 s before (2026-11-24: proofs built and verified
one by one, bulk_create). The lookup is `GET /api/v1/pools/{id}/allocations/{address}/` through Django's whole
request path in this process (middleware, DRF, the throttle's Redis counter, one indexed query, JSON), without a
network hop, for random depositors.
"""

from __future__ import annotations

import inspect
import os
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ["DJANGO_SETTINGS_MODULE"] = "load_settings"  # production-like: DEBUG off, throttle out of the way
os.environ["CHAIN_CHECK_ON_START"] = "false"

import django  # noqa: E402

django.setup()

from django.db import connection, transaction  # noqa: E402
from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402
from figures import ms, publish, ratio  # noqa: E402

from enclave_signer import merkle  # noqa: E402
from pools.models import Agent, Allocation, Deposit, Launch, Pool  # noqa: E402
from pools.services import launch as launch_service  # noqa: E402

DEPOSITORS = 100_000
LOOKUPS = 2_000
TARGET_SECONDS = 10.0
BEFORE_SECONDS = 45.3  # docs/benchmarks.md, 2026-11-24: proofs verified one by one, bulk_create
ETHER = 10**18


def closed_pool_with_depositors(count: int) -> Pool:
    """A closed pool with `count` confirmed, credited deposits from distinct senders (written directly)."""
    agent, _ = Agent.objects.get_or_create(name="bench allocation agent")
    pool = Pool.objects.create(
        agent=agent,
        name="bench allocation",
        token_name="Bench Allocation",
        token_symbol="BALLOC",
        status=Pool.Status.CLOSED,
        soft_cap=1,
        hard_cap=count * ETHER,
        deposit_address=to_checksum_address(keccak(text="bench-allocation-pool")[12:]),
        chain_id=31337,
    )
    now = timezone.now()
    deposits = []
    for i in range(count):
        amount = (i % 97 + 1) * ETHER // 100
        deposits.append(
            Deposit(
                pool=pool, chain_id=pool.chain_id, tx_hash="0x" + keccak(text=f"bench-allocation-{i}").hex(),
                position="tx", kind=Deposit.Kind.NATIVE_TX,
                sender=to_checksum_address(keccak(text=f"bench-allocation-sender-{i}")[12:]), amount=amount,
                block_number=1 + i // 100, block_hash="0x" + "00" * 32, tx_index=i % 100, ordinal=0,
                block_timestamp=now, status=Deposit.Status.CONFIRMED, credited_amount=amount,
            )
        )  # fmt: skip
    Deposit.objects.bulk_create(deposits, batch_size=5_000)
    return pool


def timed(owner, name: str, totals: dict[str, float], *, label: str) -> None:
    """Wrap owner.name (a module's function, a class's method or classmethod, an object's method) so the time spent
    in it adds up in totals[label]."""
    raw = inspect.getattr_static(owner, name)
    if isinstance(raw, classmethod):
        original = raw.__func__  # called with the class first, as the classmethod would be
    elif isinstance(owner, type):
        original = raw  # a plain function: called with the instance first
    else:
        original = getattr(owner, name)  # a module's function or an object's bound method

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[label] = totals.get(label, 0.0) + time.perf_counter() - started

    setattr(owner, name, classmethod(wrapper) if isinstance(raw, classmethod) else wrapper)


def allocate(pool: Pool) -> tuple[float, dict[str, float], Launch]:
    parts: dict[str, float] = {}
    timed(launch_service, "allocate_pro_rata", parts, label="pro rata")
    timed(launch_service.AllocationTree, "build", parts, label="Merkle tree")
    timed(launch_service, "_allocation_rows", parts, label="proofs")  # every proof, as the rows' JSON
    timed(launch_service, "_check_proof_sample", parts, label="sample verification")
    timed(launch_service, "_copy_allocations", parts, label="insert")
    launch = Launch.objects.create(pool=pool, requested_by="bench")
    started = time.perf_counter()
    with transaction.atomic():
        launch_service._allocate(launch, pool)
        launch.save()
    return time.perf_counter() - started, parts, launch


def lookups(pool: Pool, launch: Launch) -> list[float]:
    client = Client(HTTP_HOST="127.0.0.1")
    addresses = list(Allocation.objects.filter(pool=pool).values_list("address", flat=True))
    sample = random.Random(8).sample(addresses, LOOKUPS + 100)  # noqa: S311 - a reproducible sample, not a secret
    root = bytes.fromhex(launch.merkle_root[2:])
    latencies = []
    for n, address in enumerate(sample):
        started = time.perf_counter()
        response = client.get(f"/api/v1/pools/{pool.pk}/allocations/{address}/")
        elapsed = time.perf_counter() - started
        if response.status_code != 200:
            raise SystemExit(f"lookup of {address}: HTTP {response.status_code} {response.content[:200]!r}")
        body = response.json()
        leaf = merkle.leaf_hash((body["address"], int(body["token_amount"])))
        if merkle.process_proof(leaf, [bytes.fromhex(p[2:]) for p in body["proof"]]) != root:
            raise SystemExit(f"the API's proof for {address} does not lead to the launch's root")
        if n >= 100:  # the first hundred warm the connection and caches up
            latencies.append(elapsed)
    return sorted(latencies)


def main() -> None:
    started = time.perf_counter()
    pool = closed_pool_with_depositors(DEPOSITORS)
    print(f"  {DEPOSITORS:,} deposits written in {time.perf_counter() - started:.1f} s", flush=True)
    seconds, parts, launch = allocate(pool)
    rest = seconds - sum(parts.values())
    breakdown = ", ".join(f"{name} {value:.1f} s" for name, value in parts.items()) + f", query and rest {rest:.1f} s"
    print(f"  allocation step {seconds:.1f} s ({breakdown})", flush=True)
    assert Allocation.objects.filter(pool=pool).count() == DEPOSITORS
    with connection.cursor() as cursor:
        # What autovacuum does within a minute of a bulk insert; done first, so the figure does not depend on when.
        cursor.execute("VACUUM ANALYZE pools_allocation")
    latencies = lookups(pool, launch)
    p50, p99 = latencies[len(latencies) // 2], latencies[int(len(latencies) * 0.99)]

    publish(
        bench="allocation",
        what=f"allocation step, {DEPOSITORS:,} depositors",
        figure=f"{seconds:.1f} s",
        reference=f"{TARGET_SECONDS:.0f} s target ({BEFORE_SECONDS} s before, 2026-11-24)",
        ratio=ratio(seconds / TARGET_SECONDS, "≤ 1×"),
        detail=breakdown,
    )
    publish(
        bench="allocation",
        what=f"Merkle tree build, {DEPOSITORS:,} leaves",
        figure=f"{parts['Merkle tree']:.1f} s",
        detail=f"+ {parts['proofs']:.1f} s for all {DEPOSITORS:,} proofs (level by level, as stored JSON), "
        f"{ms(parts['sample verification'])} to check {launch_service.ALLOCATION_PROOF_SAMPLE} random ones and the "
        "first and last against the root",
    )
    publish(
        bench="allocation",
        what="proof lookup, GET /api/v1/pools/{id}/allocations/{address}/",
        figure=f"p50 {ms(p50)}, p99 {ms(p99)}",
        detail=f"{LOOKUPS:,} random depositors of {DEPOSITORS:,}, in-process (no network), one at a time",
    )


if __name__ == "__main__":
    main()
