"""Make the secrets a production deployment needs, as `.env` lines: `manage.py generate_secrets >> .env`.

Standard output carries only the `.env` lines, so that appending them is the whole installation; what was done, and
what to back up, goes to standard error. The sealing secret goes to its own file (0600), since the signer's sealed
keys are only as recoverable as that file: it is never overwritten, and a second run that would append a second
set of secrets to `.env` is refused.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from enclave_signer.dotenv import read_dotenv

REFUSED = 2  # the exit code of a refusal: nothing was written
SECRET_KEY_CHARS = 48  # token_urlsafe bytes: 64 characters, above Django's deploy check minimum of 50
HMAC_KEY_BYTES = 32
HMAC_KEY_ID = "prod"
HEALTHZ_TOKEN_BYTES = 32
SEALING_SECRET_BYTES = 32


class Command(BaseCommand):
    help = (
        "Print new DJANGO_SECRET_KEY, SIGNER_HMAC_KEYS, SIGNER_CLIENT_KEY, HEALTHZ_TOKEN and "
        "SIGNER_SEALING_SECRET_FILE lines for .env (append them: `manage.py generate_secrets >> .env`), and write "
        "the sealing secret file."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--sealing-file",
            type=Path,
            default=settings.VAR_DIR / "sealing.secret",
            help="where to write the signer's sealing secret (default var/sealing.secret); never overwritten",
        )

    def handle(self, *args, sealing_file: Path, **options):
        refuse_when_already_configured()
        sealing_file = sealing_file.expanduser().resolve()
        write_sealing_secret(sealing_file)
        hmac_key = f"{HMAC_KEY_ID}:{secrets.token_hex(HMAC_KEY_BYTES)}"
        for name, value in [
            ("DJANGO_SECRET_KEY", secrets.token_urlsafe(SECRET_KEY_CHARS)),
            ("SIGNER_HMAC_KEYS", hmac_key),
            ("SIGNER_CLIENT_KEY", hmac_key),
            ("HEALTHZ_TOKEN", secrets.token_urlsafe(HEALTHZ_TOKEN_BYTES)),
            ("SIGNER_SEALING_SECRET_FILE", str(sealing_file)),
        ]:
            self.stdout.write(f"{name}={value}")
        self.stderr.write(
            f"wrote the signer's sealing secret to {sealing_file} (mode 0600) and printed the .env lines.\n"
            f"back up {sealing_file}: without it the signer's sealed pool keys cannot be opened again "
            "(docs/real-network.md, Production runbook)."
        )


def development_secret_keys() -> set[str]:
    """Django secret keys that are development ones: settings' built-in key and the one devstack generated."""
    generated = read_dotenv(settings.DEV_SECRETS_FILE).get("DJANGO_SECRET_KEY")
    return {settings.DEVELOPMENT_SECRET_KEY} | ({generated} if generated else set())


def refuse_when_already_configured() -> None:
    """A real DJANGO_SECRET_KEY means these secrets were made already: appending a second set would leave two of
    each in .env, the signer's HMAC key changed under a running deployment."""
    if settings.SECRET_KEY and settings.SECRET_KEY not in development_secret_keys():
        raise CommandError(
            "DJANGO_SECRET_KEY is already set (in .env or the environment) to a key that is not a development one: "
            "the secrets exist, and appending new ones would duplicate them. To replace them, delete the old lines "
            "from .env first (rotating SIGNER_HMAC_KEYS: docs/real-network.md, Production runbook).",
            returncode=REFUSED,
        )


def write_sealing_secret(path: Path) -> None:
    """Create the sealing secret file, readable by its owner only; an existing one may seal keys already."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise CommandError(
            f"{path} exists already and may seal the signer's keys: keep it (and back it up). To make a new set of "
            "secrets, give another file with --sealing-file PATH.",
            returncode=REFUSED,
        ) from None
    with os.fdopen(descriptor, "w") as handle:
        handle.write(secrets.token_hex(SEALING_SECRET_BYTES) + "\n")
