"""The website's writes: Sign-In with Ethereum (EIP-4361) nonces and logins, and the dashboard's snapshots."""

from __future__ import annotations

import logging
import secrets
import warnings
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from eth_utils import is_address, to_checksum_address

with warnings.catch_warnings():
    # abnf warns that siwe's grammar redefines the RFC 5234 core rules (identically); nothing to act on here.
    warnings.simplefilter("ignore")
    from siwe import SiweMessage, VerificationError

from chain.client import chain_deployment
from chain.reads import PairTarget, price_feed_for, quote_asset_for, read_chain
from pools.models import Pool
from web.market import current_cumulative
from web.models import FeedSnapshot, PriceSnapshot, SiweNonce

logger = logging.getLogger(__name__)

SIWE_NONCE_TTL = timedelta(minutes=10)
SIWE_STATEMENT = "Sign in to the AI-Pool Launchpad to see your contributions. This costs nothing and sends nothing."
SNAPSHOT_RETENTION = timedelta(days=7)


class SiweError(Exception):
    """A sign-in was refused; the message says why, in words a person can act on."""


# --- Sign-In with Ethereum ------------------------------------------------------------------------------------


def siwe_message_prepare(*, address: str, domain: str, uri: str, now: datetime | None = None) -> str:
    """A fresh EIP-4361 message for `address` to sign, with a single-use nonce stored here."""
    if not is_address(address):
        raise SiweError("That is not an Ethereum address.")
    now = now or timezone.now()
    nonce = secrets.token_hex(16)
    SiweNonce.objects.create(nonce=nonce, address=to_checksum_address(address), expires_at=now + SIWE_NONCE_TTL)
    message = SiweMessage(
        domain=domain,
        address=to_checksum_address(address),
        statement=SIWE_STATEMENT,
        uri=uri,
        version="1",
        chain_id=settings.CHAIN_ID,
        nonce=nonce,
        issued_at=_iso(now),
        expiration_time=_iso(now + SIWE_NONCE_TTL),
    )
    return message.prepare_message()


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def siwe_login_verify(*, message: str, signature: str, domain: str, now: datetime | None = None) -> str:
    """Check a signed EIP-4361 message and use up its nonce; the checksummed address it proves, or SiweError.

    The domain must be this site's (so a message signed for another site is useless here), the chain ours, the
    signature the address's own, and the nonce one we issued, unexpired and never used before.
    """
    now = now or timezone.now()
    try:
        parsed = SiweMessage.from_message(message=message)
    except Exception as exc:  # noqa: BLE001 - the siwe parser raises several types for malformed text
        raise SiweError("The sign-in message is malformed.") from exc
    if parsed.domain != domain:
        raise SiweError(f"The message is for {parsed.domain}, not for this site ({domain}).")
    if parsed.chain_id != settings.CHAIN_ID:
        raise SiweError(f"The message is for chain {parsed.chain_id}, this site serves chain {settings.CHAIN_ID}.")
    try:
        parsed.verify(signature, domain=domain, timestamp=now)
    except VerificationError as exc:
        raise SiweError(f"The signature does not check out ({type(exc).__name__}).") from exc
    with transaction.atomic():
        used = SiweNonce.objects.filter(
            nonce=parsed.nonce, address=parsed.address, used_at__isnull=True, expires_at__gt=now
        ).update(used_at=now)
    if used != 1:
        raise SiweError("This sign-in message was already used, has expired, or was not issued here. Try again.")
    return parsed.address


def siwe_nonces_prune(*, now: datetime | None = None) -> int:
    """Delete nonces that can no longer be used."""
    now = now or timezone.now()
    deleted, _ = SiweNonce.objects.filter(expires_at__lt=now - SIWE_NONCE_TTL).delete()
    return deleted


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
