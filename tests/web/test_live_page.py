"""The pool page's live part: one fragment over a state version (200, then 204 while nothing changed, 286 once a final
pool's last version is shown), the "You" panel of an address, counts that agree, and where sign-in returns to."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from pools.models import Pool, Refund
from pools.services.pool_state import touch_pool
from tests.factories import PoolFactory
from tests.web.support import ETHER, address, make_allocation, make_deposit, make_feed, make_launch, make_refund

pytestmark = pytest.mark.django_db

DEPOSIT_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"


def words(response) -> str:
    html = re.sub(r"</?(?:dt|dd|td|th|tr|li|p|div|h\d|section)\b[^>]*>", " ", response.content.decode())
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


def version_of(response) -> str:
    return re.search(r'data-version="([0-9a-f]+)"', response.content.decode()).group(1)


def live(client, pool: Pool, **params):
    return client.get(reverse("pool-live", args=[pool.pk]), params)


@pytest.fixture
def open_pool():
    return PoolFactory(name="Live One", deposit_address=DEPOSIT_ADDRESS, max_contribution=5 * ETHER)


def credit(pool: Pool, *, sender: str, amount: int, credited: int | None = None, **fields):
    """A confirmed deposit and the pool's raise, as crediting leaves them."""
    deposit = make_deposit(pool, sender=sender, amount=amount, credited=credited, **fields)
    pool.raised += deposit.credited_amount
    pool.save(update_fields=["raised"])
    touch_pool(pool_id=pool.pk)  # as crediting does: the pool's reads are cached by its state version
    return deposit


# --- the version protocol -------------------------------------------------------------------------------------


def test_the_live_part_answers_204_while_the_version_the_page_shows_is_still_current(client, open_pool):
    first = live(client, open_pool)

    again = live(client, open_pool, v=version_of(first))

    assert first.status_code == 200 and 'id="pool-live"' in first.content.decode()
    assert again.status_code == 204 and again.content == b""


def test_a_credited_deposit_makes_a_new_version_with_the_new_raise(client, open_pool):
    before = version_of(live(client, open_pool))

    credit(open_pool, sender=address("alice"), amount=2 * ETHER)
    after = live(client, open_pool, v=before)

    assert after.status_code == 200
    assert version_of(after) != before
    assert "2 ETH raised of 100 ETH" in words(after)


def test_the_page_and_its_live_part_carry_the_same_version(client, open_pool):
    credit(open_pool, sender=address("bob"), amount=ETHER)

    page = client.get(reverse("pool-detail", args=[open_pool.pk]))

    assert live(client, open_pool, v=version_of(page)).status_code == 204


def test_a_final_pool_answers_286_with_its_fragment_once_its_last_version_is_shown(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS, raised=10 * ETHER)
    make_launch(pool)
    shown = version_of(live(client, pool))

    last = live(client, pool, v=shown)

    # htmx stops polling on 286 and still swaps the body: it is the same fragment, never an empty one.
    assert last.status_code == 286
    assert version_of(last) == shown


def test_a_launched_pool_that_still_owes_a_refund_is_not_told_to_stop(client):
    """Over-cap and late deposits are paid back after the launch: the page follows those refunds until they are paid."""
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS, raised=10 * ETHER)
    make_launch(pool)
    make_refund(pool, recipient=address("late"), amount=ETHER)

    assert live(client, pool, v=version_of(live(client, pool))).status_code == 204


def test_an_open_pool_whose_version_is_current_is_never_told_to_stop(client, open_pool):
    assert live(client, open_pool, v=version_of(live(client, open_pool))).status_code != 286


def test_the_countdown_is_said_to_the_minute_so_the_version_does_not_change_every_second(client, open_pool):
    open_pool.closes_at = timezone.now() + timedelta(minutes=90, seconds=30)
    open_pool.save(update_fields=["closes_at"])

    body = words(live(client, open_pool))

    assert "1 h 30 min left" in body  # the script ticks the seconds
    assert not re.search(r"\d+ s left", body)


def test_once_closed_the_live_part_shows_the_new_badge_and_no_deposit_invitation(client, open_pool):
    open_page = live(client, open_pool).content.decode()
    open_pool.status = Pool.Status.CLOSED
    open_pool.save(update_fields=["status"])
    touch_pool(pool_id=open_pool.pk)  # as the closing service does

    closed = live(client, open_pool)

    body = closed.content.decode()
    assert "data-status-badge>Open<" in open_page and 'aria-labelledby="deposit-title"' in open_page
    assert "data-status-badge>Closed<" in body
    assert 'aria-labelledby="deposit-title"' not in body and "QR code of" not in body
    assert "This pool no longer takes deposits" in words(closed)


def test_after_the_launch_the_live_part_has_the_launched_section_and_the_claim_link(client, open_pool):
    open_pool.status = Pool.Status.LAUNCHED
    open_pool.save(update_fields=["status"])
    launch = make_launch(open_pool)

    body = live(client, open_pool).content.decode()

    assert "data-status-badge>Launched<" in body
    assert f'href="/pools/{open_pool.pk}/claim/" data-claim-link' in body
    assert launch.token_address in body


def test_a_demo_pool_says_so_on_its_page_and_in_the_list(client):
    PoolFactory(name="Demo Pool", is_demo=True, deposit_address=DEPOSIT_ADDRESS)
    real = PoolFactory(name="Real Pool", deposit_address=DEPOSIT_ADDRESS)
    demo = Pool.objects.get(name="Demo Pool")

    assert "Demo · local chain only" in words(client.get(reverse("pool-detail", args=[demo.pk])))
    assert "Demo · local chain only" not in words(client.get(reverse("pool-detail", args=[real.pk])))
    assert words(client.get(reverse("pool-list"))).count("Demo · local chain only") == 1


# --- "me" -----------------------------------------------------------------------------------------------------


def test_the_you_panel_of_an_address_says_sent_credited_owed_back_and_the_tokens_expected_now(client, open_pool):
    me = address("me")
    credit(open_pool, sender=me, amount=7 * ETHER, credited=5 * ETHER, refund_reason="above_maximum")
    credit(open_pool, sender=address("other"), amount=5 * ETHER)
    make_deposit(open_pool, sender=me, amount=ETHER, status="pending")

    body = words(live(client, open_pool, address=me.lower()))

    assert f"You {me[:8]}…{me[-4:]}" in body
    assert "Sent 8 ETH in 2 deposits" in body
    assert "Credited 5 ETH" in body and "Waiting for confirmations 1 ETH" in body
    assert "Owed back 2 ETH" in body
    # 5 of the 10 ETH credited: half of the depositors' 40% of a billion, at today's raise.
    assert f"Expected tokens at today's raise about 200,000,000 {open_pool.token_symbol}" in body


def test_the_you_panel_follows_the_signed_in_address_and_shows_the_allocation_after_launch(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS, raised=10 * ETHER)
    make_launch(pool)
    me = address("signed")
    credit(pool, sender=me, amount=5 * ETHER)
    make_allocation(pool, holder=me, contribution=5 * ETHER, tokens=199_999_999 * ETHER + 7)
    session = client.session
    session["siwe_address"] = me
    session.save()

    response = client.get(reverse("pool-detail", args=[pool.pk]))

    body = words(response)
    assert f"Your allocation 199,999,999 {pool.token_symbol}" in body
    assert f'href="/pools/{pool.pk}/claim/?address={me}" data-you-claim' in response.content.decode()


def test_an_address_without_deposits_gets_a_plain_you_panel_and_a_bad_one_none(client, open_pool):
    assert "No deposit from this address in this pool yet." in words(live(client, open_pool, address=address("x")))
    assert "data-you" not in live(client, open_pool, address="0x123").content.decode()


def test_the_you_panel_costs_a_constant_number_of_queries(client, open_pool, django_assert_max_num_queries):
    me = address("busy")
    for i in range(20):
        credit(open_pool, sender=me, amount=ETHER // 10, tx_hash=f"0x{i:064x}")
        make_refund(open_pool, recipient=me, amount=1)
    make_feed()

    with django_assert_max_num_queries(11):
        assert live(client, open_pool, address=me).status_code == 200


# --- counts that agree ----------------------------------------------------------------------------------------


def test_a_sender_refunded_in_full_is_not_counted_as_a_depositor(client, open_pool):
    credit(open_pool, sender=address("in"), amount=ETHER)
    credit(open_pool, sender=address("late"), amount=ETHER, credited=0, refund_reason="after_close")

    body = words(live(client, open_pool))

    assert "1 depositor 2 deposits" in body


def test_owed_back_is_what_is_still_owed_before_the_refund_rows_and_zero_once_they_are_paid(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS, raised=5 * ETHER)
    make_launch(pool)
    over = credit(pool, sender=address("over"), amount=7 * ETHER, credited=5 * ETHER, refund_reason="above_maximum")
    before = words(live(client, pool))
    refund = make_refund(pool, recipient=address("over"), amount=2 * ETHER, status=Refund.Status.SENDING)
    refund.deposits.set([over])
    touch_pool(pool_id=pool.pk)  # as the refund services do
    sending = words(live(client, pool))
    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.PAID)
    touch_pool(pool_id=pool.pk)

    paid = words(live(client, pool))

    assert "2 ETH owed back" in before
    assert "2 ETH owed back" in sending and "0 ETH paid back, 2 ETH still owed" in sending
    assert "0 ETH owed back" in paid and "2 ETH paid back, 0 ETH still owed" in paid


def test_a_failed_raise_owes_back_every_confirmed_deposit_in_full_and_nothing_for_a_mint(client):
    pool = PoolFactory(status=Pool.Status.REFUNDING, deposit_address=DEPOSIT_ADDRESS)
    make_deposit(pool, sender=address("a"), amount=3 * ETHER)
    make_deposit(pool, sender="0x" + "00" * 20, amount=ETHER, credited=0, refund_reason="no_sender")

    assert "3 ETH owed back" in words(live(client, pool))


def test_confirmations_are_counted_in_the_singular_too(client):
    pool = PoolFactory(deposit_address=DEPOSIT_ADDRESS, confirmations=1)
    make_deposit(pool, sender=address("p"), amount=ETHER, status="pending")

    page = words(client.get(reverse("pool-detail", args=[pool.pk])))

    assert "waiting for 1 confirmation " in page and "Confirmations 1 block " in page
    assert "A deposit counts once 1 more block is on top of it." in page


# --- sign-in returns to where it started ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("wanted", "lands"),
    [
        ("/pools/7/claim/?address=0xabc", "/pools/7/claim/?address=0xabc"),
        ("https://evil.example/account/", "/account/"),
        ("//evil.example/", "/account/"),
        ("javascript:alert(1)", "/account/"),
        ("", "/account/"),
    ],
)
def test_signing_out_returns_to_the_page_it_started_on_and_never_to_another_host(client, wanted, lands):
    response = client.post(reverse("sign-out"), {"next": wanted})

    assert response.status_code == 302
    assert response["Location"] == lands


def test_signing_in_on_a_claim_page_returns_to_that_claim_page(client):
    from tests.web.test_siwe import ask, sign

    signed = sign(ask(client))
    back = f"/pools/3/claim/?address={address('x')}"

    answer = client.post(reverse("siwe-verify"), {**signed, "next": back}).json()
    refused = client.post(reverse("siwe-verify"), {**sign(ask(client)), "next": "https://evil.example/"}).json()

    assert answer["next"] == back
    assert refused["next"] == "/account/"


def test_the_claim_pages_sign_in_names_the_claim_page_as_where_to_return(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS)
    make_launch(pool)

    body = client.get(reverse("pool-claim", args=[pool.pk])).content.decode()

    assert f'data-next="/pools/{pool.pk}/claim/"' in body
