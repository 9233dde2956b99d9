"""An agent proposes a pool: a DRAFT within the bounds an admin set for it, waiting for the admin to schedule it."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone
from eth_utils import to_checksum_address

from agent_api.models import AgentBounds, AllowedRaiseAsset
from pools.errors import ApplicationError
from pools.models import Agent, Pool
from pools.services.pools import pool_configuration_errors

# What an agent decides in a proposal. The raise asset's symbol and decimals come from its bounds; the fee
# recipient, the whitelist and the schedule itself are the admin's.
PROPOSAL_FIELDS = frozenset(
    {
        "name", "raise_asset", "soft_cap", "hard_cap", "min_contribution", "max_contribution", "access",
        "whitelist_until", "opens_at", "closes_at", "token_name", "token_symbol", "total_supply",
        "liquidity_supply_bps", "depositor_supply_bps", "agent_supply_bps", "liquidity_raise_bps",
        "depositor_cliff_seconds", "depositor_vesting_seconds", "agent_cliff_seconds", "agent_vesting_seconds",
        "protection_blocks", "max_buy_per_tx", "fee_bps", "treasury_address", "lp_policy", "lp_lock_until",
        "price_mode", "target_price_usd_e8", "oracle_tolerance_bps", "oracle_max_age_seconds",
    }
)  # fmt: skip


class ProposalsNotAllowed(ApplicationError):
    status_code = 403
    code = "proposals_not_allowed"


class InvalidPoolProposal(ApplicationError):
    code = "invalid_pool_proposal"


class TooManyDrafts(ApplicationError):
    status_code = 409
    code = "too_many_drafts"


def _bounds_errors(*, pool: Pool, bounds: AgentBounds, asset: AllowedRaiseAsset | None) -> dict[str, str]:
    errors: dict[str, str] = {}
    if asset is None:
        allowed = ", ".join(a.symbol + (f" ({a.address})" if a.address else "") for a in bounds.raise_assets.all())
        errors["raise_asset"] = f"Not an asset you may raise. Allowed: {allowed or 'none'}."
    elif pool.hard_cap > asset.max_hard_cap:
        errors["hard_cap"] = f"At most {asset.max_hard_cap} (smallest units of {asset.symbol}) for you."
    if pool.fee_bps < bounds.min_fee_bps:
        errors["fee_bps"] = f"At least {bounds.min_fee_bps} bps."
    if pool.agent_supply_bps > bounds.max_agent_supply_bps:
        errors["agent_supply_bps"] = f"At most {bounds.max_agent_supply_bps} bps of the supply for you."
    if pool.agent_supply_bps and pool.agent_cliff_seconds + pool.agent_vesting_seconds < (
        bounds.min_agent_vesting_seconds
    ):
        errors["agent_vesting_seconds"] = (
            f"Your tokens must vest over at least {bounds.min_agent_vesting_seconds} seconds (cliff included)."
        )
    if pool.opens_at and pool.closes_at and (pool.closes_at - pool.opens_at).total_seconds() > bounds.max_raise_seconds:
        errors["closes_at"] = f"A raise lasts at most {bounds.max_raise_seconds} seconds."
    return errors


def pool_propose(*, agent: Agent, data: dict, now: datetime | None = None) -> Pool:
    """Create a DRAFT pool for the agent from `data` (PROPOSAL_FIELDS), or raise with every problem per field."""
    now = now or timezone.now()
    unknown = set(data) - PROPOSAL_FIELDS
    if unknown:
        raise InvalidPoolProposal("Unknown fields.", details={field: ["Not a proposal field."] for field in unknown})
    with transaction.atomic():
        # Locking the bounds serialises an agent's proposals, so two at once cannot both pass the draft limit.
        bounds = AgentBounds.objects.select_for_update().filter(agent=agent).first()
        if bounds is None:
            raise ProposalsNotAllowed("An admin has not set bounds for your proposals yet, so you cannot propose.")
        raise_asset = data.get("raise_asset", "")
        raise_asset = to_checksum_address(raise_asset) if raise_asset else ""
        asset = next((a for a in bounds.raise_assets.all() if a.address.lower() == raise_asset.lower()), None)
        pool = Pool(agent=agent, status=Pool.Status.DRAFT, **{**data, "raise_asset": raise_asset})
        if asset is not None:
            pool.raise_asset_symbol, pool.raise_asset_decimals = asset.symbol, asset.decimals
        if pool.treasury_address:
            pool.treasury_address = to_checksum_address(pool.treasury_address)
        errors = pool_configuration_errors(pool=pool, now=now)
        if pool.opens_at is not None and pool.opens_at <= now:
            errors["opens_at"] = "The opening time must be in the future."
        for field, message in _bounds_errors(pool=pool, bounds=bounds, asset=asset).items():
            errors.setdefault(field, message)
        if errors:
            fields = ", ".join(sorted(errors))
            raise InvalidPoolProposal(
                f"The proposal is not valid ({fields}); see details.",
                details={field: [message] for field, message in sorted(errors.items())},
            )
        drafts = Pool.objects.filter(agent=agent, status=Pool.Status.DRAFT).count()
        if drafts >= bounds.max_pools_in_draft:
            raise TooManyDrafts(
                f"You already have {drafts} draft pools waiting for an admin (at most {bounds.max_pools_in_draft})."
            )
        pool.save()
        return pool
