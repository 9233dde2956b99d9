"""Numbers people read: amounts rounded for reading with the exact value beside, USD only from a feed, the launch at
today's raise by the launch's own arithmetic, plurals, and a claim that says when it grows but names no amount."""

import re
from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from chain.reads import ClaimStatus
from pools.models import Pool
from pools.selectors.launch_preview import launch_scenarios
from tests.factories import PoolFactory
from tests.web.support import ETHER, address, make_allocation, make_feed, make_launch
from web.presentation import claim_outlook
from web.templatetags.launchpad import amount, counted, readable, token_amount, until_minute

DEPOSIT_ADDRESS = "0x70997970C51812dc3A010C7d01b50e0d17dc79C8"
DAY = 86_400


def words(response) -> str:
    html = re.sub(r"</?(?:dt|dd|td|th|tr|li|p|div|h\d|section)\b[^>]*>", " ", response.content.decode())
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).strip()


@pytest.mark.parametrize(
    ("value", "decimals", "shown"),
    [
        (3 * ETHER + 1, 18, "3"),
        (1_234_567 * ETHER + ETHER // 3, 18, "1,234,567"),  # whole digits are never dropped
        (12_345 * ETHER // 10, 18, "1,234"),
        (1_500_000, 6, "1.5"),
        (123_456_789, 18, "0.0000000001234"),  # four significant digits after the zeros
        (2_266_666_670 * 10**15, 18, "2,266,666"),
        (0, 18, "0"),
    ],
)
def test_amounts_are_rounded_down_to_four_significant_digits_for_reading(value, decimals, shown):
    assert readable(value, decimals) == shown


def test_an_amount_keeps_its_exact_value_in_its_title_and_data_exact():
    pool = Pool(raise_asset_decimals=18, raise_asset_symbol="ETH", token_symbol="CLM")

    assert str(amount(pool, 3 * ETHER + 1)) == (
        '<span class="amount" title="3.000000000000000001 ETH" data-exact="3.000000000000000001">3 ETH</span>'
    )
    assert 'title="2,266,666.67 CLM" data-exact="2266666.67">2,266,666 CLM<' in str(
        token_amount(pool, 226_666_667 * 10**16)
    )
    assert amount(pool, None) == "—"


@pytest.mark.parametrize(
    ("count", "unit", "said"),
    [(1, "block", "1 block"), (2, "block", "2 blocks"), (0, "deposit", "0 deposits"), (1, "address,addresses",
     "1 address"), (3, "address,addresses", "3 addresses")],
)  # fmt: skip
def test_counts_have_their_plural(count, unit, said):
    assert counted(count, unit) == said


def test_the_servers_countdown_changes_once_a_minute():
    now = timezone.now()

    assert until_minute(now + timedelta(minutes=3, seconds=59)) == "3 min"
    assert until_minute(now + timedelta(seconds=30)) == "less than a minute"
    assert until_minute(now - timedelta(seconds=1)) == "0 s"


def status(*, now: int, start: int, end: int, claimed: int = 0) -> ClaimStatus:
    return ClaimStatus(claimed=claimed, vested=0, claimable=0, vesting_start=start, vesting_end=end, chain_time=now)


@pytest.mark.parametrize(
    ("claim", "words_"),
    [
        (status(now=0, start=10 * DAY, end=40 * DAY), ["Vesting starts on", "then about 100 CLM more a day until"]),
        (status(now=20 * DAY, start=10 * DAY, end=40 * DAY), ["grows every block, about 100 CLM more a day"]),
        (status(now=0, start=10 * DAY, end=10 * DAY), ["All of it becomes claimable on"]),
        (status(now=50 * DAY, start=10 * DAY, end=40 * DAY), ["Everything has vested"]),
        (status(now=50 * DAY, start=10 * DAY, end=40 * DAY, claimed=3_000 * ETHER), ["Everything is claimed."]),
    ],
)
def test_the_claim_says_when_what_is_claimable_grows(claim, words_):
    said = claim_outlook(status=claim, allocation=3_000 * ETHER, token_symbol="CLM")

    assert all(w in said for w in words_), said


@pytest.mark.django_db
def test_usd_stands_beside_the_raise_and_the_caps_only_when_there_is_a_feed(client):
    pool = PoolFactory(deposit_address=DEPOSIT_ADDRESS, raised=2 * ETHER)
    page = reverse("pool-detail", args=[pool.pk])
    without = words(client.get(page))
    make_feed(answer=3_000 * 10**8)

    with_feed = words(client.get(page))

    assert not re.search(r"\$\d", without)
    assert "2 ETH ($6,000.00) raised of 100 ETH ($300,000.00)" in with_feed
    assert "Soft cap 10 ETH ($30,000.00)" in with_feed


@pytest.mark.django_db
def test_the_launch_at_todays_raise_is_the_launch_previews_own_arithmetic(client):
    pool = PoolFactory(deposit_address=DEPOSIT_ADDRESS, raised=10 * ETHER, depositor_vesting_seconds=DAY)
    make_feed(answer=3_000 * 10**8)

    body = client.get(reverse("pool-detail", args=[pool.pk])).content.decode()

    # 8 ETH (80% of the raise) paired with 500M tokens (50% of a billion): 0.000000016 ETH a token, $0.000048.
    # The depositors' tokens vest, so only the paired ones circulate: 8 ETH; all billion: 16 ETH.
    preview = launch_scenarios(pool=pool, oracle_answer=3_000 * 10**8)
    prices = dict(preview.sections[1][1])
    assert prices[f"Launch price per {pool.token_symbol} in USD"][2] == "$0.000048"
    assert re.search(r'data-launch-price><span class="amount" title="0.000000016 ETH"[^>]*>0.000000016 ETH</span> '
                     rf"per {pool.token_symbol} · \$0.000048<", body)  # fmt: skip
    assert re.search(r"data-market-cap><span [^>]*>8 ETH</span> · \$24,000.00<", body)
    assert re.search(r"data-fdv><span [^>]*>16 ETH</span> · \$48,000.00<", body)


@pytest.mark.django_db
def test_the_claim_button_names_no_amount_and_says_about_how_much_now_and_more_as_it_vests(client, monkeypatch):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address=DEPOSIT_ADDRESS)
    make_launch(pool)
    holder = address("claimer")
    make_allocation(pool, holder=holder, contribution=ETHER, tokens=3_000 * ETHER)
    vesting = ClaimStatus(claimed=0, vested=2_000 * ETHER + 1, claimable=2_000 * ETHER + 1, vesting_start=0,
                          vesting_end=30 * DAY, chain_time=20 * DAY)  # fmt: skip
    monkeypatch.setattr("web.views.claim_status", lambda **_: vesting)

    response = client.get(reverse("pool-claim", args=[pool.pk]), {"address": holder})

    body = response.content.decode()
    assert re.search(r"<button [^>]*data-claim[^>]*>Claim</button>", body)
    assert f"about 2,000 {pool.token_symbol} now, more as it vests" in words(response)
    assert f"about 100 {pool.token_symbol} more a day" in words(response)
