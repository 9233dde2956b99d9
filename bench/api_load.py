"""Pool reads under concurrent load, side by side with a trivial Django view on the same server.

    .venv/bin/python scripts/devstack.py bench bench/api_load.py
    API_LOAD_SECONDS=8 API_LOAD_ROUNDS=1 .venv/bin/python scripts/devstack.py bench bench/api_load.py   # quicker
    (or, with the services' URLs in the environment: bench/api_load.py [--clients 200] [--seconds 20] [--rounds 2])

gunicorn serves the app on loopback as the Dockerfile and Procfile.production run it (3 workers, 8 threads each),
with bench/load_settings.py: DEBUG off, the throttle's rates raised out of the way (all clients share 127.0.0.1) but
the throttle still counting (in Redis, in batches: pools/ratelimit.hit_batched). The clients (tests/faults/
http_load.py) are 200 concurrent coroutines on one thread, each sending its next request when its answer arrived.

Three endpoints, measured in turn, in `--rounds` rounds of seconds/rounds each (so a drift of the machine's speed
falls on all three alike), every request a plain GET with no validator (each gets the whole body):
- the trivial view (GET /bench/trivial/: HttpResponse("ok") behind the same middleware), the reference;
- the pool detail (GET /api/v1/pools/{id}/), answered from the cache by the pool's state version;
- the pool page's live fragment (GET /pools/{id}/live/, what the page polls), the same.
Then the same two pool reads on a second server whose read caches are off (BENCH_POOL_READ_CACHE=off), for the
figure the cache changes, and one round with If-None-Match (304s). Last, one request of each is profiled in this
process (cProfile), to say where the time goes.

The pool is open, with 30 confirmed deposits and 5 pending ones, so the fragment has its tables to render.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import os
import pstats
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ["DJANGO_SETTINGS_MODULE"] = "load_settings"
os.environ["CHAIN_CHECK_ON_START"] = "false"

import django  # noqa: E402

django.setup()

from django.test import Client  # noqa: E402
from django.utils import timezone  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402
from figures import ms, publish, ratio  # noqa: E402

from pools.models import Agent, Deposit, Pool  # noqa: E402
from tests.faults import http_load  # noqa: E402
from tests.faults.http_load import TRIVIAL_PATH, Gunicorn, LoadResult  # noqa: E402

WARM_UP_SECONDS = 3
# As the Dockerfile's CMD and Procfile.production run it.
WORKERS, THREADS = 3, 8


def public_pool() -> Pool:
    agent, _ = Agent.objects.get_or_create(
        name="bench api agent", defaults={"wallet_address": to_checksum_address(keccak(text="bench-api-agent")[12:])}
    )
    pool = Pool.objects.create(
        agent=agent,
        name="bench api",
        token_name="Bench API",
        token_symbol="BAPI",
        status=Pool.Status.OPEN,
        soft_cap=10 * 10**18,
        hard_cap=100 * 10**18,
        raised=30 * 10**18,
        opens_at=timezone.now() - timezone.timedelta(hours=1),
        closes_at=timezone.now() + timezone.timedelta(days=1),
        deposit_address=to_checksum_address(keccak(text="bench-api-pool")[12:]),
        chain_id=31337,
    )
    deposits = []
    for n in range(35):
        confirmed = n < 30
        deposits.append(
            Deposit(
                pool=pool,
                chain_id=pool.chain_id,
                tx_hash="0x" + keccak(text=f"bench-api-deposit-{pool.pk}-{n}").hex(),
                position="tx",
                kind=Deposit.Kind.NATIVE_TX,
                sender=to_checksum_address(keccak(text=f"bench-api-sender-{n % 20}")[12:]),
                amount=10**18,
                block_number=1_000 + n,
                block_hash="0x" + keccak(text=f"bench-api-block-{n}").hex(),
                tx_index=0,
                ordinal=0,
                block_timestamp=timezone.now(),
                status=Deposit.Status.CONFIRMED if confirmed else Deposit.Status.PENDING,
                credited_amount=10**18 if confirmed else 0,
            )
        )
    Deposit.objects.bulk_create(deposits)
    return pool


def start_gunicorn(*, log_path: Path, env: dict[str, str]) -> Gunicorn:
    """The app under gunicorn as production runs it (gthread: WORKERS × THREADS), on a free loopback port."""
    return http_load.start_gunicorn(env=env, log_path=log_path, workers=WORKERS, threads=THREADS)


def run_load(url: str, *, clients: int, seconds: float, headers: dict | None = None, ok=(200,)) -> LoadResult:
    """tests/faults/http_load.run_load's closed loop on one URL."""
    return http_load.run_load([url], clients=clients, seconds=seconds, headers=headers, ok=ok)


def endpoints(server: Gunicorn, pool: Pool) -> dict[str, str]:
    """The three URLs measured side by side: the reference first."""
    return {
        "trivial view": server.base_url + TRIVIAL_PATH,
        "pool detail": f"{server.base_url}/api/v1/pools/{pool.pk}/",
        "live fragment": f"{server.base_url}/pools/{pool.pk}/live/",
    }


def merged(parts: list[LoadResult]) -> LoadResult:
    whole = LoadResult(clients=parts[0].clients, seconds=sum(part.seconds for part in parts))
    for part in parts:
        whole.latencies.extend(part.latencies)
        whole.errors.update(part.errors)
    return whole


def measure(
    urls: dict[str, str], *, clients: int, seconds: float, rounds: int, headers=None, ok=(200,)
) -> dict[str, LoadResult]:
    parts: dict[str, list[LoadResult]] = {name: [] for name in urls}
    for round_number in range(rounds):
        for name, url in urls.items():
            result = run_load(url, clients=clients, seconds=seconds / rounds, headers=headers, ok=ok)
            parts[name].append(result)
            print(f"  round {round_number + 1}, {name}: {result.summary()}", flush=True)
    return {name: merged(results) for name, results in parts.items()}


def etag_of(url: str) -> str:
    with urllib.request.urlopen(url, timeout=10) as answer:  # noqa: S310 - loopback
        return answer.headers["ETag"]


def profile(pool: Pool) -> dict[str, float]:
    """CPU per request in this process (Django's whole path, no network): cached and uncached, plus a cProfile of a
    cached and an uncached pool detail in the log."""
    from agent_api import pool_cache
    from web import views

    client = Client(HTTP_HOST="127.0.0.1")
    paths = {
        "trivial view": TRIVIAL_PATH,
        "pool detail": f"/api/v1/pools/{pool.pk}/",
        "live fragment": f"/pools/{pool.pk}/live/",
    }
    per_request: dict[str, float] = {}
    n = 300
    for name, path in paths.items():
        for cached in (True, False):
            if name == "trivial view" and not cached:
                continue
            assert client.get(path).status_code == 200
            started = time.process_time()
            for _ in range(n):
                if not cached:
                    pool_cache.CACHE.clear()
                    views.LIVE_CACHE.clear()
                client.get(path)
            per_request[f"{name}{'' if cached else ' (uncached)'}"] = (time.process_time() - started) / n
    for name, path in paths.items():
        for cached in (True, False) if name != "trivial view" else (True,):
            profiler = cProfile.Profile()
            profiler.enable()
            for _ in range(100):
                if not cached:
                    pool_cache.CACHE.clear()
                    views.LIVE_CACHE.clear()
                client.get(path)
            profiler.disable()
            out = io.StringIO()
            pstats.Stats(profiler, stream=out).sort_stats("tottime").print_stats(15)
            label = "cached" if cached else "uncached"
            print(f"--- cProfile, 100 requests of the {name}, {label} (by own time) ---\n{out.getvalue()}", flush=True)
    for name, seconds in per_request.items():
        print(f"  in-process CPU per request, {name}: {seconds * 1000:.3f} ms", flush=True)
    return per_request


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    env = os.environ.get  # devstack's bench passes no arguments to a script: the environment can
    parser.add_argument("--clients", type=int, default=int(env("API_LOAD_CLIENTS", "200")))
    parser.add_argument("--seconds", type=float, default=float(env("API_LOAD_SECONDS", "20")), help="per endpoint")
    parser.add_argument("--rounds", type=int, default=int(env("API_LOAD_ROUNDS", "2")))
    parser.add_argument("--no-uncached", action="store_true", help="skip the server with the read caches off")
    args = parser.parse_args()

    pool = public_pool()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    print(f"gunicorn logs in {log_dir}", flush=True)

    server = start_gunicorn(log_path=log_dir / "gunicorn.log", env={})
    try:
        urls = endpoints(server, pool)
        for url in urls.values():
            run_load(url, clients=args.clients, seconds=WARM_UP_SECONDS)
        results = measure(urls, clients=args.clients, seconds=args.seconds, rounds=args.rounds)
        etag = etag_of(urls["pool detail"])
        revalidated = measure(
            {"pool detail, If-None-Match": urls["pool detail"]},
            clients=args.clients,
            seconds=args.seconds / args.rounds,
            rounds=1,
            headers={"If-None-Match": etag},
            ok=(304,),
        )
    finally:
        server.stop()

    uncached: dict[str, LoadResult] = {}
    if not args.no_uncached:
        server = start_gunicorn(log_path=log_dir / "gunicorn-uncached.log", env={"BENCH_POOL_READ_CACHE": "off"})
        try:
            urls = endpoints(server, pool)
            for url in urls.values():
                run_load(url, clients=args.clients, seconds=WARM_UP_SECONDS / 3)
            uncached = measure(urls, clients=args.clients, seconds=args.seconds / 2, rounds=1)
        finally:
            server.stop()

    per_request = profile(pool)

    trivial = results["trivial view"]
    setup = f"gunicorn {WORKERS} workers × {THREADS} threads, {os.cpu_count()} cores shared with the load generator"

    def row(
        name: str, path: str, result: LoadResult, reference: LoadResult | None, note: str = "", seconds: float = 0
    ) -> None:
        errors = f", {sum(result.errors.values())} errors {dict(result.errors)}" if result.errors else ", 0 errors"
        cpu = per_request.get(name)
        detail = f"p50 {ms(result.percentile(50))}, p99 {ms(result.percentile(99))}{errors}"
        if cpu is not None:
            detail += f"; {cpu * 1000:.2f} ms CPU per request in-process"
        if note:
            detail += f"; {note}"
        publish(
            bench="api",
            what=f"{name}, {args.clients} clients × {seconds or args.seconds:.0f} s ({path})",
            figure=f"{result.per_second:,.0f} req/s, p99 {ms(result.percentile(99))}",
            reference=(
                f"trivial view {reference.per_second:,.0f} req/s, p99 {ms(reference.percentile(99))}"
                if reference
                else ""
            ),
            ratio=(
                f"{ratio(result.per_second / reference.per_second, '≥ 0.5×')} req/s; "
                f"{ratio(result.percentile(99) / reference.percentile(99), '≤ 3×')} p99"
                if reference
                else ""
            ),
            detail=detail,
        )

    row("trivial view", "GET /bench/trivial/", trivial, None, setup)
    row("pool detail", "GET /api/v1/pools/{id}/", results["pool detail"], trivial, "cached by the pool's state version")
    row("live fragment", "GET /pools/{id}/live/", results["live fragment"], trivial, "the whole fragment each time")
    row(
        "pool detail, If-None-Match",
        "GET /api/v1/pools/{id}/",
        revalidated["pool detail, If-None-Match"],
        trivial,
        "304 without a body",
        seconds=args.seconds / args.rounds,
    )
    if uncached:
        reference = uncached["trivial view"]
        for name, path in (("pool detail", "GET /api/v1/pools/{id}/"), ("live fragment", "GET /pools/{id}/live/")):
            row(
                f"{name}, read caches off",
                path,
                uncached[name],
                reference,
                f"a second server with BENCH_POOL_READ_CACHE=off, its own trivial view as reference; "
                f"{per_request.get(name + ' (uncached)', 0) * 1000:.2f} ms CPU per render in-process",
                seconds=args.seconds / 2,
            )
    failed = any(result.errors for result in [*results.values(), *revalidated.values(), *uncached.values()])
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
