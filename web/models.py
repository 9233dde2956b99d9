"""The website's own state: the dashboard's price snapshots taken by beat (sign-in nonces live in Redis: web/siwe.py).

Amounts are integers (WeiField); chain times are unix seconds as the chain reports them, because the TWAP math
works in the pair's own clock.
"""

from django.db import models

from pools.fields import SignedWeiField, WeiField
from pools.models import Pool


class FeedSnapshot(models.Model):
    """One reading of a Chainlink-style USD price feed, at a block."""

    chain_id = models.PositiveBigIntegerField()
    asset = models.CharField(max_length=42, blank=True, help_text="The raise asset priced: empty for native ETH.")
    symbol = models.CharField(max_length=11, help_text="The asset's symbol, as the pools name it.")
    feed_address = models.CharField(max_length=42)
    answer = SignedWeiField(help_text="USD per whole unit of the asset, with `decimals` decimals.")
    decimals = models.PositiveSmallIntegerField()
    updated_at = models.PositiveBigIntegerField(help_text="The feed's updatedAt (unix seconds).")
    block_number = models.PositiveBigIntegerField()
    block_timestamp = models.PositiveBigIntegerField(help_text="The chain's time at that block (unix seconds).")
    taken_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["chain_id", "asset", "-block_number"])]

    def __str__(self) -> str:
        return f"feed {self.feed_address} = {self.answer} at block {self.block_number}"


class PriceSnapshot(models.Model):
    """A launched pool's Uniswap V2 pair, its token's supply and the oracle, all read at one block."""

    pool = models.ForeignKey(Pool, on_delete=models.CASCADE, related_name="price_snapshots")
    block_number = models.PositiveBigIntegerField()
    block_timestamp = models.PositiveBigIntegerField(help_text="The chain's time at that block (unix seconds).")
    reserve_token = WeiField()
    reserve_asset = WeiField()
    price_cumulative = WeiField(
        help_text="The pair's cumulative price of the token in the asset (UQ112x112 × seconds), brought up to "
        "block_timestamp as UniswapV2OracleLibrary.currentCumulativePrices does."
    )
    token_total_supply = WeiField()
    token_locked = WeiField(help_text="Tokens not circulating: unclaimed in the claim vault, unreleased by vesting.")
    oracle_answer = SignedWeiField(null=True, blank=True)
    oracle_decimals = models.PositiveSmallIntegerField(null=True, blank=True)
    oracle_updated_at = models.PositiveBigIntegerField(null=True, blank=True)
    taken_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["pool", "block_number"]
        indexes = [models.Index(fields=["pool", "-block_number"])]
        constraints = [models.UniqueConstraint(fields=["pool", "block_number"], name="price_snapshot_unique_block")]

    def __str__(self) -> str:
        return f"{self.pool_id} at block {self.block_number}"
