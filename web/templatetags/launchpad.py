"""Template helpers: amounts from integers (exact, or rounded for reading with the exact value kept beside), USD
figures, counts with their plurals, durations, and block explorer links."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from django import template
from django.conf import settings
from django.utils import timezone
from django.utils.html import format_html

from pools.units import format_units
from web.market import PRICE_DECIMALS, USD_DECIMALS, to_usd

register = template.Library()

USD_PLACES = 2
SIGNIFICANT_DIGITS = 6
READABLE_DIGITS = 4  # what a person compares at a glance; the exact amount is in the title and data-exact


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


def _readable(amount: int | None, decimals: int, symbol: str):
    """`<span title="exact" data-exact="exact">readable</span>`: rounded down for reading, exact on hover and copy."""
    if amount is None:
        return "—"
    exact = format_units(int(amount), decimals)
    shown = significant(int(amount), decimals, READABLE_DIGITS)
    return format_html(
        '<span class="amount" title="{} {}" data-exact="{}">{} {}</span>',
        exact,
        symbol,
        exact.replace(",", ""),  # for scripts and copying: a plain decimal
        shown,
        symbol,
    )


@register.simple_tag
def amount(pool, value: int | None):
    """An amount of the pool's raise asset for reading: "1,234 ETH", "0.0001234 ETH", the exact value in its title."""
    return _readable(value, pool.raise_asset_decimals, pool.raise_asset_symbol)


@register.simple_tag
def token_amount(pool, value: int | None):
    """An amount of the pool's token (18 decimals) for reading: "2,266,666 CLM", the exact value in its title."""
    return _readable(value, 18, pool.token_symbol)


@register.filter
def readable(value: int | None, decimals: int) -> str:
    """An integer amount as text for reading (four significant digits, never dropping whole digits)."""
    if value is None:
        return "—"
    return significant(int(value), int(decimals), READABLE_DIGITS)


@register.filter
def counted(count: int, unit: str) -> str:
    """A count with its noun in the right number: `1|counted:"block"` → "1 block", `2|counted:"block"` → "2 blocks"."""
    singular, _, plural = unit.partition(",")
    return f"{count} {singular if count == 1 else plural or singular + 's'}"


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


@register.simple_tag
def usd_of(pool, value: int | None, feed) -> str:
    """`value` of the pool's raise asset in USD at the feed's newest reading ("($6,000.00)"); nothing without a feed."""
    if value is None or feed is None or feed.answer <= 0:
        return ""
    dollars = to_usd(
        asset_amount=int(value),
        asset_decimals=pool.raise_asset_decimals,
        answer=feed.answer,
        feed_decimals=feed.decimals,
    )
    return format_html('<span class="usd" data-usd>({})</span>', usd(dollars))


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
    """Basis points as a plain share: 5000 → "50%", 250 → "2.5%"; a dash for nothing (an unset template variable)."""
    if value is None or value == "":
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
def until_minute(moment: datetime | None) -> str:
    """Time left until `moment` to the minute: the server's words change once a minute (the script ticks seconds),
    so a live page's version does not change every second because of its countdown."""
    if moment is None:
        return "—"
    seconds = int((moment - timezone.now()).total_seconds())
    if seconds < 60:
        return "less than a minute" if seconds > 0 else "0 s"
    return duration(seconds - seconds % 60)


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
