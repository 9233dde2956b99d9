"""factory_boy factories for the models."""

import factory

from pools.models import Agent, Pool


class AgentFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Agent

    name = factory.Sequence(lambda n: f"Agent {n}")


class PoolFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Pool

    agent = factory.SubFactory(AgentFactory)
    name = factory.Sequence(lambda n: f"Pool {n}")
    token_name = factory.Sequence(lambda n: f"Token {n}")
    token_symbol = factory.Sequence(lambda n: f"TK{n}")
    status = Pool.Status.OPEN
    soft_cap = 10 * 10**18
    hard_cap = 100 * 10**18
