"""`make run` with DJANGO_DEBUG=false: gunicorn after collectstatic, and no start at all on development secrets.

Also `manage.py generate_secrets`, whose lines are what production accepts.
"""

from __future__ import annotations

import os
import stat
import subprocess
import sys
import threading
import time
from io import StringIO

import pytest
from django.core.management import CommandError, call_command

from enclave_signer.dotenv import parse_dotenv
from tests.anvil import PROJECT_ROOT

sys.path.append(str(PROJECT_ROOT / "scripts"))
import devstack  # noqa: E402 - a script, not a package

DEV = {  # what devstack generates into var/dev-secrets.env (the shape of it; these values are made up)
    "DJANGO_SECRET_KEY": "generated-development-key",
    "SIGNER_HMAC_KEYS": "dev:" + "11" * 32,
    "SIGNER_CLIENT_KEY": "dev:" + "11" * 32,
    "SIGNER_SEALING_SECRET": "22" * 32,
}
NETWORK = {"CHAIN_RPC_URL": "https://base.example", "CHAIN_ID": "8453"}


@pytest.fixture
def generated(tmp_path, settings) -> tuple[dict[str, str], str]:
    """The .env lines `manage.py generate_secrets` prints (from a development configuration), and its stderr."""
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    out, err = StringIO(), StringIO()
    call_command("generate_secrets", "--sealing-file", str(tmp_path / "sealing.secret"), stdout=out, stderr=err)
    return parse_dotenv(out.getvalue()), err.getvalue()


def procfile_command(procfile, process: str) -> str:
    """The command line a Procfile gives `process`, as honcho reads it."""
    for line in procfile.read_text().splitlines():
        name, _, command = line.partition(":")
        if name.strip() == process:
            return command.strip()
    raise KeyError(f"{procfile.name} has no {process!r} process")


def production(**values: str) -> dict[str, str]:
    return {"DJANGO_DEBUG": "false", **values}


def test_production_serves_with_gunicorn_on_loopback_and_development_with_runserver():
    web = procfile_command(devstack.procfile_for(production()), "web")

    assert web.startswith("gunicorn launchpad.wsgi ")
    assert "--bind 127.0.0.1:8000" in web and "--workers" in web and "--access-logfile -" in web
    assert procfile_command(devstack.procfile_for({}), "web").startswith("python manage.py runserver")


def test_production_runs_the_same_processes_but_the_web_server():
    for process in ("signer", "worker", "beat"):
        assert procfile_command(devstack.PRODUCTION_PROCFILE, process) == procfile_command(devstack.PROCFILE, process)


def test_production_runs_the_preflight_and_never_the_demo_even_on_the_local_chain():
    follow_up = devstack.follow_up_for(production(), production(), threading.Event())

    assert follow_up.command == "preflight" and follow_up.label == "preflight"


def test_production_collects_the_static_files_before_the_app_starts():
    steps = [args for _message, args in devstack.setup_steps(production(**NETWORK))]

    assert ("collectstatic", "--no-input", "-v", "0") in steps
    assert all(args[0] != "deploy_dev_fixtures" for args in steps)
    assert all(args[0] != "collectstatic" for _message, args in devstack.setup_steps({}))


def test_production_without_secrets_is_refused_one_line_each():
    refusals = devstack.run_refusals(production(), dev={})

    assert [line.split(" ", 1)[0] for line in refusals] == [
        "DJANGO_SECRET_KEY",
        "SIGNER_HMAC_KEYS",
        "SIGNER_CLIENT_KEY",
    ]
    assert all("manage.py generate_secrets >> .env" in line for line in refusals)


@pytest.mark.parametrize(
    "name, value",
    [
        ("DJANGO_SECRET_KEY", "dev-only-insecure-secret-key-change-me"),  # settings.py's built-in one
        ("DJANGO_SECRET_KEY", DEV["DJANGO_SECRET_KEY"]),
        ("SIGNER_HMAC_KEYS", "prod:" + "33" * 32 + ",dev:" + "11" * 32),  # the development key beside a real one
        ("SIGNER_CLIENT_KEY", "other:" + "11" * 32),  # the development secret under another id
        ("SIGNER_CLIENT_KEY", "dev:" + "00" * 32),  # settings.py's built-in default
    ],
)
def test_each_development_secret_is_refused_naming_the_fix(generated, name, value):
    lines, _ = generated

    refusals = devstack.run_refusals(production(**{**lines, name: value}), dev=DEV)

    assert len(refusals) == 1 and refusals[0].startswith(f"{name} ")
    assert "development" in refusals[0] and "generate_secrets" in refusals[0]


def test_the_built_in_secret_key_is_settings_own(settings):
    assert devstack.BUILT_IN_SECRET_KEY == settings.DEVELOPMENT_SECRET_KEY


def test_generated_secrets_start_production_on_a_real_network(generated):
    lines, _ = generated

    assert devstack.run_refusals(production(**NETWORK, **lines), dev=DEV) == []


def test_development_mode_asks_for_no_secret_but_the_sealing_one_on_a_real_network():
    development = {**NETWORK, "DJANGO_DEBUG": "true", "SIGNER_DSTACK_SOCKET": "/nonexistent/dstack.sock"}

    assert devstack.run_refusals({**development, "SIGNER_SEALING_SECRET": "operators-own"}, dev=DEV) == []
    [refusal] = devstack.run_refusals(development, dev=DEV)
    assert "no sealing secret" in refusal and "SIGNER_SEALING_SECRET_FILE" in refusal
    # and the development one is never handed to the signer there
    assert "SIGNER_SEALING_SECRET" not in devstack.dev_secrets_to_apply(development, {"SIGNER_SEALING_SECRET": "d"})


def test_a_real_network_refuses_the_development_sealing_secret_or_none(generated, tmp_path):
    lines = {key: value for key, value in generated[0].items() if key != "SIGNER_SEALING_SECRET_FILE"}
    no_tee = {"SIGNER_DSTACK_SOCKET": str(tmp_path / "no-dstack.sock")}

    def refused(**sealing: str) -> list[str]:
        return devstack.run_refusals(production(**NETWORK, **lines, **no_tee, **sealing), dev=DEV)

    assert (
        "SIGNER_SEALING_SECRET is the development one" in refused(SIGNER_SEALING_SECRET=DEV["SIGNER_SEALING_SECRET"])[0]
    )
    assert "no sealing secret and no TEE" in refused()[0]
    assert "not a file" in refused(SIGNER_SEALING_SECRET_FILE=str(tmp_path / "missing"))[0]
    assert refused(SIGNER_SEALING_SECRET_FILE=generated[0]["SIGNER_SEALING_SECRET_FILE"]) == []
    # The local chain keeps its development sealing: nothing real to seal there.
    local = {"CHAIN_ID": "31337"}
    assert devstack.run_refusals(production(**local, **lines, **no_tee), dev=DEV) == []


def test_run_refuses_development_secrets_before_starting_anything(tmp_path):
    """`devstack.py run` with DJANGO_DEBUG=false and the generated development secret key: one line, exit 2, within
    seconds, and no service started (its data folder, a temporary one here, stays empty but for the secrets)."""
    var = tmp_path / "var"
    var.mkdir()
    (var / "dev-secrets.env").write_text("".join(f"{key}={value}\n" for key, value in DEV.items()))
    real = "prod:" + "44" * 32
    env = {
        **os.environ,
        "LAUNCHPAD_VAR_DIR": str(var),
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": DEV["DJANGO_SECRET_KEY"],
        "SIGNER_HMAC_KEYS": real,
        "SIGNER_CLIENT_KEY": real,
        "CHAIN_RPC_URL": "",  # the local chain, whatever a .env in the checkout says
        "CHAIN_ID": "31337",
    }
    started = time.monotonic()

    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "scripts" / "devstack.py"), "run"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.splitlines() == [
        "[devstack] error: DJANGO_SECRET_KEY is the development one: run `.venv/bin/python manage.py "
        "generate_secrets >> .env` (docs/real-network.md, Production runbook)"
    ]
    assert "starting" not in result.stdout
    assert sorted(path.name for path in var.iterdir()) == ["dev-secrets.env"]
    assert time.monotonic() - started < 30


def test_generate_secrets_prints_only_env_lines_and_writes_the_sealing_file(generated, tmp_path):
    lines, err = generated
    sealing_file = tmp_path / "sealing.secret"

    assert list(lines) == [
        "DJANGO_SECRET_KEY",
        "SIGNER_HMAC_KEYS",
        "SIGNER_CLIENT_KEY",
        "HEALTHZ_TOKEN",
        "SIGNER_SEALING_SECRET_FILE",
    ]
    assert len(lines["DJANGO_SECRET_KEY"]) >= 50
    assert lines["SIGNER_HMAC_KEYS"] == lines["SIGNER_CLIENT_KEY"]
    key_id, _, secret = lines["SIGNER_HMAC_KEYS"].partition(":")
    assert key_id == "prod" and len(bytes.fromhex(secret)) == 32
    assert lines["SIGNER_SEALING_SECRET_FILE"] == str(sealing_file)
    assert stat.S_IMODE(sealing_file.stat().st_mode) == 0o600
    assert len(bytes.fromhex(sealing_file.read_text().strip())) == 32
    assert f"back up {sealing_file}" in err


def test_generate_secrets_never_overwrites_a_sealing_file(generated, tmp_path, settings):
    sealing_file = tmp_path / "sealing.secret"
    before = sealing_file.read_bytes()

    with pytest.raises(CommandError) as refused:
        call_command("generate_secrets", "--sealing-file", str(sealing_file), stdout=StringIO())

    assert refused.value.returncode == 2
    assert "--sealing-file" in str(refused.value)
    assert sealing_file.read_bytes() == before


def test_generate_secrets_refuses_when_real_secrets_are_configured(tmp_path, settings):
    settings.SECRET_KEY = "a-real-key-" + "x" * 50
    out = StringIO()

    with pytest.raises(CommandError) as refused:
        call_command("generate_secrets", "--sealing-file", str(tmp_path / "sealing.secret"), stdout=out)

    assert refused.value.returncode == 2
    assert "DJANGO_SECRET_KEY is already set" in str(refused.value)
    assert out.getvalue() == "" and not (tmp_path / "sealing.secret").exists()


def test_generate_secrets_treats_devstacks_generated_key_as_development(tmp_path, settings):
    settings.DEV_SECRETS_FILE = tmp_path / "dev-secrets.env"
    settings.DEV_SECRETS_FILE.write_text(f"DJANGO_SECRET_KEY={DEV['DJANGO_SECRET_KEY']}\n")
    settings.SECRET_KEY = DEV["DJANGO_SECRET_KEY"]
    out = StringIO()

    call_command("generate_secrets", "--sealing-file", str(tmp_path / "sealing.secret"), stdout=out, stderr=StringIO())

    assert parse_dotenv(out.getvalue())["DJANGO_SECRET_KEY"] != DEV["DJANGO_SECRET_KEY"]
