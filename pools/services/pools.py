"""A pool's lifecycle: DRAFT → SCHEDULED → OPEN → CLOSED → LAUNCHING → LAUNCHED, or → REFUNDING → REFUNDED,
or CANCELLED. Every transition goes through here; an invalid one is refused with a reason."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from django.db import transaction
from django.utils import timezone
from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

from pools.errors import ApplicationError
from pools.models import BPS, NATIVE_ASSET, Pool
from pools.services import events

Status = Pool.Status

TRANSITIONS: dict[str, set[str]] = {
    Status.DRAFT: {Status.SCHEDULED, Status.CANCELLED},
    Status.SCHEDULED: {Status.OPEN, Status.CANCELLED},
    Status.OPEN: {Status.CLOSED, Status.CANCELLED},
    Status.CLOSED: {Status.LAUNCHING, Status.REFUNDING, Status.CANCELLED},
    Status.LAUNCHING: {Status.LAUNCHED, Status.REFUNDING},  # REFUNDING only once the launch has failed
    Status.REFUNDING: {Status.REFUNDED},
    Status.LAUNCHED: set(),
    Status.REFUNDED: set(),
    Status.CANCELLED: set(),
}
SYMBOL_PATTERN = re.compile(r"^[A-Z][A-Z0-9]{1,10}$")
MAX_PROTECTION_BLOCKS = 300


class InvalidTransition(ApplicationError):
    status_code = 409
    code = "invalid_transition"


class InvalidPoolConfiguration(ApplicationError):
    code = "invalid_pool_configuration"


def transition_pool(pool: Pool, to: str, *, reason: str = "") -> None:
    """Change a pool's status in memory if the lifecycle allows it; InvalidTransition with the reason if not."""
    if to not in TRANSITIONS[pool.status]:
        raise InvalidTransition(
            f"A {pool.get_status_display().lower()} pool cannot become {Status(to).label.lower()}.",
            details={"from": pool.status, "to": to},
        )
    pool.status = to
    pool.status_reason = reason


def _locked(pool_id: int) -> Pool:
    return Pool.objects.select_for_update().get(pk=pool_id)


# --- validation --------------------------------------------------------------------------------------------------


def _address_error(value: str, *, field: str, required: bool) -> dict[str, str]:
    if not value:
        return {field: "Required."} if required else {}
    if not is_hex_address(value):
        return {field: "Not an address: 0x followed by 40 hexadecimal digits."}
    if value != value.lower() and not is_checksum_address(value):
        return {field: "The mixed-case checksum is wrong: check for a typo."}
    return {}


def pool_configuration_errors(*, pool: Pool, now: datetime | None = None, for_schedule: bool = False) -> dict:
    """Field → message for everything wrong with a pool's launch configuration (empty when it is sound)."""
    now = now or timezone.now()
    errors: dict[str, str] = {}
    if pool.liquidity_supply_bps + pool.depositor_supply_bps + pool.agent_supply_bps != BPS:
        errors["agent_supply_bps"] = "Liquidity, depositor and agent shares of the supply must add up to 10,000 bps."
    if pool.liquidity_supply_bps == 0:
        errors["liquidity_supply_bps"] = "Some of the supply must go to the liquidity pool."
    if not 0 < pool.liquidity_raise_bps <= BPS:
        errors["liquidity_raise_bps"] = "Between 1 and 10,000 bps of the raise must go to the liquidity pool."
    if pool.liquidity_raise_bps + pool.fee_bps > BPS:
        errors["fee_bps"] = "The liquidity share and the fee together cannot exceed the whole raise."
    if pool.fee_bps > 1_000:
        errors["fee_bps"] = "The platform fee is at most 10% (1,000 bps)."
    if pool.soft_cap <= 0:
        errors["soft_cap"] = "The soft cap must be above zero."
    if pool.hard_cap < pool.soft_cap:
        errors["hard_cap"] = "The hard cap cannot be below the soft cap."
    if pool.max_contribution and pool.max_contribution < pool.min_contribution:
        errors["max_contribution"] = "The per-wallet maximum cannot be below the minimum."
    if pool.min_contribution > pool.hard_cap:
        errors["min_contribution"] = "The per-wallet minimum cannot exceed the hard cap."
    if not SYMBOL_PATTERN.match(pool.token_symbol or ""):
        errors["token_symbol"] = "2 to 11 characters: capital letters and digits, starting with a letter."
    if not (pool.token_name or "").strip() or len(pool.token_name) > 50:
        errors["token_name"] = "A name of 1 to 50 characters."
    if pool.total_supply <= 0 or pool.total_supply > 2**128:
        errors["total_supply"] = "The supply must be above zero and at most 2^128 token units."
    if pool.protection_blocks > MAX_PROTECTION_BLOCKS:
        errors["protection_blocks"] = f"The launch protection lasts at most {MAX_PROTECTION_BLOCKS} blocks."
    if pool.protection_blocks and not pool.max_buy_per_tx:
        errors["max_buy_per_tx"] = "Set the largest buy allowed during the protection window."
    if pool.raise_asset != NATIVE_ASSET:
        errors |= _address_error(pool.raise_asset, field="raise_asset", required=False)
    errors |= _address_error(pool.fee_recipient, field="fee_recipient", required=for_schedule)
    errors |= _address_error(pool.treasury_address, field="treasury_address", required=for_schedule)
    if for_schedule:
        errors |= _address_error(pool.agent.wallet_address, field="agent", required=True)
    if pool.lp_policy == Pool.LpPolicy.LOCK and (pool.lp_lock_until is None or pool.lp_lock_until <= now):
        errors["lp_lock_until"] = "A locked LP needs an unlock date in the future."
    if pool.price_mode == Pool.PriceMode.USD_TARGET and pool.target_price_usd_e8 <= 0:
        errors["target_price_usd_e8"] = "Set the USD price per token (8 decimals) for a USD-target price."
    if not 0 < pool.oracle_tolerance_bps <= 2_000:
        errors["oracle_tolerance_bps"] = "Between 1 and 2,000 bps (20%)."
    if pool.opens_at is None or pool.closes_at is None:
        errors["closes_at"] = "Set when the raise opens and closes."
    else:
        if pool.closes_at <= pool.opens_at:
            errors["closes_at"] = "The raise must close after it opens."
        if for_schedule and pool.opens_at <= now:
            errors["opens_at"] = "The opening time must be in the future."
        if pool.access == Pool.Access.WHITELIST_THEN_PUBLIC and not (
            pool.whitelist_until and pool.opens_at < pool.whitelist_until < pool.closes_at
        ):
            errors["whitelist_until"] = "The whitelist phase must end between the opening and the close."
    return errors


def _validate(pool: Pool, *, for_schedule: bool) -> None:
    errors = pool_configuration_errors(pool=pool, for_schedule=for_schedule)
    if errors:
        summary = "; ".join(f"{field}: {message}" for field, message in errors.items())
        raise InvalidPoolConfiguration(f"The pool's configuration is not valid ({summary})", details=errors)


# --- signer registration ------------------------------------------------------------------------------------------


def signer_registration_params(*, pool: Pool) -> dict:
    """The parameters the signer seals for this pool and checks every launch against (amounts as strings)."""
    from chain.client import chain_deployment

    zero = "0x0000000000000000000000000000000000000000"
    deployment = chain_deployment()
    feed = deployment.eth_usd_feed if pool.is_native else deployment.usdc_usd_feed
    lock_until = int(pool.lp_lock_until.timestamp()) if pool.lp_policy == Pool.LpPolicy.LOCK else 0
    return {
        "raise_asset": to_checksum_address(pool.raise_asset) if pool.raise_asset else zero,
        "soft_cap": str(pool.soft_cap),
        "hard_cap": str(pool.hard_cap),
        "liquidity_supply_bps": pool.liquidity_supply_bps,
        "depositor_supply_bps": pool.depositor_supply_bps,
        "liquidity_raise_bps": pool.liquidity_raise_bps,
        "fee_bps": pool.fee_bps,
        "fee_recipient": to_checksum_address(pool.fee_recipient),
        "treasury": to_checksum_address(pool.treasury_address),
        "agent": to_checksum_address(pool.agent.wallet_address),
        "agent_cliff": str(pool.agent_cliff_seconds),
        "agent_duration": str(pool.agent_vesting_seconds),
        "depositor_cliff": str(pool.depositor_cliff_seconds),
        "depositor_duration": str(pool.depositor_vesting_seconds),
        "lp_lock_until": str(lock_until),
        "protection_blocks": str(pool.protection_blocks),
        "max_buy_per_tx": str(pool.max_buy_per_tx),
        "price_feed": to_checksum_address(feed),
        "tolerance_bps_max": pool.oracle_tolerance_bps,
        "max_oracle_age": str(pool.oracle_max_age_seconds),
        "target_price_usd": str(pool.target_price_usd_e8 if pool.price_mode == Pool.PriceMode.USD_TARGET else 0),
        "total_supply": str(pool.total_supply),
        "name": pool.token_name,
        "symbol": pool.token_symbol,
        "max_value_wei": str(pool.hard_cap),
        # The crediting rules' inputs, as the signer applies them (pools/services/crediting.rules_for).
        **signer_credit_params(pool=pool),
    }


def signer_credit_params(*, pool: Pool) -> dict:
    from pools.services.crediting import rules_for

    rules = rules_for(pool)
    return {
        "opens_at": str(rules.opens_at),
        "closes_at": str(rules.closes_at),
        "access": rules.access,
        "whitelist_until": str(rules.whitelist_until),
        "whitelist": sorted(to_checksum_address(address) for address in rules.whitelist),
        "min_contribution": str(rules.min_contribution),
        "max_contribution": str(rules.max_contribution),
        "confirmations": str(pool.confirmations),
    }


# --- transitions --------------------------------------------------------------------------------------------------


def pool_schedule(*, pool_id: int) -> Pool:
    """DRAFT → SCHEDULED: validate, and have the signer create the pool's key and seal its parameters."""
    from pools.signer import signer_client

    with transaction.atomic():
        pool = _locked(pool_id)
        if pool.status == Status.SCHEDULED and pool.deposit_address:
            return pool  # already done: scheduling twice changes nothing
        transition_pool(pool, Status.SCHEDULED)
        _validate(pool, for_schedule=True)
        # The signer call is idempotent for identical parameters, so a retry after a crash here is harmless. `final`:
        # once public, the rules cannot change under the depositors (only an early close may move the close).
        answer = signer_client().register_pool(
            pool_id=pool.pk, chain_id=pool.chain_id, params=signer_registration_params(pool=pool), final=True
        )
        pool.deposit_address = to_checksum_address(answer["address"])
        pool.derivation_path = answer.get("derivation_path", "")
        pool.save(update_fields=["status", "status_reason", "deposit_address", "derivation_path", "updated_at"])
        return pool


def pools_open_due(*, now: datetime | None = None) -> list[int]:
    """SCHEDULED pools whose opening time has come → OPEN."""
    now = now or timezone.now()
    opened = []
    for pool_id in Pool.objects.filter(status=Status.SCHEDULED, opens_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            pool = _locked(pool_id)
            if pool.status == Status.SCHEDULED:
                transition_pool(pool, Status.OPEN)
                pool.save(update_fields=["status", "status_reason", "updated_at"])
                opened.append(pool_id)
    return opened


def pools_close_due(*, now: datetime | None = None) -> list[int]:
    """OPEN pools whose close time has passed → CLOSED (deposits from then on are owed back)."""
    now = now or timezone.now()
    closed = []
    for pool_id in Pool.objects.filter(status=Status.OPEN, closes_at__lte=now).values_list("pk", flat=True):
        with transaction.atomic():
            pool = _locked(pool_id)
            if pool.status == Status.OPEN:
                transition_pool(pool, Status.CLOSED, reason="The raise reached its close time.")
                pool.closed_at = now
                pool.save(update_fields=["status", "status_reason", "closed_at", "updated_at"])
                events.pool_closed(pool=pool)
                closed.append(pool_id)
    return closed


def pool_close_early(*, pool_id: int, now: datetime | None = None) -> Pool:
    """An admin closes an OPEN pool now: deposits from this moment on are owed back.

    The signer registers the new close too (its crediting must agree); it refuses a close in the chain's past, so
    the close is at least one second after the newest block (a local chain's clock may run ahead of ours).
    """
    from chain.client import web3_client
    from pools.services.crediting import pool_recompute_credits
    from pools.signer import signer_client

    now = now or timezone.now()
    with transaction.atomic():
        pool = _locked(pool_id)
        transition_pool(pool, Status.CLOSED, reason="Closed early by an admin.")
        pool.closed_at = pool.closed_early_at = now
        if pool.deposit_address:
            latest = web3_client().eth.get_block("latest")["timestamp"]
            pool.closed_early_at = max(now, datetime.fromtimestamp(latest + 1, tz=UTC))
            signer_client().register_pool(
                pool_id=pool.pk, chain_id=pool.chain_id, params=signer_registration_params(pool=pool), final=True
            )
        pool.save(update_fields=["status", "status_reason", "closed_at", "closed_early_at", "updated_at"])
        events.pool_closed(pool=pool)
    return pool_recompute_credits(pool_id=pool_id)


def pool_cancel(*, pool_id: int, reason: str = "Cancelled by an admin.") -> Pool:
    """Cancel a pool that has not launched: every deposit is owed back in full (the refund job pays them)."""
    with transaction.atomic():
        pool = _locked(pool_id)
        transition_pool(pool, Status.CANCELLED, reason=reason)
        if pool.closed_at is None:
            pool.closed_at = timezone.now()
        pool.save(update_fields=["status", "status_reason", "closed_at", "updated_at"])
        return pool


def pool_settle(*, pool_id: int, confirmed_through: datetime) -> Pool:
    """A CLOSED pool whose every deposit up to its close is confirmed: a missed soft cap → REFUNDING.

    `confirmed_through` is the timestamp of the newest block the indexer has confirmed: only past the close can
    the raise be final (a deposit sent just before the close may still be waiting for confirmations).
    """
    with transaction.atomic():
        pool = _locked(pool_id)
        close = min(filter(None, [pool.closes_at, pool.closed_early_at, pool.closed_at]), default=None)
        if pool.status != Status.CLOSED or close is None or confirmed_through < close:
            return pool
        if pool.raised < pool.soft_cap:
            transition_pool(
                pool, Status.REFUNDING, reason="The soft cap was missed: every deposit is refunded in full."
            )
            pool.save(update_fields=["status", "status_reason", "updated_at"])
        return pool


def raise_is_final(*, pool: Pool, confirmed_through: datetime) -> bool:
    """True once every deposit that could count is confirmed (the launch job checks this too)."""
    close = min(filter(None, [pool.closes_at, pool.closed_early_at, pool.closed_at]), default=None)
    return pool.status != Status.OPEN and close is not None and confirmed_through >= close


def pool_set_whitelist(*, pool_id: int, addresses: list[str]) -> int:
    """Replace a draft pool's whitelist (checksummed, de-duplicated); returns how many addresses it holds."""
    from pools.models import WhitelistEntry

    with transaction.atomic():
        pool = _locked(pool_id)
        if pool.status != Status.DRAFT:
            raise InvalidTransition("The whitelist is frozen once the pool is scheduled.")
        unique = sorted({to_checksum_address(address) for address in addresses})
        pool.whitelist.all().delete()
        WhitelistEntry.objects.bulk_create([WhitelistEntry(pool=pool, address=address) for address in unique])
        return len(unique)
