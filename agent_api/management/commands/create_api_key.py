"""Create an API key for an agent and print it once: it is stored only as a hash.

The agent must exist (the admin's Agents page), or be created here with --create-agent; --default-bounds also gives
it the default proposal bounds, raising ETH, so that it can propose at once.
"""

from decimal import Decimal, InvalidOperation

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from eth_utils import to_checksum_address

from agent_api.models import AgentBounds, AllowedRaiseAsset
from agent_api.services.api_keys import api_key_create
from pools.models import Agent
from pools.services.pools import agent_wallet_problem

ETH = 10**18


class Command(BaseCommand):
    help = "Create an API key for an agent; the key is printed once and cannot be shown again."

    def add_arguments(self, parser):
        parser.add_argument("--agent", required=True, help="The agent's name.")
        parser.add_argument("--name", default="", help="A label for the key (e.g. where it is used).")
        parser.add_argument(
            "--create-agent", action="store_true", help="Create the agent when no agent has that name yet."
        )
        parser.add_argument("--wallet", default="", help="With --create-agent: the agent's own wallet address.")
        parser.add_argument(
            "--default-bounds",
            action="store_true",
            help="Give the agent the default proposal bounds (if it has none), raising ETH up to --eth-hard-cap.",
        )
        parser.add_argument(
            "--eth-hard-cap", default="100", help="With --default-bounds: the largest hard cap in ETH (default 100)."
        )

    def handle(self, *args, agent: str, name: str, create_agent: bool, wallet: str, default_bounds: bool, **options):
        eth_hard_cap = self._wei(options["eth_hard_cap"]) if default_bounds else 0
        if wallet and (problem := agent_wallet_problem(wallet)):
            raise CommandError(f"--wallet: {problem}")
        with transaction.atomic():
            found = Agent.objects.filter(name=agent).first()
            if found is None and not create_agent:
                raise CommandError(
                    f"No agent is named {agent!r}: add --create-agent to create it (or create it in the admin)."
                )
            if found is None:
                found = Agent.objects.create(name=agent, wallet_address=to_checksum_address(wallet) if wallet else "")
                self.stderr.write(f"Created the agent {found.name!r}.")
            elif create_agent or wallet:
                self.stderr.write(f"The agent {found.name!r} exists already: left as it is.")
            if default_bounds:
                bounds, created = AgentBounds.objects.get_or_create(agent=found)
                if created:
                    AllowedRaiseAsset.objects.create(
                        bounds=bounds, address="", symbol="ETH", decimals=18, max_hard_cap=eth_hard_cap
                    )
                    self.stderr.write(f"Gave it the default bounds, raising ETH up to {options['eth_hard_cap']} ETH.")
                else:
                    self.stderr.write("It has bounds already: left as they are.")
            new = api_key_create(agent=found, name=name)
        self.stderr.write(f"API key for {found.name} (prefix {new.api_key.prefix}); shown only now:")
        self.stdout.write(new.key)

    @staticmethod
    def _wei(eth: str) -> int:
        try:
            amount = Decimal(eth) * ETH
        except InvalidOperation:
            raise CommandError(f"--eth-hard-cap: not a number of ETH: {eth!r}.") from None
        if amount <= 0 or amount != amount.to_integral_value():
            raise CommandError(f"--eth-hard-cap: a positive amount of ETH with at most 18 decimals, not {eth!r}.")
        return int(amount)
