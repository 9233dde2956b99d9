"""The token's image: an agent uploads it as a data: URL; it is decoded here, checked, and re-encoded as a small PNG
before anything stores it.

Re-encoding is the defence, not a formality: the PNG written here holds only pixels, so no metadata (EXIF location,
comments) survives, and a file that is also something else (a polyglot: an image that is valid HTML or a ZIP too)
comes out as a plain image. SVG is refused outright, since it can carry script. Limits are checked in the cheapest
order: the text's length before decoding the base64, the header's dimensions before decoding the pixels (a small
file can declare billions of pixels: a decompression bomb).
"""

from __future__ import annotations

import base64
import binascii
import io
import re
import warnings

from django.db import transaction
from PIL import Image, ImageOps

from pools.errors import ApplicationError
from pools.models import Pool
from pools.selectors.pools import PUBLIC_STATUSES
from pools.services.pool_state import touch_pool

IMAGE_MAX_BYTES = 1024 * 1024  # decoded
IMAGE_MAX_PIXELS = 4096 * 4096  # width × height declared in the header
IMAGE_MAX_SIDE = 512  # the stored PNG fits in a square of this side
STORED_TYPE = "image/png"
# The media types an agent may upload, and the Pillow decoder each one may use: nothing else is ever run on the bytes.
UPLOAD_FORMATS = {"image/png": "PNG", "image/jpeg": "JPEG", "image/webp": "WEBP", "image/gif": "GIF"}
_DATA_URL = re.compile(r"data:(?P<type>[\w.+-]+/[\w.+-]+);base64,(?P<data>[A-Za-z0-9+/=\s]*)", re.ASCII)
# Base64 takes 4 characters for 3 bytes; whitespace and padding allowed for, a longer text cannot fit the limit.
DATA_URL_MAX_CHARS = len("data:image/webp;base64,") + 4 * -(-IMAGE_MAX_BYTES // 3) + 4_096


class ImageRefused(ApplicationError):
    """The uploaded image cannot be used; the subclass's code says why."""

    code = "image_invalid"

    def __init__(self, message: str):
        super().__init__(message, details={"image": [message]})


class ImageNotAnImage(ImageRefused):
    code = "image_not_an_image"


class ImageTypeNotAllowed(ImageRefused):
    code = "image_type_not_allowed"


class ImageTooLarge(ImageRefused):
    code = "image_too_large"


class ImageTooManyPixels(ImageRefused):
    code = "image_too_many_pixels"


def token_image_from_data_url(data_url: str) -> bytes:
    """The PNG to store for an uploaded `data:image/…;base64,…` URL, or ImageRefused saying why not."""
    return _reencoded(_decoded(data_url))


def _decoded(data_url: str) -> bytes:
    if len(data_url) > DATA_URL_MAX_CHARS:
        raise ImageTooLarge(f"The image is larger than {IMAGE_MAX_BYTES:,} bytes.")
    match = _DATA_URL.fullmatch(data_url.strip())
    if match is None:
        raise ImageNotAnImage('Give the image as a data URL: "data:image/png;base64,…" (png, jpeg, webp or gif).')
    media_type = match["type"].lower()
    if media_type not in UPLOAD_FORMATS:
        allowed = ", ".join(UPLOAD_FORMATS)
        raise ImageTypeNotAllowed(f"{media_type} is not accepted (SVG can carry script); use one of {allowed}.")
    try:
        raw = base64.b64decode(re.sub(r"\s", "", match["data"]), validate=True)
    except binascii.Error as exc:
        raise ImageNotAnImage("The data URL's base64 does not decode.") from exc
    if len(raw) > IMAGE_MAX_BYTES:
        raise ImageTooLarge(f"The image is {len(raw):,} bytes; at most {IMAGE_MAX_BYTES:,}.")
    return raw


def _reencoded(raw: bytes) -> bytes:
    """The first frame, upright, shrunk to fit IMAGE_MAX_SIDE, as a PNG with no metadata."""
    with warnings.catch_warnings():
        # Pillow only warns between its own bomb limit and twice it; ours is lower and checked below, before load().
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        try:
            image = Image.open(io.BytesIO(raw), formats=list(UPLOAD_FORMATS.values()))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            raise ImageTooManyPixels(f"The image declares too many pixels; at most {IMAGE_MAX_PIXELS:,}.") from exc
        except (OSError, SyntaxError, ValueError) as exc:
            raise ImageNotAnImage("The data is not a PNG, JPEG, WebP or GIF image that can be decoded.") from exc
    with image:
        width, height = image.size
        if width * height > IMAGE_MAX_PIXELS:
            raise ImageTooManyPixels(
                f"The image is {width}×{height} pixels; at most {IMAGE_MAX_PIXELS:,} pixels (e.g. 4096×4096)."
            )
        try:
            image.load()
            picture = ImageOps.exif_transpose(image)
        except (OSError, SyntaxError, ValueError, EOFError) as exc:
            raise ImageNotAnImage("The image is truncated or corrupt and cannot be decoded.") from exc
        has_alpha = picture.mode in ("RGBA", "LA", "PA") or "transparency" in picture.info
        picture = picture.convert("RGBA" if has_alpha else "RGB")
        picture.thumbnail((IMAGE_MAX_SIDE, IMAGE_MAX_SIDE), Image.Resampling.LANCZOS)
        out = io.BytesIO()
        picture.save(out, format="PNG", optimize=True)
        return out.getvalue()


def token_image_clear(*, pool_id: int) -> Pool:
    """Remove a pool's image (an admin's decision): the pages show the symbol's placeholder instead."""
    with transaction.atomic():
        pool = Pool.objects.select_for_update().get(pk=pool_id)
        pool.image, pool.image_type = None, ""
        pool.save(update_fields=["image", "image_type"])
        touch_pool(pool_id=pool.pk)
    return pool


def token_image_public(*, pool_id: int) -> bytes | None:
    """The stored PNG of a public pool (drafts are not shown to the public), or None."""
    row = (
        Pool.objects.filter(pk=pool_id, status__in=PUBLIC_STATUSES, image_type=STORED_TYPE)
        .values_list("image", flat=True)
        .first()
    )
    return bytes(row) if row else None
