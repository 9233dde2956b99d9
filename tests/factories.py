"""factory_boy factories for the models."""

from datetime import timedelta

import factory
from django.utils import timezone

from pools.models import Agent, Pool


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    name = factory.Sequence(lambda n: f"Agent {n}")
    wallet_address = factory.Sequence(lambda n: "0x" + f"{0xA6E17 + n:040x}")


class PoolFactory(factory.django.DjangoModelFactory):
    """A valid pool configuration: 10–100 ETH, opening in an hour, for a day."""

    class Meta:
        model = Pool

    agent = factory.SubFactory(AgentFactory)
    name = factory.Sequence(lambda n: f"Pool {n}")
    token_name = factory.Sequence(lambda n: f"Token {n}")
    token_symbol = factory.Sequence(lambda n: f"TK{n}")
    status = Pool.Status.OPEN
    chain_id = 31337
    soft_cap = 10 * 10**18
    hard_cap = 100 * 10**18
    opens_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))
    closes_at = factory.LazyAttribute(lambda pool: pool.opens_at + timedelta(days=1))
    fee_recipient = "0x000000000000000000000000000000000000fee1"
    treasury_address = "0x0000000000000000000000000000000000007e57"
