"""The token's image, as the website serves it: the PNG stored at proposal time (never the agent's own host), with
headers that keep a browser from reading it as anything but an image."""

from __future__ import annotations

import hashlib

from django.http import Http404, HttpRequest, HttpResponse
from django.utils.cache import get_conditional_response, patch_cache_control
from django.views.decorators.http import require_GET

from pools.services.token_image import STORED_TYPE, token_image_public

# A day: long enough for link previews and wallets to keep it, short enough that an image an admin removed goes away.
IMAGE_MAX_AGE_SECONDS = 86_400


@require_GET
def token_image(request: HttpRequest, pool_id: int) -> HttpResponse:
    """The pool's stored PNG; 404 when it has none or is not public. Revalidated by its ETag (304)."""
    image = token_image_public(pool_id=pool_id)
    if image is None:
        raise Http404("This pool has no public image.")
    etag = '"' + hashlib.sha256(image).hexdigest()[:32] + '"'
    response = get_conditional_response(request, etag=etag) or HttpResponse(image, content_type=STORED_TYPE)
    response["ETag"] = etag
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'"
    patch_cache_control(response, public=True, max_age=IMAGE_MAX_AGE_SECONDS)
    return response
