"""The deposit panel's rules without a browser: payment requests (EIP-681), the amount box's limits and messages,
the expected share, and the status of one deposit transaction as deposit.js polls it."""

import re

import pytest
from django.template.loader import render_to_string
from django.urls import reverse

from pools.models import Deposit, IndexerCursor, Pool
from tests.factories import PoolFactory
from tests.web.support import ETHER, address, make_deposit, make_feed, tx_hash
from web import payments
from web.selectors import PoolContribution

pytestmark = pytest.mark.django_db

DEPOSIT_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
USDC_ADDRESS = "0x5FbDB2315678afecb367f032d93F642f64180aa3"
USDC = 10**6


@pytest.fixture
def eth_pool():
    return PoolFactory(
        deposit_address=DEPOSIT_ADDRESS,
        min_contribution=ETHER // 10,
        max_contribution=5 * ETHER,
        hard_cap=100 * ETHER,
        raised=30 * ETHER,
        confirmations=2,
    )


@pytest.fixture
def usdc_pool():
    return PoolFactory(
        deposit_address=DEPOSIT_ADDRESS,
        raise_asset=USDC_ADDRESS,
        raise_asset_symbol="USDC",
        raise_asset_decimals=6,
        soft_cap=500 * USDC,
        hard_cap=1_000 * USDC,
    )


def squeeze(html: str) -> str:
    return re.sub(r"\s+", " ", html)


# --- payment requests -------------------------------------------------------------------------------------------


def test_an_eth_payment_request_names_the_chain_and_the_amount_in_wei(eth_pool):
    assert payments.payment_uri(pool=eth_pool) == f"ethereum:{DEPOSIT_ADDRESS}@31337"
    assert payments.payment_uri(pool=eth_pool, amount=ETHER // 2) == (
        f"ethereum:{DEPOSIT_ADDRESS}@31337?value=500000000000000000"
    )


def test_an_erc20_payment_request_calls_transfer_on_the_token(usdc_pool):
    assert payments.payment_uri(pool=usdc_pool) == (f"ethereum:{USDC_ADDRESS}@31337/transfer?address={DEPOSIT_ADDRESS}")
    assert payments.payment_uri(pool=usdc_pool, amount=250 * USDC) == (
        f"ethereum:{USDC_ADDRESS}@31337/transfer?address={DEPOSIT_ADDRESS}&uint256=250000000"
    )


def test_the_qr_code_carries_the_amount_typed_in_the_get_form(eth_pool):
    context = payments.deposit_panel_context(pool=eth_pool, amount_text="1.5")
    html = squeeze(render_to_string("web/_deposit_panel.html", {"pool": eth_pool, **context}))

    assert f"ethereum:{DEPOSIT_ADDRESS}@31337?value=1500000000000000000" in html
    assert f"QR code of {DEPOSIT_ADDRESS}, a payment request on chain 31337 for 1.5 ETH" in html
    assert 'value="1.5"' in html and 'hx-preserve="true"' in html
    assert context["qr_svg"] != payments.payment_qr_svg(pool=eth_pool)  # not the bare request


# --- the amount box ----------------------------------------------------------------------------------------------


def test_an_amount_below_the_minimum_is_refused_with_the_minimum(eth_pool):
    limits = payments.deposit_limits(pool=eth_pool)

    amount, message = payments.check_amount(text="0.05", pool=eth_pool, limits=limits)

    assert amount == ETHER // 20
    assert message == (
        "Below the minimum: each address sends at least 0.1 ETH in total, so at least 0.1 ETH now; a smaller total "
        "is refunded in full."
    )


def test_the_maximum_counts_what_this_address_already_sent(eth_pool):
    sender = address("me")
    make_deposit(eth_pool, sender=sender, amount=3 * ETHER)
    make_deposit(eth_pool, sender=sender, amount=ETHER, status="pending")
    me = PoolContribution(pool=eth_pool, deposits=list(Deposit.objects.filter(pool=eth_pool)))
    limits = payments.deposit_limits(pool=eth_pool, me=me)

    assert (limits.least, limits.most) == (0, ETHER)
    assert payments.check_amount(text="1", pool=eth_pool, limits=limits) == (ETHER, "")
    assert payments.check_amount(text="1.01", pool=eth_pool, limits=limits)[1] == (
        "Above the maximum per address: this address may send at most 1 ETH more; the rest would be refunded."
    )


def test_an_amount_above_what_is_left_under_the_hard_cap_is_refused(eth_pool):
    eth_pool.raised = eth_pool.hard_cap - 2 * ETHER
    limits = payments.deposit_limits(pool=eth_pool)

    amount, message = payments.check_amount(text="3", pool=eth_pool, limits=limits)

    assert (limits.most, limits.capped_by_address) == (2 * ETHER, False)
    assert message == (
        "Above what is left under the hard cap: at most 2 ETH more can be raised; the rest would be refunded."
    )


def test_typing_mistakes_are_named(usdc_pool):
    limits = payments.deposit_limits(pool=usdc_pool)

    assert payments.check_amount(text="1.0000001", pool=usdc_pool, limits=limits) == (
        None,
        "Too many decimals: USDC has 6, so type at most 6 after the point.",
    )
    assert payments.check_amount(text="1.000001000", pool=usdc_pool, limits=limits) == (1_000_001, "")
    assert payments.check_amount(text="1,000 USDC", pool=usdc_pool, limits=limits) == (1_000 * USDC, "")
    assert payments.check_amount(text="ten", pool=usdc_pool, limits=limits)[1].startswith("Not an amount")
    assert payments.check_amount(text="0.000", pool=usdc_pool, limits=limits) == (None, "Type an amount above 0.")


def test_a_refused_amount_leaves_the_payment_request_without_an_amount(eth_pool):
    context = payments.deposit_panel_context(pool=eth_pool, amount_text="9")
    html = squeeze(render_to_string("web/_deposit_panel.html", {"pool": eth_pool, **context}))

    assert context["amount"] is None and context["payment_uri"] == f"ethereum:{DEPOSIT_ADDRESS}@31337"
    assert "Above the maximum per address: this address may send at most 5 ETH more" in html
    assert 'aria-invalid="true"' in html


def test_the_estimate_is_the_depositor_supply_in_proportion_at_the_current_raise(eth_pool):
    estimate = payments.estimate(pool=eth_pool, amount=10 * ETHER, feed=make_feed(answer=3_000 * 10**8))

    # 40% of 1e9 tokens × 10 / (30 + 10), and 10 ETH at $3,000
    assert estimate == payments.Estimate(share_bps=2_500, tokens=100_000_000 * ETHER, usd=30_000 * 10**18)
    assert estimate.tokens_text == "100,000,000"


def test_the_estimate_in_the_get_form_says_the_amount_in_usd_when_a_feed_exists(eth_pool):
    context = payments.deposit_panel_context(pool=eth_pool, amount_text="2", feed=make_feed())
    html = squeeze(render_to_string("web/_deposit_panel.html", {"pool": eth_pool, **context}))

    assert "<span data-estimate-share>6.25%</span> of the raise, about <span data-estimate-tokens>25,000,000<" in html
    assert "<span data-estimate-usd>$6,000.00</span>" in html  # 2 ETH at $3,000


# --- the panel in each state ------------------------------------------------------------------------------------


def test_a_scheduled_pool_shows_the_request_but_says_early_deposits_are_refunded(eth_pool):
    eth_pool.status = Pool.Status.SCHEDULED
    context = payments.deposit_panel_context(pool=eth_pool)
    html = squeeze(render_to_string("web/_deposit_panel.html", {"pool": eth_pool, **context}))

    assert "Not open yet." in html and "anything sent before then is refunded" in html
    assert re.search(r"<button type=\"button\" data-wallet-deposit hidden disabled>", html)
    assert '<svg role="img" class="qr"' in html


def test_a_closed_pool_invites_no_deposit(eth_pool):
    eth_pool.status = Pool.Status.CLOSED
    context = payments.deposit_panel_context(pool=eth_pool)
    html = squeeze(render_to_string("web/_deposit_panel.html", {"pool": eth_pool, **context}))

    assert "This pool no longer takes deposits" in html
    assert "<svg" not in html and "Copy address" not in html and "Deposit with wallet" not in html


def test_the_wallet_is_told_the_local_chain_with_its_rpc_and_explorer(settings):
    settings.CHAIN_EXPLORER_URL = "http://127.0.0.1:5100/"

    chain = payments.wallet_chain(chain_id=31337)

    assert chain == {
        "chainId": "0x7a69",
        "chainName": "Local development chain (anvil)",
        "nativeCurrency": {"name": "Ether", "symbol": "ETH", "decimals": 18},
        "rpcUrls": [settings.CHAIN_RPC_URL],
        "blockExplorerUrls": ["http://127.0.0.1:5100"],
    }
    settings.CHAIN_EXPLORER_URL = ""
    assert "blockExplorerUrls" not in payments.wallet_chain(chain_id=31337)
    assert payments.wallet_chain(chain_id=8453)["rpcUrls"] == []  # the server's RPC URL may hold a key


def test_on_a_real_network_the_wallet_is_given_only_the_public_rpc_url(settings):
    settings.CHAIN_ID, settings.CHAIN_RPC_URL = 8453, "http://127.0.0.1:8545/with-a-provider-key"
    settings.CHAIN_PUBLIC_RPC_URL = "http://127.0.0.1:8546/public"

    assert payments.wallet_chain(chain_id=8453)["rpcUrls"] == ["http://127.0.0.1:8546/public"]


# --- one transaction's deposits, followed -------------------------------------------------------------------------


def status_of(client, pool, hash_):
    return client.get(reverse("pool-deposit-status", args=[pool.pk, hash_]))


def test_a_transaction_not_indexed_yet_is_unseen(client, eth_pool):
    response = status_of(client, eth_pool, tx_hash("nobody"))

    assert response.status_code == 200
    assert response.json() == {
        "status": "unseen",
        "block_number": None,
        "confirmations": 0,
        "confirmations_needed": 2,
        "credited": "0",
        "refund": "0",
        "refund_reason": "",
        "message": "Not seen yet: waiting for it to be mined and picked up.",
    }
    assert response["Cache-Control"].startswith("max-age=0")


def test_a_pending_deposit_counts_its_confirmations_from_the_indexed_head(client, eth_pool):
    sent = tx_hash("pending")
    make_deposit(eth_pool, sender=address("a"), amount=ETHER, status="pending", tx_hash=sent, block_number=500)
    IndexerCursor.objects.create(chain_id=31337, last_block=501, head=501)

    answer = status_of(client, eth_pool, sent.upper().replace("0X", "0x")).json()

    assert (answer["status"], answer["block_number"], answer["confirmations"]) == ("pending", 500, 1)
    assert answer["message"] == "In block 500: 1 of 2 confirmations."


def test_a_confirmed_deposit_says_what_was_credited(client, eth_pool):
    sent = tx_hash("credited")
    make_deposit(eth_pool, sender=address("a"), amount=ETHER // 2, tx_hash=sent)

    answer = status_of(client, eth_pool, sent).json()

    assert (answer["status"], answer["credited"], answer["refund"]) == ("confirmed", str(ETHER // 2), "0")
    assert answer["message"] == "Credited 0.5 ETH."


def test_the_deposits_of_one_transaction_are_summed_and_a_refund_is_said(client, eth_pool):
    sent = tx_hash("split")
    first = make_deposit(eth_pool, sender=address("a"), amount=4 * ETHER, tx_hash=sent)
    second = make_deposit(
        eth_pool, sender=address("a"), amount=2 * ETHER, credited=ETHER, refund_reason="above_maximum"
    )
    Deposit.objects.filter(pk=second.pk).update(tx_hash=sent, position="log:1", block_number=first.block_number)

    answer = status_of(client, eth_pool, sent).json()

    assert (answer["credited"], answer["refund"], answer["refund_reason"]) == (
        str(5 * ETHER),
        str(ETHER),
        "above_maximum",
    )
    assert answer["message"] == ("Credited 5 ETH; 1 ETH will be refunded to the sender (above the per-wallet maximum).")


def test_a_deposit_refunded_in_full_is_not_called_credited(client, eth_pool):
    sent = tx_hash("early")
    make_deposit(eth_pool, sender=address("a"), amount=ETHER, credited=0, refund_reason="not_open", tx_hash=sent)

    answer = status_of(client, eth_pool, sent).json()

    assert answer["message"] == "Not credited: 1 ETH will be refunded to the sender (sent before the pool opened)."


def test_a_malformed_hash_is_refused(client, eth_pool):
    response = status_of(client, eth_pool, "0x1234")

    assert response.status_code == 400
    assert response.json() == {
        "code": "bad_tx_hash",
        "error": "Not a transaction hash: 0x followed by 64 hexadecimal characters.",
    }
