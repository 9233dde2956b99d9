"""How each benchmark script hands its figures to the runner (bench/report.py): one JSON line on stdout each,
`publish(bench="indexing", what="index 10,000 deposits", figure="1,234 deposits/s", detail="...")`.

A figure that has an anchor names it: `reference` (the anchor's figure, e.g. "2.80 s fetching alone") and `ratio`
(figure ÷ reference as the issue states the target, e.g. "1.32× (target ≤ 1.5×)")."""

from __future__ import annotations

import json

MARKER = "BENCH-FIGURE "


def publish(*, bench: str, what: str, figure: str, detail: str = "", reference: str = "", ratio: str = "") -> None:
    """Print one figure for the runner's table (and for anyone reading the script's own output)."""
    row = {"bench": bench, "what": what, "figure": figure, "reference": reference, "ratio": ratio, "detail": detail}
    print(MARKER + json.dumps(row, ensure_ascii=False), flush=True)


def parse(line: str) -> dict | None:
    """The figure on a line of a script's output, or None."""
    if not line.startswith(MARKER):
        return None
    return json.loads(line[len(MARKER) :])


def ratio(value: float, target: str = "") -> str:
    """A ratio column entry: "0.62×", with the target beside it when there is one ("0.62× (target ≥ 0.5×)")."""
    text = f"{value:.2f}×"
    return f"{text} (target {target})" if target else text


def ms(seconds: float) -> str:
    return f"{seconds * 1000:,.1f} ms" if seconds < 0.1 else f"{seconds * 1000:,.0f} ms"
