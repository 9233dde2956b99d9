"""HTTP load on loopback: the app served by gunicorn as in production, and many concurrent clients for a bounded time.

Shared by `bench/api_load.py` (the figures) and `tests/faults/test_load.py` (200 clients, a fixed number of requests
each, no errors).

The clients are coroutines on one thread (aiohttp), each with its own connection, sending its next request as soon as
its previous answer arrived (a closed loop). A latency is measured from sending to the last byte of the answer, so on
a loaded machine it includes the time the answer waited for the client's event loop.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import subprocess
import sys
import time
import urllib.request
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from tests.anvil import PROJECT_ROOT, free_port

# The settings and URLconf used for load: production-like (DEBUG off), the throttle raised out of the way (every
# client comes from 127.0.0.1; its Redis counting still runs), a trivial view to compare with. Both in bench/.
LOAD_SETTINGS_MODULE = "load_settings"
TRIVIAL_PATH = "/bench/trivial/"
# As the Dockerfile runs gunicorn in production.
GUNICORN_WORKERS = 3
REQUEST_TIMEOUT_SECONDS = 30


@dataclass
class LoadResult:
    clients: int
    seconds: float
    latencies: list[float] = field(default_factory=list)  # seconds, one per successful request
    errors: Counter = field(default_factory=Counter)  # HTTP status or exception name → count

    @property
    def requests(self) -> int:
        return len(self.latencies) + sum(self.errors.values())

    @property
    def per_second(self) -> float:
        return len(self.latencies) / self.seconds

    def percentile(self, p: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, int(p / 100 * len(ordered)))]

    def summary(self) -> dict:
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 1),
            "requests": self.requests,
            "ok": len(self.latencies),
            "errors": dict(self.errors),
            "per_second": round(self.per_second, 1),
            "p50_ms": round(self.percentile(50) * 1000, 1),
            "p99_ms": round(self.percentile(99) * 1000, 1),
            "max_ms": round(max(self.latencies, default=0) * 1000, 1),
        }


async def _client(
    session: aiohttp.ClientSession,
    urls,
    deadline: float,
    result: LoadResult,
    requests: int | None,
    headers: dict[str, str],
    ok: tuple[int, ...],
) -> None:
    sent = 0
    while time.monotonic() < deadline and (requests is None or sent < requests):
        sent += 1
        url = next(urls)
        started = time.perf_counter()
        try:
            async with session.get(url, headers=headers) as response:
                await response.read()
                if response.status not in ok:
                    result.errors[str(response.status)] += 1
                    continue
        except (aiohttp.ClientError, TimeoutError, OSError) as exc:
            result.errors[type(exc).__name__] += 1
            continue
        result.latencies.append(time.perf_counter() - started)


async def _load(
    urls: Sequence[str],
    *,
    clients: int,
    seconds: float,
    requests_per_client: int | None,
    headers: dict[str, str],
    ok: tuple[int, ...],
) -> LoadResult:
    result = LoadResult(clients=clients, seconds=seconds)
    cycle = itertools.cycle(urls)
    connector = aiohttp.TCPConnector(limit=clients, force_close=False)
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_SECONDS)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(_client(session, cycle, deadline, result, requests_per_client, headers, ok) for _ in range(clients))
        )
        result.seconds = time.monotonic() - started
    return result


def run_load(
    urls: Sequence[str],
    *,
    clients: int,
    seconds: float,
    requests_per_client: int | None = None,
    headers: dict[str, str] | None = None,
    ok: Sequence[int] = (200,),
) -> LoadResult:
    """`clients` concurrent clients requesting `urls` in turn for `seconds`, one thread; each client sends its next
    request when its answer arrived (a closed loop). With `requests_per_client`, a fixed amount of work instead: each
    client sends that many requests, and `seconds` is only a bound. `headers` go with every request; an answer whose
    status is not in `ok` counts as an error (a revalidation's 304 is ok=(304,))."""
    return asyncio.run(
        _load(
            urls,
            clients=clients,
            seconds=seconds,
            requests_per_client=requests_per_client,
            headers=dict(headers or {}),
            ok=tuple(ok),
        )
    )


@dataclass
class Gunicorn:
    process: subprocess.Popen
    port: int
    log_path: Path

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:]


def start_gunicorn(
    *,
    env: dict[str, str],
    log_path: Path,
    workers: int = GUNICORN_WORKERS,
    threads: int | None = None,
    settings_module: str = LOAD_SETTINGS_MODULE,
) -> Gunicorn:
    """The app under gunicorn on a free loopback port, with the load settings (or others that keep their trivial
    view); ready when the trivial view answers."""
    port = free_port()
    args = [
        sys.executable, "-m", "gunicorn", "launchpad.wsgi", "--bind", f"127.0.0.1:{port}", "--workers", str(workers),
        "--pythonpath", str(PROJECT_ROOT / "bench"), "--backlog", "2048", "--timeout", "60",
    ]  # fmt: skip
    if threads is not None:
        args += ["--threads", str(threads)]  # gthread workers
    full_env = {
        **os.environ,
        **env,
        "DJANGO_SETTINGS_MODULE": settings_module,
        "CHAIN_CHECK_ON_START": "false",
        "PYTHONPATH": str(PROJECT_ROOT),
    }
    with open(log_path, "wb") as log:
        process = subprocess.Popen(args, cwd=PROJECT_ROOT, env=full_env, stdout=log, stderr=subprocess.STDOUT)
    server = Gunicorn(process=process, port=port, log_path=log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited ({process.returncode}):\n{server.log()}")
        try:
            with urllib.request.urlopen(server.base_url + TRIVIAL_PATH, timeout=2) as answer:  # noqa: S310 - loopback
                if answer.status == 200:
                    return server
        except OSError:
            time.sleep(0.2)
    server.stop()
    raise RuntimeError(f"gunicorn did not answer within 60 s:\n{server.log()}")
