"""`make bench`: run every benchmark and print their figures as one table (Markdown, so it pastes into the docs).

    make bench                                  (= .venv/bin/python scripts/devstack.py bench bench/report.py)
    LAUNCHPAD_BENCH="allocation api_load" make bench                 (some of them)

Each script runs in its own process against devstack's throwaway PostgreSQL and Redis (and its own anvil and
signer), in this order, because bench/indexing.py wants a database that does not index chain 31337 yet. A script's
whole output goes to a log file; the figures it publishes (bench/figures.py) make the table.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "bench"))

from figures import parse  # noqa: E402

BENCHMARKS = ["gas", "indexing", "deposit_latency", "launch", "allocation", "api_load"]
SECTIONS = ["indexing", "deposit_latency", "launch", "allocation", "api", "claims", "refunds"]  # the table's order


def machine() -> str:
    """nproc, memory and CPU model, as docs/benchmarks.md records them."""
    model = "unknown CPU"
    for line in Path("/proc/cpuinfo").read_text().splitlines():
        if line.startswith("model name"):
            model = line.split(":", 1)[1].strip()
            break
    memory_kib = next(
        (
            int(line.split()[1])
            for line in Path("/proc/meminfo").read_text().splitlines()
            if line.startswith("MemTotal")
        ),
        0,
    )
    return (
        f"{os.cpu_count()} CPUs ({model}), {memory_kib / 1024**2:.1f} GiB memory, "
        f"{platform.system()} {platform.release()}, Python {platform.python_version()}"
    )


def run(name: str, log_dir: Path) -> tuple[list[dict], float, int, Path]:
    log_path = log_dir / f"{name}.log"
    started = time.monotonic()
    figures = []
    with open(log_path, "w") as log:
        process = subprocess.Popen(
            [sys.executable, str(ROOT / "bench" / f"{name}.py")],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for line in process.stdout:
            log.write(line)
            figure = parse(line)
            if figure is not None:
                figures.append(figure)
        code = process.wait()
    return figures, time.monotonic() - started, code, log_path


def table(figures: list[dict]) -> str:
    rows = sorted(figures, key=lambda f: SECTIONS.index(f["bench"]) if f["bench"] in SECTIONS else len(SECTIONS))
    lines = ["| area | measured | figure | reference | ratio | detail |", "|---|---|---|---|---|---|"]
    lines += [
        f"| {f['bench']} | {f['what']} | {f['figure']} | {f.get('reference') or '—'} | {f.get('ratio') or '—'} "
        f"| {f['detail']} |"
        for f in rows
    ]
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("benchmarks", nargs="*", metavar="NAME", help=f"some of: {' '.join(BENCHMARKS)} (default: all)")
    args = parser.parse_args()
    args.benchmarks = args.benchmarks or os.environ.get("LAUNCHPAD_BENCH", "").split()
    unknown = set(args.benchmarks) - set(BENCHMARKS)
    if unknown:
        parser.error(f"no such benchmark: {', '.join(sorted(unknown))}")
    log_dir = Path(tempfile.mkdtemp(prefix="launchpad-bench-logs-"))
    started = time.monotonic()
    figures, failed = [], []
    for name in args.benchmarks or BENCHMARKS:
        print(f"[bench] {name} ...", flush=True)
        found, seconds, code, log_path = run(name, log_dir)
        figures += found
        status = "ok" if code == 0 else f"FAILED (exit {code})"
        print(f"[bench] {name}: {status}, {len(found)} figures in {seconds:.0f} s (log: {log_path})", flush=True)
        if code != 0:
            failed.append(name)
            print("".join(log_path.read_text().splitlines(keepends=True)[-30:]), flush=True)
    print()
    print(f"Machine: {machine()}")
    print(f"Measured {time.strftime('%Y-%m-%d')} in {time.monotonic() - started:.0f} s; logs in {log_dir}")
    print()
    print(table(figures))
    if failed:
        print(f"\nfailed: {', '.join(failed)} (see their logs)")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
