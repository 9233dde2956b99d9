"""The website's writes: the dashboard's snapshots (Sign-In with Ethereum is web/siwe.py)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from eth_utils import to_checksum_address

from chain.client import chain_deployment
from chain.reads import PairTarget, price_feed_for, quote_asset_for, read_chain
from pools.models import Pool
from web.market import current_cumulative
from web.models import FeedSnapshot, PriceSnapshot

logger = logging.getLogger(__name__)

SNAPSHOT_RETENTION = timedelta(days=7)


# --- dashboard snapshots --------------------------------------------------------------------------------------


def asset_key(raise_asset: str) -> str:
    """How snapshots name a raise asset: '' for native ETH, else the checksummed ERC-20 address."""
    return to_checksum_address(raise_asset) if raise_asset else ""


@dataclass(frozen=True)
class SnapshotReport:
    block_number: int
    pools: int
    feeds: int


def snapshots_take(*, chain_id: int | None = None) -> SnapshotReport:
    """Read every launched pool's pair and every USD feed at one block, and store them for the dashboard."""
    chain_id = chain_id if chain_id is not None else settings.CHAIN_ID
    pools = list(
        Pool.objects.filter(chain_id=chain_id, status=Pool.Status.LAUNCHED)
        .exclude(launch__pair_address="")
        .select_related("launch")
        .only(
            "pk",
            "raise_asset",
            "raise_asset_symbol",
            "launch__pair_address",
            "launch__token_address",
            "launch__claim_vault_address",
            "launch__vesting_wallet_address",
        )
    )
    targets = [
        PairTarget(
            pool_id=pool.pk,
            pair=pool.launch.pair_address,
            token=pool.launch.token_address,
            quote_asset=quote_asset_for(raise_asset=pool.raise_asset),
            holders_locked=tuple(a for a in (pool.launch.claim_vault_address, pool.launch.vesting_wallet_address) if a),
        )
        for pool in pools
    ]
    # Every asset a pool may raise in gets its feed read, launched or not: open pools show their raise in USD.
    usdc = chain_deployment().usdc
    raise_assets = {"", *(asset_key(pool.raise_asset) for pool in pools), *([asset_key(usdc)] if usdc else [])}
    assets = {asset: price_feed_for(raise_asset=asset) for asset in raise_assets}
    symbols = {"": "ETH", **({asset_key(usdc): "USDC"} if usdc else {})}
    symbols.update({asset_key(pool.raise_asset): pool.raise_asset_symbol for pool in pools if pool.raise_asset})
    feeds = sorted({feed for feed in assets.values() if feed})
    reading = read_chain(pairs=targets, feeds=feeds)
    asset_of_pool = {pool.pk: asset_key(pool.raise_asset) for pool in pools}
    with transaction.atomic():
        FeedSnapshot.objects.bulk_create(
            [
                FeedSnapshot(
                    chain_id=chain_id,
                    asset=asset,
                    symbol=symbols.get(asset, ""),
                    feed_address=feed,
                    answer=reading.feeds[feed].answer,
                    decimals=reading.feeds[feed].decimals,
                    updated_at=reading.feeds[feed].updated_at,
                    block_number=reading.block_number,
                    block_timestamp=reading.block_timestamp,
                )
                for asset, feed in assets.items()
                if feed
            ]
        )
        snapshots = []
        for pair in reading.pairs:
            feed = reading.feeds.get(assets.get(asset_of_pool[pair.pool_id], ""))
            snapshots.append(
                PriceSnapshot(
                    pool_id=pair.pool_id,
                    block_number=reading.block_number,
                    block_timestamp=reading.block_timestamp,
                    reserve_token=pair.reserve_token,
                    reserve_asset=pair.reserve_asset,
                    price_cumulative=current_cumulative(
                        cumulative_last=pair.cumulative_last,
                        reserve_self=pair.reserve_token,
                        reserve_other=pair.reserve_asset,
                        block_timestamp_last=pair.reserve_timestamp_last,
                        now=reading.block_timestamp,
                    ),
                    token_total_supply=pair.total_supply,
                    token_locked=pair.locked,
                    oracle_answer=feed.answer if feed else None,
                    oracle_decimals=feed.decimals if feed else None,
                    oracle_updated_at=feed.updated_at if feed else None,
                )
            )
        # A second run at the same block (two beat ticks, no new block) changes nothing.
        PriceSnapshot.objects.bulk_create(snapshots, ignore_conflicts=True)
    return SnapshotReport(block_number=reading.block_number, pools=len(snapshots), feeds=len(feeds))


def snapshots_prune(*, now: datetime | None = None) -> int:
    """Delete snapshots older than the retention; the newest feed reading per asset always stays."""
    cutoff = (now or timezone.now()) - SNAPSHOT_RETENTION
    deleted, _ = PriceSnapshot.objects.filter(taken_at__lt=cutoff).delete()
    newest = FeedSnapshot.objects.order_by("chain_id", "asset", "-block_number", "-id").distinct("chain_id", "asset")
    feeds_deleted, _ = FeedSnapshot.objects.filter(taken_at__lt=cutoff).exclude(pk__in=newest.values("pk")).delete()
    return deleted + feeds_deleted
