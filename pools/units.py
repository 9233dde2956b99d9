"""Integer amounts shown to and typed by people: exact decimal strings from and to integers, no floats anywhere."""

import re


def format_units(amount: int, decimals: int, *, places: int | None = None) -> str:
    """`format_units(1_500_000, 6)` → "1.5"; with `places`, truncated (never rounded up) to that many decimals."""
    sign = "-" if amount < 0 else ""
    whole, fraction = divmod(abs(amount), 10**decimals)
    digits = str(fraction).rjust(decimals, "0") if decimals else ""
    if places is not None:
        digits = digits[:places]
    digits = digits.rstrip("0")
    grouped = f"{whole:,}"
    return f"{sign}{grouped}.{digits}" if digits else f"{sign}{grouped}"


class UnitsError(ValueError):
    """Text that is not an amount in whole units; the message says what to type instead."""


class NotAnAmount(UnitsError):
    """No digits to read, or more than digits."""


class TooFine(UnitsError):
    """Digits beyond the smallest unit."""


_AMOUNT = re.compile(r"(?P<whole>[0-9]{1,3}(?:,[0-9]{3})+|[0-9]+)?(?:\.(?P<fraction>[0-9]+))?")  # ASCII digits only


def parse_units(text: str, decimals: int, *, unit: str = "") -> int:
    """`parse_units("25,000.5", 6)` → 25_000_500_000: whole units to the smallest unit, exactly (no float, no rounding).

    Thousands may be grouped with commas; a trailing `unit` ("ETH", "%") is allowed. Digits finer than the smallest
    unit are refused unless they are zeros, so what is stored is always what was typed.
    """
    cleaned = text.strip()
    if unit and cleaned.upper().endswith(unit.upper()):
        cleaned = cleaned[: -len(unit)].rstrip()
    match = _AMOUNT.fullmatch(cleaned)
    if not cleaned or match is None or not (match["whole"] or match["fraction"]):
        raise NotAnAmount(f"Not an amount: type digits such as 25,000 or 0.5{' ' + unit if unit else ''}.")
    whole = int((match["whole"] or "0").replace(",", ""))
    fraction = (match["fraction"] or "").rstrip("0")
    if len(fraction) > decimals:
        smallest = format_units(1, decimals)
        raise TooFine(f"Too fine: the smallest amount{' of ' + unit if unit else ''} is {smallest}.")
    return whole * 10**decimals + int(fraction.ljust(decimals, "0") or "0")


DURATION_UNITS = {"d": 86_400, "h": 3_600, "m": 60, "s": 1}
_DURATION_WORDS = {
    **dict.fromkeys(("d", "day", "days"), "d"),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), "h"),
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), "m"),
    **dict.fromkeys(("s", "sec", "secs", "second", "seconds"), "s"),
}
_DURATION_PART = re.compile(r"(\d+)\s*([a-z]+)")


def parse_duration(text: str) -> int:
    """`parse_duration("30 days 12 hours")` → 2_635_200 seconds; "0" and "" are no time at all."""
    cleaned = text.strip().lower().replace(",", " ").replace(" and ", " ")
    if cleaned in ("", "0", "none"):
        return 0
    parts = _DURATION_PART.findall(cleaned)
    if not parts or _DURATION_PART.sub("", cleaned).strip():
        raise UnitsError("Not a duration: type e.g. 30 days, 12 hours, 1 day 6 hours, or 0.")
    seconds = 0
    for number, word in parts:
        if word not in _DURATION_WORDS:
            raise UnitsError(f"Unknown unit {word!r}: use days, hours, minutes or seconds.")
        seconds += int(number) * DURATION_UNITS[_DURATION_WORDS[word]]
    return seconds


def format_duration(seconds: int) -> str:
    """`format_duration(2_635_200)` → "30 days 12 hours"; exact (down to seconds), "0" for none."""
    if seconds == 0:
        return "0"
    parts = []
    for word, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count:,} {word}{'' if count == 1 else 's'}")
    return " ".join(parts)
