"""What a launch would do with the pool's current raise: read-only, for the admin (and later the dry run)."""

from __future__ import annotations

from dataclasses import dataclass

from enclave_signer.allocation import TOKEN_DECIMALS, liquidity_tokens, split_raise, split_supply
from pools.models import Pool
from pools.units import format_units

USD_DECIMALS = 8


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

    def lines(self, *, pool: Pool) -> list[tuple[str, str]]:
        """(label, value) rows for people, amounts formatted exactly from integers."""
        asset, decimals = pool.raise_asset_symbol, pool.raise_asset_decimals
        token = pool.token_symbol
        rows = [
            ("Raised (credited)", f"{format_units(self.raised, decimals)} {asset}"),
            ("Paired in the pool", f"{format_units(self.liquidity_funds, decimals)} {asset}"),
            ("Platform fee", f"{format_units(self.fee, decimals)} {asset}"),
            ("To the treasury", f"{format_units(self.treasury, decimals)} {asset}"),
            ("Tokens paired in the pool", f"{format_units(self.liquidity_tokens, TOKEN_DECIMALS)} {token}"),
            ("Tokens burned (unused liquidity share)", f"{format_units(self.burned_tokens, TOKEN_DECIMALS)} {token}"),
            ("Tokens for depositors (claim vault)", f"{format_units(self.depositor_tokens, TOKEN_DECIMALS)} {token}"),
            ("Tokens for the agent (vesting)", f"{format_units(self.agent_tokens, TOKEN_DECIMALS)} {token}"),
        ]
        if self.price_in_asset is not None:
            rows.append((f"Pool price per {token}", f"{format_units(self.price_in_asset, decimals)} {asset}"))
        if self.price_usd_e8 is not None:
            rows.append((f"Pool price per {token} in USD", "$" + format_units(self.price_usd_e8, USD_DECIMALS)))
        if self.oracle_answer is not None:
            rows.append((f"Oracle {asset}/USD", "$" + format_units(self.oracle_answer, USD_DECIMALS)))
        if self.oracle_error:
            rows.append(("Oracle", self.oracle_error))
        return rows


def _oracle_answer(pool: Pool) -> tuple[int | None, str]:
    try:
        from chain.client import chain_deployment
        from chain.oracle import read_price_feed

        deployment = chain_deployment()
        feed = read_price_feed(address=deployment.eth_usd_feed if pool.is_native else deployment.usdc_usd_feed)
    except Exception as exc:  # noqa: BLE001 - a preview shows what it could not read instead of failing
        return None, f"unavailable ({type(exc).__name__}: {exc})"
    if feed.decimals != USD_DECIMALS:
        return None, f"the feed has {feed.decimals} decimals, expected {USD_DECIMALS}"
    return feed.answer, ""


def launch_preview(*, pool: Pool, raised: int | None = None, oracle_answer: int | None = None) -> LaunchPreview:
    """The launch's amounts and price for `raised` (default: the pool's credited raise) at the oracle's answer."""
    raised = pool.raised if raised is None else raised
    oracle_error = ""
    if oracle_answer is None:
        oracle_answer, oracle_error = _oracle_answer(pool)
    funds = split_raise(raise_amount=raised, liquidity_bps=pool.liquidity_raise_bps, fee_bps=pool.fee_bps)
    supply = split_supply(
        total_supply=pool.total_supply,
        liquidity_bps=pool.liquidity_supply_bps,
        depositor_bps=pool.depositor_supply_bps,
    )
    target = pool.target_price_usd_e8 if pool.price_mode == Pool.PriceMode.USD_TARGET else 0
    if target and oracle_answer is None:
        paired, burned = supply.liquidity, 0
    else:
        tokens = liquidity_tokens(
            liquidity_share=supply.liquidity,
            asset_to_liquidity=funds.liquidity,
            oracle_answer=oracle_answer or 1,
            target_price_usd=target,
            asset_decimals=pool.raise_asset_decimals,
        )
        paired, burned = tokens.paired, tokens.burned
    price_in_asset = funds.liquidity * 10**TOKEN_DECIMALS // paired if paired else None
    price_usd = None
    if price_in_asset is not None and oracle_answer is not None:
        price_usd = price_in_asset * oracle_answer // 10**pool.raise_asset_decimals
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
    )
