"""`.env` is read the same way everywhere: Django (django-environ), devstack, honcho under devstack, and the signer.

The environment always wins over the file; devstack decides "local chain or not" from the two together.
"""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading

import environ
import pytest

from enclave_signer.config import load_config
from enclave_signer.dotenv import merged_environment, parse_dotenv, read_dotenv
from enclave_signer.sealing import obtain_sealing_root
from tests.anvil import PROJECT_ROOT

sys.path.append(str(PROJECT_ROOT / "scripts"))
import devstack  # noqa: E402 - a script, not a package

# Every rule of django-environ's read_env: export, quotes and their escapes, comments, blank and invalid lines,
# a '#' inside a value, '=' inside a value, an empty value, a key given twice.
DOTENV_CASES = r"""# a comment
export EXPORTED=yes

PLAIN=value
SINGLE='single # quoted "x"'
DOUBLE="a\"b\\c\nd\te"
NESTED='"inner"'
HASH=abc # not a comment
EQUALS=postgres://u:p@h:1/db?x=y
EMPTY=
TWICE=first
TWICE=second
SPACED = ignored
 INDENTED=ignored
not a line at all
"""


def django_environ_reads(text: str, tmp_path, monkeypatch) -> dict[str, str]:
    """What settings.py's `environ.Env.read_env(path, overwrite=False)` puts into an empty environment."""
    path = tmp_path / "django.env"
    path.write_text(text)
    target: dict[str, str] = {}
    monkeypatch.setattr(environ.Env, "ENVIRON", target)
    environ.Env.read_env(path, overwrite=False)
    return target


def test_the_parser_reads_every_rule_as_django_environ_does(tmp_path, monkeypatch):
    ours = parse_dotenv(DOTENV_CASES)

    assert ours == django_environ_reads(DOTENV_CASES, tmp_path, monkeypatch)
    assert ours["EXPORTED"] == "yes"
    assert ours["SINGLE"] == 'single # quoted "x"'
    assert ours["DOUBLE"] == 'a"b\\c\\nd\\te'  # \n and \t stay as written, as django-environ leaves them
    assert ours["NESTED"] == "inner"
    assert ours["HASH"] == "abc # not a comment"
    assert ours["EQUALS"] == "postgres://u:p@h:1/db?x=y"
    assert ours["EMPTY"] == ""
    assert ours["TWICE"] == "second"
    assert "SPACED" not in ours and "INDENTED" not in ours


def test_the_environment_wins_over_the_file_and_a_missing_file_sets_nothing(tmp_path, monkeypatch):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CHAIN_ID=8453\nDJANGO_DEBUG=false\n")
    target = {"CHAIN_ID": "31337"}
    monkeypatch.setattr(environ.Env, "ENVIRON", target)
    environ.Env.read_env(dotenv, overwrite=False)

    merged = merged_environment(dotenv, {"CHAIN_ID": "31337"})

    assert merged == target == {"CHAIN_ID": "31337", "DJANGO_DEBUG": "false"}
    assert read_dotenv(tmp_path / "missing.env") == {}


def test_devstack_with_a_network_in_dotenv_starts_no_chain_and_deploys_no_fixtures(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CHAIN_RPC_URL=http://127.0.0.1:9/base\nCHAIN_ID=8453\nSIGNER_SEALING_SECRET=operators-own\n")
    settings = devstack.read_settings({}, dotenv=dotenv)

    steps = [args[0] for _message, args in devstack.setup_steps(settings)]
    follow_up = devstack.follow_up_for(settings, settings, threading.Event())

    assert not devstack.uses_local_chain(settings)
    assert "deploy_dev_fixtures" not in steps and steps[0] == "migrate"
    assert follow_up.command == "preflight"
    assert devstack.run_refusals(settings, dev={}) == []


def test_devstack_passes_the_file_to_every_process_under_the_environment(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CHAIN_RPC_URL=http://127.0.0.1:9/base\nCHAIN_ID=8453\nCHAIN_WETH_ADDRESS=0xfile\n")
    settings = devstack.read_settings({"CHAIN_ID": "84532"}, dotenv=dotenv)

    env = devstack.app_env(pg_port=1, redis_port=2, extra={"DJANGO_SECRET_KEY": "dev"}, settings=settings)

    assert env["CHAIN_RPC_URL"] == "http://127.0.0.1:9/base"  # the file's, over devstack's own anvil
    assert env["CHAIN_ID"] == "84532"  # the environment's, over the file's
    assert env["CHAIN_WETH_ADDRESS"] == "0xfile"  # what devstack has no default for is passed on too
    assert env["DATABASE_URL"].endswith(":1/launchpad")


def test_without_a_network_devstack_runs_its_own_chain_and_the_demo(tmp_path):
    settings = devstack.read_settings({}, dotenv=tmp_path / "none.env")

    steps = [args[0] for _message, args in devstack.setup_steps(settings)]

    assert devstack.uses_local_chain(settings)
    assert steps == ["migrate", "deploy_dev_fixtures", "setup_periodic_tasks"]
    assert devstack.follow_up_for(settings, settings, threading.Event()).command == "seed_demo"


def test_a_network_chain_id_without_its_rpc_is_refused(tmp_path):
    dotenv = tmp_path / ".env"
    dotenv.write_text("CHAIN_ID=8453\n")

    refusals = devstack.run_refusals(devstack.read_settings({}, dotenv=dotenv), dev={})

    assert len(refusals) == 1 and "CHAIN_RPC_URL is not set" in refusals[0]


def test_honcho_under_devstack_lets_the_environment_win_over_dotenv(tmp_path):
    """honcho's own .env reading puts the file over the environment: devstack tells it to read none."""
    (tmp_path / ".env").write_text("WHICH=file\n")
    procfile = tmp_path / "Procfile"
    procfile.write_text("show: echo WHICH=$WHICH\n")

    result = subprocess.run(
        devstack.honcho_command(procfile),
        cwd=tmp_path,
        env={**os.environ, "WHICH": "environment"},
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert "WHICH=environment" in result.stdout, result.stdout + result.stderr


def test_the_signer_run_by_itself_reads_dotenv_under_the_environment(tmp_path):
    """`python -m enclave_signer` in a folder with a .env: its SIGNER_DATA_DIR is the file's unless the environment
    names another (export-log reads the log under it, so it shows which one was used)."""
    for name in ("from-file", "from-env"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "log.jsonl").write_text(f"{name}\n")
    (tmp_path / ".env").write_text(f"SIGNER_DATA_DIR={tmp_path / 'from-file'}\n")
    base = {key: value for key, value in os.environ.items() if key != "SIGNER_DATA_DIR"}
    base["PYTHONPATH"] = str(PROJECT_ROOT)

    def exported(env: dict[str, str]) -> str:
        command = [sys.executable, "-m", "enclave_signer", "export-log"]
        result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout

    assert exported(base) == "from-file\n"
    assert exported({**base, "SIGNER_DATA_DIR": str(tmp_path / "from-env")}) == "from-env\n"


def test_the_signer_warns_loudly_when_a_real_chain_is_sealed_under_a_secret_on_disk(tmp_path, caplog):
    def config(chain_id: int):
        return load_config(
            {
                "CHAIN_ID": str(chain_id),
                "SIGNER_SEALING_SECRET": "ab" * 32,
                "SIGNER_DATA_DIR": str(tmp_path),
                "SIGNER_DSTACK_SOCKET": str(tmp_path / "no-dstack.sock"),
            }
        )

    with caplog.at_level(logging.WARNING, logger="enclave_signer.sealing"):
        obtain_sealing_root(config(31337))
        assert not caplog.records
        obtain_sealing_root(config(8453))

    assert len(caplog.records) == 1
    assert "NO TEE on chain 8453" in caplog.records[0].getMessage()
    assert "docs/deploy-cvm.md" in caplog.records[0].getMessage()


@pytest.mark.parametrize("value, debug", [("false", False), ("0", False), ("no", False), ("True", True), ("1", True)])
def test_devstack_reads_django_debug_as_django_environ_does(value, debug):
    assert devstack.is_debug({"DJANGO_DEBUG": value}) is debug
    assert environ.Env.parse_value(value, bool) is debug


def test_devstack_and_the_parser_need_nothing_beyond_the_standard_library():
    """devstack runs before the virtualenv exists: with no site-packages at all (-S), it still imports the parser."""
    script = "import sys; sys.path.insert(0, 'scripts'); import devstack; print(devstack.parse_dotenv('A=1'))"

    result = subprocess.run(
        [sys.executable, "-S", "-c", script], cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=30
    )

    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "{'A': '1'}"


def test_an_operators_sealing_file_is_not_shadowed_by_the_development_sealing_secret():
    """The signer prefers SIGNER_SEALING_SECRET to the file: in development mode devstack must not supply the
    generated one beside the operator's file, or the signer would open their store with the wrong secret."""
    generated = {"DJANGO_SECRET_KEY": "dev", "SIGNER_SEALING_SECRET": "22" * 32}
    settings = {"SIGNER_SEALING_SECRET_FILE": "/srv/launchpad/sealing.secret"}

    extra = devstack.dev_secrets_to_apply(settings, generated)
    env = devstack.app_env(pg_port=1, redis_port=2, extra=extra, settings=settings)

    assert "SIGNER_SEALING_SECRET" not in env
    assert env["SIGNER_SEALING_SECRET_FILE"] == "/srv/launchpad/sealing.secret"
    assert devstack.dev_secrets_to_apply({}, generated) == generated


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://127.0.0.1:8545", "http://127.0.0.1:8545"),
        ("https://base-mainnet.example/v2/provider-key", "https://base-mainnet.example/…"),
        ("https://user:secret@rpc.example/?key=provider-key", "https://rpc.example/…"),
    ],
)
def test_devstack_shows_an_rpc_url_without_what_may_be_a_providers_key(url, shown):
    assert devstack.endpoint(url) == shown
