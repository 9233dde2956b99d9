"""The local stack behind `make run` and `make test`: PostgreSQL, Redis and anvil as local processes, then the app.

    devstack.py run     persistent services under var/, migrations, chain fixtures, then signer, worker, beat and
                        web under honcho (Procfile), and on the local chain the demo pools (manage.py seed_demo).
                        Ctrl-C stops all of it; the next run resumes with the same data.
    devstack.py test    throwaway PostgreSQL and Redis in a temporary folder, Django's checks, then pytest.
    devstack.py bench   throwaway PostgreSQL and Redis, migrated, then each benchmark script given.

Standard library only, so it can run before anything else is installed.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
VAR = ROOT / "var"
VENV_BIN = ROOT / ".venv" / "bin"
ANVIL = ROOT / "node_modules" / ".bin" / "anvil"

# Development ports: off the usual defaults so a system PostgreSQL or Redis on this machine is left alone.
DEV_PG_PORT = 54320
DEV_REDIS_PORT = 63790
DEV_ANVIL_PORT = 8545
DEV_SIGNER_PORT = 8600
DEV_WEB_PORT = 8000
DEV_CHAIN_ID = 31337
DEV_BLOCK_TIME_SECONDS = 2  # the development chain's own pace (the tests' chains mine on each transaction instead)
DB_NAME = DB_USER = DB_PASSWORD = "launchpad"  # also in the SQL of ensure_database()

APT_PACKAGES = {"postgres": "postgresql", "redis-server": "redis-server"}


def say(message: str) -> None:
    print(f"\033[1m[devstack]\033[0m {message}", flush=True)


def fail(message: str, code: int = 2) -> None:
    print(f"[devstack] error: {message}", file=sys.stderr, flush=True)
    sys.exit(code)


# --- finding and installing the servers ------------------------------------------------------------------------


def postgres_bindir() -> Path | None:
    for candidate in sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True):
        if (candidate / "postgres").exists():
            return candidate
    found = shutil.which("pg_ctl")
    return Path(found).resolve().parent if found else None


def redis_server() -> str | None:
    return shutil.which("redis-server")


CHROMIUM = Path("/usr/bin/chromium")  # Debian's Chromium, driven by the browser tests (tests/browser/)


def ensure_chromium() -> None:
    """Install Debian's Chromium for the browser tests when missing and possible; otherwise they skip, and we say so."""
    if CHROMIUM.exists():
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say("installing chromium with apt-get (for the browser tests)")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", "chromium"], check=True, env=env)
        return
    say("no chromium: the browser tests will be skipped (Debian/Ubuntu: `sudo apt-get install chromium`)")


def ensure_servers(*, browser: bool = False) -> None:
    """Install PostgreSQL and Redis (and, for the tests, Chromium) with apt-get when missing and possible."""
    if browser:
        ensure_chromium()
    missing = [
        pkg
        for binary, pkg in APT_PACKAGES.items()
        if (postgres_bindir() if binary == "postgres" else redis_server()) is None
    ]
    if not missing:
        return
    if os.geteuid() == 0 and shutil.which("apt-get"):
        say(f"installing {' '.join(missing)} with apt-get")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env)
        subprocess.run(["apt-get", "install", "-y", "-q", "--no-install-recommends", *missing], check=True, env=env)
        # Debian starts the packaged services; ours run as our own processes, so stop theirs.
        for service in ("postgresql", "redis-server"):
            subprocess.run(["service", service, "stop"], capture_output=True, check=False)
        return
    packages = " ".join(missing)
    fail(f"missing {packages}: install them (Debian/Ubuntu: `sudo apt-get install {packages}`) and run again")


# --- processes -------------------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.2)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def wait_until(check, *, what: str, timeout: float = 60, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            fail(f"{what} exited with code {process.returncode} before it was ready (see the log above)")
        with contextlib.suppress(Exception):
            if check():
                return
        time.sleep(0.2)
    fail(f"{what} was not ready within {timeout:.0f} s")


def as_postgres_user() -> list[str]:
    """PostgreSQL refuses to run as root: run its programs as the `postgres` system user then."""
    return ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []


def give_to_postgres(path: Path) -> None:
    if os.geteuid() == 0:
        subprocess.run(["chown", "-R", "postgres:postgres", str(path)], check=True)


@dataclass
class Stack:
    """The services this run started, stopped in reverse order."""

    processes: list[tuple[str, subprocess.Popen, int]] = field(default_factory=list)

    def start(
        self, name: str, args: list[str], *, log: Path | None = None, stop_signal: int = signal.SIGTERM, **kwargs
    ):
        output = open(log, "ab") if log else subprocess.DEVNULL  # noqa: SIM115 - lives as long as the process
        # A new session: Ctrl-C in the terminal reaches the app processes, and we stop the services after them.
        process = subprocess.Popen(args, stdout=output, stderr=subprocess.STDOUT, start_new_session=True, **kwargs)
        self.processes.append((name, process, stop_signal))
        return process

    def stop(self) -> None:
        for _name, process, stop_signal in reversed(self.processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, stop_signal)
        for name, process, _ in reversed(self.processes):
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                say(f"{name} did not stop in 20 s: killing it")
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes.clear()


def start_postgres(stack: Stack, *, data_dir: Path, port: int, log: Path | None) -> None:
    bindir = postgres_bindir()
    run_dir = data_dir.parent / "run"
    run_dir.mkdir(parents=True, exist_ok=True)
    give_to_postgres(run_dir)
    if not (data_dir / "PG_VERSION").exists():
        say(f"creating a PostgreSQL cluster in {data_dir}")
        data_dir.mkdir(parents=True, exist_ok=True)
        give_to_postgres(data_dir)
        subprocess.run(
            [
                *as_postgres_user(),
                str(bindir / "initdb"),
                "-D",
                str(data_dir),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
            ],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    if log:
        log.touch()
        give_to_postgres(log)
    args = [
        *as_postgres_user(), str(bindir / "postgres"), "-D", str(data_dir), "-p", str(port),
        "-k", str(run_dir), "-c", "listen_addresses=127.0.0.1", "-c", "fsync=on",
    ]  # fmt: skip
    # SIGINT is PostgreSQL's "fast shutdown": it rolls back open transactions and stops cleanly.
    process = stack.start("postgres", args, log=log, stop_signal=signal.SIGINT)
    psql = [*as_postgres_user(), str(bindir / "psql"), "-h", str(run_dir), "-p", str(port), "-U", "postgres", "-tA"]
    wait_until(
        lambda: subprocess.run([*psql, "-c", "select 1"], capture_output=True).returncode == 0,
        what="PostgreSQL",
        process=process,
    )
    ensure_database(psql)


# The development database's role and name; constants, so the SQL below is fixed text.
ENSURE_ROLE_SQL = "select 1 from pg_roles where rolname = 'launchpad'"
CREATE_ROLE_SQL = "create role launchpad login createdb password 'launchpad'"
ENSURE_DATABASE_SQL = "select 1 from pg_database where datname = 'launchpad'"
CREATE_DATABASE_SQL = "create database launchpad owner launchpad"


def ensure_database(psql: list[str]) -> None:
    """Create the app's role and database once; a second run finds them."""
    for probe, create in [(ENSURE_ROLE_SQL, CREATE_ROLE_SQL), (ENSURE_DATABASE_SQL, CREATE_DATABASE_SQL)]:
        found = subprocess.run([*psql, "-c", probe], capture_output=True, text=True, check=True)
        if found.stdout.strip() != "1":
            subprocess.run([*psql, "-c", create], check=True, capture_output=True)


def start_redis(
    stack: Stack, *, data_dir: Path, port: int, log: Path | None, persistent: bool, pidfile: Path | None = None
) -> None:
    data_dir.mkdir(parents=True, exist_ok=True)
    args = [
        redis_server(),
        "--port",
        str(port),
        "--bind",
        "127.0.0.1",
        "--dir",
        str(data_dir),
        "--protected-mode",
        "yes",
    ]
    args += ["--appendonly", "yes", "--save", "60 1"] if persistent else ["--appendonly", "no", "--save", ""]
    args += ["--pidfile", str(pidfile)] if pidfile else []
    process = stack.start("redis", args, log=log)
    wait_until(lambda: port_open(port), what="Redis", process=process)


def anvil_args(*, state_file: Path, port: int) -> list[str]:
    """The development chain's command line. It mines a block every DEV_BLOCK_TIME_SECONDS whether or not a
    transaction comes, as a real network does: a deposit gets its confirmations without waiting for someone else's."""
    return [
        str(ANVIL), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(DEV_CHAIN_ID),
        "--block-time", str(DEV_BLOCK_TIME_SECONDS),
        # --state loads the chain on start and dumps it on exit; the interval bounds what a crash loses.
        "--state", str(state_file), "--state-interval", "10",
    ]  # fmt: skip


def start_anvil(stack: Stack, *, state_file: Path, port: int, log: Path | None) -> None:
    if not ANVIL.exists():
        fail(f"{ANVIL} is missing: run `make bootstrap` (npm ci)")
    if port_open(port):
        fail(f"port {port} is taken: another chain is running there; stop it or set CHAIN_RPC_URL to use it")
    state_file.parent.mkdir(parents=True, exist_ok=True)
    # SIGINT lets anvil dump its state before it exits.
    process = stack.start("anvil", anvil_args(state_file=state_file, port=port), log=log, stop_signal=signal.SIGINT)
    wait_until(lambda: port_open(port), what="anvil", process=process)


# --- configuration handed to the app ---------------------------------------------------------------------------


def dev_secrets() -> dict[str, str]:
    """Secrets the development stack needs, generated once into var/ (git-ignored), never committed."""
    path = VAR / "dev-secrets.env"
    if not path.exists():
        VAR.mkdir(exist_ok=True)
        hmac = secrets.token_hex(32)
        path.write_text(
            f"DJANGO_SECRET_KEY={secrets.token_urlsafe(48)}\n"
            f"SIGNER_HMAC_KEYS=dev:{hmac}\n"
            f"SIGNER_CLIENT_KEY=dev:{hmac}\n"
            f"SIGNER_SEALING_SECRET={secrets.token_hex(32)}\n"
        )
        path.chmod(0o600)
    return dict(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)


def app_env(*, pg_port: int, redis_port: int, extra: dict[str, str]) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"postgres://{DB_USER}:{DB_PASSWORD}@127.0.0.1:{pg_port}/{DB_NAME}",
        "REDIS_URL": f"redis://127.0.0.1:{redis_port}/0",
        "CHAIN_RPC_URL": f"http://127.0.0.1:{DEV_ANVIL_PORT}",
        "CHAIN_ID": str(DEV_CHAIN_ID),
        "SIGNER_URL": f"http://127.0.0.1:{DEV_SIGNER_PORT}",
        "SIGNER_BIND": f"127.0.0.1:{DEV_SIGNER_PORT}",
        "SIGNER_DATA_DIR": str(VAR / "signer"),
        "SIGNER_CONTRACTS_FILE": str(VAR / "chain" / "signer-contracts.json"),
        "CHAIN_DEPLOYMENT_FILE": str(VAR / "chain" / "deployment.json"),
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(VENV_BIN.parent),
    }
    env.update(extra)
    # What the operator set in the environment wins over the development defaults.
    return {**env, **{key: os.environ[key] for key in env if key in os.environ and key not in ("PATH",)}}


def manage(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env={**os.environ, **env})
    if result.returncode != 0:
        fail(f"`manage.py {' '.join(args)}` failed (exit {result.returncode})", result.returncode)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:  # noqa: S310 - our own loopback URLs
            response.read()
    except Exception:  # noqa: BLE001 - not up (yet), whatever the reason
        return False
    return True


def wait_for_url(url: str, stop: threading.Event, *, timeout: float = 120) -> bool:
    """True once `url` answers; False when the stack stops or `timeout` seconds pass first."""
    deadline = time.monotonic() + timeout
    while not stop.is_set() and time.monotonic() < deadline:
        if answers(url):
            return True
        stop.wait(1)
    return False


def announce_when_ready(env: dict[str, str], stop: threading.Event) -> bool:
    """Print the URLs once the website answers; False when it never did."""
    base = f"http://127.0.0.1:{DEV_WEB_PORT}"
    if not wait_for_url(base + "/", stop):
        return False
    say("ready:")
    for label, url in [
        ("website", f"{base}/"),
        ("health", f"{base}/healthz"),
        ("admin", f"{base}/admin/  (create a login: .venv/bin/python manage.py createsuperuser)"),
        ("API docs", f"{base}/api/docs/"),
        ("signer", env["SIGNER_URL"] + "/health"),
        ("chain RPC", env["CHAIN_RPC_URL"]),
    ]:
        print(f"    {label:<10} {url}", flush=True)
    print("    Ctrl-C stops everything.", flush=True)
    return True


SEED_DEMO_COMMAND = ".venv/bin/python manage.py seed_demo"
STOP_GRACE_SECONDS = 5  # honcho takes a few seconds to stop its processes and return


@dataclass
class DemoSeeder:
    """`manage.py seed_demo` once the stack is up: a demo agent with an open and a launched pool on the local chain.

    It runs beside the stack and never takes it down: a failure says what failed and how to run it again.
    """

    env: dict[str, str]
    stopping: threading.Event
    process: subprocess.Popen | None = None

    def run(self) -> None:
        if not wait_for_url(self.env["SIGNER_URL"] + "/health", self.stopping, timeout=60):
            self.failed("the signer did not answer")
            return
        say("seeding the demo pools (manage.py seed_demo: about a minute on a fresh chain)")
        try:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "python"), "manage.py", "seed_demo"],
                cwd=ROOT,
                env={**os.environ, **self.env},
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # Ctrl-C is not for it: stop() ends it quietly, before the services stop
            )
            for line in self.process.stdout:
                say("demo: " + line.rstrip())
            code = self.process.wait()
        except OSError as exc:
            self.failed(str(exc))
            return
        if code != 0:
            self.failed(f"exit code {code}, see the lines above")

    def failed(self, why: str) -> None:
        # The stack's own processes go first when it stops, and the seed fails for want of them: that is no failure.
        if not self.stopping.wait(STOP_GRACE_SECONDS):
            say(f"the demo pools were not seeded ({why}); the stack runs on. Seed them with `{SEED_DEMO_COMMAND}`")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def announce_then_seed(env: dict[str, str], stop: threading.Event, seeder: DemoSeeder | None) -> None:
    if announce_when_ready(env, stop) and seeder is not None:
        seeder.run()


# --- the two commands ------------------------------------------------------------------------------------------


def run() -> int:
    ensure_servers()
    logs = VAR / "log"
    logs.mkdir(parents=True, exist_ok=True)
    env = app_env(pg_port=DEV_PG_PORT, redis_port=DEV_REDIS_PORT, extra=dev_secrets())
    local_chain = "CHAIN_RPC_URL" not in os.environ
    stack = Stack()
    honcho: subprocess.Popen | None = None
    seeder: DemoSeeder | None = None
    stopping = threading.Event()
    try:
        for port, what in [(DEV_PG_PORT, "PostgreSQL"), (DEV_REDIS_PORT, "Redis"), (DEV_WEB_PORT, "the web server")]:
            if port_open(port):
                fail(f"port {port} for {what} is taken: is another `make run` still running? Stop it first.")
        say(f"starting PostgreSQL on 127.0.0.1:{DEV_PG_PORT} (data in var/postgres, log in var/log)")
        start_postgres(stack, data_dir=VAR / "postgres" / "data", port=DEV_PG_PORT, log=logs / "postgres.log")
        say(f"starting Redis on 127.0.0.1:{DEV_REDIS_PORT} (data in var/redis)")
        start_redis(stack, data_dir=VAR / "redis", port=DEV_REDIS_PORT, log=logs / "redis.log", persistent=True)
        if local_chain:
            say(f"starting anvil on 127.0.0.1:{DEV_ANVIL_PORT}, chain id {DEV_CHAIN_ID} (state in var/anvil)")
            start_anvil(stack, state_file=VAR / "anvil" / "state.json", port=DEV_ANVIL_PORT, log=logs / "anvil.log")
        say("migrating the database")
        manage("migrate", "--no-input", "-v", "0", env=env)
        if local_chain:
            say("deploying the development chain fixtures")
            manage("deploy_dev_fixtures", env=env)
        manage("setup_periodic_tasks", env=env)
        say("starting the signer, worker, beat and web (honcho, Procfile)")
        seeder = DemoSeeder(env=env, stopping=stopping) if local_chain else None
        announcer = threading.Thread(target=announce_then_seed, args=(env, stopping, seeder), daemon=True)
        announcer.start()
        honcho = subprocess.Popen(
            [str(VENV_BIN / "honcho"), "start", "-f", "Procfile"],
            cwd=ROOT,
            env={**os.environ, **env},
        )
        return honcho.wait()
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        stopping.set()
        if seeder is not None:
            seeder.stop()
        if honcho is not None and honcho.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                honcho.send_signal(signal.SIGINT)
            try:
                honcho.wait(timeout=20)
            except subprocess.TimeoutExpired:
                honcho.kill()
                honcho.wait()
        stack.stop()
        say("stopped; the data stays in var/ for the next run (`make clean-data` deletes it)")


@contextlib.contextmanager
def throwaway_services(purpose: str) -> Iterator[dict[str, str]]:
    """A PostgreSQL cluster and a Redis in a temporary folder on free ports; yields the app's environment for them.

    Whatever runs inside starts its own anvil and signer on free ports: nothing points at the development ones.
    """
    ensure_servers()
    stack = Stack()
    tmp = Path(tempfile.mkdtemp(prefix=f"launchpad-{purpose}-"))
    os.chmod(tmp, 0o755)  # noqa: S103 - the postgres user must reach its data folder inside
    servers = ThrowawayServers(root=tmp, pg_port=free_port(), redis_port=free_port())
    try:
        say(f"throwaway PostgreSQL on {servers.pg_port} and Redis on {servers.redis_port} in {tmp}")
        servers.start_postgres(stack)
        servers.start_redis(stack)
        env = app_env(pg_port=servers.pg_port, redis_port=servers.redis_port, extra={"DJANGO_SECRET_KEY": purpose})
        env.update(
            {
                "CHAIN_CHECK_ON_START": "false",
                "CHAIN_RPC_URL": "http://127.0.0.1:9",
                "SIGNER_URL": "http://127.0.0.1:9",
                "CHAIN_DEPLOYMENT_FILE": str(tmp / "deployment.json"),
                # The fault tests (tests/faults) stop and restart these servers: ThrowawayServers.from_env().
                THROWAWAY_SERVERS_VARIABLE: str(tmp),
                "LAUNCHPAD_TEST_PG_PORT": str(servers.pg_port),
                "LAUNCHPAD_TEST_REDIS_PORT": str(servers.redis_port),
            }
        )
        yield env
    finally:
        stack.stop()
        servers.stop_leftovers()
        shutil.rmtree(tmp, ignore_errors=True)


THROWAWAY_SERVERS_VARIABLE = "LAUNCHPAD_TEST_SERVICES_DIR"


@dataclass
class ThrowawayServers:
    """The throwaway PostgreSQL and Redis of `test` and `bench`, which the fault tests stop and start again.

    A server a test restarted is that test's process, not ours: `stop_leftovers` finds it by its pid file.
    """

    root: Path
    pg_port: int
    redis_port: int

    @classmethod
    def from_env(cls) -> ThrowawayServers | None:
        root = os.environ.get(THROWAWAY_SERVERS_VARIABLE)
        if not root:
            return None
        return cls(
            root=Path(root),
            pg_port=int(os.environ["LAUNCHPAD_TEST_PG_PORT"]),
            redis_port=int(os.environ["LAUNCHPAD_TEST_REDIS_PORT"]),
        )

    @property
    def pg_data(self) -> Path:
        return self.root / "postgres" / "data"

    @property
    def redis_dir(self) -> Path:
        return self.root / "redis"

    def start_postgres(self, stack: Stack) -> None:
        start_postgres(stack, data_dir=self.pg_data, port=self.pg_port, log=self.root / "postgres.log")

    def start_redis(self, stack: Stack) -> None:
        start_redis(
            stack,
            data_dir=self.redis_dir,
            port=self.redis_port,
            log=self.root / "redis.log",
            persistent=False,
            pidfile=self.redis_dir / "redis.pid",
        )

    def stop_postgres(self) -> None:
        """PostgreSQL's fast shutdown (SIGINT): open transactions are rolled back, clients are disconnected."""
        _stop_by_pidfile(self.pg_data / "postmaster.pid", signal.SIGINT, what="PostgreSQL")

    def stop_redis(self) -> None:
        _stop_by_pidfile(self.redis_dir / "redis.pid", signal.SIGTERM, what="Redis")

    def stop_leftovers(self) -> None:
        self.stop_postgres()
        self.stop_redis()


def _stop_by_pidfile(pidfile: Path, stop_signal: int, *, what: str, timeout: float = 20) -> None:
    try:
        pid = int(pidfile.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return  # not running (a clean shutdown removes the file)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, stop_signal)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not _running(pid):
            return
        time.sleep(0.1)
    say(f"{what} (pid {pid}) did not stop in {timeout:.0f} s: killing it")
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.kill(pid, signal.SIGKILL)


def _running(pid: int) -> bool:
    """Alive and not a zombie (an exited child its parent has not waited for yet)."""
    try:
        os.kill(pid, 0)
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (ProcessLookupError, PermissionError, FileNotFoundError, IndexError):
        return False
    return state != "Z"


def test(pytest_args: list[str]) -> int:
    """Django's checks, then pytest, against throwaway services."""
    ensure_servers(browser=True)
    with throwaway_services("test") as env:
        say("django checks: check, makemigrations --check")
        manage("check", "--fail-level", "WARNING", env=env)
        manage("makemigrations", "--check", "--dry-run", env=env)
        say("pytest " + " ".join(pytest_args))
        command = [str(VENV_BIN / "python"), "-m", "pytest", *pytest_args]
        return subprocess.run(command, cwd=ROOT, env={**os.environ, **env}).returncode


def bench(scripts: list[str]) -> int:
    """Each benchmark script against throwaway services (migrated), one after the other."""
    with throwaway_services("bench") as env:
        manage("migrate", "--no-input", "-v", "0", env=env)
        worst = 0
        for script in scripts:
            say(script)
            result = subprocess.run([str(VENV_BIN / "python"), script], cwd=ROOT, env={**os.environ, **env})
            worst = worst or result.returncode
        return worst


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("run", help="run the whole stack in the foreground")
    test_parser = sub.add_parser("test", help="run the tests against throwaway services")
    test_parser.add_argument("pytest_args", nargs=argparse.REMAINDER)
    bench_parser = sub.add_parser("bench", help="run benchmark scripts against throwaway services")
    bench_parser.add_argument("scripts", nargs="+")
    # pytest's own options (-q, -k ...) pass through untouched, first or not.
    args, passthrough = parser.parse_known_args(argv)
    if args.command == "test":
        args.pytest_args = passthrough + args.pytest_args
    elif passthrough:
        parser.error(f"unrecognized arguments: {' '.join(passthrough)}")
    if args.command == "run":
        return run()
    if args.command == "bench":
        return bench(args.scripts)
    return test(args.pytest_args)


if __name__ == "__main__":
    sys.exit(main())
