"""Which price feed a pool launches against, and how old its answer may be by default."""

from __future__ import annotations

from django.conf import settings


def feed_heartbeat(*, raise_asset: str) -> int:
    """The heartbeat of the feed a pool raising `raise_asset` launches against: ETH/USD for ETH, USDC/USD for an ERC-20
    raise (pools/services/launch.py `_price_feed`). Chainlink updates at least this often."""
    return settings.CHAIN_USDC_USD_FEED_HEARTBEAT if raise_asset else settings.CHAIN_ETH_USD_FEED_HEARTBEAT


def default_oracle_max_age(*, raise_asset: str, most: int | None = None) -> int:
    """A pool's oracle max age when none is given: its feed's heartbeat (an answer is never older than that while the
    feed is healthy), at most `most` (an agent's bound), so that the default is always a value the agent may send."""
    heartbeat = feed_heartbeat(raise_asset=raise_asset)
    return heartbeat if most is None else min(heartbeat, most)
