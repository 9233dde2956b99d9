"""What the deposit panel shows and checks: the payment request (EIP-681 URI and its QR code), what an address may
still send, the expected share at the current raise, what a wallet needs to reach the pool's chain, and how far one
deposit transaction got.

Amounts are integers in the raise asset's smallest unit. deposit.js repeats the arithmetic with BigInt for live
feedback, but takes every message and limit from the data attributes this module fills, so the words live here.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

import segno
from django.conf import settings
from django.utils.safestring import SafeString, mark_safe

from chain.devnet import LOCAL_CHAIN_IDS
from pools.models import Deposit, IndexerCursor, Pool
from pools.units import NotAnAmount, TooFine, format_units, parse_units
from web.market import BPS, to_usd
from web.models import FeedSnapshot

# Chains a wallet may not know by name; any other shows as "Chain <id>".
CHAIN_NAMES = {
    1: "Ethereum",
    10: "OP Mainnet",
    8453: "Base",
    42161: "Arbitrum One",
    11155111: "Sepolia",
    84532: "Base Sepolia",
    31337: "Local development chain (anvil)",
    1337: "Local development chain",
}
# The server's RPC URL may carry a provider's key: a wallet is only given it for a local development chain.
NATIVE_CURRENCY = {"name": "Ether", "symbol": "ETH", "decimals": 18}
TOKEN_DECIMALS = 18
TOKEN_PLACES = 2
TX_HASH = re.compile(r"0x[0-9a-fA-F]{64}")


# --- the payment request ---------------------------------------------------------------------------------------


def payment_uri(*, pool: Pool, amount: int | None = None) -> str:
    """The EIP-681 URI a wallet or exchange app reads from the QR code: chain, asset and, when given, amount."""
    if pool.is_native:
        uri = f"ethereum:{pool.deposit_address}@{pool.chain_id}"
        return f"{uri}?value={amount}" if amount else uri
    uri = f"ethereum:{pool.raise_asset}@{pool.chain_id}/transfer?address={pool.deposit_address}"
    return f"{uri}&uint256={amount}" if amount else uri


def payment_qr_svg(*, pool: Pool, amount: int | None = None) -> SafeString:
    """The payment request as an inline SVG QR code, named for screen readers by the address it pays."""
    title = f"QR code of {pool.deposit_address}, a payment request on chain {pool.chain_id}"
    if amount:
        title += f" for {_asset(pool, amount)}"
    qr = segno.make(payment_uri(pool=pool, amount=amount), error="m")
    svg = qr.svg_inline(scale=3, border=2, omitsize=True, dark="#000", light="#fff", title=title, svgclass=None)
    # Built from the pool's checked addresses, its chain id and an integer: nothing a visitor typed reaches the SVG.
    return mark_safe(svg.replace("<svg ", '<svg role="img" class="qr" ', 1))  # noqa: S308


# --- what an address may send ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Limits:
    """What one more deposit from this address may be: below `least` or above `most` something is refunded."""

    least: int  # 0: no minimum left to reach
    most: int  # what is left under both the per-address maximum and the hard cap
    capped_by_address: bool  # `most` is the address's own maximum, not the hard cap


def deposit_limits(*, pool: Pool, me=None) -> Limits:
    """The limits for the next deposit, counting what this address already has credited or waiting (`me`)."""
    mine = (me.credited + me.pending) if me else 0
    hard_cap_left = max(pool.hard_cap - pool.raised, 0)
    address_left = max(pool.max_contribution - mine, 0) if pool.max_contribution else hard_cap_left
    least = max(pool.min_contribution - mine, 0) if pool.min_contribution else 0
    return Limits(
        least=least,
        most=min(address_left, hard_cap_left),
        capped_by_address=address_left < hard_cap_left,
    )


@dataclass(frozen=True)
class AmountMessages:
    """Every refusal the amount box can show, with the numbers of this pool and address filled in."""

    not_a_number: str
    zero: str
    too_fine: str
    below_minimum: str
    above_most: str


ZERO = "Type an amount above 0."


def _not_a_number(pool: Pool) -> str:
    return f"Not an amount: type digits such as 0.5 (in {pool.raise_asset_symbol})."


def _too_fine(pool: Pool) -> str:
    decimals = pool.raise_asset_decimals
    return f"Too many decimals: {pool.raise_asset_symbol} has {decimals}, so type at most {decimals} after the point."


def amount_messages(*, pool: Pool, limits: Limits) -> AmountMessages:
    if limits.most <= 0:
        above = (
            f"This address has reached the maximum of {_asset(pool, pool.max_contribution)}: more would be refunded."
            if limits.capped_by_address
            else "The hard cap is reached: anything sent now would be refunded."
        )
    elif limits.capped_by_address:
        above = (
            f"Above the maximum per address: this address may send at most {_asset(pool, limits.most)} more; "
            "the rest would be refunded."
        )
    else:
        above = (
            f"Above what is left under the hard cap: at most {_asset(pool, limits.most)} more can be raised; "
            "the rest would be refunded."
        )
    return AmountMessages(
        not_a_number=_not_a_number(pool),
        zero=ZERO,
        too_fine=_too_fine(pool),
        below_minimum=(
            f"Below the minimum: each address sends at least {_asset(pool, pool.min_contribution)} in total, so at "
            f"least {_asset(pool, limits.least)} now; a smaller total is refunded in full."
        ),
        above_most=above,
    )


def _parse_amount(*, text: str, pool: Pool) -> tuple[int | None, str]:
    """(amount in the smallest unit, "") for typed whole units such as "0.5", "1,000" or "2 ETH"; else (None, why),
    in the words deposit.js shows for the same mistake."""
    try:
        amount = parse_units(text, pool.raise_asset_decimals, unit=pool.raise_asset_symbol)
    except NotAnAmount:
        return None, _not_a_number(pool)
    except TooFine:
        return None, _too_fine(pool)
    if amount <= 0:
        return None, ZERO
    return amount, ""


def check_amount(*, text: str, pool: Pool, limits: Limits) -> tuple[int | None, str]:
    """(amount, "") for an amount the pool would credit in full, else (None or the amount, the reason in words)."""
    amount, error = _parse_amount(text=text, pool=pool)
    if amount is None:
        return None, error
    if amount < limits.least:
        return amount, amount_messages(pool=pool, limits=limits).below_minimum
    if amount > limits.most:
        return amount, amount_messages(pool=pool, limits=limits).above_most
    return amount, ""


# --- what the amount would buy ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Estimate:
    share_bps: int  # of the raise, were it to end at the current raise plus this amount
    tokens: int  # token units (18 decimals)
    usd: int | None  # the amount in USD (USD_DECIMALS), when the asset has a feed

    @property
    def tokens_text(self) -> str:
        return format_units(self.tokens, TOKEN_DECIMALS, places=TOKEN_PLACES)


def depositor_supply(pool: Pool) -> int:
    return pool.total_supply * pool.depositor_supply_bps // BPS


def estimate(*, pool: Pool, amount: int, feed: FeedSnapshot | None = None) -> Estimate:
    """What `amount` would earn if the raise ended now with it: depositor supply × amount ÷ (raised + amount)."""
    usd = None
    if feed is not None and feed.answer > 0:
        usd = to_usd(
            asset_amount=amount,
            asset_decimals=pool.raise_asset_decimals,
            answer=feed.answer,
            feed_decimals=feed.decimals,
        )
    total = pool.raised + amount
    if total <= 0:
        return Estimate(share_bps=0, tokens=0, usd=usd)
    return Estimate(share_bps=amount * BPS // total, tokens=depositor_supply(pool) * amount // total, usd=usd)


# --- the wallet's side -----------------------------------------------------------------------------------------


def wallet_chain(*, chain_id: int) -> dict:
    """What `wallet_switchEthereumChain` and `wallet_addEthereumChain` need (EIP-3085 fields). The RPC URL is
    CHAIN_PUBLIC_RPC_URL, or on a local development chain this site's own; else none, and no add. No explorer unless
    one is configured (MetaMask refuses an empty list)."""
    local = chain_id in LOCAL_CHAIN_IDS and chain_id == settings.CHAIN_ID
    rpc_url = settings.CHAIN_PUBLIC_RPC_URL or (settings.CHAIN_RPC_URL if local else "")
    chain = {
        "chainId": hex(chain_id),
        "chainName": CHAIN_NAMES.get(chain_id, f"Chain {chain_id}"),
        "nativeCurrency": NATIVE_CURRENCY,
        "rpcUrls": [rpc_url] if rpc_url else [],
    }
    if explorer := settings.CHAIN_EXPLORER_URL.rstrip("/"):
        chain["blockExplorerUrls"] = [explorer]
    return chain


# --- the panel -------------------------------------------------------------------------------------------------


def deposit_panel_context(*, pool: Pool, me=None, amount_text: str = "", feed: FeedSnapshot | None = None) -> dict:
    """The deposit panel's template context (web/_deposit_panel.html), beside the page's `pool` and `me_address`.
    `me` is the viewer's PoolContribution (or None), `amount_text` what they typed in the GET form, `feed` the
    asset's latest USD reading (or None)."""
    accepting = pool.status in (Pool.Status.SCHEDULED, Pool.Status.OPEN)
    context: dict = {"accepting": accepting, "scheduled": pool.status == Pool.Status.SCHEDULED}
    if not (accepting and pool.deposit_address):
        return context
    limits = deposit_limits(pool=pool, me=me)
    amount, error = check_amount(text=amount_text, pool=pool, limits=limits) if amount_text.strip() else (None, "")
    payable = amount if amount and not error else None
    context.update(
        limits=limits,
        messages=amount_messages(pool=pool, limits=limits),
        amount_text=amount_text.strip()[:80],
        amount_error=error,
        amount=payable,
        estimate=estimate(pool=pool, amount=payable, feed=feed) if payable else None,
        depositor_supply=depositor_supply(pool),
        payment_uri=payment_uri(pool=pool, amount=payable),
        qr_svg=payment_qr_svg(pool=pool, amount=payable),
        wallet_chain_json=json.dumps(wallet_chain(chain_id=pool.chain_id)),
    )
    return context


# --- one deposit transaction, followed ---------------------------------------------------------------------------


@dataclass(frozen=True)
class DepositProgress:
    """How far the deposits of one transaction to one pool got (a transaction may hold several)."""

    status: str  # "unseen" | "pending" | "confirmed"
    block_number: int | None
    confirmations: int  # blocks on top of its block, at most `confirmations_needed`
    confirmations_needed: int
    credited: int
    refund: int
    refund_reason: str
    message: str

    def as_json(self) -> dict:
        return {
            "status": self.status,
            "block_number": self.block_number,
            "confirmations": self.confirmations,
            "confirmations_needed": self.confirmations_needed,
            "credited": str(self.credited),
            "refund": str(self.refund),
            "refund_reason": self.refund_reason,
            "message": self.message,
        }


def deposit_progress(*, pool: Pool, tx_hash: str) -> DepositProgress:
    """Sum of the deposits `tx_hash` made to `pool`, with the indexer's view of the chain head for confirmations."""
    rows = list(Deposit.objects.filter(pool=pool, tx_hash=tx_hash.lower()))
    needed = pool.confirmations
    if not rows:
        message = "Not seen yet: waiting for it to be mined and picked up."
        return DepositProgress("unseen", None, 0, needed, 0, 0, "", message)
    block = min(row.block_number for row in rows)
    if any(row.status == Deposit.Status.PENDING for row in rows):
        head = IndexerCursor.objects.filter(chain_id=pool.chain_id).values_list("head", flat=True).first()
        on_top = min(max((head if head is not None else block) - block, 0), needed)
        message = f"In block {block}: {on_top} of {needed} confirmation{'' if needed == 1 else 's'}."
        return DepositProgress("pending", block, on_top, needed, 0, 0, "", message)
    credited = sum(row.credited_amount for row in rows)
    refund = sum(row.refund_amount for row in rows)
    reason = next((row.refund_reason for row in rows if row.refund_reason), "")
    return DepositProgress(
        "confirmed", block, needed, needed, credited, refund, reason, _confirmed_message(pool, credited, refund, reason)
    )


def _confirmed_message(pool: Pool, credited: int, refund: int, reason: str) -> str:
    why = Deposit.RefundReason(reason).label.lower() if reason else ""
    if reason == Deposit.RefundReason.NO_SENDER:
        return "Confirmed, but minted to the pool: there is no sender to credit or pay back."
    if not refund:
        return f"Credited {_asset(pool, credited)}."
    if not credited:
        return f"Not credited: {_asset(pool, refund)} will be refunded to the sender ({why})."
    return f"Credited {_asset(pool, credited)}; {_asset(pool, refund)} will be refunded to the sender ({why})."


def _asset(pool: Pool, amount: int) -> str:
    return f"{format_units(amount, pool.raise_asset_decimals)} {pool.raise_asset_symbol}"
