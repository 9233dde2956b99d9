"""The admin's pool form: amounts in the asset's units, shares in percent, durations in days and hours, stored as exact
integers (wei, the token's smallest unit, bps, seconds). USDC's decimals are read from the TestUSDC token on the
session's anvil, not typed."""

from __future__ import annotations

import pytest
from django.urls import reverse

from pools.admin_forms import PoolAdminForm
from pools.models import Agent, Pool
from pools.units import UnitsError, format_duration, format_units, parse_duration, parse_units
from tests.factories import AgentFactory, PoolFactory, pool_form_data

UINT256_MAX = 2**256 - 1


@pytest.mark.parametrize(
    ("text", "decimals", "stored"),
    [
        ("0.000000000000000001", 18, 1),  # one wei
        ("0.000001", 6, 1),  # one micro-USDC
        ("25,000", 6, 25_000 * 10**6),
        ("1,234,567.891", 6, 1_234_567_891_000),
        (".5", 18, 5 * 10**17),
        ("1.500000", 6, 1_500_000),  # trailing zeros beyond nothing are fine
        ("10 ETH", 18, 10 * 10**18),
        (format_units(UINT256_MAX, 18), 18, UINT256_MAX),  # the largest amount a uint256 holds, digit for digit
        (format_units(UINT256_MAX, 6), 6, UINT256_MAX),
    ],
)
def test_amounts_in_units_become_exact_integers_and_back(text, decimals, stored):
    assert parse_units(text, decimals, unit="ETH") == stored
    assert parse_units(format_units(stored, decimals), decimals) == stored


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0.0000001", "Too fine: the smallest amount of USDC is 0.000001."),
        ("1,00", "Not an amount"),
        ("-5", "Not an amount"),
        ("1e6", "Not an amount"),
        ("", "Not an amount"),
        ("ten", "Not an amount"),
    ],
)
def test_amounts_that_are_not_exact_or_not_numbers_are_refused_with_what_to_type(text, message):
    with pytest.raises(UnitsError, match=message.replace(".", r"\.").replace("(", r"\(")):
        parse_units(text, 6, unit="USDC")


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("0", 0), ("", 0), ("30 days", 2_592_000), ("1 day 6 hours", 108_000), ("12h", 43_200), ("1d 1h 1m 1s", 90_061)],
)
def test_durations_in_days_and_hours(text, seconds):
    assert parse_duration(text) == seconds
    assert parse_duration(format_duration(seconds)) == seconds


def test_a_duration_without_a_unit_is_refused():
    with pytest.raises(UnitsError, match="Not a duration"):
        parse_duration("30")
    with pytest.raises(UnitsError, match="Unknown unit 'weeks'"):
        parse_duration("2 weeks")


@pytest.mark.django_db
def test_the_form_shows_stored_integers_in_units_and_says_what_each_stores():
    pool = PoolFactory(status=Pool.Status.DRAFT, soft_cap=1, hard_cap=UINT256_MAX, fee_bps=1, agent_cliff_seconds=90)

    form = PoolAdminForm(instance=pool)

    assert form["soft_cap"].value() == "0.000000000000000001"
    assert 'value="0.000000000000000001"' in str(form["soft_cap"])
    assert f"{UINT256_MAX:,}" in str(form["hard_cap"]) and "wei" in str(form["hard_cap"])
    assert 'value="0.01"' in str(form["fee_bps"]) and "bps" in str(form["fee_bps"])
    assert 'value="1 minute 30 seconds"' in str(form["agent_cliff_seconds"])


@pytest.mark.django_db
def test_eth_edge_values_are_stored_exactly(admin_client):
    agent = AgentFactory()
    largest = format_units(UINT256_MAX, 18)
    data = pool_form_data(agent, soft_cap="0.000000000000000001", hard_cap=largest, fee_bps="0.01")

    response = admin_client.post(reverse("admin:pools_pool_add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    pool = Pool.objects.get()
    assert (pool.soft_cap, pool.hard_cap, pool.fee_bps) == (1, UINT256_MAX, 1)


@pytest.mark.django_db
def test_a_percent_finer_than_a_basis_point_is_refused(admin_client):
    response = admin_client.post(reverse("admin:pools_pool_add"), pool_form_data(AgentFactory(), fee_bps="0.125"))

    assert response.status_code == 200 and "Too fine: the smallest amount of % is 0.01." in response.content.decode()
    assert not Pool.objects.exists()


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db
def test_usdc_amounts_are_read_with_the_decimals_the_token_answers(admin_client, chain_settings):
    largest = format_units(UINT256_MAX, 6)
    data = pool_form_data(
        AgentFactory(), raise_asset=chain_settings.usdc, soft_cap="0.000001", hard_cap=largest,
        max_contribution="25,000.5",
    )  # fmt: skip

    response = admin_client.post(reverse("admin:pools_pool_add"), data)

    assert response.status_code == 302, response.content.decode()[:3000]
    pool = Pool.objects.get()
    assert (pool.raise_asset_symbol, pool.raise_asset_decimals) == ("USDC", 6)
    assert (pool.soft_cap, pool.hard_cap, pool.max_contribution) == (1, UINT256_MAX, 25_000_500_000)
    page = admin_client.get(reverse("admin:pools_pool_change", args=[pool.pk])).content.decode()
    assert "USDC, 6 decimals" in page and 'name="max_contribution" value="25,000.5"' in page
    assert f"At the hard cap ({largest} USDC)" in page


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db
def test_a_usdc_amount_finer_than_the_token_is_refused(admin_client, chain_settings):
    data = pool_form_data(AgentFactory(), raise_asset=chain_settings.usdc, soft_cap="0.0000001")

    response = admin_client.post(reverse("admin:pools_pool_add"), data)

    assert response.status_code == 200
    assert "Too fine: the smallest amount of USDC is 0.000001." in response.content.decode()
    assert not Pool.objects.exists()


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db
def test_an_address_that_is_not_a_token_is_refused_with_a_message(admin_client, chain_settings):
    data = pool_form_data(AgentFactory(), raise_asset=chain_settings.eth_usd_feed)

    response = admin_client.post(reverse("admin:pools_pool_add"), data)

    assert response.status_code == 200
    assert "does not answer decimals() and symbol()" in response.content.decode()
    assert not Pool.objects.exists()


@pytest.mark.django_db
def test_an_agent_wallet_that_is_not_an_address_is_refused_on_save(admin_client):
    response = admin_client.post(reverse("admin:pools_agent_add"), {"name": "Bot", "wallet_address": "not-an-address"})

    assert response.status_code == 200 and "Not an address" in response.content.decode()
    assert not Agent.objects.filter(name="Bot").exists()


@pytest.mark.django_db
def test_a_chain_that_does_not_answer_is_a_form_error_not_a_server_error(admin_client, settings):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"  # the discard port: nothing listens, the connection is refused
    data = pool_form_data(AgentFactory(), raise_asset="0x" + "11" * 20)

    response = admin_client.post(reverse("admin:pools_pool_add"), data)

    assert response.status_code == 200
    assert "The token could not be read, the chain did not answer" in response.content.decode()
    assert not Pool.objects.exists()


@pytest.mark.django_db
def test_a_refused_form_keeps_what_was_typed_and_shows_what_it_stores(admin_client):
    data = pool_form_data(AgentFactory(), fee_bps="1.5%", target_price_usd_e8="$0.0001", token_symbol="bad")

    body = admin_client.post(reverse("admin:pools_pool_add"), data).content.decode()

    assert 'value="1.5%"' in body and "stores <output>150</output> bps" in body
    assert 'value="$0.0001"' in body and "stores <output>10,000</output> USD × 10⁸" in body
