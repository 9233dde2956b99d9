"""A pool's lifecycle: DRAFT → SCHEDULED → OPEN → CLOSED → LAUNCHING → LAUNCHED, or → REFUNDING → REFUNDED,
or CANCELLED. Every transition goes through here; an invalid one is refused with a reason."""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import NoReturn

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from eth_utils import is_checksum_address, is_hex_address, to_checksum_address

from pools.errors import ApplicationError
from pools.models import BPS, NATIVE_ASSET, Pool
from pools.services import events
from pools.services.pool_state import touch_pool

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
# A raise asset with more decimals would make amounts too large for the columns and the signer's numbers.
MAX_RAISE_ASSET_DECIMALS = 30
RAISE_ASSET_SYMBOL_LENGTH = Pool._meta.get_field("raise_asset_symbol").max_length


class InvalidTransition(ApplicationError):
    status_code = 409
    code = "invalid_transition"


class InvalidPoolConfiguration(ApplicationError):
    code = "invalid_pool_configuration"


# Words spelt with a vowel but said with a consonant ("a unique", "a one-off"), and the other way round ("an hour").
_CONSONANT_SOUNDS = ("uni", "use", "usu", "one", "eu")
_VOWEL_SOUNDS = ("hour", "honest", "heir")


def with_article(phrase: str) -> str:
    """`phrase` after "a" or "an" as it is said: "an open pool", "a draft pool", "a unique token"."""
    word = phrase.lower()
    vowel_sound = word.startswith(tuple("aeiou")) and not word.startswith(_CONSONANT_SOUNDS)
    vowel_sound = vowel_sound or word.startswith(_VOWEL_SOUNDS)
    return f"{'an' if vowel_sound else 'a'} {phrase}"


def transition_pool(pool: Pool, to: str, *, reason: str = "") -> None:
    """Change a pool's status in memory if the lifecycle allows it; InvalidTransition with the reason if not."""
    if to not in TRANSITIONS[pool.status]:
        raise InvalidTransition(
            f"{with_article(pool.get_status_display().lower()).capitalize()} pool cannot become "
            f"{Status(to).label.lower()}.",
            details={"from": pool.status, "to": to},
        )
    pool.status = to
    pool.status_reason = reason


def _locked(pool_id: int) -> Pool:
    return Pool.objects.select_for_update().get(pk=pool_id)


# --- validation --------------------------------------------------------------------------------------------------


def address_problem(value: str, *, required: bool) -> str:
    """What is wrong with an address as typed ("" when nothing is): 0x and 40 hexadecimal digits, and a mixed-case
    one must carry a valid EIP-55 checksum (so that a typo shows)."""
    if not value:
        return "Required." if required else ""
    if not (value.startswith("0x") and is_hex_address(value)):
        return "Not an address: 0x followed by 40 hexadecimal digits."
    digits = value[2:]
    if digits not in (digits.lower(), digits.upper()) and not is_checksum_address(value):
        return "The mixed-case checksum is wrong: check for a typo."
    return ""


def agent_wallet_problem(value: str) -> str:
    """What is wrong with an agent's wallet address ("" when nothing is): it is required, and an address."""
    return address_problem(value, required=True)


@dataclass(frozen=True)
class RaiseAsset:
    """What a pool raises: a checksummed ERC-20 address ("" for the chain's native ETH), its symbol and decimals."""

    address: str
    symbol: str
    decimals: int


NATIVE_RAISE_ASSET = RaiseAsset(address=NATIVE_ASSET, symbol="ETH", decimals=18)


def raise_asset_details(*, address: str) -> RaiseAsset:
    """The raise asset at `address` as the chain has it ("" is native ETH: ETH with 18 decimals, no chain read).

    InvalidPoolConfiguration (details {"raise_asset": message}) when the address is malformed, does not answer
    ERC-20's decimals() and symbol(), has more than MAX_RAISE_ASSET_DECIMALS decimals, or a symbol a pool cannot
    hold. Chain errors other than "not a token" (the node down or refusing) pass through as chain.errors.ChainError.
    """
    from chain.errors import NotAnErc20
    from chain.reads import erc20_metadata

    if address == NATIVE_ASSET:
        return NATIVE_RAISE_ASSET
    problem = address_problem(address, required=True)
    if problem:
        _refuse_raise_asset(problem)
    token = to_checksum_address(address)
    try:
        metadata = erc20_metadata(address=token)
    except NotAnErc20 as exc:
        _refuse_raise_asset(
            f"{token} does not answer decimals() and symbol(): not an ERC-20 token on chain {settings.CHAIN_ID} "
            f"({exc})."
        )
    symbol, decimals = metadata.symbol, metadata.decimals
    if decimals > MAX_RAISE_ASSET_DECIMALS:
        _refuse_raise_asset(
            f"The token at {token} has {decimals} decimals; at most {MAX_RAISE_ASSET_DECIMALS} are supported, so "
            "that amounts in it fit."
        )
    if not symbol.strip() or not symbol.isprintable():
        _refuse_raise_asset(f"The token at {token} answers symbol() with {symbol!r}: no symbol to show for it.")
    if len(symbol) > RAISE_ASSET_SYMBOL_LENGTH:
        _refuse_raise_asset(
            f"The token at {token} calls itself {symbol!r}, {len(symbol)} characters: a pool's raise asset symbol "
            f"holds at most {RAISE_ASSET_SYMBOL_LENGTH}."
        )
    return RaiseAsset(address=token, symbol=symbol, decimals=decimals)


def _refuse_raise_asset(message: str) -> NoReturn:
    raise InvalidPoolConfiguration(f"raise_asset: {message}", details={"raise_asset": message})


def _raise_asset_mismatch(pool: Pool) -> dict[str, str]:
    """The pool's stored symbol and decimals against the raise asset's own (read from the chain for an ERC-20)."""
    asset = raise_asset_details(address=pool.raise_asset)
    if (pool.raise_asset_symbol, pool.raise_asset_decimals) == (asset.symbol, asset.decimals):
        return {}
    source = f"the token at {asset.address} says" if asset.address else "native ETH is"
    return {
        "raise_asset": f"The pool says {pool.raise_asset_symbol} with {pool.raise_asset_decimals} decimals; {source} "
        f"{asset.symbol} with {asset.decimals}: save the pool again in the admin, which reads them from the token."
    }


def pool_configuration_errors(*, pool: Pool, now: datetime | None = None, for_schedule: bool = False) -> dict:
    """Field → message for everything wrong with a pool's launch configuration (empty when it is sound); a field
    that breaks several rules has their messages in one (pool_configuration_problems lists them apart)."""
    problems = pool_configuration_problems(pool=pool, now=now, for_schedule=for_schedule)
    return {field: " ".join(messages) for field, messages in problems.items()}


def pool_configuration_problems(
    *, pool: Pool, now: datetime | None = None, for_schedule: bool = False
) -> dict[str, list[str]]:
    """Field → every message for what is wrong with a pool's launch configuration (empty when it is sound).

    Without the chain: the raise asset's symbol and decimals are checked against the token when the pool is
    scheduled (pool_schedule), and are best filled by raise_asset_details in the first place.
    """
    now = now or timezone.now()
    errors: dict[str, list[str]] = defaultdict(list)
    if pool.liquidity_supply_bps + pool.depositor_supply_bps + pool.agent_supply_bps != BPS:
        errors["agent_supply_bps"].append(
            "Liquidity, depositor and agent shares of the supply must add up to 100% (10,000 bps)."
        )
    if pool.liquidity_supply_bps == 0:
        errors["liquidity_supply_bps"].append("Some of the supply must go to the liquidity pool.")
    if not 0 < pool.liquidity_raise_bps <= BPS:
        errors["liquidity_raise_bps"].append(
            "Between 0.01% and 100% (1 to 10,000 bps) of the raise must go to the liquidity pool."
        )
    if pool.liquidity_raise_bps + pool.fee_bps > BPS:
        errors["fee_bps"].append("The liquidity share and the fee together cannot exceed the whole raise.")
    if pool.fee_bps > 1_000:
        errors["fee_bps"].append("The platform fee is at most 10% (1,000 bps).")
    if pool.soft_cap <= 0:
        errors["soft_cap"].append("The soft cap must be above zero.")
    if pool.hard_cap < pool.soft_cap:
        errors["hard_cap"].append("The hard cap cannot be below the soft cap.")
    if pool.max_contribution and pool.max_contribution < pool.min_contribution:
        errors["max_contribution"].append("The per-wallet maximum cannot be below the minimum.")
    if pool.min_contribution > pool.hard_cap:
        errors["min_contribution"].append("The per-wallet minimum cannot exceed the hard cap.")
    if not SYMBOL_PATTERN.match(pool.token_symbol or ""):
        errors["token_symbol"].append("2 to 11 characters: capital letters and digits, starting with a letter.")
    if not (pool.token_name or "").strip() or len(pool.token_name) > 50:
        errors["token_name"].append("A name of 1 to 50 characters.")
    if pool.total_supply <= 0 or pool.total_supply > 2**128:
        errors["total_supply"].append("The supply must be above zero and at most 2^128 token units.")
    if pool.protection_blocks > MAX_PROTECTION_BLOCKS:
        errors["protection_blocks"].append(f"The launch protection lasts at most {MAX_PROTECTION_BLOCKS} blocks.")
    if pool.protection_blocks and not pool.max_buy_per_tx:
        errors["max_buy_per_tx"].append("Set the largest buy allowed during the protection window.")
    for field, value, required in (
        ("raise_asset", pool.raise_asset, False),  # empty: native ETH
        ("fee_recipient", pool.fee_recipient, for_schedule),
        ("treasury_address", pool.treasury_address, for_schedule),
    ):
        if problem := address_problem(value, required=required):
            errors[field].append(problem)
    if for_schedule and (problem := agent_wallet_problem(pool.agent.wallet_address)):
        errors["agent"].append(f"The agent's wallet address: {problem}")
    if pool.lp_policy == Pool.LpPolicy.LOCK and (pool.lp_lock_until is None or pool.lp_lock_until <= now):
        errors["lp_lock_until"].append("A locked LP needs an unlock date in the future.")
    if pool.price_mode == Pool.PriceMode.USD_TARGET and pool.target_price_usd_e8 <= 0:
        errors["target_price_usd_e8"].append("Set the USD price per token (8 decimals) for a USD-target price.")
    if not 0 < pool.oracle_tolerance_bps <= 2_000:
        errors["oracle_tolerance_bps"].append("Between 0.01% and 20% (1 to 2,000 bps).")
    # A draft (or a pool being scheduled) still has its opening ahead of it.
    if (for_schedule or pool.status == Status.DRAFT) and pool.opens_at is not None and pool.opens_at <= now:
        errors["opens_at"].append("The opening time must be in the future.")
    if pool.opens_at is None or pool.closes_at is None:
        errors["closes_at"].append("Set when the raise opens and closes.")
    else:
        if pool.closes_at <= pool.opens_at:
            errors["closes_at"].append("The raise must close after it opens.")
        if pool.access == Pool.Access.WHITELIST_THEN_PUBLIC and not (
            pool.whitelist_until and pool.opens_at < pool.whitelist_until < pool.closes_at
        ):
            errors["whitelist_until"].append("The whitelist phase must end between the opening and the close.")
    return dict(errors)


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


class PoolChangedSinceReview(ApplicationError):
    status_code = 409
    code = "pool_changed_since_review"


def pool_schedule(*, pool_id: int, reviewed: str | None = None) -> Pool:
    """DRAFT → SCHEDULED: validate (the raise asset's symbol and decimals against the chain's), and have the signer
    create the pool's key and seal its parameters.

    `reviewed`: the draft's `updated_at` (ISO 8601) as the admin saw it on the confirmation page. An agent may change
    its draft until it is scheduled; one changed since the admin's review is refused, so the signer never seals terms
    nobody reviewed."""
    from pools.signer import signer_client

    with transaction.atomic():
        pool = _locked(pool_id)
        if pool.status == Status.SCHEDULED and pool.deposit_address:
            return pool  # already done: scheduling twice changes nothing
        if reviewed is not None and pool.status == Status.DRAFT and reviewed != pool.updated_at.isoformat():
            raise PoolChangedSinceReview(
                "The draft changed since you reviewed it (its agent edited it): review it again before scheduling.",
                details={"reviewed": reviewed, "updated_at": pool.updated_at.isoformat()},
            )
        transition_pool(pool, Status.SCHEDULED)
        _validate(pool, for_schedule=True)
        # The backstop for a symbol or decimals typed by hand (or saved before they were read from the token): the
        # chain's word goes, as every amount of the pool is shown and priced with them.
        if mismatch := _raise_asset_mismatch(pool):
            raise InvalidPoolConfiguration(
                f"The pool's raise asset is not what it says ({mismatch['raise_asset']})", details=mismatch
            )
        # The signer call is idempotent for identical parameters, so a retry after a crash here is harmless. `final`:
        # once public, the rules cannot change under the depositors (only an early close may move the close).
        answer = signer_client().register_pool(
            pool_id=pool.pk, chain_id=pool.chain_id, params=signer_registration_params(pool=pool), final=True
        )
        pool.deposit_address = to_checksum_address(answer["address"])
        pool.derivation_path = answer.get("derivation_path", "")
        pool.save(update_fields=["status", "status_reason", "deposit_address", "derivation_path", "updated_at"])
        touch_pool(pool_id=pool.pk)
        events.pool_scheduled(pool=pool)
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
                touch_pool(pool_id=pool.pk)
                events.pool_opened(pool=pool)
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
                touch_pool(pool_id=pool.pk)
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
        touch_pool(pool_id=pool.pk)
        events.pool_closed(pool=pool)
    return pool_recompute_credits(pool_id=pool_id)


def pool_cancel(*, pool_id: int, reason: str = "Cancelled by an admin.") -> Pool:
    """Cancel a pool that has not launched: every deposit is owed back in full (the refund job pays them)."""
    with transaction.atomic():
        pool = _locked(pool_id)
        previous_status = pool.status
        transition_pool(pool, Status.CANCELLED, reason=reason)
        if pool.closed_at is None:
            pool.closed_at = timezone.now()
        pool.save(update_fields=["status", "status_reason", "closed_at", "updated_at"])
        touch_pool(pool_id=pool.pk)
        events.pool_cancelled(pool=pool, previous_status=previous_status)
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
            touch_pool(pool_id=pool.pk)
            events.pool_refunding(pool=pool, previous_status=Status.CLOSED)
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
        touch_pool(pool_id=pool.pk)
        return len(unique)
