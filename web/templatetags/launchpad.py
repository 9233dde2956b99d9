"""Template helpers: exact amounts from integers, USD figures, durations, and block explorer links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

from pools.units import format_units
from web.market import PRICE_DECIMALS, USD_DECIMALS

register = template.Library()

USD_PLACES = 2
SIGNIFICANT_DIGITS = 6


@register.filter
def units(amount: int | None, decimals: int) -> str:
    """An integer amount in the smallest unit as an exact decimal string: `1500000|units:6` → "1.5"."""
    if amount is None:
        return "—"
    return format_units(int(amount), int(decimals))


@register.simple_tag
def asset(pool, amount: int | None) -> str:
    """An amount of the pool's raise asset, exact, with its symbol: "1.5 ETH"."""
    if amount is None:
        return "—"
    return f"{format_units(int(amount), pool.raise_asset_decimals)} {pool.raise_asset_symbol}"


@register.simple_tag
def tokens(pool, amount: int | None) -> str:
    """An amount of the pool's token (18 decimals), exact, with its symbol."""
    if amount is None:
        return "—"
    return f"{format_units(int(amount), 18)} {pool.token_symbol}"


def significant(amount: int, decimals: int, digits: int = SIGNIFICANT_DIGITS) -> str:
    """Truncated (never rounded up) to `digits` significant digits, but never dropping whole digits."""
    whole = abs(amount) // 10**decimals
    if whole:
        places = max(digits - len(str(whole)), 0)
    else:
        fraction = str(abs(amount) % 10**decimals).rjust(decimals, "0")
        places = len(fraction) - len(fraction.lstrip("0")) + digits
    return format_units(amount, decimals, places=places)


@register.filter
def usd(value: int | None) -> str:
    """A USD value (USD_DECIMALS decimals) in dollars and cents, truncated: "$1,234.56"."""
    if value is None:
        return "—"
    sign = "−" if value < 0 else ""
    dollars, fraction = divmod(abs(int(value)), 10**USD_DECIMALS)
    cents = fraction // 10 ** (USD_DECIMALS - USD_PLACES)
    return f"{sign}${dollars:,}.{cents:0{USD_PLACES}d}"


@register.filter
def usd_price(value: int | None) -> str:
    """A USD price per token, to six significant digits, truncated: "$0.000480512"."""
    if value is None:
        return "—"
    return "$" + significant(int(value), USD_DECIMALS)


@register.filter
def price(value: int | None) -> str:
    """A price in the raise asset (PRICE_DECIMALS), to six significant digits, truncated."""
    if value is None:
        return "—"
    return significant(int(value), PRICE_DECIMALS)


@register.filter
def bps(value: int | None) -> str:
    """Basis points as a signed percentage: 1234 → "+12.34%"."""
    if value is None:
        return "—"
    sign = "+" if value > 0 else "−" if value < 0 else ""
    return f"{sign}{abs(value) // 100}.{abs(value) % 100:02d}%"


@register.filter
def share(value: int | None) -> str:
    """Basis points as a plain share: 5000 → "50%", 250 → "2.5%"."""
    if value is None:
        return "—"
    whole, rest = divmod(int(value), 100)
    return f"{whole}.{rest:02d}".rstrip("0").rstrip(".") + "%"


@register.filter
def duration(seconds: int | float | timedelta | None) -> str:
    """A span of time in words people read at a glance: "2 d 3 h", "3 h 12 min", "45 s"."""
    if seconds is None:
        return "—"
    if isinstance(seconds, timedelta):
        seconds = seconds.total_seconds()
    seconds = int(seconds)
    if seconds <= 0:
        return "0 s"
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    if days:
        return f"{days} d {hours} h" if hours else f"{days} d"
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


@register.filter
def until(moment: datetime | None) -> str:
    """Time from now until `moment`, as `duration` says it."""
    if moment is None:
        return "—"
    return duration(moment - timezone.now())


@register.filter
def short_hex(value: str | None, keep: int = 6) -> str:
    """0x1234ab…cdef: enough to tell addresses and hashes apart; the full value goes in a title or a link."""
    if not value:
        return ""
    return value if len(value) <= 2 * keep + 3 else f"{value[: keep + 2]}…{value[-4:]}"


def _explorer(kind: str, value: str, text: str):
    base = settings.CHAIN_EXPLORER_URL.rstrip("/")
    if not base:
        return format_html('<code class="hex" title="{}">{}</code>', value, text)
    return format_html('<a class="hex" href="{}/{}/{}" title="{}">{}</a>', base, kind, value, value, text)


@register.simple_tag
def explorer_address(address: str, full: bool = False):
    """An address, linked to the block explorer when CHAIN_EXPLORER_URL is set."""
    if not address:
        return "—"
    return _explorer("address", address, address if full else short_hex(address))


@register.simple_tag
def explorer_tx(tx_hash: str, full: bool = False):
    """A transaction hash, linked to the block explorer when CHAIN_EXPLORER_URL is set."""
    if not tx_hash:
        return "—"
    return _explorer("tx", tx_hash, tx_hash if full else short_hex(tx_hash))


@register.simple_tag
def explorer_block(number: int | None):
    if number is None:
        return "—"
    base = settings.CHAIN_EXPLORER_URL.rstrip("/")
    if not base:
        return str(number)
    return format_html('<a href="{}/block/{}">{}</a>', base, number, number)


@register.filter
def unix_time(seconds: int | None) -> datetime | None:
    """Unix seconds (as the chain reports them) as an aware datetime, for the `date` filter."""
    if seconds is None:
        return None
    return datetime.fromtimestamp(int(seconds), tz=UTC)
