"""The local stack behind `make run` and `make test`: PostgreSQL, Redis and anvil as local processes, then the app.

    devstack.py run     persistent services under var/, migrations, chain fixtures, then signer, worker, beat and
                        web under honcho (Procfile), and on the local chain the demo pools (manage.py seed_demo).
                        Ctrl-C stops all of it; the next run resumes with the same data.
                        With CHAIN_RPC_URL set it starts no chain and deploys nothing: it runs `manage.py preflight`
                        once the stack is up. With DJANGO_DEBUG=false (production) it collects the static files and
                        serves with gunicorn (Procfile.production), and refuses to start with development secrets.
    devstack.py test    throwaway PostgreSQL and Redis in a temporary folder, Django's checks, then pytest.
    devstack.py bench   throwaway PostgreSQL and Redis, migrated, then each benchmark script given.

Every decision and every process reads one set of settings: `.env` with the environment on top, parsed as Django's
settings parse it (enclave_signer/dotenv.py, the one parser). honcho is told to read no `.env` of its own, since it
would let the file win over the environment.

LAUNCHPAD_VAR_DIR (environment only) moves `run`'s data folder away from var/ (the tests use a temporary one).

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
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # for enclave_signer.dotenv, which needs nothing outside the standard library
from enclave_signer.dotenv import merged_environment, parse_dotenv  # noqa: E402

VAR = Path(os.environ.get("LAUNCHPAD_VAR_DIR") or ROOT / "var")
DOTENV = ROOT / ".env"
PROCFILE = ROOT / "Procfile"
PRODUCTION_PROCFILE = ROOT / "Procfile.production"  # the same processes, with gunicorn serving the web
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
LOCAL_CHAIN_IDS = frozenset({DEV_CHAIN_ID, 1337})  # anvil's and Hardhat's: development chains, never real money
DB_NAME = DB_USER = DB_PASSWORD = "launchpad"  # also in the SQL of ensure_database()
# settings.py's DEVELOPMENT_SECRET_KEY and SIGNER_CLIENT_KEY defaults: development values, refused in production.
BUILT_IN_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
BUILT_IN_SIGNER_SECRET = "00" * 32

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
    path = dev_secrets_file()
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
    return known_dev_secrets()


def dev_secrets_file() -> Path:
    return VAR / "dev-secrets.env"


def known_dev_secrets() -> dict[str, str]:
    """The development secrets generated so far (none yet: empty), read without creating any: production compares
    against them and never uses them."""
    path = dev_secrets_file()
    return parse_dotenv(path.read_text()) if path.exists() else {}


def dev_secrets_to_apply(settings: Mapping[str, str], generated: dict[str, str]) -> dict[str, str]:
    """The generated development secrets, less the sealing secret when the operator names a sealing file (the signer
    prefers an inline secret to a file, and would otherwise open their store with the development one) or the chain
    is not a local one (real keys are never sealed under a development secret)."""
    if settings.get("SIGNER_SEALING_SECRET_FILE") or configured_chain_id(settings) not in LOCAL_CHAIN_IDS:
        return {key: value for key, value in generated.items() if key != "SIGNER_SEALING_SECRET"}
    return generated


def read_settings(environ: Mapping[str, str] | None = None, *, dotenv: Path = DOTENV) -> dict[str, str]:
    """What every process of the stack sees: `.env` with the environment on top, as settings.py reads them."""
    return merged_environment(dotenv, os.environ if environ is None else environ)


def app_env(*, pg_port: int, redis_port: int, extra: dict[str, str], settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of every process we start: the operator's `settings`, with the development stack's own
    values for what they leave unset."""
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
        "DJANGO_STATIC_ROOT": str(VAR / "staticfiles"),  # collectstatic's output, served in production
        "PYTHONUNBUFFERED": "1",
        "PATH": f"{VENV_BIN}:{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(VENV_BIN.parent),
    }
    env.update(extra)
    # What the operator set (in .env or the environment) wins over the development defaults.
    chosen = {key: settings[key] for key in env if settings.get(key) and key != "PATH"}
    return {**settings, **env, **chosen}


def manage(*args: str, env: dict[str, str]) -> None:
    result = subprocess.run([str(VENV_BIN / "python"), "manage.py", *args], cwd=ROOT, env=env)
    if result.returncode != 0:
        fail(f"`manage.py {' '.join(args)}` failed (exit {result.returncode})", result.returncode)


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an answer (production sends plain HTTP to HTTPS)


_PROBE = urllib.request.build_opener(_NoRedirect)


def answers(url: str) -> bool:
    """True when a server answers at `url` at all: an error status (a 400 for a host name production does not
    serve, a redirect to HTTPS) is still an answer."""
    try:
        with _PROBE.open(url, timeout=5) as response:
            response.read()
    except urllib.error.HTTPError:
        return True
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
    if not wait_for_url(base + "/healthz", stop):
        return False
    say("ready:")
    website = f"{base}/" if is_debug(env) else f"{base}/  (gunicorn: serve it through your TLS proxy)"
    for label, url in [
        ("website", website),
        ("health", f"{base}/healthz"),
        ("admin", f"{base}/admin/  (create a login: .venv/bin/python manage.py createsuperuser)"),
        ("API docs", f"{base}/api/docs/"),
        ("signer", env["SIGNER_URL"] + "/health"),
        ("chain RPC", endpoint(env["CHAIN_RPC_URL"])),
    ]:
        print(f"    {label:<10} {url}", flush=True)
    print("    Ctrl-C stops everything.", flush=True)
    return True


STOP_GRACE_SECONDS = 5  # honcho takes a few seconds to stop its processes and return


@dataclass
class FollowUp:
    """A manage.py command run once the stack is up, its lines shown with a label: the demo pools on the local
    chain (seed_demo), the preflight on any other (preflight).

    It runs beside the stack and never takes it down: a failure says what failed and how to run it again.
    """

    command: str
    label: str
    starting: str
    not_done: str
    env: dict[str, str]
    stopping: threading.Event
    process: subprocess.Popen | None = None

    @property
    def command_line(self) -> str:
        return f".venv/bin/python manage.py {self.command}"

    def run(self) -> None:
        if not wait_for_url(self.env["SIGNER_URL"] + "/health", self.stopping, timeout=60):
            self.failed("the signer did not answer")
            return
        say(self.starting)
        unknown = False
        try:
            self.process = subprocess.Popen(
                [str(VENV_BIN / "python"), "manage.py", self.command],
                cwd=ROOT,
                env=self.env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                start_new_session=True,  # Ctrl-C is not for it: stop() ends it quietly, before the services stop
            )
            for line in self.process.stdout:
                unknown = unknown or f"Unknown command: '{self.command}'" in line
                say(f"{self.label}: {line.rstrip()}")
            code = self.process.wait()
        except OSError as exc:
            self.failed(str(exc))
            return
        if unknown:
            say(f"`manage.py {self.command}` does not exist in this checkout: skipped")
        elif code != 0:
            self.failed(f"exit code {code}, see the lines above")

    def failed(self, why: str) -> None:
        # The stack's own processes go first when it stops, and the command fails for want of them: that is no failure.
        if not self.stopping.wait(STOP_GRACE_SECONDS):
            say(f"{self.not_done} ({why}); the stack runs on. Run it again with `{self.command_line}`")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()


def follow_up_for(settings: Mapping[str, str], env: dict[str, str], stopping: threading.Event) -> FollowUp:
    """The demo pools on the development stack; otherwise the preflight (seed_demo refuses production, and a
    configured network has no demo to seed)."""
    if uses_local_chain(settings) and is_debug(settings):
        return FollowUp(
            command="seed_demo",
            label="demo",
            starting="seeding the demo pools (manage.py seed_demo: about a minute on a fresh chain)",
            not_done="the demo pools were not seeded",
            env=env,
            stopping=stopping,
        )
    return FollowUp(
        command="preflight",
        label="preflight",
        starting="checking the network's configuration (manage.py preflight)",
        not_done="the preflight did not pass",
        env=env,
        stopping=stopping,
    )


def announce_then_follow_up(env: dict[str, str], stop: threading.Event, follow_up: FollowUp) -> None:
    if announce_when_ready(env, stop):
        follow_up.run()


# --- what `run` does with the operator's settings -------------------------------------------------------------


def endpoint(url: str) -> str:
    """A URL as logs may show it: scheme, host and port only (a provider's RPC URL carries its API key in the path,
    the query or the user part)."""
    parts = urllib.parse.urlsplit(url)
    shown = f"{parts.scheme}://{parts.hostname or ''}" + (f":{parts.port}" if parts.port else "")
    return shown + ("/…" if (parts.path.strip("/") or parts.query or parts.username) else "")


def is_debug(settings: Mapping[str, str]) -> bool:
    """DJANGO_DEBUG as settings.py reads it (django-environ's bool; default on)."""
    value = settings.get("DJANGO_DEBUG", "true")
    try:
        return int(value) != 0
    except ValueError:
        return value.lower().strip() in ("true", "on", "ok", "y", "yes", "1")


def uses_local_chain(settings: Mapping[str, str]) -> bool:
    """No CHAIN_RPC_URL: `run` starts its own anvil and deploys the development fixtures on it."""
    return not settings.get("CHAIN_RPC_URL")


def configured_chain_id(settings: Mapping[str, str]) -> int | None:
    """CHAIN_ID (default: the development chain's), or None when it is not a number."""
    try:
        return int(settings.get("CHAIN_ID") or DEV_CHAIN_ID)
    except ValueError:
        return None


def _hmac_secrets(value: str) -> set[str]:
    """The hex secrets of a `keyid:hex[,keyid:hex]` list, lower-cased, whatever their ids."""
    return {item.partition(":")[2].strip().lower() for item in value.split(",") if item.strip()}


def chain_refusals(settings: Mapping[str, str]) -> list[str]:
    """A chain id without its RPC would start the development chain under another chain's name."""
    chain_id = configured_chain_id(settings)
    if chain_id is None:
        return [f"CHAIN_ID={settings.get('CHAIN_ID')!r} is not a number: set the network's chain id (Base: 8453)"]
    if uses_local_chain(settings) and chain_id not in LOCAL_CHAIN_IDS:
        return [
            f"CHAIN_ID is {chain_id} but CHAIN_RPC_URL is not set: set CHAIN_RPC_URL to that network's RPC in .env, "
            f"or remove CHAIN_ID to run the local chain ({DEV_CHAIN_ID})"
        ]
    return []


def secret_refusals(settings: Mapping[str, str], *, dev: Mapping[str, str]) -> list[str]:
    """Production (DJANGO_DEBUG=false) runs on the operator's own secrets only, one line per missing or development
    one, each naming the fix."""
    generate = "run `.venv/bin/python manage.py generate_secrets >> .env` (docs/real-network.md, Production runbook)"
    refusals = []
    secret_key = settings.get("DJANGO_SECRET_KEY", "")
    if not secret_key:
        refusals.append(f"DJANGO_SECRET_KEY is not set: {generate}")
    elif secret_key in {BUILT_IN_SECRET_KEY, dev.get("DJANGO_SECRET_KEY")}:
        refusals.append(f"DJANGO_SECRET_KEY is the development one: {generate}")
    dev_signer_secrets = _hmac_secrets(dev.get("SIGNER_HMAC_KEYS", "")) | {BUILT_IN_SIGNER_SECRET}
    for name in ("SIGNER_HMAC_KEYS", "SIGNER_CLIENT_KEY"):
        if not settings.get(name):
            refusals.append(f"{name} is not set: {generate}")
        elif _hmac_secrets(settings[name]) & dev_signer_secrets:
            refusals.append(f"{name} holds the development key: {generate}")
    if configured_chain_id(settings) not in LOCAL_CHAIN_IDS:
        refusals += sealing_refusals(settings, dev=dev)
    return refusals


def sealing_refusals(settings: Mapping[str, str], *, dev: Mapping[str, str]) -> list[str]:
    """Outside a TEE the signer seals real keys under a secret the operator gave, never the development one."""
    how = "set SIGNER_SEALING_SECRET_FILE to a secret file (`manage.py generate_secrets` writes one; back it up)"
    inline = settings.get("SIGNER_SEALING_SECRET", "")
    if inline and inline == dev.get("SIGNER_SEALING_SECRET"):
        return [f"SIGNER_SEALING_SECRET is the development one: remove it and {how}"]
    if inline:
        return []
    secret_file = settings.get("SIGNER_SEALING_SECRET_FILE", "")
    if secret_file:
        path = Path(secret_file) if Path(secret_file).is_absolute() else ROOT / secret_file
        return [] if path.is_file() else [f"SIGNER_SEALING_SECRET_FILE names {path}, which is not a file: {how}"]
    if Path(settings.get("SIGNER_DSTACK_SOCKET") or "/var/run/dstack.sock").exists():
        return []  # inside a dstack CVM the signer derives its sealing root there
    return [f"the signer has no sealing secret and no TEE here, so it would use a development one: {how}"]


def run_refusals(settings: Mapping[str, str], *, dev: Mapping[str, str]) -> list[str]:
    """Why `run` must not start with these settings (none: it may), each line naming the fix."""
    refusals = chain_refusals(settings)
    if not is_debug(settings):
        refusals += secret_refusals(settings, dev=dev)
    elif not refusals and configured_chain_id(settings) not in LOCAL_CHAIN_IDS:
        refusals += sealing_refusals(settings, dev=dev)  # development mode on a real network seals real keys too
    return refusals


def procfile_for(settings: Mapping[str, str]) -> Path:
    """Development serves with Django's runserver; production with gunicorn (Procfile.production)."""
    return PROCFILE if is_debug(settings) else PRODUCTION_PROCFILE


def honcho_command(procfile: Path) -> list[str]:
    """honcho on `procfile`, reading no .env of its own: it would let the file win over the environment, which
    already holds the file's values under the environment's (read_settings)."""
    return [str(VENV_BIN / "honcho"), "start", "-f", str(procfile), "-e", os.devnull]


def setup_steps(settings: Mapping[str, str]) -> list[tuple[str | None, tuple[str, ...]]]:
    """The manage.py commands run before the app starts, in order, each with what `run` says about it."""
    steps: list[tuple[str | None, tuple[str, ...]]] = [("migrating the database", ("migrate", "--no-input", "-v", "0"))]
    if uses_local_chain(settings):
        steps.append(("deploying the development chain fixtures", ("deploy_dev_fixtures",)))
    steps.append((None, ("setup_periodic_tasks",)))
    if not is_debug(settings):
        steps.append(("collecting the static files (production)", ("collectstatic", "--no-input", "-v", "0")))
    return steps


# --- the two commands ------------------------------------------------------------------------------------------


def refuse(refusals: list[str]) -> None:
    for line in refusals:
        print(f"[devstack] error: {line}", file=sys.stderr, flush=True)
    sys.exit(2)


def run() -> int:
    settings = read_settings()
    refusals = run_refusals(settings, dev=known_dev_secrets())
    if refusals:
        refuse(refusals)
    debug, local_chain = is_debug(settings), uses_local_chain(settings)
    ensure_servers()
    logs = VAR / "log"
    logs.mkdir(parents=True, exist_ok=True)
    # Production never sees the development secrets: it runs on the operator's, or it did not get this far.
    extra = dev_secrets_to_apply(settings, dev_secrets()) if debug else {}
    env = app_env(pg_port=DEV_PG_PORT, redis_port=DEV_REDIS_PORT, extra=extra, settings=settings)
    stack = Stack()
    honcho: subprocess.Popen | None = None
    stopping = threading.Event()
    follow_up = follow_up_for(settings, env, stopping)
    try:
        for port, what in [(DEV_PG_PORT, "PostgreSQL"), (DEV_REDIS_PORT, "Redis"), (DEV_WEB_PORT, "the web server")]:
            if port_open(port):
                fail(f"port {port} for {what} is taken: is another `make run` still running? Stop it first.")
        say(f"starting PostgreSQL on 127.0.0.1:{DEV_PG_PORT} (data in {VAR / 'postgres'}, log in {logs})")
        start_postgres(stack, data_dir=VAR / "postgres" / "data", port=DEV_PG_PORT, log=logs / "postgres.log")
        say(f"starting Redis on 127.0.0.1:{DEV_REDIS_PORT} (data in {VAR / 'redis'})")
        start_redis(stack, data_dir=VAR / "redis", port=DEV_REDIS_PORT, log=logs / "redis.log", persistent=True)
        if local_chain:
            say(f"starting anvil on 127.0.0.1:{DEV_ANVIL_PORT}, chain id {DEV_CHAIN_ID} (state in {VAR / 'anvil'})")
            start_anvil(stack, state_file=VAR / "anvil" / "state.json", port=DEV_ANVIL_PORT, log=logs / "anvil.log")
        else:
            say(
                f"chain {env['CHAIN_ID']} at {endpoint(env['CHAIN_RPC_URL'])} (CHAIN_RPC_URL): "
                "no local chain, no fixtures"
            )
        for message, args in setup_steps(settings):
            if message:
                say(message)
            manage(*args, env=env)
        procfile = procfile_for(settings)
        server = "runserver" if debug else "gunicorn"
        say(f"starting the signer, worker, beat and web (honcho, {procfile.name}: web on {server})")
        announcer = threading.Thread(target=announce_then_follow_up, args=(env, stopping, follow_up), daemon=True)
        announcer.start()
        honcho = subprocess.Popen(honcho_command(procfile), cwd=ROOT, env=env)
        return honcho.wait()
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        stopping.set()
        follow_up.stop()
        if honcho is not None and honcho.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                honcho.send_signal(signal.SIGINT)
            try:
                honcho.wait(timeout=20)
            except subprocess.TimeoutExpired:
                honcho.kill()
                honcho.wait()
        stack.stop()
        say(f"stopped; the data stays in {VAR} for the next run (`make clean-data` deletes var/)")


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
        env = app_env(
            pg_port=servers.pg_port,
            redis_port=servers.redis_port,
            extra={"DJANGO_SECRET_KEY": purpose},
            settings=os.environ,
        )
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
