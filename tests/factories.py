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


def pool_form_data(agent: Agent, **overrides) -> dict:
    """The pool form as an admin fills it in: amounts in ETH, shares in percent, durations in days and hours."""
    opens = timezone.now() + timedelta(hours=1)
    data = {
        "agent": agent.pk, "name": "Mind Pool", "raise_asset": "", "soft_cap": "10", "hard_cap": "100",
        "min_contribution": "", "max_contribution": "0", "opens_at_0": opens.strftime("%Y-%m-%d"),
        "opens_at_1": opens.strftime("%H:%M:%S"), "closes_at_0": (opens + timedelta(days=1)).strftime("%Y-%m-%d"),
        "closes_at_1": opens.strftime("%H:%M:%S"), "access": "public", "confirmations": 2, "token_name": "Mind",
        "token_symbol": "MIND", "total_supply": "1,000,000,000", "liquidity_supply_bps": "50",
        "depositor_supply_bps": "40", "agent_supply_bps": "10", "liquidity_raise_bps": "80",
        "depositor_cliff_seconds": "0", "depositor_vesting_seconds": "", "agent_cliff_seconds": "30 days",
        "agent_vesting_seconds": "365 days", "protection_blocks": 0, "max_buy_per_tx": "", "fee_bps": "1",
        "fee_recipient": "0x000000000000000000000000000000000000fee1",
        "treasury_address": "0x0000000000000000000000000000000000007e57", "lp_policy": "burn",
        "price_mode": "implied", "target_price_usd_e8": "", "oracle_tolerance_bps": "2",
        "oracle_max_age_seconds": "1 hour", "whitelist_addresses": "",
    }  # fmt: skip
    return {**data, **overrides}
