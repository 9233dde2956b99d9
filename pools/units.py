"""Integer amounts shown to people: exact decimal strings from integers, no floats anywhere."""


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
