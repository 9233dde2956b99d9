"""How far one deposit transaction got, polled by deposit.js once the wallet has sent it."""

from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from web import payments, selectors


@never_cache
@require_GET
def deposit_status(request: HttpRequest, pool_id: int, tx_hash: str) -> JsonResponse:
    """{"status": "unseen"|"pending"|"confirmed", ...} for the deposits `tx_hash` made to this pool."""
    pool = selectors.pool_public(pool_id=pool_id)
    if not payments.TX_HASH.fullmatch(tx_hash):
        return JsonResponse(
            {"code": "bad_tx_hash", "error": "Not a transaction hash: 0x followed by 64 hexadecimal characters."},
            status=400,
        )
    return JsonResponse(payments.deposit_progress(pool=pool, tx_hash=tx_hash).as_json())
