"""What a launch would do with a given raise: read-only, for the admin and the dry run.

The admin shows the launch at the soft cap, at the hard cap and at the current raise side by side, so a pool without
a deposit yet still shows the price it would launch at. Every figure is an integer formatted exactly: no floats.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import timezone

from enclave_signer.allocation import TOKEN_DECIMALS, liquidity_tokens, split_raise, split_supply
from pools.models import DEAD_ADDRESS, Pool
from pools.units import format_duration, format_units

USD_DECIMALS = 8
USD_CENTS = 2  # market cap and FDV in USD, truncated to the cent: their 8 decimals are noise
UNKNOWN = "—"  # a figure that does not exist (no price without a raise) or cannot be computed (no oracle)


@dataclass(frozen=True)
class LaunchPreview:
    raised: int
    liquidity_funds: int
    fee: int
    treasury: int
    liquidity_tokens: int
    burned_tokens: int
    depositor_tokens: int
    agent_tokens: int
    oracle_answer: int | None  # USD per whole raise-asset unit, 8 decimals
    oracle_error: str
    price_in_asset: int | None  # smallest asset units per whole token
    price_usd_e8: int | None
    liquidity_known: bool  # False for a USD-target pool without the oracle's answer: paired and burned are guesses


def oracle_answer_now(pool: Pool) -> tuple[int | None, str]:
    """The pool's price feed's answer now (USD per whole raise-asset unit, 8 decimals), or None and why not."""
    try:
        from chain.client import chain_deployment
        from chain.oracle import read_price_feed

        deployment = chain_deployment()
        feed = read_price_feed(address=deployment.eth_usd_feed if pool.is_native else deployment.usdc_usd_feed)
    except Exception as exc:  # noqa: BLE001 - a preview shows what it could not read instead of failing
        return None, f"unavailable ({type(exc).__name__}: {exc})"
    if feed.decimals != USD_DECIMALS:
        return None, f"the feed has {feed.decimals} decimals, expected {USD_DECIMALS}"
    if feed.answer <= 0:  # an int256: the launch refuses a price that is not positive, and so does a preview
        return None, f"the feed answers {feed.answer}, not a price"
    return feed.answer, ""


def launch_preview(*, pool: Pool, raised: int | None = None, oracle_answer: int | None = None) -> LaunchPreview:
    """The launch's amounts and price for `raised` (default: the pool's credited raise) at the oracle's answer."""
    oracle_error = ""
    if oracle_answer is None:
        oracle_answer, oracle_error = oracle_answer_now(pool)
    return _preview(pool, raised=pool.raised if raised is None else raised, oracle=(oracle_answer, oracle_error))


def _preview(pool: Pool, *, raised: int, oracle: tuple[int | None, str]) -> LaunchPreview:
    oracle_answer, oracle_error = oracle
    funds = split_raise(raise_amount=raised, liquidity_bps=pool.liquidity_raise_bps, fee_bps=pool.fee_bps)
    supply = split_supply(
        total_supply=pool.total_supply,
        liquidity_bps=pool.liquidity_supply_bps,
        depositor_bps=pool.depositor_supply_bps,
    )
    target = pool.target_price_usd_e8 if pool.price_mode == Pool.PriceMode.USD_TARGET else 0
    liquidity_known = not (target and oracle_answer is None)
    if liquidity_known:
        tokens = liquidity_tokens(
            liquidity_share=supply.liquidity,
            asset_to_liquidity=funds.liquidity,
            oracle_answer=oracle_answer or 1,
            target_price_usd=target,
            asset_decimals=pool.raise_asset_decimals,
        )
        paired, burned = tokens.paired, tokens.burned
    else:
        paired, burned = supply.liquidity, 0
    # No price without both sides of the pair: an empty raise prices nothing, it does not price the token at 0.
    price_in_asset = price_usd = None
    if liquidity_known and paired > 0 and funds.liquidity > 0:
        price_in_asset, price_usd = _value(
            10**TOKEN_DECIMALS, pair=(funds.liquidity, paired), oracle_answer=oracle_answer, pool=pool
        )
    return LaunchPreview(
        raised=raised,
        liquidity_funds=funds.liquidity,
        fee=funds.fee,
        treasury=funds.treasury,
        liquidity_tokens=paired,
        burned_tokens=burned,
        depositor_tokens=supply.depositors,
        agent_tokens=supply.agent,
        oracle_answer=oracle_answer,
        oracle_error=oracle_error,
        price_in_asset=price_in_asset,
        price_usd_e8=price_usd,
        liquidity_known=liquidity_known,
    )


Row = tuple[str, list[str]]  # a label, and one value per column


@dataclass(frozen=True)
class LaunchScenarios:
    """The launch at the soft cap, the hard cap and the current raise, as one table of strings for a template."""

    columns: list[str]
    sections: list[tuple[str, list[Row]]]
    oracle_note: str
    notes: list[str]


def launch_scenarios(*, pool: Pool, oracle_answer: int | None = None) -> LaunchScenarios:
    """Three previews at one oracle answer (read once if not given), formatted for the admin's launch preview."""
    oracle = (oracle_answer, "") if oracle_answer is not None else oracle_answer_now(pool)
    previews = [_preview(pool, raised=raised, oracle=oracle) for raised in (pool.soft_cap, pool.hard_cap, pool.raised)]
    return LaunchScenarios(
        columns=[
            f"At the soft cap ({_asset(pool, pool.soft_cap)})",
            f"At the hard cap ({_asset(pool, pool.hard_cap)})",
            f"Now ({_asset(pool, pool.raised)} raised)",
        ],
        sections=[
            ("Tokens", _token_rows(pool, previews)),
            ("Price", _price_rows(pool, previews)),
            ("Where the raise goes", _raise_rows(pool, previews)),
        ],
        oracle_note=_oracle_note(pool, *oracle),
        notes=_notes(pool, oracle_known=oracle[0] is not None),
    )


def _token_rows(pool: Pool, previews: list[LaunchPreview]) -> list[Row]:
    depositors = _release(pool.depositor_cliff_seconds, pool.depositor_vesting_seconds, at_launch="claimable at launch")
    agent = _release(pool.agent_cliff_seconds, pool.agent_vesting_seconds, at_launch="releasable at launch")
    return [
        ("To the liquidity pool (paired with the raise)", [_paired(pool, p, p.liquidity_tokens) for p in previews]),
        (
            "Burned (the liquidity share the USD target leaves unused)",
            [_paired(pool, p, p.burned_tokens) for p in previews],
        ),
        (f"To depositors (claim vault, {depositors})", [_tokens(pool, p.depositor_tokens) for p in previews]),
        (f"To the agent (vesting wallet, {agent})", [_tokens(pool, p.agent_tokens) for p in previews]),
    ]


def _price_rows(pool: Pool, previews: list[LaunchPreview]) -> list[Row]:
    asset, token = pool.raise_asset_symbol, pool.token_symbol
    if _depositors_liquid(pool):
        circulating = "tokens paired in the pool + depositors' tokens (claimable at launch)"
    else:
        circulating = "tokens paired in the pool only (the depositors' tokens vest)"
    market_caps = [worth_at_launch(pool, p, circulating_at_launch(pool, p)) for p in previews]
    fdvs = [worth_at_launch(pool, p, pool.total_supply - p.burned_tokens) for p in previews]
    return [
        (f"Launch price per {token} in {asset}", [_asset_or_unknown(pool, p.price_in_asset) for p in previews]),
        (f"Launch price per {token} in USD", [_usd_or_unknown(p.price_usd_e8) for p in previews]),
        (
            f"Market cap in {asset} (price × tokens circulating at launch: {circulating})",
            [_asset_or_unknown(pool, in_asset) for in_asset, _ in market_caps],
        ),
        ("Market cap in USD", [_usd_or_unknown(in_usd, places=USD_CENTS) for _, in_usd in market_caps]),
        (f"FDV in {asset} (price × (total supply − burned))", [_asset_or_unknown(pool, v) for v, _ in fdvs]),
        ("FDV in USD", [_usd_or_unknown(in_usd, places=USD_CENTS) for _, in_usd in fdvs]),
    ]


def _raise_rows(pool: Pool, previews: list[LaunchPreview]) -> list[Row]:
    return [
        (
            f"Paired in the pool ({_percent(pool.liquidity_raise_bps)} → the new Uniswap V2 pair)",
            [_asset(pool, p.liquidity_funds) for p in previews],
        ),
        (
            f"Platform fee ({_percent(pool.fee_bps)} → {_short(pool.fee_recipient)})",
            [_asset(pool, p.fee) for p in previews],
        ),
        (f"Treasury (the rest → {_short(pool.treasury_address)})", [_asset(pool, p.treasury) for p in previews]),
        ("LP tokens (the pair's liquidity shares)", [_lp_tokens(pool)] * len(previews)),
    ]


def _depositors_liquid(pool: Pool) -> bool:
    """Depositors can claim everything at launch: their tokens count as circulating."""
    return not pool.depositor_cliff_seconds and not pool.depositor_vesting_seconds


def circulating_at_launch(pool: Pool, preview: LaunchPreview) -> int:
    """Tokens free to trade right after the launch: the pair's, and the depositors' when nothing holds them back."""
    return preview.liquidity_tokens + (preview.depositor_tokens if _depositors_liquid(pool) else 0)


def worth_at_launch(pool: Pool, preview: LaunchPreview, tokens: int) -> tuple[int | None, int | None]:
    """What `tokens` are worth at the launch price, in the asset and in USD; (None, None) without a price."""
    if preview.price_in_asset is None:
        return None, None
    pair = (preview.liquidity_funds, preview.liquidity_tokens)
    return _value(tokens, pair=pair, oracle_answer=preview.oracle_answer, pool=pool)


def _value(tokens: int, *, pair: tuple[int, int], oracle_answer: int | None, pool: Pool) -> tuple[int, int | None]:
    """`tokens` at the pair's price (funds : paired tokens): in the asset's smallest unit, and in USD (8 decimals).

    Computed from the pair's two sides, never from an already floored price, so each figure is floored only once.
    """
    funds, paired = pair
    in_asset = tokens * funds // paired
    if oracle_answer is None:
        return in_asset, None
    return in_asset, tokens * funds * oracle_answer // (paired * 10**pool.raise_asset_decimals)


def _release(cliff: int, vesting: int, *, at_launch: str) -> str:
    """When vested tokens come free, as the contracts release them: nothing before the cliff, then linearly."""
    if not cliff and not vesting:
        return at_launch
    if not vesting:
        return f"all after a {format_duration(cliff)} cliff"
    if not cliff:
        return f"vesting {format_duration(vesting)} from launch"
    return f"vesting {format_duration(vesting)} after a {format_duration(cliff)} cliff"


def _lp_tokens(pool: Pool) -> str:
    if pool.lp_policy != Pool.LpPolicy.LOCK:
        return f"burned (sent to {_short(DEAD_ADDRESS)})"
    if pool.lp_lock_until is None:
        return "locked, no unlock date set"
    return f"locked until {timezone.localtime(pool.lp_lock_until):%Y-%m-%d %H:%M %Z}"


def _oracle_note(pool: Pool, answer: int | None, error: str) -> str:
    pair = f"{pool.raise_asset_symbol}/USD"
    if answer is None:
        return f"Oracle {pair}: {error}. USD figures cannot be shown."
    return f"Oracle {pair} ${format_units(answer, USD_DECIMALS)}, used for every column."


def _notes(pool: Pool, *, oracle_known: bool) -> list[str]:
    notes = ["These figures are before the launch is final: the raise may still change and the oracle is read again."]
    if pool.is_native:
        notes.append("A native-ETH launch pays its own gas out of the raise, so the real figures are slightly lower.")
    if pool.price_mode == Pool.PriceMode.USD_TARGET:
        notes.append(
            f"USD target of ${format_units(pool.target_price_usd_e8, USD_DECIMALS)} per {pool.token_symbol}: the pool "
            "pairs as many tokens as price one at the target, and the rest of the liquidity share is burned."
        )
        if not oracle_known:
            notes.append("Without the oracle's answer, the tokens paired and burned, and so the price, are unknown.")
    return notes


def _paired(pool: Pool, preview: LaunchPreview, amount: int) -> str:
    """Tokens paired or burned, unknown for a USD-target pool without the oracle's answer."""
    return _tokens(pool, amount) if preview.liquidity_known else UNKNOWN


def _asset_or_unknown(pool: Pool, amount: int | None) -> str:
    return UNKNOWN if amount is None else _asset(pool, amount)


def _usd_or_unknown(amount_e8: int | None, *, places: int | None = None) -> str:
    return UNKNOWN if amount_e8 is None else "$" + format_units(amount_e8, USD_DECIMALS, places=places)


def _asset(pool: Pool, amount: int) -> str:
    return f"{format_units(amount, pool.raise_asset_decimals)} {pool.raise_asset_symbol}"


def _tokens(pool: Pool, amount: int) -> str:
    return f"{format_units(amount, TOKEN_DECIMALS)} {pool.token_symbol}"


def _percent(bps: int) -> str:
    return format_units(bps, 2) + "%"


def _short(address: str) -> str:
    """0x1234…cdef: enough to tell addresses apart in a table."""
    return f"{address[:6]}…{address[-4:]}" if address else "not set"
