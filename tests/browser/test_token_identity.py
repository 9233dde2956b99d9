"""A launched pool's page as a depositor sees it with a wallet, at desktop and phone widths: the token's logo,
description and links, its address with a copy button, "Add to wallet" moving the wallet to the token's chain and asking
it to watch the token with the site's absolute logo URL, and (on this local chain) the router to trade through; the
link-preview tags in the head."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from playwright.sync_api import expect

from chain.client import chain_deployment
from pools.models import Pool
from tests.anvil import ANVIL_CHAIN_ID
from tests.browser.axe import assert_accessible
from tests.browser.conftest import DESKTOP, PHONE, inject_wallet, screenshot
from tests.web.launching import launch_a_pool

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

# The test wallet forwards unknown methods to anvil; this one answers wallet_watchAsset as a wallet would.
WATCH_ASSET_SCRIPT = """
(() => {
  const forward = window.ethereum.request.bind(window.ethereum);
  window.__watched = [];
  window.ethereum.request = async (call) => {
    if (call.method !== "wallet_watchAsset") return forward(call);
    window.__watched.push(call.params);
    return true;
  };
})();
"""


def logo() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (200, 200), "#8aa6ff").save(out, format="PNG")
    return out.getvalue()


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_a_launched_token_shows_its_identity_and_goes_into_the_wallet(chain, live_server, page, viewport):
    launched = launch_a_pool(chain, name="Identity Pool", token_symbol="IDNT")
    Pool.objects.filter(pk=launched.pool.pk).update(
        image=logo(), image_type="image/png", description="An agent that writes.\nIt trades what it writes.",
        links=[{"label": "Website", "url": "https://identity.example/"}],
    )  # fmt: skip
    # The wallet starts on mainnet: "Add to wallet" first asks it to move to the token's chain.
    inject_wallet(
        page, account=chain.anvil.account(7), anvil=chain.anvil, chain_id=1, known_chain_ids=(ANVIL_CHAIN_ID,)
    )
    page.add_init_script(WATCH_ASSET_SCRIPT)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/pools/{launched.pool.pk}/")

    expect(page.locator("img.token-logo")).to_have_attribute("alt", re.compile(r"\(\$IDNT\) logo$"))
    assert page.evaluate("document.querySelector('img.token-logo').naturalWidth") == 200
    expect(page.get_by_text("It trades what it writes.")).to_be_visible()
    expect(page.get_by_role("link", name="Website")).to_have_attribute("rel", "nofollow noopener noreferrer ugc")
    token = launched.launch.token_address
    expect(page.locator("#token-address")).to_have_text(token)
    expect(page.get_by_role("button", name="Copy token address")).to_be_visible()
    expect(page.locator(".trade-local")).to_contain_text(chain_deployment().uniswap_v2_router)

    page.get_by_role("button", name="Add $IDNT to wallet").click()

    expect(page.locator(".watch-status")).to_have_text("$IDNT added to your wallet.")
    assert "wallet_switchEthereumChain" in page.evaluate("window.__testWallet.calls")
    assert page.evaluate("window.ethereum.request({method: 'eth_chainId'})") == hex(ANVIL_CHAIN_ID)
    (watched,) = page.evaluate("window.__watched")
    assert watched == {
        "type": "ERC20",
        "options": {
            "address": token,
            "symbol": "IDNT",
            "decimals": 18,
            "image": f"{live_server.url}/pools/{launched.pool.pk}/image",
        },
    }
    og_image = page.locator('meta[property="og:image"]').get_attribute("content")
    assert og_image == f"{live_server.url}/pools/{launched.pool.pk}/image"
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert_accessible(page, f"launched token identity at {viewport['width']} px")
    screenshot(page, "token-identity")
