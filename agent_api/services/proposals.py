"""An agent proposes a pool: a DRAFT within the bounds an admin set for it, waiting for the admin to schedule it; until
the admin does, the agent may change it (pool_draft_update, judged exactly like a proposal) or withdraw it.

A proposal is judged whole, so that an agent fixes everything in one round trip: the fields that did not parse (the
view's messages), pools' configuration rules and every bound of the agent's go into one answer, per field. A rule or
bound that reads a field which did not parse is left out: a default stood in for the agent's value, so its verdict
would be about a number the agent never sent.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone
from eth_utils import to_checksum_address

from agent_api.models import DAY, AgentBounds, AllowedRaiseAsset
from pools.errors import ApplicationError
from pools.models import BPS, NATIVE_ASSET, Agent, Pool
from pools.selectors.feeds import default_oracle_max_age
from pools.selectors.pools import PoolNotFound
from pools.services.pools import pool_configuration_problems
from pools.services.token_image import STORED_TYPE, token_image_from_data_url

# What an agent decides in a proposal. The raise asset's symbol and decimals come from its bounds; the fee recipient
# only among the agent's allowed ones (none listed: the admin's choice); the whitelist and the schedule are the admin's.
PROPOSAL_FIELDS = frozenset(
    {
        "name", "raise_asset", "soft_cap", "hard_cap", "min_contribution", "max_contribution", "access",
        "whitelist_until", "opens_at", "closes_at", "token_name", "token_symbol", "total_supply",
        "liquidity_supply_bps", "depositor_supply_bps", "agent_supply_bps", "liquidity_raise_bps",
        "depositor_cliff_seconds", "depositor_vesting_seconds", "agent_cliff_seconds", "agent_vesting_seconds",
        "protection_blocks", "max_buy_per_tx", "fee_bps", "fee_recipient", "treasury_address", "lp_policy",
        "lp_lock_until", "price_mode", "target_price_usd_e8", "oracle_tolerance_bps", "oracle_max_age_seconds",
        "description", "links",
    }
)  # fmt: skip
# docs/chain-interface.md: the contracts take address(0) for ETH; the pool keeps ETH as "" (pools.models.NATIVE_ASSET).
ZERO_ADDRESS = "0x" + "00" * 20
# The token's image arrives as a data: URL and is stored re-encoded (pools.services.token_image), not as sent.
IMAGE_FIELD = "image"

# pools' configuration rules (pool_configuration_errors) key each message on one field, and some read other fields
# too. Keep this in step with those rules: a message here is left out when one of the fields it reads did not parse.
_RULE_ALSO_READS: dict[str, frozenset[str]] = {
    "agent_supply_bps": frozenset({"liquidity_supply_bps", "depositor_supply_bps"}),  # the split adds up
    "fee_bps": frozenset({"liquidity_raise_bps"}),
    "hard_cap": frozenset({"soft_cap"}),
    "max_contribution": frozenset({"min_contribution"}),
    "min_contribution": frozenset({"hard_cap"}),
    "max_buy_per_tx": frozenset({"protection_blocks"}),
    "lp_lock_until": frozenset({"lp_policy"}),
    "target_price_usd_e8": frozenset({"price_mode"}),
    "closes_at": frozenset({"opens_at"}),
    "whitelist_until": frozenset({"access", "opens_at", "closes_at"}),
}


class ProposalsNotAllowed(ApplicationError):
    status_code = 403
    code = "proposals_not_allowed"


class InvalidPoolProposal(ApplicationError):
    code = "invalid_pool_proposal"


class InvalidProposalInput(InvalidPoolProposal):
    """Some fields did not parse: the code of any malformed request, with the other fields' problems alongside."""

    code = "invalid"


class TooManyDrafts(ApplicationError):
    status_code = 409
    code = "too_many_drafts"


class PoolNotDraft(ApplicationError):
    """An admin has scheduled (or cancelled) the pool: its configuration is sealed, the agent can change it no more."""

    status_code = 409
    code = "pool_not_draft"


def raise_asset_normalised(value: str) -> str:
    """A raise asset as a pool keeps it: "" for ETH (sent as "" or as the zero address), else checksummed."""
    if not value or value.lower() == ZERO_ADDRESS:
        return NATIVE_ASSET
    return to_checksum_address(value)


class _Problems:
    """Messages per field, starting with those of the fields that did not parse."""

    def __init__(self, *, unparsed: Mapping[str, Sequence[str]]):
        self.unparsed = frozenset(unparsed)
        self.by_field: dict[str, list[str]] = {field: list(messages) for field, messages in unparsed.items()}

    def add(self, field: str, message: str, *, reads: Iterable[str] = ()) -> None:
        """Record a broken rule on `field`, unless it (or another field the rule `reads`) did not parse."""
        if self.unparsed.isdisjoint({field, *reads}):
            self.by_field.setdefault(field, []).append(message)


# A proposal field and its bound on AgentBounds (a min_… or max_… one), with what the number counts. The rules that
# depend on more than one field are written out in _bounds_problems.
_SIMPLE_BOUNDS: tuple[tuple[str, str, str], ...] = (
    ("liquidity_supply_bps", "min_liquidity_supply_bps", "{} bps of the supply for the liquidity pool"),
    ("liquidity_supply_bps", "max_liquidity_supply_bps", "{} bps of the supply for the liquidity pool"),
    ("depositor_supply_bps", "min_depositor_supply_bps", "{} bps of the supply for depositors"),
    ("depositor_supply_bps", "max_depositor_supply_bps", "{} bps of the supply for depositors"),
    ("agent_supply_bps", "min_agent_supply_bps", "{} bps of the supply for you"),
    ("agent_supply_bps", "max_agent_supply_bps", "{} bps of the supply for you"),
    ("liquidity_raise_bps", "min_liquidity_raise_bps", "{} bps of the raise paired in the liquidity pool"),
    ("fee_bps", "min_fee_bps", "{} bps of platform fee"),
    ("fee_bps", "max_fee_bps", "{} bps of platform fee"),
    ("depositor_cliff_seconds", "max_depositor_cliff_seconds", "{} of cliff before depositors' tokens vest"),
    ("depositor_vesting_seconds", "max_depositor_vesting_seconds", "{} of vesting of depositors' tokens"),
    ("protection_blocks", "min_protection_blocks", "{} blocks of launch protection"),
    ("protection_blocks", "max_protection_blocks", "{} blocks of launch protection"),
    ("oracle_tolerance_bps", "max_oracle_tolerance_bps", "{} bps of oracle tolerance"),
    ("oracle_max_age_seconds", "max_oracle_max_age_seconds", "{} of age of the oracle's answer"),
)


def _duration(seconds: int) -> str:
    if seconds and seconds % DAY == 0:
        return f"{seconds} seconds ({seconds // DAY} days)"
    if seconds and seconds % 3_600 == 0:
        return f"{seconds} seconds ({seconds // 3_600} hours)"
    return f"{seconds} seconds"


def _bounds_problems(
    *, pool: Pool, bounds: AgentBounds, asset: AllowedRaiseAsset | None, sent: frozenset[str], problems: _Problems
) -> None:
    """Add a message naming the bound (its value and its name) for every bound of the agent's the pool breaks.

    `sent`: the fields the agent sent. The fee recipient is judged only when sent, as a draft may carry the admin's.
    """
    for field, bound_name, counts in _SIMPLE_BOUNDS:
        bound, value = getattr(bounds, bound_name), getattr(pool, field)
        shown = counts.format(_duration(bound) if field.endswith("_seconds") else bound)
        if (value < bound) if bound_name.startswith("min_") else (value > bound):
            side = "At least" if bound_name.startswith("min_") else "At most"
            problems.add(field, f"{side} {shown} (your bound {bound_name}).")

    if asset is None:
        allowed = ", ".join(a.symbol + (f" ({a.address})" if a.address else "") for a in bounds.raise_assets.all())
        problems.add("raise_asset", f"Not an asset you may raise. Allowed: {allowed or 'none'}.")
    elif pool.hard_cap > asset.max_hard_cap:
        problems.add(
            "hard_cap",
            f"At most {asset.max_hard_cap} (smallest units of {asset.symbol}) for you.",
            reads=["raise_asset"],
        )
    if pool.opens_at and pool.closes_at and (pool.closes_at - pool.opens_at).total_seconds() > bounds.max_raise_seconds:
        problems.add(
            "closes_at",
            f"A raise lasts at most {_duration(bounds.max_raise_seconds)} (your bound max_raise_seconds).",
            reads=["opens_at"],
        )

    if pool.agent_supply_bps:  # without tokens of the agent's there is nothing to vest
        if pool.agent_cliff_seconds < bounds.min_agent_cliff_seconds:
            problems.add(
                "agent_cliff_seconds",
                f"At least {_duration(bounds.min_agent_cliff_seconds)} of cliff before your tokens vest "
                "(your bound min_agent_cliff_seconds).",
                reads=["agent_supply_bps"],
            )
        if pool.agent_cliff_seconds + pool.agent_vesting_seconds < bounds.min_agent_vesting_seconds:
            problems.add(
                "agent_vesting_seconds",
                f"Your tokens must vest over at least {_duration(bounds.min_agent_vesting_seconds)}, cliff included "
                "(your bound min_agent_vesting_seconds).",
                reads=["agent_cliff_seconds", "agent_supply_bps"],
            )

    if pool.lp_policy not in bounds.allowed_lp_policies:
        allowed = ", ".join(bounds.allowed_lp_policies) or "none"
        problems.add(
            "lp_policy", f"Not an LP policy you may choose. Allowed: {allowed} (your bound allowed_lp_policies)."
        )
    elif pool.lp_policy == Pool.LpPolicy.LOCK and pool.lp_lock_until and pool.closes_at:
        # Counted from the close: the earliest the launch, and so the lock, can start.
        earliest_unlock = pool.closes_at + timedelta(seconds=bounds.min_lp_lock_seconds)
        if pool.lp_lock_until < earliest_unlock:
            problems.add(
                "lp_lock_until",
                f"The LP stays locked at least {_duration(bounds.min_lp_lock_seconds)} after the raise closes, until "
                f"{earliest_unlock.isoformat()} or later (your bound min_lp_lock_seconds).",
                reads=["lp_policy", "closes_at"],
            )

    # Compared in token units without dividing, so no rounding lets a slightly larger buy through.
    if pool.protection_blocks and pool.max_buy_per_tx * BPS > pool.total_supply * bounds.max_protection_buy_bps:
        problems.add(
            "max_buy_per_tx",
            f"At most {bounds.max_protection_buy_bps} bps of the supply "
            f"({pool.total_supply * bounds.max_protection_buy_bps // BPS} token units) in one buy during the launch "
            "protection (your bound max_protection_buy_bps).",
            reads=["protection_blocks", "total_supply"],
        )

    treasuries = [treasury.address for treasury in bounds.treasuries.all()]
    if treasuries and pool.treasury_address.lower() not in {address.lower() for address in treasuries}:
        allowed = ", ".join(to_checksum_address(address) for address in treasuries)
        problems.add("treasury_address", f"Not a treasury you may name. Allowed: {allowed} (your allowed treasuries).")

    # The fee is the platform's: an agent names its recipient only among those an admin listed for it.
    if "fee_recipient" in sent and pool.fee_recipient:
        recipients = [recipient.address for recipient in bounds.fee_recipients.all()]
        if not recipients:
            problems.add(
                "fee_recipient",
                "You may not name the fee recipient (your bounds list none): leave it out, an admin sets it.",
            )
        elif pool.fee_recipient.lower() not in {address.lower() for address in recipients}:
            allowed = ", ".join(to_checksum_address(address) for address in recipients)
            problems.add(
                "fee_recipient", f"Not a fee recipient you may name. Allowed: {allowed} (your allowed fee recipients)."
            )


def proposal_pool(
    *, agent: Agent, data: Mapping, bounds: AgentBounds | None = None, pool: Pool | None = None
) -> tuple[Pool, AgentBounds, AllowedRaiseAsset | None]:
    """The pool a proposal describes, not saved: `data` (PROPOSAL_FIELDS, parsed) set on `pool` (a draft being
    changed) or on a new DRAFT of the agent's, with the agent's bounds and the allowed raise asset it names (None
    when it is not one).

    The one place a proposal's values become a pool's: the raise asset normalised ("" or the zero address: ETH) and
    its symbol and decimals taken from the bounds, addresses checksummed, links kept to their label and URL, and a new
    pool's oracle max age defaulting to its feed's heartbeat (within the bounds). Judge it with proposal_problems.
    """
    if bounds is None:
        bounds = AgentBounds.objects.filter(agent=agent).first()
    if bounds is None:
        raise ProposalsNotAllowed("An admin has not set bounds for your proposals yet, so you cannot propose.")
    unknown = set(data) - PROPOSAL_FIELDS
    if unknown:
        raise InvalidPoolProposal("Unknown fields.", details={field: ["Not a proposal field."] for field in unknown})
    is_new = pool is None
    if pool is None:
        pool = Pool(agent=agent, status=Pool.Status.DRAFT)
    for field, value in data.items():
        setattr(pool, field, value)
    pool.raise_asset = raise_asset_normalised(pool.raise_asset)
    asset = next((a for a in bounds.raise_assets.all() if a.address.lower() == pool.raise_asset.lower()), None)
    if is_new and "oracle_max_age_seconds" not in data:
        pool.oracle_max_age_seconds = default_oracle_max_age(
            raise_asset=pool.raise_asset, most=bounds.max_oracle_max_age_seconds
        )
    if asset is not None:
        pool.raise_asset_symbol, pool.raise_asset_decimals = asset.symbol, asset.decimals
    for address_field in ("treasury_address", "fee_recipient"):
        if getattr(pool, address_field):
            setattr(pool, address_field, to_checksum_address(getattr(pool, address_field)))
    pool.links = [{"label": link["label"], "url": link["url"]} for link in pool.links]
    return pool, bounds, asset


def proposal_problems(
    *,
    pool: Pool,
    bounds: AgentBounds,
    asset: AllowedRaiseAsset | None,
    sent: Iterable[str],
    unparsed: Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
) -> dict[str, list[str]]:
    """Every problem of a proposed pool, per field: the fields that did not parse (`unparsed`), each configuration
    rule it breaks and each bound of the agent's, all together; empty when the proposal may stand."""
    problems = _Problems(unparsed=unparsed or {})
    for field, messages in pool_configuration_problems(pool=pool, now=now or timezone.now()).items():
        for message in messages:
            problems.add(field, message, reads=_RULE_ALSO_READS.get(field, ()))
    _bounds_problems(pool=pool, bounds=bounds, asset=asset, sent=frozenset(sent), problems=problems)
    return dict(sorted(problems.by_field.items()))


def _image_taken_out(data: Mapping) -> tuple[dict, bytes | None]:
    """The proposal's fields but its image, and the image decoded and re-encoded: judged first and alone, so that its
    refusal carries a code of its own (ImageRefused), and outside any lock, as decoding takes a while."""
    data = dict(data)
    image_data_url = data.pop(IMAGE_FIELD, "")
    return data, (token_image_from_data_url(image_data_url) if image_data_url else None)


def _judge(
    pool: Pool,
    bounds: AgentBounds,
    asset: AllowedRaiseAsset | None,
    *,
    data: Mapping,
    image: bytes | None,
    unparsed: Mapping[str, Sequence[str]],
    now: datetime | None,
) -> None:
    """Put the image on the pool, then refuse it with every problem at once (`invalid` when a field did not parse)."""
    if image is not None:
        pool.image, pool.image_type = image, STORED_TYPE
    problems = proposal_problems(pool=pool, bounds=bounds, asset=asset, sent=data, unparsed=unparsed, now=now)
    if problems:
        error = InvalidProposalInput if unparsed else InvalidPoolProposal
        raise error(f"The proposal is not valid ({', '.join(problems)}); see details.", details=problems)


def proposal_judged(
    *, agent: Agent, data: Mapping, unparsed: Mapping[str, Sequence[str]] | None = None, now: datetime | None = None
) -> Pool:
    """The unsaved pool a proposal describes, judged as pool_propose judges it (the same error, code and details),
    except for the drafts limit: quoting a proposal takes no draft."""
    data, image = _image_taken_out(data)
    pool, bounds, asset = proposal_pool(agent=agent, data=data)
    _judge(pool, bounds, asset, data=data, image=image, unparsed=unparsed or {}, now=now)
    return pool


def pool_propose(
    *, agent: Agent, data: dict, unparsed: Mapping[str, Sequence[str]] | None = None, now: datetime | None = None
) -> Pool:
    """Create a DRAFT pool for the agent from `data` (PROPOSAL_FIELDS), or raise with every problem per field.

    `unparsed` holds the messages of the fields that did not parse (absent from `data`): they are reported together
    with what the rules and bounds say about the rest, under the code `invalid` instead of `invalid_pool_proposal`.
    `data["image"]`, a data: URL, is stored re-encoded, or refused first with its own code (ImageRefused).
    """
    data, image = _image_taken_out(data)
    with transaction.atomic():
        # Locking the bounds serialises an agent's proposals, so two at once cannot both pass the draft limit.
        bounds = AgentBounds.objects.select_for_update().filter(agent=agent).first()
        pool, bounds, asset = proposal_pool(agent=agent, data=data, bounds=bounds)
        _judge(pool, bounds, asset, data=data, image=image, unparsed=unparsed or {}, now=now)

        drafts = Pool.objects.filter(agent=agent, status=Pool.Status.DRAFT).count()
        if drafts >= bounds.max_pools_in_draft:
            raise TooManyDrafts(
                f"You already have {drafts} draft pools waiting for an admin (at most {bounds.max_pools_in_draft})."
            )
        pool.save()
        return pool


def _draft_locked(*, agent: Agent, pool_id: int) -> Pool:
    """The agent's pool, locked: an admin's schedule (which locks it too) then waits, or has already happened."""
    pool = Pool.objects.select_for_update().filter(pk=pool_id, agent=agent).first()
    if pool is None:
        raise PoolNotFound(f"You have no pool with the id {pool_id}.")
    if pool.status != Pool.Status.DRAFT:
        raise PoolNotDraft(
            f"The pool is {pool.get_status_display().lower()}, no longer a draft: an admin has "
            f"{'cancelled' if pool.status == Pool.Status.CANCELLED else 'scheduled'} it, so it cannot change.",
            details={"status": pool.status},
        )
    return pool


def pool_draft_update(
    *,
    agent: Agent,
    pool_id: int,
    data: dict,
    unparsed: Mapping[str, Sequence[str]] | None = None,
    now: datetime | None = None,
) -> Pool:
    """Change some fields of the agent's DRAFT pool: the draft with `data` on top is judged exactly like a proposal
    (every problem at once), and saved only if it passes. PoolNotDraft once an admin has scheduled it."""
    data, image = _image_taken_out(data)
    with transaction.atomic():
        pool = _draft_locked(agent=agent, pool_id=pool_id)
        pool, bounds, asset = proposal_pool(agent=agent, data=data, pool=pool)
        _judge(pool, bounds, asset, data=data, image=image, unparsed=unparsed or {}, now=now)
        pool.save()
        return pool


def pool_draft_withdraw(*, agent: Agent, pool_id: int) -> None:
    """Delete the agent's DRAFT pool (nothing was sealed or deposited yet); PoolNotDraft once an admin scheduled it."""
    with transaction.atomic():
        _draft_locked(agent=agent, pool_id=pool_id).delete()
