"""What the pages say: a pool's phase and rules in plain words, its progress, the launch it would make at the current
raise, a depositor's expected tokens and claim outlook, and the dashboard's rows.

Pure functions of already-loaded rows (no queries, no chain calls), so they are cheap to test.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from django.utils import timezone

from chain.reads import ClaimStatus
from pools.models import Allocation, Pool
from pools.selectors.launch_preview import USD_DECIMALS as PREVIEW_USD_DECIMALS
from pools.selectors.launch_preview import circulating_at_launch, launch_preview, worth_at_launch
from pools.units import format_units
from web import market
from web.models import FeedSnapshot, PriceSnapshot
from web.templatetags.launchpad import READABLE_DIGITS, significant


def _amount(pool: Pool, value: int) -> str:
    return f"{format_units(value, pool.raise_asset_decimals)} {pool.raise_asset_symbol}"


def _when(moment: datetime | None) -> str:
    return timezone.localtime(moment).strftime("%-d %b %Y, %H:%M %Z") if moment else "—"


def _plural(count: int, unit: str) -> str:
    return f"{count} {unit}" if count == 1 else f"{count} {unit}s"


def _span(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours = rest // 3_600
    if days and hours:
        return f"{_plural(days, 'day')} {_plural(hours, 'hour')}"
    if days:
        return _plural(days, "day")
    if hours:
        return _plural(hours, "hour")
    return _plural(seconds // 60, "minute")


@dataclass(frozen=True)
class Phase:
    label: str  # what is happening now, in a few words
    detail: str  # what happens next, with the date
    deadline: datetime | None  # the moment the countdown counts to


def pool_phase(*, pool: Pool, now: datetime | None = None) -> Phase:
    now = now or timezone.now()
    status = pool.status
    if status == Pool.Status.SCHEDULED:
        return Phase("Opens soon", f"Deposits count from {_when(pool.opens_at)}.", pool.opens_at)
    if status == Pool.Status.OPEN:
        if pool.access == Pool.Access.WHITELIST:
            return Phase("Open to whitelisted addresses", f"Closes {_when(pool.closes_at)}.", pool.closes_at)
        if pool.access == Pool.Access.WHITELIST_THEN_PUBLIC and pool.whitelist_until and now < pool.whitelist_until:
            return Phase(
                "Whitelist phase",
                f"Only whitelisted addresses until {_when(pool.whitelist_until)}, then anyone.",
                pool.whitelist_until,
            )
        return Phase("Open to anyone", f"Closes {_when(pool.closes_at)}.", pool.closes_at)
    if status == Pool.Status.CLOSED:
        return Phase("Closed", "Deposits are being confirmed; then the pool launches or refunds.", None)
    if status == Pool.Status.LAUNCHING:
        return Phase("Launching", "The launch transaction is on its way.", None)
    if status == Pool.Status.LAUNCHED:
        return Phase("Launched", "Depositors can claim their tokens.", None)
    if status == Pool.Status.REFUNDING:
        return Phase("Refunding", "Everything owed is being sent back in batches.", None)
    if status == Pool.Status.REFUNDED:
        return Phase("Refunded", "Every depositor got their deposit back.", None)
    return Phase(pool.get_status_display(), pool.status_reason, None)


# What a waiting refund job waits for (Pool.waiting_code), in words a depositor understands.
WAITING_IN_WORDS = {
    "fees_above_cap": "network fees are above what the signer allows one refund transaction to spend",
    "fees_too_high": "network fees are above what this launchpad is set to pay; refunds resume when they fall",
    "gas_account_empty": "the account that pays the refunds' gas has to be topped up",
    "books_disagree": "our records of this pool and the signer's own books must agree before anything is paid",
}


def refunds_waiting_notice(*, pool: Pool, unsettled: int) -> str:
    """Why the refunds still owed do not move now, in plain words; empty while they move or when none are owed."""
    if not pool.waiting_code or not unsettled:
        return ""
    if pool.waiting_code.startswith("signer_"):
        why = "the signer declined the next refund batch for now"
    else:
        why = WAITING_IN_WORDS.get(pool.waiting_code, "they cannot be sent right now")
    return (
        f"Refunds are waiting since {_when(pool.waiting_since)}: {why}. They resume by themselves; nothing is lost, "
        "and you need not do anything."
    )


def pool_rules(*, pool: Pool) -> list[str]:
    """The pool's rules as sentences a depositor can act on."""
    asset = pool.raise_asset_symbol
    rules = [
        f"Send {asset} to the deposit address from any wallet, exchange or smart account. A deposit counts once "
        f"{_plural(pool.confirmations, 'more block')} {'is' if pool.confirmations == 1 else 'are'} on top of it."
    ]
    if pool.is_native:
        rules.append("Send ETH only: tokens sent to this address cannot be moved by anyone, not even us.")
    else:
        rules.append(
            f"Send only {asset} (the token at {pool.raise_asset}): anything else sent to this address cannot be "
            "moved by anyone, not even us."
        )
    rules.append(
        f"Deposits sent before the pool opens ({_when(pool.opens_at)}) or after it closes "
        f"({_when(pool.closes_at)}) are refunded."
    )
    if pool.access == Pool.Access.WHITELIST:
        rules.append("Only whitelisted addresses may take part; deposits from other addresses are refunded.")
    elif pool.access == Pool.Access.WHITELIST_THEN_PUBLIC:
        rules.append(
            f"Until {_when(pool.whitelist_until)} only whitelisted addresses may take part (others are refunded); "
            "after that, anyone."
        )
    if pool.min_contribution and pool.max_contribution:
        rules.append(
            f"Each address contributes between {_amount(pool, pool.min_contribution)} and "
            f"{_amount(pool, pool.max_contribution)} in total. What goes above the maximum is refunded to the "
            "sender; a total below the minimum is refunded in full."
        )
    elif pool.max_contribution:
        rules.append(
            f"Each address contributes at most {_amount(pool, pool.max_contribution)} in total; what goes above "
            "is refunded to the sender."
        )
    elif pool.min_contribution:
        rules.append(
            f"Each address contributes at least {_amount(pool, pool.min_contribution)} in total; a smaller total is "
            "refunded in full."
        )
    rules.append(
        f"Once {_amount(pool, pool.hard_cap)} (the hard cap) is raised, anything more is refunded to its sender."
    )
    rules.append(
        f"If less than {_amount(pool, pool.soft_cap)} (the soft cap) has been raised when the pool closes, every "
        "depositor is refunded in full."
    )
    fee = f"{pool.fee_bps // 100}.{pool.fee_bps % 100:02d}".rstrip("0").rstrip(".")
    rules.append(
        f"Otherwise the token launches in one transaction: {_bps(pool.liquidity_raise_bps)} of the raise and "
        f"{_bps(pool.liquidity_supply_bps)} of the supply go into a Uniswap V2 pool, {fee}% is the platform fee, "
        "the rest goes to the agent's treasury."
    )
    if pool.lp_policy == Pool.LpPolicy.BURN:
        rules.append("The pool's LP tokens are burned: the liquidity can never be withdrawn.")
    else:
        rules.append(f"The pool's LP tokens are locked until {_when(pool.lp_lock_until)}.")
    rules.append(
        f"Depositors share {_bps(pool.depositor_supply_bps)} of the supply in proportion to what they contributed, "
        f"{_vesting(pool.depositor_cliff_seconds, pool.depositor_vesting_seconds)}. The agent's "
        f"{_bps(pool.agent_supply_bps)} is {_vesting(pool.agent_cliff_seconds, pool.agent_vesting_seconds)}."
    )
    return rules


def _bps(value: int) -> str:
    whole, rest = divmod(value, 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") + "%"


def _vesting(cliff: int, duration: int) -> str:
    if not cliff and not duration:
        return "claimable in full at launch"
    if not cliff:
        return f"vesting linearly over {_span(duration)} from the launch"
    if not duration:
        return f"all claimable {_span(cliff)} after the launch"
    return f"nothing for {_span(cliff)} after the launch, then vesting linearly over {_span(duration)}"


@dataclass(frozen=True)
class Progress:
    raised_bps: int  # raised / hard cap, in basis points (capped at 10000)
    soft_cap_bps: int  # where the soft cap sits on the bar
    soft_cap_met: bool

    @property
    def raised_percent(self) -> str:
        return f"{self.raised_bps // 100}.{self.raised_bps % 100:02d}"

    @property
    def soft_cap_percent(self) -> str:
        return f"{self.soft_cap_bps // 100}.{self.soft_cap_bps % 100:02d}"


def pool_progress(*, pool: Pool) -> Progress:
    if pool.hard_cap <= 0:
        return Progress(raised_bps=0, soft_cap_bps=0, soft_cap_met=False)
    return Progress(
        raised_bps=min(pool.raised * market.BPS // pool.hard_cap, market.BPS),
        soft_cap_bps=min(pool.soft_cap * market.BPS // pool.hard_cap, market.BPS),
        soft_cap_met=pool.raised >= pool.soft_cap > 0,
    )


# --- dashboard ------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LaunchedRow:
    pool: Pool
    snapshot: PriceSnapshot | None
    figures: market.PairFigures | None


def launch_event_int(event: dict | None, name: str) -> int:
    """An amount of the launch's decoded `Launched` event (stored as JSON), 0 when missing or unreadable."""
    try:
        return int((event or {}).get(name, 0))
    except (TypeError, ValueError):
        return 0


def launched_row(*, pool: Pool) -> LaunchedRow:
    """The dashboard's figures for one launched pool, from its prefetched snapshots (newest first)."""
    snapshots: list[PriceSnapshot] = list(getattr(pool, "recent_snapshots", []))
    if not snapshots:
        return LaunchedRow(pool=pool, snapshot=None, figures=None)
    newest, oldest = snapshots[0], snapshots[-1]
    event = getattr(pool.launch, "event", None)
    figures = market.pair_figures(
        reserve_token=newest.reserve_token,
        reserve_asset=newest.reserve_asset,
        asset_decimals=pool.raise_asset_decimals,
        total_supply=newest.token_total_supply,
        locked_supply=newest.token_locked,
        launch_asset_to_liquidity=launch_event_int(event, "asset_to_liquidity"),
        launch_tokens_to_liquidity=launch_event_int(event, "tokens_to_liquidity"),
        answer=newest.oracle_answer,
        feed_decimals=newest.oracle_decimals,
        oracle_updated_at=newest.oracle_updated_at,
        chain_time=newest.block_timestamp,
        max_oracle_age=pool.oracle_max_age_seconds,
        twap_start=(oldest.price_cumulative, oldest.block_timestamp) if oldest is not newest else None,
        twap_end=(newest.price_cumulative, newest.block_timestamp) if oldest is not newest else None,
    )
    return LaunchedRow(pool=pool, snapshot=newest, figures=figures)


@dataclass(frozen=True)
class OpenRow:
    pool: Pool
    raised_usd: int | None
    hard_cap_usd: int | None
    feed: FeedSnapshot | None
    oracle_stale: bool


def open_row(*, pool: Pool, feed: FeedSnapshot | None) -> OpenRow:
    if feed is None or feed.answer <= 0:
        return OpenRow(pool=pool, raised_usd=None, hard_cap_usd=None, feed=feed, oracle_stale=feed is not None)
    convert = {"asset_decimals": pool.raise_asset_decimals, "answer": feed.answer, "feed_decimals": feed.decimals}
    return OpenRow(
        pool=pool,
        raised_usd=market.to_usd(asset_amount=pool.raised, **convert),
        hard_cap_usd=market.to_usd(asset_amount=pool.hard_cap, **convert),
        feed=feed,
        oracle_stale=market.oracle_is_stale(
            updated_at=feed.updated_at, chain_time=feed.block_timestamp, max_age_seconds=pool.oracle_max_age_seconds
        ),
    )


# --- the launch at the current raise, and "me" ------------------------------------------------------------------


def usd_answer(*, feed: FeedSnapshot | None) -> tuple[int, int] | None:
    """(answer, decimals) of a USD feed that has a price, else None: no feed, no USD figure (never a made-up one)."""
    if feed is None or feed.answer <= 0:
        return None
    return feed.answer, feed.decimals


@dataclass(frozen=True)
class LaunchFigures:
    """The launch the current raise would make, by the launch's own arithmetic (pools.selectors.launch_preview)."""

    price: int | None  # smallest raise-asset units per whole token
    price_usd: int | None  # market.USD_DECIMALS
    market_cap: int | None
    market_cap_usd: int | None
    fdv: int | None
    fdv_usd: int | None
    depositor_tokens: int


def _preview_usd(value: int | None) -> int | None:
    return None if value is None else value * 10 ** (market.USD_DECIMALS - PREVIEW_USD_DECIMALS)


def launch_figures(*, pool: Pool, feed: FeedSnapshot | None) -> LaunchFigures:
    """Price, market cap and FDV at the current raise; the USD ones only with a feed in the preview's decimals."""
    answer = usd_answer(feed=feed)
    oracle = answer[0] if answer and answer[1] == PREVIEW_USD_DECIMALS else None
    # Without a feed the preview still prices the token in the asset; 0 keeps it from reading the chain itself.
    preview = launch_preview(pool=pool, oracle_answer=0 if oracle is None else oracle)
    cap, cap_usd = worth_at_launch(pool, preview, circulating_at_launch(pool, preview))
    fdv, fdv_usd = worth_at_launch(pool, preview, pool.total_supply - preview.burned_tokens)
    known = oracle is not None
    return LaunchFigures(
        price=preview.price_in_asset,
        price_usd=_preview_usd(preview.price_usd_e8) if known else None,
        market_cap=cap,
        market_cap_usd=_preview_usd(cap_usd) if known else None,
        fdv=fdv,
        fdv_usd=_preview_usd(fdv_usd) if known else None,
        depositor_tokens=preview.depositor_tokens,
    )


def expected_tokens(*, pool: Pool, credited: int, allocation: Allocation | None, depositor_tokens: int) -> int:
    """A depositor's tokens: the allocation once there is one, else their share of the depositors' supply at the
    current raise (it shrinks as others deposit; the launch divides pro rata, to the wei)."""
    if allocation is not None:
        return allocation.token_amount
    if pool.raised <= 0:
        return 0
    return depositor_tokens * credited // pool.raised


def claim_outlook(*, status: ClaimStatus, allocation: int, token_symbol: str) -> str:
    """When what is claimable grows, in words: the cliff's end, the vesting rate, the date everything is vested."""
    if status.claimed >= allocation:
        return "Everything is claimed."
    if status.chain_time >= status.vesting_end:
        return "Everything has vested: what is left is claimable now."
    if status.vesting_end == status.vesting_start:
        return f"All of it becomes claimable on {_when(_moment(status.vesting_end))}."
    per_day = allocation * 86_400 // (status.vesting_end - status.vesting_start)
    rate = f"about {significant(per_day, 18, READABLE_DIGITS)} {token_symbol} more a day"
    if status.chain_time < status.vesting_start:
        return (
            f"Vesting starts on {_when(_moment(status.vesting_start))} (the cliff ends), then {rate} until "
            f"{_when(_moment(status.vesting_end))}."
        )
    return f"It grows every block, {rate}, until everything is vested on {_when(_moment(status.vesting_end))}."


def _moment(unix_seconds: int) -> datetime:
    return datetime.fromtimestamp(unix_seconds, tz=UTC)
