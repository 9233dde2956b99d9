"""What the deposit panel shows: whether the pool takes deposits, and the QR code of its payment request."""

from __future__ import annotations

from pools.models import Pool
from web import presentation


def deposit_panel_context(*, pool: Pool, me=None, amount_text: str = "") -> dict:
    """The deposit panel's template context (web/_deposit_panel.html)."""
    accepting = pool.status in (Pool.Status.SCHEDULED, Pool.Status.OPEN)
    context: dict = {"accepting": accepting}
    if accepting and pool.deposit_address:
        context["qr_svg"] = presentation.address_qr_svg(pool.deposit_address)
    return context
