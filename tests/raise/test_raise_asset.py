"""A pool's raise asset is what the chain says it is: its symbol and decimals are read from the token, never typed.

Read against the session's anvil with the development fixtures (TestUSDC: USDC with 6 decimals); scheduling with the
real signer process.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.forms.models import model_to_dict
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address

from agent_api.admin import AllowedRaiseAssetForm
from agent_api.models import AgentBounds
from chain.devnet import deploy_contract
from chain.errors import NotAnErc20
from chain.reads import Erc20Metadata, erc20_metadata
from pools.models import Pool
from pools.services.pools import (
    InvalidPoolConfiguration,
    RaiseAsset,
    address_problem,
    agent_wallet_problem,
    pool_configuration_errors,
    pool_schedule,
    raise_asset_details,
)
from tests.factories import AgentFactory, PoolFactory

USDC = 10**6
NOT_A_TOKEN = "does not answer decimals() and symbol(): not an ERC-20 token on chain 31337"


def refusal(address: str) -> str:
    with pytest.raises(InvalidPoolConfiguration) as refused:
        raise_asset_details(address=address)
    assert list(refused.value.details) == ["raise_asset"]
    return refused.value.details["raise_asset"]


def odd_token(anvil, *, symbol: bytes, decimals: int) -> str:
    """A contract answering symbol() with a bytes32 and decimals() with a uint256, as given."""
    return deploy_contract(
        anvil.w3, deployer=anvil.account(0).address, name="Bytes32SymbolToken", args=(symbol.ljust(32, b"\0"), decimals)
    )


# --- reading the token ----------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.chain
def test_usdc_reads_as_usdc_with_6_decimals(chain_settings):
    usdc = chain_settings.usdc

    assert erc20_metadata(address=usdc) == Erc20Metadata(symbol="USDC", decimals=6)
    assert raise_asset_details(address=usdc.lower()) == RaiseAsset(
        address=to_checksum_address(usdc), symbol="USDC", decimals=6
    )


def test_native_eth_is_eth_with_18_decimals_without_asking_the_chain(settings):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"  # nothing listens there: a read would fail

    assert raise_asset_details(address="") == RaiseAsset(address="", symbol="ETH", decimals=18)


@pytest.mark.integration
@pytest.mark.chain
def test_an_address_without_code_is_refused(chain_settings, anvil):
    eoa = anvil.account(1).address

    with pytest.raises(NotAnErc20, match="no contract code"):
        erc20_metadata(address=eoa)
    message = refusal(eoa)
    assert message.startswith(f"{eoa} {NOT_A_TOKEN}") and "no contract code" in message


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.parametrize("contract", ["launcher", "eth_usd_feed"])  # no decimals(); decimals() but no symbol()
def test_a_contract_that_is_not_a_token_is_refused(chain_settings, contract):
    address = getattr(chain_settings, contract)

    with pytest.raises(NotAnErc20, match="reverted"):
        erc20_metadata(address=address)
    assert refusal(address).startswith(f"{to_checksum_address(address)} {NOT_A_TOKEN}")


def test_a_malformed_address_is_refused_before_any_read(settings):
    settings.CHAIN_RPC_URL = "http://127.0.0.1:9"

    assert refusal("0x1234") == "Not an address: 0x followed by 40 hexadecimal digits."


@pytest.mark.integration
@pytest.mark.chain
def test_a_bytes32_symbol_is_read_like_a_string(chain_settings, chain_snapshot):
    token = odd_token(chain_snapshot, symbol=b"MKR", decimals=18)

    assert erc20_metadata(address=token) == Erc20Metadata(symbol="MKR", decimals=18)
    assert raise_asset_details(address=token) == RaiseAsset(address=token, symbol="MKR", decimals=18)


@pytest.mark.integration
@pytest.mark.chain
def test_garbage_metadata_is_a_chain_error(chain_settings, chain_snapshot):
    too_many = odd_token(chain_snapshot, symbol=b"BIG", decimals=256)
    not_text = odd_token(chain_snapshot, symbol=b"\xff\xfe", decimals=6)

    with pytest.raises(NotAnErc20, match="above 255"):
        erc20_metadata(address=too_many)
    with pytest.raises(NotAnErc20, match="not UTF-8"):
        erc20_metadata(address=not_text)
    assert NOT_A_TOKEN in refusal(too_many)
    assert NOT_A_TOKEN in refusal(not_text)


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.parametrize(
    ("symbol", "decimals", "expected"),
    [
        (b"WIDE", 31, "31 decimals; at most 30"),
        (b"", 18, "no symbol to show"),
        (b"ABCDEFGHIJKL", 18, "12 characters: a pool's raise asset symbol holds at most 11"),
    ],
)
def test_a_token_a_pool_cannot_hold_is_refused(chain_settings, chain_snapshot, symbol, decimals, expected):
    token = odd_token(chain_snapshot, symbol=symbol, decimals=decimals)

    assert expected in refusal(token)


# --- scheduling: the backstop -------------------------------------------------------------------------------------


def draft_pool(anvil, **fields) -> Pool:
    """A sound DRAFT opening a minute from now by the later of the wall and chain clocks."""
    chain_now = datetime.fromtimestamp(anvil.w3.eth.get_block("latest")["timestamp"], tz=UTC)
    opens = max(timezone.now(), chain_now) + timedelta(minutes=1)
    values = dict(
        status=Pool.Status.DRAFT,
        opens_at=opens,
        closes_at=opens + timedelta(days=1),
        soft_cap=10 * USDC,
        hard_cap=100 * USDC,
        agent_cliff_seconds=0,
        agent_vesting_seconds=86_400,
    )
    return PoolFactory(**{**values, **fields})


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db
@pytest.mark.parametrize(("symbol", "decimals"), [("ETH", 18), ("USDC", 18)])
def test_scheduling_a_pool_whose_asset_was_typed_wrong_is_refused(signer_stack, anvil, dev_chain, symbol, decimals):
    usdc = to_checksum_address(dev_chain.usdc)
    pool = draft_pool(anvil, raise_asset=usdc, raise_asset_symbol=symbol, raise_asset_decimals=decimals)

    with pytest.raises(InvalidPoolConfiguration) as refused:
        pool_schedule(pool_id=pool.pk)

    assert refused.value.details["raise_asset"].startswith(
        f"The pool says {symbol} with {decimals} decimals; the token at {usdc} says USDC with 6: "
    )
    pool.refresh_from_db()
    assert pool.status == Pool.Status.DRAFT and pool.deposit_address == ""


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db
def test_a_pool_with_the_tokens_own_symbol_and_decimals_schedules(signer_stack, anvil, dev_chain):
    pool = draft_pool(anvil, raise_asset=dev_chain.usdc, raise_asset_symbol="USDC", raise_asset_decimals=6)

    scheduled = pool_schedule(pool_id=pool.pk)

    assert scheduled.status == Pool.Status.SCHEDULED and scheduled.deposit_address


@pytest.mark.django_db
def test_a_native_pool_that_says_usdc_is_refused_before_the_signer(settings):
    settings.SIGNER_URL = "http://127.0.0.1:9"  # the refusal comes first; the signer is never asked
    pool = PoolFactory(status=Pool.Status.DRAFT, raise_asset="", raise_asset_symbol="USDC", raise_asset_decimals=6)

    with pytest.raises(InvalidPoolConfiguration) as refused:
        pool_schedule(pool_id=pool.pk)

    assert refused.value.details["raise_asset"].startswith(
        "The pool says USDC with 6 decimals; native ETH is ETH with 18"
    )
    pool.refresh_from_db()
    assert pool.status == Pool.Status.DRAFT and pool.deposit_address == ""


# --- addresses and the opening time -------------------------------------------------------------------------------

GOOD = "0x52908400098527886E0F7030069857D2E4169EE7"  # EIP-55's own example


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("not-an-address", "Not an address: 0x followed by 40 hexadecimal digits."),
        (GOOD[2:], "Not an address: 0x followed by 40 hexadecimal digits."),
        (GOOD.replace("E", "e", 1), "The mixed-case checksum is wrong: check for a typo."),
        ("", "Required."),
        (GOOD, ""),
        (GOOD.lower(), ""),
        ("0x" + GOOD[2:].upper(), ""),  # one case throughout carries no checksum (EIP-55)
    ],
)
def test_an_agent_wallet_is_a_required_address_with_a_sound_checksum(value, problem):
    assert agent_wallet_problem(value) == problem
    assert address_problem(value, required=False) == ("" if value == "" else problem)


def test_a_draft_must_open_in_the_future_and_an_open_pool_need_not():
    past = timezone.now() - timedelta(minutes=1)
    draft = PoolFactory.build(status=Pool.Status.DRAFT, opens_at=past, closes_at=past + timedelta(days=1))
    open_pool = PoolFactory.build(status=Pool.Status.OPEN, opens_at=past, closes_at=past + timedelta(days=1))

    assert pool_configuration_errors(pool=draft)["opens_at"] == "The opening time must be in the future."
    assert "opens_at" not in pool_configuration_errors(pool=open_pool)


# --- the admin's allowed raise assets -------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db
def test_the_admin_names_an_allowed_asset_and_its_symbol_and_decimals_are_read(chain_settings, anvil):
    usdc = chain_settings.usdc
    form = AllowedRaiseAssetForm(data={"address": usdc.lower(), "max_hard_cap": str(10**6 * USDC)})
    not_a_token = AllowedRaiseAssetForm(data={"address": anvil.account(1).address, "max_hard_cap": "1"})

    assert form.is_valid(), form.errors
    assert (form.instance.address, form.instance.symbol, form.instance.decimals) == (usdc, "USDC", 6)
    assert not not_a_token.is_valid()
    assert NOT_A_TOKEN in not_a_token.errors["address"][0]


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db
def test_the_bounds_admin_saves_an_allowed_asset_with_what_the_token_says(chain_settings, client):
    client.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    bounds = AgentBounds.objects.create(agent=AgentFactory())
    url = reverse("admin:agent_api_agentbounds_change", args=[bounds.pk])
    data = {
        **{key: value for key, value in model_to_dict(bounds).items() if key not in ("id", "allowed_lp_policies")},
        "allowed_lp_policies": bounds.allowed_lp_policies,
        "raise_assets-TOTAL_FORMS": "1", "raise_assets-INITIAL_FORMS": "0",
        "raise_assets-0-address": chain_settings.usdc.lower(), "raise_assets-0-max_hard_cap": str(10**6 * USDC),
        "treasuries-TOTAL_FORMS": "0", "treasuries-INITIAL_FORMS": "0",
        "fee_recipients-TOTAL_FORMS": "0", "fee_recipients-INITIAL_FORMS": "0",
    }  # fmt: skip

    assert "read from the token on save" in client.get(url).content.decode()
    response = client.post(url, data)

    assert response.status_code == 302, response.content.decode()[:3000]
    asset = bounds.raise_assets.get()
    assert (asset.address, asset.symbol, asset.decimals) == (chain_settings.usdc, "USDC", 6)
