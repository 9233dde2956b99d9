"""Depositing from a browser wallet: the amount box, the switch to the pool's chain, ETH and USDC sent by the wallet,
and the status line following the transaction to "Credited" without a reload, at desktop and phone widths."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from playwright.sync_api import expect

from chain.artifacts import load_artifact
from chain.client import chain_deployment
from chain.oracle import read_price_feed
from pools.models import Pool
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.browser.axe import assert_accessible
from tests.browser.conftest import DESKTOP, PHONE, inject_wallet, screenshot
from tests.indexer.support import ETHER, USDC, ChainDriver
from tests.launch.test_lifecycle import index_until_confirmed, scheduled_pool
from web.market import to_usd
from web.services import snapshots_take
from web.templatetags.launchpad import usd

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

MAINNET = 1
WALLET_ACCOUNT = 7  # an anvil development account (unlocked, 10,000 ETH): the wallet sends from it


# The wallet's user declines the first transaction they are asked to send (EIP-1193 error 4001).
DECLINE_ONCE = """
(() => {
  const request = window.ethereum.request.bind(window.ethereum);
  let declined = false;
  window.ethereum.request = async (args) => {
    if (args.method === "eth_sendTransaction" && !declined) {
      declined = true;
      throw Object.assign(new Error("User rejected the request."), { code: 4001 });
    }
    return request(args);
  };
})();
"""


def open_on_chain(chain: ChainDriver, pool: Pool) -> None:
    """A block at the pool's opening plus a minute: what the wallet sends next counts, not refunded as early."""
    chain.mine(timestamp=int(pool.opens_at.timestamp()) + 60)


def wallet_calls(page) -> list[str]:
    return page.evaluate("window.__testWallet.calls")


def deposit_and_follow(page, chain: ChainDriver, *, amount: str, credited: str) -> None:
    """Type `amount`, press the button, and follow the status line through mined, pending and credited."""
    page.evaluate("window.__sameDocument = true")
    page.get_by_label(re.compile("^Amount in")).fill(amount)
    page.get_by_role("button", name="Deposit with wallet").click()
    status = page.locator("#deposit-tx-status")
    expect(status).to_contain_text("waiting for the site to see it")  # mined; the indexer has not run yet
    index_chain(chain_id=ANVIL_CHAIN_ID)
    expect(status).to_contain_text(re.compile(r"In block \d+: 0 of 2 confirmations"))
    index_until_confirmed(chain)
    expect(status).to_have_text(f"Credited {credited}.")
    expect(page.get_by_role("button", name="Deposit with wallet")).to_be_enabled()
    assert page.evaluate("window.__sameDocument") is True, "the page reloaded"


@pytest.mark.parametrize("viewport", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_eth_sent_from_the_wallet_is_followed_to_credited_without_a_reload(chain, live_server, page, viewport):
    pool = scheduled_pool(chain, name="Wallet Pool", token_symbol="WAL", min_contribution=ETHER // 10)
    open_on_chain(chain, pool)
    snapshots_take()  # the feeds' readings: the estimate says the amount in USD
    feed = read_price_feed(address=chain_deployment().eth_usd_feed)
    account = chain.anvil.account(WALLET_ACCOUNT)
    inject_wallet(page, account=account, anvil=chain.anvil)
    page.set_viewport_size(viewport)
    page.goto(f"{live_server.url}/pools/{pool.pk}/")

    page.get_by_label("Amount in ETH").fill("1.5")
    expect(page.locator("[data-payment-uri]")).to_have_text(
        f"ethereum:{pool.deposit_address}@{ANVIL_CHAIN_ID}?value=1500000000000000000"
    )
    worth = usd(to_usd(asset_amount=3 * ETHER // 2, asset_decimals=18, answer=feed.answer, feed_decimals=feed.decimals))
    expect(page.locator("[data-estimate]")).to_contain_text(f"100% of the raise, about 400,000,000 WAL, worth {worth}.")
    expect(page.get_by_role("img", name=re.compile("for 1.5 ETH$"))).to_be_visible()  # the QR code asks for it too
    before = chain.w3.eth.get_balance(pool.deposit_address)
    deposit_and_follow(page, chain, amount="1.5", credited="1.5 ETH")

    assert chain.w3.eth.get_balance(pool.deposit_address) - before == 3 * ETHER // 2
    assert Pool.objects.get(pk=pool.pk).raised == 3 * ETHER // 2
    assert page.evaluate("document.documentElement.scrollWidth") <= viewport["width"]
    assert_accessible(page, f"the pool page after a wallet deposit at {viewport['width']} px")
    if viewport is DESKTOP:  # screenshot() takes both widths
        screenshot(page, "deposit-wallet-eth-credited")


def test_usdc_is_sent_with_the_tokens_transfer_and_credited(chain, live_server, page):
    usdc = chain.w3.eth.contract(address=chain_deployment().usdc, abi=load_artifact("TestUSDC").abi)
    pool = scheduled_pool(
        chain,
        name="Dollar Pool",
        token_symbol="DOL",
        raise_asset=usdc.address,
        raise_asset_symbol="USDC",
        raise_asset_decimals=6,
        soft_cap=500 * USDC,
        hard_cap=1_000 * USDC,
        max_contribution=400 * USDC,
    )
    account = chain.anvil.account(WALLET_ACCOUNT)
    open_on_chain(chain, pool)
    inject_wallet(page, account=account, anvil=chain.anvil)
    page.goto(f"{live_server.url}/pools/{pool.pk}/")

    page.get_by_label("Amount in USDC").fill("10")  # the wallet holds no USDC yet: the transfer reverts on chain
    page.get_by_role("button", name="Deposit with wallet").click()
    expect(page.locator("#deposit-tx-status")).to_have_text(
        re.compile(r"^The transaction 0x\w{4}…\w{4} reverted: nothing was deposited\.$")
    )
    usdc.functions.mint(account.address, 300 * USDC).transact({"from": chain.anvil.account(0).address})

    page.get_by_label("Amount in USDC").fill("250.5")
    expect(page.locator("[data-payment-uri]")).to_have_text(
        f"ethereum:{usdc.address}@{ANVIL_CHAIN_ID}/transfer?address={pool.deposit_address}&uint256=250500000"
    )
    deposit_and_follow(page, chain, amount="250.5", credited="250.5 USDC")

    assert usdc.functions.balanceOf(pool.deposit_address).call() == 250_500_000
    assert usdc.functions.balanceOf(account.address).call() == 49_500_000
    screenshot(page, "deposit-wallet-usdc-credited")


@pytest.mark.parametrize("wallet_knows_the_chain", [True, False], ids=["switch", "add-then-switch"])
def test_a_wallet_on_another_network_is_switched_before_it_sends(chain, live_server, page, wallet_knows_the_chain):
    pool = scheduled_pool(chain, name="Network Pool", token_symbol="NET")
    open_on_chain(chain, pool)
    known = (ANVIL_CHAIN_ID,) if wallet_knows_the_chain else ()
    inject_wallet(
        page, account=chain.anvil.account(WALLET_ACCOUNT), anvil=chain.anvil, chain_id=MAINNET, known_chain_ids=known
    )
    page.goto(f"{live_server.url}/pools/{pool.pk}/")

    deposit_and_follow(page, chain, amount="2", credited="2 ETH")

    calls = wallet_calls(page)
    assert calls.index("wallet_switchEthereumChain") < calls.index("eth_sendTransaction")
    added = page.evaluate("window.__testWallet.added")
    if wallet_knows_the_chain:
        assert added == []
    else:
        assert [(a["chainId"], a["rpcUrls"], a["nativeCurrency"]["symbol"]) for a in added] == [
            (hex(ANVIL_CHAIN_ID), [settings.CHAIN_RPC_URL], "ETH")
        ]
    assert page.evaluate("window.ethereum.request({method: 'eth_chainId'})") == hex(ANVIL_CHAIN_ID)


def test_a_deposit_declined_in_the_wallet_says_so_and_can_be_tried_again(chain, live_server, page):
    pool = scheduled_pool(chain, name="Declined Pool", token_symbol="DEC")
    inject_wallet(page, account=chain.anvil.account(WALLET_ACCOUNT), anvil=chain.anvil)
    page.add_init_script(DECLINE_ONCE)
    page.goto(f"{live_server.url}/pools/{pool.pk}/")
    button = page.get_by_role("button", name="Deposit with wallet")

    page.get_by_label("Amount in ETH").fill("1")
    button.click()

    expect(page.locator("#deposit-tx-status")).to_have_text("You declined in your wallet: nothing was sent.")
    expect(button).to_be_enabled()
    button.click()
    expect(page.locator("#deposit-tx-status")).to_contain_text("waiting for the site to see it")


def test_amounts_below_the_minimum_or_above_what_is_left_are_refused_in_the_box(chain, live_server, page):
    pool = scheduled_pool(
        chain, name="Tight Pool", token_symbol="TGT", soft_cap=ETHER, hard_cap=3 * ETHER, min_contribution=ETHER // 10
    )
    inject_wallet(page, account=chain.anvil.account(WALLET_ACCOUNT), anvil=chain.anvil)
    page.set_viewport_size(PHONE)
    page.goto(f"{live_server.url}/pools/{pool.pk}/")
    amount = page.get_by_label("Amount in ETH")
    error = page.locator("#deposit-amount-error")

    amount.fill("0.05")
    expect(error).to_have_text(
        "Below the minimum: each address sends at least 0.1 ETH in total, so at least 0.1 ETH now; a smaller total "
        "is refunded in full."
    )
    expect(amount).to_have_attribute("aria-invalid", "true")
    assert_accessible(page, "the deposit panel refusing an amount")
    page.get_by_role("button", name="Deposit with wallet").click()  # refused: the box already says why
    screenshot(page, "deposit-below-minimum")
    page.set_viewport_size(PHONE)  # screenshot() ends at desktop width

    amount.fill("3.5")
    expect(error).to_have_text(
        "Above what is left under the hard cap: at most 3 ETH more can be raised; the rest would be refunded."
    )
    amount.fill("0.0000000000000000001")
    expect(error).to_contain_text("Too many decimals")
    page.get_by_role("button", name="Deposit with wallet").click()
    assert "eth_sendTransaction" not in wallet_calls(page)  # nothing refused was ever sent

    amount.fill("3")
    expect(error).to_have_text("")
    expect(page.locator("[data-estimate]")).to_be_visible()
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "deposit-amount-accepted")


def test_without_javascript_the_amount_form_puts_the_amount_in_the_payment_request(chain, live_server, browser):
    pool = scheduled_pool(chain, name="Form Pool", token_symbol="FRM")
    context = browser.new_context(java_script_enabled=False, viewport=DESKTOP)
    page = context.new_page()
    try:
        page.goto(f"{live_server.url}/pools/{pool.pk}/")
        expect(page.get_by_role("button", name="Deposit with wallet")).to_be_hidden()
        page.get_by_label("Amount in ETH").fill("0.25")
        page.get_by_role("button", name="Show payment code").click()

        expect(page).to_have_url(re.compile(r"\?amount=0\.25"))
        expect(page.locator("[data-payment-uri]")).to_have_text(
            f"ethereum:{pool.deposit_address}@{ANVIL_CHAIN_ID}?value=250000000000000000"
        )
        expect(page.get_by_role("img", name=re.compile("for 0.25 ETH$"))).to_be_visible()
        page.get_by_label("Amount in ETH").fill("9")
        page.get_by_role("button", name="Show payment code").click()
        expect(page.locator("#deposit-amount-error")).to_contain_text("Above the maximum per address")
        screenshot(page, "deposit-form-without-javascript")
    finally:
        context.close()
