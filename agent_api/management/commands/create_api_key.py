"""Create an API key for an agent and print it once: it is stored only as a hash."""

from django.core.management.base import BaseCommand, CommandError

from agent_api.services.api_keys import api_key_create
from pools.models import Agent


class Command(BaseCommand):
    help = "Create an API key for an agent; the key is printed once and cannot be shown again."

    def add_arguments(self, parser):
        parser.add_argument("--agent", required=True, help="The agent's name.")
        parser.add_argument("--name", default="", help="A label for the key (e.g. where it is used).")

    def handle(self, *args, agent: str, name: str, **options):
        found = Agent.objects.filter(name=agent).first()
        if found is None:
            raise CommandError(f"No agent is named {agent!r}.")
        new = api_key_create(agent=found, name=name)
        self.stderr.write(f"API key for {found.name} (prefix {new.api_key.prefix}); shown only now:")
        self.stdout.write(new.key)
