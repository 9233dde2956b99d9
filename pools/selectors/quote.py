"""A quote: what a pool's launch would give at the soft cap, the hard cap and the current raise, from DRAFT on.

An agent wants the launch's numbers long before the dry run can answer (it needs a CLOSED pool): the token's and the
pair's addresses, the price, the market cap and what a depositor gets per unit deposited. Every figure comes from the
admin's launch preview (pools/selectors/launch_preview.py), and the current raise is the one the dry run would launch
with, so a quote of a CLOSED pool equals the dry run to the unit. Reading the chain may fail: a figure that needs it
is then None and the quote says why, rather than failing whole.
"""

from __future__ import annotations

from dataclasses import dataclass

from chain.client import chain_deployment, web3_client
from chain.contracts import pool_id_bytes32, predict_pair_address, predict_token_address
from chain.reads import quote_asset_for
from chain.transactions import current_fees
from pools.models import Launch, Pool
from pools.selectors.launch_preview import (
    LaunchPreview,
    circulating_at_launch,
    launch_preview,
    oracle_answer_now,
    worth_at_launch,
)
from pools.services.launch import launch_raise_amount


class RaiseAmountBasis:
    """What the current scenario's `raise_amount` is (the values the API documents)."""

    CREDITED = "credited"  # an ERC-20 raise: the launch brings exactly the credited raise
    CREDITED_LESS_GAS = "credited_less_gas"  # an ETH raise, as the dry run: less the launch gas at current fees
    CREDITED_GAS_UNKNOWN = "credited_gas_unknown"  # an ETH raise whose launch gas could not be read (or not yet)
    LAUNCH = "launch"  # the launch transaction's own amount, once it is built

    ALL = (CREDITED, CREDITED_LESS_GAS, CREDITED_GAS_UNKNOWN, LAUNCH)


# Before the close the launch is still to come, so its gas is reckoned as the dry run would; after a failure or a
# cancel there is no launch to reckon, and the pool's balance says nothing about one.
_LAUNCH_STILL_TO_COME = (Pool.Status.SCHEDULED, Pool.Status.OPEN, Pool.Status.CLOSED, Pool.Status.LAUNCHING)


@dataclass(frozen=True)
class QuoteScenario:
    """The launch at one raise. Amounts in the smallest unit; None where unknown (no oracle answer, no price)."""

    raise_amount: int
    liquidity_funds: int
    fee: int
    treasury: int
    liquidity_tokens: int | None  # None: a USD-target pool without the oracle's answer
    burned_tokens: int | None
    depositor_tokens: int
    agent_tokens: int
    price_in_asset: int | None  # smallest asset units per whole token
    price_usd_e8: int | None
    market_cap_in_asset: int | None
    market_cap_usd_e8: int | None
    fdv_in_asset: int | None
    fdv_usd_e8: int | None
    tokens_per_unit_deposited: int | None  # token units per whole unit of the raise asset; None without a raise


@dataclass(frozen=True)
class PoolQuote:
    token_address: str | None
    pair_address: str | None
    addresses_note: str
    soft_cap: QuoteScenario
    hard_cap: QuoteScenario
    current: QuoteScenario
    raise_amount_basis: str
    raise_amount_note: str
    oracle_answer: int | None  # the feed's int256 answer, USD per whole raise-asset unit, 8 decimals
    oracle_error: str


def pool_quote(*, pool: Pool) -> PoolQuote:
    """The quote of a pool, saved (any status) or not (a proposal judged but not saved: no addresses then)."""
    launch = Launch.objects.filter(pool=pool).first() if pool.pk else None
    if _launch_built(pool, launch):
        # The launch transaction is built: its own amount and oracle answer are what the launch does.
        oracle = (int(launch.oracle_answer), "")
        current, basis, note = launch.raise_amount, RaiseAmountBasis.LAUNCH, "The launch transaction's raise amount."
    else:
        oracle = oracle_answer_now(pool)  # read once, for every scenario, as the admin's preview does
        current, basis, note = _current_raise_amount(pool)
    token_address, pair_address, addresses_note = _addresses(pool, launch)
    return PoolQuote(
        token_address=token_address,
        pair_address=pair_address,
        addresses_note=addresses_note,
        soft_cap=_scenario(pool, raise_amount=pool.soft_cap, credited=pool.soft_cap, oracle=oracle),
        hard_cap=_scenario(pool, raise_amount=pool.hard_cap, credited=pool.hard_cap, oracle=oracle),
        current=_scenario(pool, raise_amount=current, credited=pool.raised, oracle=oracle),
        raise_amount_basis=basis,
        raise_amount_note=note,
        oracle_answer=oracle[0],
        oracle_error=oracle[1],
    )


def _launch_built(pool: Pool, launch: Launch | None) -> bool:
    """The launch transaction has its arguments (and the pool did not fail): its amount and answer are the truth."""
    return (
        pool.status in (Pool.Status.LAUNCHING, Pool.Status.LAUNCHED)
        and launch is not None
        and launch.raise_amount > 0
        and launch.oracle_answer is not None
    )


def _current_raise_amount(pool: Pool) -> tuple[int, str, str]:
    """The raise the launch would bring now, exactly as the dry run reckons it (launch_raise_amount), with its basis."""
    if not pool.is_native:
        return pool.raised, RaiseAmountBasis.CREDITED, "The credited raise: an ERC-20 launch brings all of it."
    if not pool.deposit_address:
        return (
            pool.raised,
            RaiseAmountBasis.CREDITED_GAS_UNKNOWN,
            "The credited raise; an ETH launch pays its gas out of it, reckoned once an admin schedules the pool.",
        )
    if pool.status not in _LAUNCH_STILL_TO_COME:
        return (
            pool.raised,
            RaiseAmountBasis.CREDITED_GAS_UNKNOWN,
            f"The credited raise: a {pool.status} pool launches no more.",
        )
    try:
        w3 = web3_client()
        amount = launch_raise_amount(pool=pool, fees=current_fees(w3=w3), w3=w3)
    except Exception as exc:  # noqa: BLE001 - a quote shows what it could not read instead of failing
        return (
            pool.raised,
            RaiseAmountBasis.CREDITED_GAS_UNKNOWN,
            f"The credited raise, before the launch's gas: the chain could not be read ({type(exc).__name__}: {exc}).",
        )
    return (
        max(amount, 0),  # below 0 the raise cannot pay the launch's gas: there is nothing to launch with
        RaiseAmountBasis.CREDITED_LESS_GAS,
        "As the dry run: the credited raise (at most the address's balance beyond what it owes back) less the "
        "launch's gas budget at the current fees.",
    )


def _scenario(pool: Pool, *, raise_amount: int, credited: int, oracle: tuple[int | None, str]) -> QuoteScenario:
    preview = launch_preview(pool=pool, raised=raise_amount, oracle_answer=oracle[0])
    known = preview.liquidity_known
    market_cap = worth_at_launch(pool, preview, circulating_at_launch(pool, preview))
    fdv = worth_at_launch(pool, preview, pool.total_supply - preview.burned_tokens)
    return QuoteScenario(
        raise_amount=preview.raised,
        liquidity_funds=preview.liquidity_funds,
        fee=preview.fee,
        treasury=preview.treasury,
        liquidity_tokens=preview.liquidity_tokens if known else None,
        burned_tokens=preview.burned_tokens if known else None,
        depositor_tokens=preview.depositor_tokens,
        agent_tokens=preview.agent_tokens,
        price_in_asset=preview.price_in_asset,
        price_usd_e8=preview.price_usd_e8,
        market_cap_in_asset=market_cap[0],
        market_cap_usd_e8=market_cap[1],
        fdv_in_asset=fdv[0],
        fdv_usd_e8=fdv[1],
        tokens_per_unit_deposited=tokens_per_unit_deposited(pool, preview, credited=credited),
    )


def tokens_per_unit_deposited(pool: Pool, preview: LaunchPreview, *, credited: int) -> int | None:
    """Depositors' token units per whole unit of the raise asset credited, floored, as the launch allocates them.

    The launch divides the depositors' share pro rata to the credited contributions (enclave_signer/allocation.py
    `allocate_pro_rata`): each share floored, and the few units left over going one each to the largest remainders.
    So a depositor of one whole unit gets this many token units, or one more.
    """
    if credited <= 0:
        return None
    return preview.depositor_tokens * 10**pool.raise_asset_decimals // credited


def _addresses(pool: Pool, launch: Launch | None) -> tuple[str | None, str | None, str]:
    """The token's and the pair's addresses (the launched ones, else predicted), or why they are not known yet."""
    if launch is not None and launch.token_address:
        return launch.token_address, launch.pair_address, "The launched token and its Uniswap V2 pair."
    if pool.pk is None:
        return None, None, (
            "Not known for a proposal: the token's address follows from the pool's deposit address, which the "
            "signer gives when an admin schedules the pool."
        )  # fmt: skip
    if not pool.deposit_address:
        return None, None, (
            "Not known yet: the token's address follows from the pool's deposit address, which the signer gives "
            "when an admin schedules the pool."
        )  # fmt: skip
    try:
        deployment = chain_deployment()
        token = predict_token_address(
            launcher=deployment.launcher, pool=pool.deposit_address, pool_id=pool_id_bytes32(pool.pk)
        )
        pair = predict_pair_address(
            factory=deployment.uniswap_v2_factory, token_a=token, token_b=quote_asset_for(raise_asset=pool.raise_asset)
        )
    except Exception as exc:  # noqa: BLE001 - a quote shows what it could not read instead of failing
        return None, None, f"Not known now: the contract addresses could not be read ({type(exc).__name__}: {exc})."
    return token, pair, (
        "Predicted by CREATE2: the Launcher deploys the token at this address, and the Uniswap V2 factory its pair "
        "with the raise asset (WETH for ETH)."
    )  # fmt: skip
