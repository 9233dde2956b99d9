"""The pool-detail API under concurrent load, against a trivial Django view on the same server.

    .venv/bin/python scripts/devstack.py bench bench/api_load.py [--clients 200] [--seconds 20]

gunicorn serves the app on loopback as the Dockerfile runs it in production (3 sync workers), with
bench/load_settings.py: DEBUG off, the throttle's rates raised out of the way (all clients share 127.0.0.1) but the
throttle still counting in Redis. The clients (tests/faults/http_load.py) are 200 concurrent coroutines on one
thread, each sending its next request when its answer arrived, for a bounded time; first against
GET /api/v1/pools/{id}/, then against /bench/trivial/ (an HttpResponse("ok") behind the same middleware). The
ratio says what the endpoint itself costs on top of serving any request. Client and server share the machine's cores.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
os.environ["DJANGO_SETTINGS_MODULE"] = "load_settings"
os.environ["CHAIN_CHECK_ON_START"] = "false"

import django  # noqa: E402

django.setup()

from eth_utils import keccak, to_checksum_address  # noqa: E402
from figures import ms, publish  # noqa: E402

from pools.models import Agent, Pool  # noqa: E402
from tests.faults.http_load import TRIVIAL_PATH, run_load, start_gunicorn  # noqa: E402

WARM_UP_SECONDS = 3


def public_pool() -> Pool:
    agent, _ = Agent.objects.get_or_create(
        name="bench api agent", defaults={"wallet_address": to_checksum_address(keccak(text="bench-api-agent")[12:])}
    )
    return Pool.objects.create(
        agent=agent,
        name="bench api",
        token_name="Bench API",
        token_symbol="BAPI",
        status=Pool.Status.OPEN,
        soft_cap=10 * 10**18,
        hard_cap=100 * 10**18,
        raised=42 * 10**18,
        deposit_address=to_checksum_address(keccak(text="bench-api-pool")[12:]),
        chain_id=31337,
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=20.0, help="per endpoint")
    args = parser.parse_args()

    pool = public_pool()
    log_dir = Path(tempfile.mkdtemp(prefix="bench-api-"))
    server = start_gunicorn(env={}, log_path=log_dir / "gunicorn.log")
    try:
        detail_url, trivial_url = f"{server.base_url}/api/v1/pools/{pool.pk}/", server.base_url + TRIVIAL_PATH
        run_load([detail_url, trivial_url], clients=args.clients, seconds=WARM_UP_SECONDS)
        results = {}
        for name, url in [("pool detail", detail_url), ("trivial view", trivial_url)]:
            started = time.perf_counter()
            results[name] = run_load([url], clients=args.clients, seconds=args.seconds)
            print(f"  {name}: {results[name].summary()} ({time.perf_counter() - started:.0f} s)", flush=True)
    finally:
        server.stop()

    detail, trivial = results["pool detail"], results["trivial view"]
    for name, result, path in [
        ("pool detail", detail, "GET /api/v1/pools/{id}/"),
        ("trivial view", trivial, "GET /bench/trivial/"),
    ]:
        errors = f", {sum(result.errors.values())} errors {dict(result.errors)}" if result.errors else ", 0 errors"
        publish(
            bench="api",
            what=f"{name}, {args.clients} clients × {args.seconds:.0f} s ({path})",
            figure=f"{result.per_second:,.0f} req/s",
            detail=f"p50 {ms(result.percentile(50))}, p99 {ms(result.percentile(99))}{errors}",
        )
    publish(
        bench="api",
        what="pool detail ÷ trivial view",
        figure=f"{detail.per_second / trivial.per_second:.2f}× the requests/s",
        detail=f"gunicorn, 3 sync workers, on {os.cpu_count()} cores shared with the load generator",
    )
    return 1 if detail.errors or trivial.errors else 0


if __name__ == "__main__":
    raise SystemExit(main())
