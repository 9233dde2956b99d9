"""Browser tests: Playwright for Python driving Debian's Chromium (never a downloaded browser) against live_server.

An injected EIP-1193 provider stands in for a wallet: `personal_sign` is answered in Python with an anvil account's
key (eth-account), everything else is forwarded to the test's anvil. Screenshots go to artifacts/screenshots/.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

import pytest

from chain.rpc import JsonRpc
from tests.anvil import PROJECT_ROOT
from tests.indexer.support import ChainDriver

CHROMIUM = Path(os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
SCREENSHOTS = PROJECT_ROOT / "artifacts" / "screenshots"
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 390, "height": 844}

playwright_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed (requirements.txt)")
if not CHROMIUM.exists() and not shutil.which("chromium"):
    pytest.skip(
        f"no Chromium at {CHROMIUM}: `apt-get install chromium` (make test does when it can)", allow_module_level=True
    )

# htmx polls every 3 s and a launch takes a few seconds: wait for what the page should show up to 15 s.
playwright_api.expect.set_options(timeout=15_000)

# Playwright's sync API runs an event loop in this thread; the ORM calls the tests make are still synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

pytestmark = [pytest.mark.integration, pytest.mark.chain]


@pytest.fixture(scope="session")
def browser():
    with playwright_api.sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(viewport=DESKTOP)
    context.set_default_timeout(15_000)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    yield page
    context.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture
def chain(signer_stack, anvil, chain_snapshot) -> ChainDriver:
    return ChainDriver(anvil=anvil, rpc=JsonRpc(url=anvil.rpc_url, timeout=30))


def screenshot(page, name: str) -> None:
    """Full-page screenshots at desktop (1366×900) and phone (390×844) widths, then back to desktop."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9-]+", "-", name.lower())
    for label, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.wait_for_timeout(150)  # let the layout settle after the resize
        page.screenshot(path=str(SCREENSHOTS / f"{slug}-{label}.png"), full_page=True)
    page.set_viewport_size(DESKTOP)


WALLET_SCRIPT = """
(() => {
  const account = "%(address)s";
  const rpcChainId = "0x%(rpc_chain_id)x";  // the chain the test's anvil serves: sending elsewhere is refused
  const known = new Set(%(known)s);
  const listeners = {};
  let chainId = "0x%(chain_id)x";
  const fail = (code, message) => Object.assign(new Error(message), { code });
  window.__testWallet = { calls: [], added: [] };
  window.ethereum = {
    isTestWallet: true,
    on(event, handler) { (listeners[event] = listeners[event] || []).push(handler); },
    removeListener(event, handler) { listeners[event] = (listeners[event] || []).filter((h) => h !== handler); },
    async request({ method, params }) {
      window.__testWallet.calls.push(method);
      switch (method) {
        case "eth_requestAccounts":
        case "eth_accounts":
          return [account];
        case "eth_chainId":
          return chainId;
        case "wallet_switchEthereumChain": {
          const wanted = params[0].chainId.toLowerCase();
          if (!known.has(wanted)) throw fail(4902, `Unrecognized chain ID "${wanted}".`);
          if (wanted !== chainId) {
            chainId = wanted;
            (listeners.chainChanged || []).forEach((handler) => handler(chainId));
          }
          return null;
        }
        case "wallet_addEthereumChain": {
          const wanted = params[0].chainId.toLowerCase();
          window.__testWallet.added.push(params[0]);
          known.add(wanted);
          return await window.ethereum.request({ method: "wallet_switchEthereumChain", params: [{ chainId: wanted }] });
        }
        case "personal_sign":
          return await window.__testWalletSign(params[0], params[1]);
        case "eth_sendTransaction":
          if (chainId !== rpcChainId) throw fail(-32000, `the wallet is on chain ${chainId}, not the test chain`);
          return await window.__testWalletRpc(method, params || []);
        default:
          return await window.__testWalletRpc(method, params || []);
      }
    },
  };
})();
"""


def inject_wallet(page, *, account, anvil, chain_id: int = 31337, known_chain_ids: tuple[int, ...] = ()) -> list[str]:
    """A window.ethereum for `account` (an eth-account LocalAccount); returns the messages it was asked to sign.

    The wallet starts on `chain_id` and can switch to it and to `known_chain_ids`; `wallet_switchEthereumChain` to
    any other chain fails with 4902 until `wallet_addEthereumChain` adds it (recorded in window.__testWallet.added,
    every method called in window.__testWallet.calls). It sends transactions only while on the anvil's own chain.
    """
    from eth_account.messages import encode_defunct

    signed: list[str] = []

    def sign(data_hex: str, address: str) -> str:
        assert address.lower() == account.address.lower(), f"asked to sign for {address}"
        message = bytes.fromhex(data_hex.removeprefix("0x"))
        signed.append(message.decode())
        return "0x" + account.sign_message(encode_defunct(primitive=message)).signature.hex()

    def rpc(method: str, params: list):
        # anvil's development accounts are unlocked: eth_sendTransaction from them needs no signature here.
        return anvil.rpc(method, params)

    page.expose_function("__testWalletSign", sign)
    page.expose_function("__testWalletRpc", rpc)
    known = sorted({hex(c) for c in (chain_id, *known_chain_ids)})
    page.add_init_script(
        WALLET_SCRIPT
        % {
            "address": account.address,
            "chain_id": chain_id,
            "rpc_chain_id": anvil.w3.eth.chain_id,
            "known": json.dumps(known),
        }
    )
    return signed
