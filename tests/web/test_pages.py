"""The public pages through Django's test client: what they say, exact amounts, and a constant number of queries."""

import re

import pytest
from django.urls import reverse
from django.utils import timezone

from pools.models import ChainTransaction, Deposit, Pool, Refund, WhitelistEntry
from tests.factories import PoolFactory
from tests.web.support import (
    ETHER,
    address,
    make_allocation,
    make_deposit,
    make_feed,
    make_launch,
    make_refund,
    make_snapshot,
)
from web.presentation import refunds_waiting_notice

pytestmark = pytest.mark.django_db

DEPOSIT_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


@pytest.fixture
def open_pool():
    return PoolFactory(
        name="Alpha Mind",
        token_symbol="ALPHA",
        deposit_address=DEPOSIT_ADDRESS,
        min_contribution=ETHER // 10,
        max_contribution=5 * ETHER,
        raised=3 * ETHER + 1,
    )


def text(response) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def words(response) -> str:
    """What a reader sees: the page's text without its tags (amounts are wrapped in spans with their exact value)."""
    html = re.sub(r"</?(?:dt|dd|td|th|tr|li|p|div|h\d|section)\b[^>]*>", " ", response.content.decode())
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def test_pool_page_shows_the_deposit_address_with_a_qr_code_and_the_rules(client, open_pool):
    response = client.get(reverse("pool-detail", args=[open_pool.pk]))

    body = text(response)
    assert response.status_code == 200
    assert f'<code id="deposit-address" class="hex address">{DEPOSIT_ADDRESS}</code>' in body
    assert '<svg role="img" class="qr"' in body and f"QR code of {DEPOSIT_ADDRESS}" in body
    assert "3 ETH raised of 100 ETH" in words(response)  # rounded for reading...
    assert 'title="3.000000000000000001 ETH" data-exact="3.000000000000000001"' in body  # ...exact beside it
    assert "What goes above the maximum is refunded to the sender" in body
    assert "(the soft cap) has been raised when the pool closes, every depositor is refunded in full" in body
    assert f'hx-get="/pools/{open_pool.pk}/live/"' in body


def test_a_draft_pool_has_no_public_page(client):
    draft = PoolFactory(status=Pool.Status.DRAFT)

    assert client.get(reverse("pool-detail", args=[draft.pk])).status_code == 404


def test_the_live_part_lists_pending_then_credited_deposits_and_what_is_owed_back(client, open_pool):
    sender = address("alice")
    make_deposit(open_pool, sender=sender, amount=2 * ETHER, status="pending")
    make_deposit(open_pool, sender=sender, amount=7 * ETHER, credited=5 * ETHER, refund_reason="above_maximum")

    response = client.get(reverse("pool-live", args=[open_pool.pk]))

    body, read = text(response), words(response)
    assert body.count('data-status="pending"') == 1
    assert "waiting for 2 confirmations" in read
    assert "Credited 5 ETH" in read
    assert "Refund 2 ETH: above the per-wallet maximum" in read
    assert "2 ETH waiting for confirmations" in read
    assert "2 ETH owed back" in read  # decided at crediting, not in a refund row yet: still owed
    assert "<html" not in body  # a fragment, for htmx to swap in


def test_explorer_links_appear_when_an_explorer_is_configured(client, open_pool, settings):
    make_deposit(open_pool, sender=address("bob"), amount=ETHER, tx_hash="0x" + "cd" * 32)
    page = reverse("pool-detail", args=[open_pool.pk])

    without = text(client.get(page))
    settings.CHAIN_EXPLORER_URL = "https://explorer.example/"
    with_explorer = text(client.get(page))

    assert "https://explorer.example" not in without
    assert f'href="https://explorer.example/address/{DEPOSIT_ADDRESS}"' in with_explorer
    assert 'href="https://explorer.example/tx/0x' + "cd" * 32 + '"' in with_explorer


def test_a_launched_pool_shows_its_token_pair_lp_and_claim_vault(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS, raised=100 * ETHER)
    launch = make_launch(pool)
    make_refund(pool, recipient=address("carol"), amount=ETHER, status=Refund.Status.PAID)

    response = client.get(reverse("pool-detail", args=[pool.pk]))

    body, read = text(response), words(response)
    assert launch.token_address in body and launch.pair_address in body and launch.claim_vault_address in body
    assert "Burned (sent to" in body
    assert "80 ETH and 400,000,000 " + pool.token_symbol in read
    assert "1 ETH paid back, 0 ETH still owed" in read
    assert f'href="/pools/{pool.pk}/claim/" data-claim-link' in body


def test_a_whitelist_pool_says_who_may_deposit(client):
    pool = PoolFactory(access=Pool.Access.WHITELIST, deposit_address=DEPOSIT_ADDRESS)
    WhitelistEntry.objects.create(pool=pool, address=address("w1"))

    body = text(client.get(reverse("pool-detail", args=[pool.pk])))

    assert "Only whitelisted addresses may take part" in body
    assert "1</span> whitelisted address<" in body


def test_pool_list_filters_by_status_group(client):
    PoolFactory(name="Upcoming One", status=Pool.Status.SCHEDULED)
    PoolFactory(name="Done One", status=Pool.Status.LAUNCHED)

    upcoming = text(client.get(reverse("pool-list"), {"status": "upcoming"}))
    launched = text(client.get(reverse("pool-list"), {"status": "launched"}))

    assert "Upcoming One" in upcoming and "Done One" not in upcoming
    assert "Done One" in launched and "Upcoming One" not in launched


def test_my_contribution_by_typed_address_shows_credited_refunds_and_allocation(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS)
    make_launch(pool)
    holder = address("dora")
    deposit = make_deposit(pool, sender=holder, amount=7 * ETHER, credited=5 * ETHER, refund_reason="above_maximum")
    make_refund(pool, recipient=holder, amount=2 * ETHER, status=Refund.Status.PAID).deposits.set([deposit])
    make_allocation(pool, holder=holder, contribution=5 * ETHER, tokens=12_345 * ETHER + 1)

    response = client.get(reverse("account"), {"address": holder.lower()})

    body, read = text(response), words(response)
    assert "Credited 5 ETH" in read and "Refunds paid 2 ETH" in read and "Owed back 0 ETH" in read
    assert f"Allocation 12,345 {pool.token_symbol}" in read
    assert f'title="12,345.000000000000000001 {pool.token_symbol}"' in body
    assert f"/pools/{pool.pk}/claim/?address={holder}" in body


def test_my_contribution_refuses_what_is_not_an_address(client):
    body = text(client.get(reverse("account"), {"address": "0x123"}))

    assert 'role="alert">That is not an Ethereum address' in body


def test_claim_page_says_when_the_chain_cannot_be_read(client, settings):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS)
    make_launch(pool)
    holder = address("eve")
    make_allocation(pool, holder=holder, contribution=ETHER, tokens=10 * ETHER)

    response = client.get(reverse("pool-claim", args=[pool.pk]), {"address": holder})

    body = text(response)
    assert response.status_code == 200
    assert f"10 {pool.token_symbol}" in body
    assert "The chain did not answer" in body
    assert '<pre class="calldata">0x' in body  # how to claim from any wallet, without the button


def test_dashboard_shows_market_figures_from_snapshots_and_warns_about_a_stale_oracle(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, token_symbol="MKT", oracle_max_age_seconds=3_600)
    make_launch(pool)
    make_snapshot(pool, block=10, timestamp=10_000, reserve_token=400_000_000 * ETHER, reserve_asset=80 * ETHER)
    make_snapshot(
        pool, block=20, timestamp=10_600, reserve_token=400_000_000 * ETHER, reserve_asset=88 * ETHER,
        oracle_updated_at=10_600 - 3_601,
    )  # fmt: skip
    open_pool = PoolFactory(status=Pool.Status.OPEN, raised=2 * ETHER + 5)
    make_feed(asset="", answer=3_000 * 10**8)

    body = text(client.get(reverse("dashboard")))

    assert "<dd data-price-usd>$0.00066</dd>" in body  # 88 ETH / 400M tokens × $3,000
    assert "<dd data-liquidity>$528,000.00</dd>" in body
    assert "<dd data-market-cap>$396,000.00</dd>" in body  # 600M circulating
    assert "<dd data-fdv>$660,000.00</dd>" in body
    assert "data-deviation>+10.00%" in body
    assert "oracle is stale" in body
    assert f'<tr data-pool="{open_pool.pk}">' in body
    assert "data-raised-usd>$6,000.00<" in body  # 2 ETH + 5 wei at $3,000, truncated to the cent


@pytest.mark.parametrize("count", [3, 30])
def test_every_page_makes_a_constant_number_of_queries(client, django_assert_max_num_queries, count, monkeypatch):
    holder = address("many")
    for i in range(count):
        pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS)
        make_launch(pool)
        make_deposit(pool, sender=holder, amount=ETHER)
        make_refund(pool, recipient=holder, amount=1)
        make_allocation(pool, holder=holder, contribution=ETHER, tokens=ETHER)
        make_snapshot(pool, block=10, timestamp=1_000, reserve_token=10 * ETHER, reserve_asset=ETHER)
        make_snapshot(pool, block=11, timestamp=1_060, reserve_token=10 * ETHER, reserve_asset=ETHER + i)
    busy = PoolFactory(status=Pool.Status.OPEN, deposit_address=DEPOSIT_ADDRESS)
    for i in range(count):
        make_deposit(busy, sender=address(i), amount=ETHER)
        make_refund(busy, recipient=address(i), amount=1)
        PoolFactory(status=Pool.Status.OPEN)
    make_feed()
    monkeypatch.setattr("web.views.claim_status", lambda **_: None)

    # An ETH pool's page and fragment also ask whether its internal transfers are watched (pools.selectors.trace_gaps).
    budgets = {
        reverse("pool-list"): 3,
        reverse("pool-list") + "?status=open&q=Pool": 3,
        reverse("pool-detail", args=[busy.pk]): 9,
        reverse("pool-live", args=[busy.pk]): 8,
        reverse("account") + f"?address={holder}": 5,
        reverse("pool-claim", args=[pool.pk]) + f"?address={holder}": 5,
        reverse("dashboard"): 8,
    }
    for url, budget in budgets.items():
        with django_assert_max_num_queries(budget):
            assert client.get(url).status_code == 200, url


def test_a_pool_whose_refunds_wait_says_why_in_plain_words_and_that_they_resume_by_themselves(client):
    pool = PoolFactory(
        status=Pool.Status.REFUNDING, deposit_address=DEPOSIT_ADDRESS, waiting_code="fees_above_cap",
        waiting_reason="one refund at 900000000000 wei per gas would cost more than the cap",
        waiting_since=timezone.now(),
    )  # fmt: skip
    make_refund(pool, recipient=address("frank"), amount=ETHER)

    body = text(client.get(reverse("pool-detail", args=[pool.pk])))

    assert "Refunds are waiting since " in body
    assert "network fees are above what the signer allows one refund transaction to spend." in body
    assert "They resume by themselves; nothing is lost, and you need not do anything." in body
    assert "wei per gas" not in body  # the operators' wording stays in the admin and the API


@pytest.mark.parametrize(
    ("code", "owed", "words"),
    [
        ("signer_fee_budget", ETHER, "the signer declined the next refund batch for now"),
        ("gas_account_empty", ETHER, "the account that pays the refunds' gas has to be topped up"),
        ("something_new", ETHER, "they cannot be sent right now"),
        ("fees_above_cap", 0, None),  # nothing left to pay: nothing waits
        ("", ETHER, None),
    ],
)
def test_the_waiting_notice_in_words_for_each_reason(code, owed, words):
    pool = Pool(waiting_code=code, waiting_since=timezone.now())

    notice = refunds_waiting_notice(pool=pool, unsettled=owed)

    assert (words in notice) if words else notice == ""


def test_set_aside_refunds_show_their_note_and_are_not_counted_as_still_owed(client):
    pool = PoolFactory(status=Pool.Status.REFUNDING, deposit_address=DEPOSIT_ADDRESS)
    make_refund(pool, recipient=address("p"), amount=ETHER, status=Refund.Status.PAID)
    make_refund(pool, recipient=address("o"), amount=2 * ETHER)
    make_refund(pool, recipient=address("s"), amount=4 * ETHER, status=Refund.Status.SENDING)
    aside = make_refund(pool, recipient=address("a"), amount=8 * ETHER, status=Refund.Status.SET_ASIDE)
    Refund.objects.filter(pk=aside.pk).update(set_aside_note="The recipient contract reverts; paid by hand.")

    pool_page = words(client.get(reverse("pool-detail", args=[pool.pk])))
    account_page = words(client.get(reverse("account"), {"address": address("a")}))

    assert "1 ETH paid back, 6 ETH still owed, 8 ETH set aside for manual handling." in pool_page
    assert "6 ETH owed back" in pool_page  # the stats and the refunds say the same
    assert "Set aside for manual handling: The recipient contract reverts; paid by hand." in pool_page
    assert "Owed back 0 ETH" in account_page
    assert "Set aside for manual handling 8 ETH: The recipient contract reverts; paid by hand." in account_page


def test_a_deposit_minted_to_the_pool_is_shown_as_not_refundable(client, open_pool):
    minted = make_deposit(open_pool, sender="0x" + "00" * 20, amount=ETHER, credited=0, refund_reason="no_sender")
    Deposit.objects.filter(pk=minted.pk).update(refund_amount=0)

    body = text(client.get(reverse("pool-live", args=[open_pool.pk])))

    assert "Not refundable</span>: minted to the pool (no sender)" in body
    assert "Refund</span>" not in body and "Credited</span>" not in body


def launch_transaction(pool: Pool, *, gas_used: int, price: int) -> ChainTransaction:
    return ChainTransaction.objects.create(
        pool=pool, purpose=ChainTransaction.Purpose.LAUNCH, signer_key=str(pool.pk), chain_id=31337,
        from_address=DEPOSIT_ADDRESS, nonce=0, to_address=address("launcher"), gas=6_000_000,
        max_fee_per_gas=3 * price, max_priority_fee_per_gas=1, tx_hash="0x" + "7a" * 32,
        status=ChainTransaction.Status.CONFIRMED, gas_used=gas_used, effective_gas_price=price,
    )  # fmt: skip


def test_a_launched_pool_says_what_its_launch_gas_cost_the_raise_and_where_the_rest_of_the_budget_is(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS, raised=100 * ETHER)
    make_launch(pool, transaction=launch_transaction(pool, gas_used=4_500_000, price=2 * 10**9))

    body = text(client.get(reverse("pool-detail", args=[pool.pk])))

    assert (
        "Launch gas</dt><dd data-launch-gas>0.009 ETH, paid from the raise. The unspent part of the launch's gas "
        "budget stays at the pool address and pays the gas of later refunds (late deposits).</dd>"
    ) in body


def test_an_erc20_pools_launch_gas_is_in_eth_and_not_from_the_raise(client):
    pool = PoolFactory(
        status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS, raise_asset=address("usdc"),
        raise_asset_symbol="USDC", raise_asset_decimals=6,
    )  # fmt: skip
    make_launch(pool, transaction=launch_transaction(pool, gas_used=4_500_000, price=2 * 10**9))

    body = text(client.get(reverse("pool-detail", args=[pool.pk])))

    assert "Launch gas</dt><dd data-launch-gas>0.009 ETH, paid by a gas top-up, not from the raise.</dd>" in body
