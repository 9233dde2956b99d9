"""Production settings (DJANGO_DEBUG=false) pass Django's deployment check with no warning, from the environment."""

import json
import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def manage(*args: str, **env: str) -> subprocess.CompletedProcess:
    environment = {
        **{k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "TRUSTED_PROXIES"))},
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(50),
        "CHAIN_CHECK_ON_START": "false",
        **env,
    }
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env=environment, capture_output=True, text=True, timeout=120
    )


def settings_of(*names: str, **env: str) -> dict:
    code = "import json; from django.conf import settings as s; "
    code += f"print(json.dumps({{n: getattr(s, n) for n in {names!r}}}))"
    result = manage("shell", "-c", code, **env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_check_deploy_prints_no_warning_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING")

    assert result.returncode == 0, result.stderr
    assert "System check identified no issues" in result.stdout


@pytest.mark.parametrize(
    ("env", "warning"),
    [({"DJANGO_SECURE_COOKIES": "false"}, "security.W012"), ({"DJANGO_SECURE_SSL_REDIRECT": "false"}, "security.W008")],
)
def test_check_deploy_does_warn_when_a_protection_is_turned_off(env, warning):
    result = manage("check", "--deploy", "--fail-level", "WARNING", **env)

    assert result.returncode != 0
    assert warning in result.stderr + result.stdout


def test_behind_a_proxy_the_forwarded_proto_is_believed_and_otherwise_not():
    assert settings_of("SECURE_PROXY_SSL_HEADER")["SECURE_PROXY_SSL_HEADER"] is None
    behind = settings_of("SECURE_PROXY_SSL_HEADER", "TRUSTED_PROXIES", TRUSTED_PROXIES="1")
    assert behind == {"SECURE_PROXY_SSL_HEADER": ["HTTP_X_FORWARDED_PROTO", "https"], "TRUSTED_PROXIES": 1}


def test_development_settings_stay_plain_http():
    names = ("SECURE_SSL_REDIRECT", "SESSION_COOKIE_SECURE", "SECURE_HSTS_SECONDS")
    development = settings_of(*names, DJANGO_DEBUG="true")

    assert development == {"SECURE_SSL_REDIRECT": False, "SESSION_COOKIE_SECURE": False, "SECURE_HSTS_SECONDS": 0}
