"""The token's identity in a proposal: a description, links, and an image uploaded as a data: URL that is stored only
as a re-encoded PNG of at most 512×512 pixels, or refused with a code that says why."""

from __future__ import annotations

import base64
import io
import os
import struct
import zlib

import pytest
from django.conf import settings
from drf_spectacular.generators import SchemaGenerator
from PIL import Image, PngImagePlugin

from pools.models import Pool
from pools.services.token_image import IMAGE_MAX_BYTES
from tests.api.conftest import assert_error, proposal, propose

pytestmark = pytest.mark.django_db

LINKS = [{"label": "Website", "url": "https://mind.example/"}, {"label": "X", "url": "https://x.com/mind"}]


def data_url(media_type: str, raw: bytes) -> str:
    return f"data:{media_type};base64,{base64.b64encode(raw).decode()}"


def picture(size: tuple[int, int], *, fmt: str, **save_options) -> bytes:
    """A two-colour picture (it compresses well) in `fmt`."""
    image = Image.new("RGB", size, "#1f3a8a")
    image.paste("#fbbf24", (0, 0, size[0] // 2, size[1] // 2))
    out = io.BytesIO()
    image.save(out, format=fmt, **save_options)
    return out.getvalue()


def png_declaring(width: int, height: int) -> bytes:
    """A tiny PNG whose header declares width × height pixels: a decompression bomb's shape, without its pixels."""

    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0" * 64)) + chunk(b"IEND", b"")
    )


def truncated_png() -> bytes:
    """A PNG of noise cut in the middle of its pixel data."""
    out = io.BytesIO()
    Image.frombytes("RGB", (64, 64), os.urandom(64 * 64 * 3)).save(out, format="PNG")
    return out.getvalue()[: len(out.getvalue()) // 2]


def stored_image(pool_id: int) -> Image.Image:
    pool = Pool.objects.get(pk=pool_id)
    assert pool.image_type == "image/png"
    return Image.open(io.BytesIO(bytes(pool.image)))


def test_a_png_is_stored_re_encoded_at_most_512_pixels_wide_without_its_metadata(alice_client, alice_bounds):
    metadata = PngImagePlugin.PngInfo()
    metadata.add_text("Comment", "<script>alert(1)</script>")
    body = proposal(
        description="A mind that trades.\nSecond line.",
        links=LINKS,
        image=data_url("image/png", picture((1024, 600), fmt="PNG", pnginfo=metadata)),
    )

    response = propose(alice_client, body)

    assert response.status_code == 201, response.json()
    created = response.json()
    assert created["description"] == "A mind that trades.\nSecond line."
    assert created["links"] == LINKS
    assert created["image_url"] == f"/pools/{created['id']}/image"
    stored = stored_image(created["id"])
    assert (stored.format, stored.size) == ("PNG", (512, 300))
    assert "Comment" not in stored.info
    assert Pool.objects.get(pk=created["id"]).links == LINKS


def test_a_jpeg_is_stored_as_a_png_without_its_exif(alice_client, alice_bounds):
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"  # Make
    jpeg = picture((300, 200), fmt="JPEG", exif=exif.tobytes())

    response = propose(alice_client, proposal(image=data_url("image/jpeg", jpeg)))

    assert response.status_code == 201, response.json()
    stored = stored_image(response.json()["id"])
    assert (stored.format, stored.size) == ("PNG", (300, 200))
    assert not stored.getexif()


def test_a_proposal_without_identity_has_none(alice_client, alice_bounds):
    created = propose(alice_client, proposal()).json()

    assert (created["description"], created["links"], created["image_url"]) == ("", [], None)
    assert Pool.objects.get(pk=created["id"]).image is None


@pytest.mark.parametrize(
    ("image", "code"),
    [
        (data_url("image/svg+xml", b'<svg xmlns="http://www.w3.org/2000/svg"><script>alert(1)</script></svg>'),
         "image_type_not_allowed"),
        (data_url("text/html", b"<h1>hi</h1>"), "image_type_not_allowed"),
        (data_url("image/png", os.urandom(2_000)), "image_not_an_image"),
        (data_url("image/png", truncated_png()), "image_not_an_image"),
        (data_url("image/png", picture((64, 64), fmt="BMP")), "image_not_an_image"),  # not an accepted decoder
        ("data:image/png;base64,%%%not-base64", "image_not_an_image"),
        ("https://mind.example/logo.png", "image_not_an_image"),
        (data_url("image/png", png_declaring(5_000, 5_000)), "image_too_many_pixels"),  # above ours, below Pillow's
        (data_url("image/png", png_declaring(100_000, 100_000)), "image_too_many_pixels"),
    ],
    ids=["svg", "html", "garbage", "truncated", "bmp", "bad base64", "a URL", "25 Mpx", "10 Gpx"],
)  # fmt: skip
def test_an_image_that_cannot_be_used_is_refused_with_its_code(alice_client, alice_bounds, image, code):
    error = assert_error(propose(alice_client, proposal(image=image)), 400, code)

    assert list(error["details"]) == ["image"]
    assert not Pool.objects.exists()


def _noise_png(width: int, height: int) -> bytes:
    noise = Image.frombytes("RGB", (width, height), os.urandom(width * height * 3))  # noise does not compress
    out = io.BytesIO()
    noise.save(out, format="PNG")
    return out.getvalue()


def test_an_image_larger_than_other_bodies_may_be_is_taken_in_a_proposal(alice_client, alice_bounds):
    image = _noise_png(400, 300)
    assert len(image) > settings.API_MAX_BODY_BYTES

    response = propose(alice_client, proposal(image=data_url("image/png", image)))

    assert response.status_code == 201, response.content
    assert Image.open(io.BytesIO(bytes(Pool.objects.get().image))).size == (400, 300)


def test_an_image_over_a_megabyte_is_refused_as_too_large(alice_client, alice_bounds):
    noise = Image.frombytes("RGB", (600, 600), os.urandom(600 * 600 * 3))  # noise does not compress; the body fits
    out = io.BytesIO()
    noise.save(out, format="PNG")
    assert len(out.getvalue()) > IMAGE_MAX_BYTES

    error = assert_error(propose(alice_client, proposal(image=data_url("image/png", out.getvalue()))), 400,
                         "image_too_large")  # fmt: skip

    assert "1,048,576" in error["message"]
    assert not Pool.objects.exists()


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"links": [{"label": "Website", "url": "http://mind.example/"}]}, "links"),
        ({"links": [{"label": "Click", "url": "javascript:alert(1)"}]}, "links"),
        ({"links": [{"label": "Website", "url": "https://mind.example/" + "a" * 200}]}, "links"),
        ({"links": [{"label": "L" * 41, "url": "https://mind.example/"}]}, "links"),
        ({"links": [{"label": f"Link {n}", "url": f"https://mind.example/{n}"} for n in range(6)]}, "links"),
        ({"links": "https://mind.example/"}, "links"),
        ({"description": "d" * 1_001}, "description"),
    ],
    ids=["http", "javascript", "long url", "long label", "six links", "not a list", "long description"],
)
def test_links_and_description_out_of_bounds_are_refused_per_field(alice_client, alice_bounds, fields, field):
    error = assert_error(propose(alice_client, proposal(**fields)), 400, "invalid")

    assert list(error["details"]) == [field]
    assert not Pool.objects.exists()


def test_the_schema_lists_the_identity_fields_of_a_proposal_and_of_a_pool():
    schemas = SchemaGenerator().get_schema(request=None, public=True)["components"]["schemas"]

    proposal_fields = schemas["PoolProposalRequest"]["properties"]
    assert {"description", "image", "links"} <= set(proposal_fields)
    assert "data:image/(png|jpeg|webp|gif);base64," in proposal_fields["image"]["pattern"]  # or empty: no image
    assert proposal_fields["links"]["maxItems"] == 5
    assert {"label", "url"} <= set(schemas["TokenLinkRequest"]["properties"])
    assert {"description", "links", "image_url"} <= set(schemas["PoolDetail"]["properties"])
