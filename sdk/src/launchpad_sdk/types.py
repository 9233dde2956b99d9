"""The API's main answers as TypedDicts: at run time they are the JSON objects exactly as the server sent them.

Amounts stay decimal strings of integers in the smallest unit ("1000000000000000000" is 1 ETH), as the API sends them:
a string survives any JSON tool unchanged, while a float would round above 2**53. Turn one into an `int` with
`launchpad_sdk.amount(...)` (never `float(...)`). Requests take amounts as `int` or as a string of digits.

A newer server may add fields: they are in the dicts even when not declared here (`total=False` shapes).
"""

from __future__ import annotations

import re
from typing import Any, TypedDict, overload

# Digits only (int() would also take "1_000", " 12" or other scripts' digits); a sign for the oracle's int256 answer.
_INTEGER = re.compile(r"-?[0-9]+")


@overload
def amount(value: str | int) -> int: ...
@overload
def amount(value: None) -> None: ...
def amount(value: str | int | None) -> int | None:
    """An API amount (a decimal string in the smallest unit) as an int; None stays None."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | str):
        raise TypeError(f"an amount is a string of digits or an int, not {type(value).__name__}")
    if isinstance(value, str) and not _INTEGER.fullmatch(value):
        raise ValueError(f"not an API amount (a string of digits): {value!r}")
    return int(value)


class RefundsWaiting(TypedDict):
    code: str
    reason: str
    since: str | None


class PoolSummary(TypedDict, total=False):
    id: int
    name: str
    agent: str
    token_name: str
    token_symbol: str
    status: str
    raise_asset: str
    raise_asset_symbol: str
    raise_asset_decimals: int
    soft_cap: str
    hard_cap: str
    raised: str
    opens_at: str
    closes_at: str
    deposit_address: str
    refunds_waiting: RefundsWaiting | None


class LaunchSummary(TypedDict, total=False):
    step: str
    merkle_root: str
    token_address: str
    pair_address: str
    claim_vault_address: str
    vesting_wallet_address: str
    launched_at: str | None


class Pool(PoolSummary, total=False):
    status_reason: str
    chain_id: int
    min_contribution: str
    max_contribution: str
    total_supply: str
    liquidity_supply_bps: int
    depositor_supply_bps: int
    agent_supply_bps: int
    liquidity_raise_bps: int
    fee_bps: int
    fee_recipient: str
    treasury_address: str
    lp_policy: str
    refund_owed: str  # deprecated: the same as refunds["still_owed"]
    refunds: dict[str, str]  # owed, paid, still_owed, sending, set_aside
    description: str
    links: list[dict[str, str]]
    image_url: str | None
    launch: LaunchSummary | None


class Deposit(TypedDict, total=False):
    id: int
    tx_hash: str
    position: str
    kind: str
    sender: str
    amount: str
    status: str
    credited_amount: str
    refund_amount: str
    refund_reason: str
    refund_paid: str
    refund_still_owed: str
    block_number: int
    block_timestamp: str
    citation: dict[str, Any]


class Refund(TypedDict, total=False):
    id: int
    recipient: str
    amount: str
    status: str
    tx_hash: str | None
    deposits: list[int]
    created_at: str
    paid_at: str | None


class RefundRequestAccepted(TypedDict):
    pool_id: int
    pool_status: str
    refund_count: int
    refund_amount: str


class Allocation(TypedDict):
    address: str
    contribution: str
    token_amount: str
    proof: list[str]


class Launch(TypedDict, total=False):
    pool_id: int
    pool_status: str
    step: str
    raise_amount: str
    merkle_root: str
    token_address: str
    pair_address: str
    claim_vault_address: str
    vesting_wallet_address: str
    lp_destination: str
    error: str
    attempts: int
    transactions: list[dict[str, Any]]


class DryRun(TypedDict, total=False):
    would_succeed: bool
    error: str
    token_address: str
    raise_amount: str
    liquidity_funds: str
    fee: str
    treasury: str
    liquidity_tokens: str
    burned_tokens: str
    depositor_tokens: str
    agent_tokens: str
    price_in_asset: str | None
    price_usd_e8: str | None
    oracle_answer: str
    merkle_root: str
    gas: int | None


class QuoteScenario(TypedDict, total=False):
    raise_amount: str
    liquidity_funds: str
    fee: str
    treasury: str
    liquidity_tokens: str | None
    burned_tokens: str | None
    depositor_tokens: str
    agent_tokens: str
    price_in_asset: str | None
    price_usd_e8: str | None
    market_cap_in_asset: str | None
    market_cap_usd_e8: str | None
    fdv_in_asset: str | None
    fdv_usd_e8: str | None
    tokens_per_unit_deposited: str | None


class Quote(TypedDict, total=False):
    token_address: str | None  # predicted before the launch; null while not predictable (see addresses_note)
    pair_address: str | None
    addresses_note: str
    soft_cap: QuoteScenario
    hard_cap: QuoteScenario
    current: QuoteScenario  # for a CLOSED pool: the dry run's numbers
    raise_amount_basis: str
    raise_amount_note: str
    oracle_answer: str | None  # int256: may be negative
    oracle_error: str


class Bounds(TypedDict, total=False):
    raise_assets: list[dict[str, Any]]  # address ("" for ETH), symbol, decimals, max_hard_cap
    treasuries: list[dict[str, Any]]
    allowed_lp_policies: list[str]
    max_pools_in_draft: int
    drafts_in_use: int
    defaults: dict[str, Any]  # what a proposal stores for each optional field it leaves out


class Claim(TypedDict, total=False):
    pool_id: int
    address: str
    token_address: str
    claim_vault_address: str
    allocation: str
    contribution: str
    proof: list[str]
    claimed: str | None
    vested: str | None
    claimable_now: str | None  # null when the chain could not be read: see claimable_unavailable
    claimable_unavailable: str | None
    vesting_start: str | None
    vesting_end: str | None
    to: str  # the claim transaction: send {"to", "value", "data": calldata} from `address`
    value: str
    calldata: str


class DepositorPool(TypedDict, total=False):
    pool: dict[str, Any]
    deposits: list[Deposit]
    refunds: list[Refund]
    allocation: dict[str, Any] | None
    totals: dict[str, str]  # deposited, pending, credited, refund_owed, refund_paid, refund_still_owed


class Webhook(TypedDict, total=False):
    id: int
    url: str
    events: list[str]
    active: bool
    created_at: str


class WebhookWithSecret(Webhook, total=False):
    secret: str


class WebhookDelivery(TypedDict, total=False):
    id: int
    delivery_id: str  # the X-Launchpad-Delivery header: the same on a redelivery
    event: str
    status: str
    attempts: int
    next_attempt_at: str | None
    last_attempt_at: str | None
    response_status: int | None
    last_error: str
    created_at: str
    delivered_at: str | None
    payload: dict[str, Any]
