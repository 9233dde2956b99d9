"""Revoke an API key by its prefix (the part after `lp_`, as shown in the admin)."""

from django.core.management.base import BaseCommand, CommandError

from agent_api.services.api_keys import ApiKeyNotFound, api_key_revoke


class Command(BaseCommand):
    help = "Revoke an API key: requests with it are refused from now on."

    def add_arguments(self, parser):
        parser.add_argument("prefix", help="The key's prefix, e.g. 3f9a0c1b2d4e (or lp_3f9a0c1b2d4e_).")

    def handle(self, *args, prefix: str, **options):
        try:
            api_key = api_key_revoke(prefix=prefix)
        except ApiKeyNotFound as exc:
            raise CommandError(exc.message) from exc
        when = f"{api_key.revoked_at:%Y-%m-%d %H:%M:%S} UTC"
        self.stdout.write(f"Revoked lp_{api_key.prefix}_… of {api_key.agent.name} (at {when}).")
