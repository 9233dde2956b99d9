"""The token's identity on the website: the stored image as the site serves it, the pool page's link-preview tags,
the identity and launched-token partials (rendered alone: the pool page that includes them changes beside them), and
the admin's view of it all."""

from __future__ import annotations

import io
import re
from html import unescape

import pytest
from django.contrib.auth.models import User
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.urls import reverse
from PIL import Image

from chain.devnet import ChainDeployment
from pools.models import Pool
from tests.factories import PoolFactory
from tests.web.support import address, make_launch

pytestmark = pytest.mark.django_db

ROUTER = address("router")
USDC = address("usdc")
HOSTILE = '"><script>alert(1)</script>'


def png(size=(32, 32)) -> bytes:
    out = io.BytesIO()
    Image.new("RGB", size, "#fbbf24").save(out, format="PNG")
    return out.getvalue()


def pool_with_image(**fields) -> Pool:
    return PoolFactory(image=png(), image_type="image/png", **fields)


def render(template: str, pool: Pool, **context) -> str:
    request = RequestFactory().get(reverse("pool-detail", args=[pool.pk]))
    return render_to_string(template, {"pool": pool, **context}, request=request)


def meta(html: str) -> dict[str, str]:
    """name or property → content of each <meta> tag, unescaped as a browser (or a link-preview bot) reads it."""
    tags = re.findall(r'<meta (?:name|property)="([^"]+)" content="([^"]*)">', html)
    return {key: unescape(value) for key, value in tags}


# --- the image endpoint -------------------------------------------------------------------------------------------


def test_the_image_is_served_as_a_png_that_cannot_be_read_as_anything_else(client):
    pool = pool_with_image()

    response = client.get(reverse("pool-image", args=[pool.pk]))

    assert response.status_code == 200
    assert response.content == png()
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Security-Policy"] == "default-src 'none'"
    assert "public" in response["Cache-Control"] and "max-age=86400" in response["Cache-Control"]
    assert re.fullmatch(r'"[0-9a-f]{32}"', response["ETag"])


def test_the_image_is_revalidated_by_its_etag(client):
    pool = pool_with_image()
    url = reverse("pool-image", args=[pool.pk])
    etag = client.get(url)["ETag"]

    unchanged = client.get(url, HTTP_IF_NONE_MATCH=etag)
    Pool.objects.filter(pk=pool.pk).update(image=png((48, 48)))
    changed = client.get(url, HTTP_IF_NONE_MATCH=etag)

    assert (unchanged.status_code, unchanged.content) == (304, b"")
    assert changed.status_code == 200 and changed["ETag"] != etag


@pytest.mark.parametrize(
    "make",
    [
        lambda: PoolFactory(),  # no image
        lambda: pool_with_image(status=Pool.Status.DRAFT),  # not public
    ],
    ids=["no image", "draft"],
)
def test_no_image_or_a_draft_pool_is_a_404(client, make):
    assert client.get(reverse("pool-image", args=[make().pk])).status_code == 404


def test_an_unknown_pool_image_is_a_404(client):
    assert client.get(reverse("pool-image", args=[987_654])).status_code == 404


# --- link previews ------------------------------------------------------------------------------------------------


def test_meta_tags_describe_the_pool_with_absolute_urls():
    pool = pool_with_image(name="Alpha Mind", token_symbol="ALPHA", description="A mind that trades.")

    tags = meta(render("web/_pool_meta.html", pool))

    page, image = f"http://testserver/pools/{pool.pk}/", f"http://testserver/pools/{pool.pk}/image"
    assert tags["description"] == tags["og:description"] == tags["twitter:description"] == "A mind that trades."
    assert tags["og:title"] == tags["twitter:title"] == "Alpha Mind ($ALPHA)"
    assert (tags["og:type"], tags["og:url"], tags["twitter:card"]) == ("website", page, "summary")
    assert tags["og:image"] == tags["twitter:image"] == image


def test_meta_tags_without_an_image_use_the_default_card_and_a_sentence_about_the_pool():
    pool = PoolFactory(name="Beta", token_name="Beta Token", token_symbol="BETA")

    tags = meta(render("web/_pool_meta.html", pool))

    assert re.fullmatch(r"http://testserver/static/og-default(\.[0-9a-f]+)?\.png", tags["og:image"])
    assert tags["description"] == f"{pool.agent.name} raises ETH on AI-Pool Launchpad to launch Beta Token ($BETA)."


def test_meta_tags_escape_what_the_agent_wrote():
    pool = PoolFactory(name=HOSTILE[:100], description=HOSTILE + " " + "x" * 300)

    html = render("web/_pool_meta.html", pool)

    assert "<script>" not in html
    assert meta(html)["og:title"].startswith(HOSTILE)
    assert meta(html)["description"].startswith(HOSTILE) and len(meta(html)["description"]) == 200


# --- the identity partial -----------------------------------------------------------------------------------------


def test_the_identity_shows_the_image_description_and_links_with_their_hosts():
    pool = pool_with_image(
        token_name="Alpha",
        token_symbol="ALPHA",
        description="Line one.\n" + HOSTILE,
        links=[
            {"label": "Website", "url": "https://alpha.example/about"},
            {"label": "Old", "url": "http://old.example/"},
        ],
    )

    html = render("web/_token_identity.html", pool)

    image = re.search(r"<img [^>]+>", html).group()
    assert f'src="/pools/{pool.pk}/image"' in image and 'alt="Alpha ($ALPHA) logo"' in image
    assert 'width="64"' in image and 'height="64"' in image
    assert "Line one.<br>" in html and "<script>" not in html and "&lt;script&gt;" in html
    link = re.search(r'<a href="https://alpha.example/about"[^>]*>', html).group()
    assert 'rel="nofollow noopener noreferrer ugc"' in link and 'target="_blank"' in link
    assert '<span class="link-host">alpha.example</span>' in html
    assert "old.example" not in html  # only https links are shown, whatever is stored


def test_the_identity_without_an_image_shows_the_symbols_letters():
    pool = PoolFactory(token_name="Gamma", token_symbol="GAMMA")

    html = render("web/_token_identity.html", pool)

    assert "<img" not in html
    assert re.search(r'role="img" aria-label="Gamma \(\$GAMMA\) has no logo">GAM</span>', html)
    assert "token-links" not in html and "token-description" not in html


# --- after launch -------------------------------------------------------------------------------------------------


def test_the_launched_token_has_its_address_a_copy_button_add_to_wallet_and_uniswap_on_base():
    pool = pool_with_image(chain_id=8453, token_symbol="ALPHA", status=Pool.Status.LAUNCHED)
    launch = make_launch(pool)

    html = render("web/_launched_token.html", pool, launch=launch)

    assert f'<code id="token-address" class="hex address">{launch.token_address}</code>' in html
    assert re.search(r'<button [^>]*data-copy="#token-address" hidden>[^<]+</button>\s*<span class="copy-status"', html)
    watch = re.search(r'<p class="wallet-only" [^>]*hidden><button [^>]*data-watch-asset[^>]*>', html).group()
    for attribute in (f'data-address="{launch.token_address}"', 'data-symbol="ALPHA"', 'data-decimals="18"',
                      'data-chain-id="8453"', f'data-image="/pools/{pool.pk}/image"'):  # fmt: skip
        assert attribute in watch
    swap = f"https://app.uniswap.org/swap?chain=base&amp;inputCurrency=NATIVE&amp;outputCurrency={launch.token_address}"
    assert f'href="{swap}"' in html
    assert "router" not in html


def test_a_token_raised_in_usdc_trades_against_usdc_on_uniswap():
    pool = PoolFactory(chain_id=1, raise_asset=USDC, raise_asset_symbol="USDC", raise_asset_decimals=6)
    launch = make_launch(pool)

    html = render("web/_launched_token.html", pool, launch=launch)

    assert f"chain=ethereum&amp;inputCurrency={USDC}&amp;outputCurrency={launch.token_address}" in html


def test_on_the_local_chain_the_launched_token_names_the_router_instead(settings, tmp_path):
    settings.CHAIN_ID = 31337
    settings.CHAIN_DEPLOYMENT_FILE = tmp_path / "deployment.json"
    deployment = ChainDeployment(chain_id=31337, weth=address("weth"), uniswap_v2_factory=address("factory"),
                                 uniswap_v2_router=ROUTER, eth_usd_feed="", usdc="", usdc_usd_feed="")  # fmt: skip
    settings.CHAIN_DEPLOYMENT_FILE.write_text(deployment.to_json())
    pool = PoolFactory(chain_id=31337, token_symbol="LOCAL")
    launch = make_launch(pool)

    html = render("web/_launched_token.html", pool, launch=launch)

    assert "app.uniswap.org" not in html
    sentence = re.search(r'<p class="trade-local">(.*?)</p>', html, re.S).group(1)
    assert "chain 31337" in sentence and f'<code class="hex">{ROUTER}</code>' in sentence
    assert launch.token_address in html and "data-watch-asset" in html


def test_before_launch_the_launched_partial_is_empty():
    pool = PoolFactory()

    assert render("web/_launched_token.html", pool, launch=None).strip() == ""


# --- the admin ----------------------------------------------------------------------------------------------------


@pytest.fixture
def staff_client(client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    return client


@pytest.mark.parametrize("status", [Pool.Status.DRAFT, Pool.Status.OPEN])
def test_the_admin_shows_the_description_links_and_a_thumbnail(staff_client, status):
    pool = pool_with_image(status=status, description="A mind that trades.",
                           links=[{"label": "Website", "url": "https://alpha.example/"}])  # fmt: skip

    body = staff_client.get(reverse("admin:pools_pool_change", args=[pool.pk])).content.decode()

    assert "A mind that trades." in body
    assert "Website: <code>https://alpha.example/</code>" in body
    assert re.search(r'<img src="data:image/png;base64,[A-Za-z0-9+/=]+" width="96" height="96"', body)
    assert reverse("admin:pools_pool_action", args=[pool.pk, "clear_image"]) in body


def test_an_admin_clears_the_image_after_a_confirmation(staff_client, client):
    pool = pool_with_image()
    url = reverse("admin:pools_pool_action", args=[pool.pk, "clear_image"])

    confirmation = staff_client.get(url)
    pool.refresh_from_db()
    assert confirmation.status_code == 200 and pool.image_type == "image/png"

    staff_client.post(url)

    pool.refresh_from_db()
    assert (pool.image, pool.image_type) == (None, "")
    assert client.get(reverse("pool-image", args=[pool.pk])).status_code == 404
    assert "It has no image." in staff_client.get(url).content.decode()
