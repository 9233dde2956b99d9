"""The gas account's recommended balance follows the pools that will draw on it (ERC-20 launches, refund batches),
within the signer's per-pool cap; `manage.py gas_account` says how much to send where; /healthz warns below it on a
real network (on the real dev chain and signer; "Base" is the same anvil answering chain id 8453)."""

from io import StringIO

import pytest
from django.core.cache import cache
from django.core.management import CommandError, call_command
from django.urls import reverse

from chain.devnet import refresh_dev_price_feeds
from chain.l1fees import FALLBACK_L1_GAS_PER_BYTE, FALLBACK_L1_GAS_PRICE_WEI
from enclave_signer.config import DEFAULT_GAS_TOPUP_POOL_MAX_WEI
from pools.models import ChainTransaction, Pool, Refund
from pools.services.gas_account import LAUNCH_CALLDATA_BYTES, gas_account_status, launch_gas, refunds_gas
from pools.services.health import CHECKS
from pools.signer import signer_client
from tests.factories import PoolFactory
from tests.web.support import address

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db]

TOKEN = "gas-account-healthz-token"
DETAIL = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}
BASE_CHAIN_ID = 8453


@pytest.fixture
def stack(settings, signer_stack, chain_snapshot, dev_chain):
    refresh_dev_price_feeds(chain_snapshot.w3, dev_chain, deployer=chain_snapshot.account(0).address)
    return settings


@pytest.fixture
def gas_address(stack) -> str:
    return signer_client().addresses()["gas"]["address"]


def usdc_pool(dev_chain, **fields) -> Pool:
    return PoolFactory(raise_asset=dev_chain.usdc, raise_asset_symbol="USDC", raise_asset_decimals=6, **fields)


def need_of(status, pool: Pool):
    return next(need for need in status.per_pool if need.pool_id == pool.pk)


def test_an_open_erc20_pool_adds_its_approve_and_launch_to_the_recommendation(stack, dev_chain):
    before = gas_account_status()

    pool = usdc_pool(dev_chain, status=Pool.Status.OPEN)
    after = gas_account_status()

    need = need_of(after, pool)
    assert (need.name, need.why) == (pool.name, "approve and launch")
    assert need.wei == launch_gas() * after.max_fee_per_gas
    assert after.recommended == before.recommended + need.wei
    assert before.per_pool == []
    assert before.recommended > 0  # the reserve: a fresh deployment is told to fund it


def test_on_an_op_stack_chain_each_transaction_adds_its_l1_data_fee(stack, dev_chain):
    pool = usdc_pool(dev_chain, status=Pool.Status.OPEN)
    l2_only = need_of(gas_account_status(), pool).wei

    stack.CHAIN_OP_STACK = True  # anvil has no GasPriceOracle: the conservative fallback prices the calldata
    with_l1 = need_of(gas_account_status(), pool).wei

    assert with_l1 - l2_only > LAUNCH_CALLDATA_BYTES * FALLBACK_L1_GAS_PER_BYTE * FALLBACK_L1_GAS_PRICE_WEI


def test_an_open_eth_pool_needs_nothing_until_it_owes_refunds(stack):
    pool = PoolFactory(status=Pool.Status.REFUNDING)
    assert gas_account_status().per_pool == []

    for label in ("a", "b", "c"):
        Refund.objects.create(pool=pool, recipient=address(label), amount=10**18)
    status = gas_account_status()

    need = need_of(status, pool)
    assert need.why == "refunds to 3 recipients"
    assert need.wei == refunds_gas(3, native=True) * status.max_fee_per_gas


def test_each_pool_is_capped_by_what_the_signer_lets_it_receive(stack, dev_chain, gas_address):
    pool = usdc_pool(dev_chain, status=Pool.Status.LAUNCHING)
    ChainTransaction.objects.create(
        pool=pool, purpose=ChainTransaction.Purpose.GAS_TOPUP, signer_key="gas", chain_id=31337,
        from_address=gas_address, nonce=0, to_address=address("pool"), value=DEFAULT_GAS_TOPUP_POOL_MAX_WEI - 1000,
        gas=21_000, max_fee_per_gas=1, max_priority_fee_per_gas=1, status=ChainTransaction.Status.CONFIRMED,
    )  # fmt: skip

    assert need_of(gas_account_status(), pool).wei == 1000


def test_the_command_prints_address_balance_recommendation_pools_and_what_to_send(stack, dev_chain, anvil, gas_address):
    pool = usdc_pool(dev_chain, status=Pool.Status.CLOSED)
    anvil.rpc("anvil_setBalance", [gas_address, "0x0"])
    status = gas_account_status()
    out = StringIO()

    call_command("gas_account", stdout=out)

    lines = out.getvalue().splitlines()
    assert lines[0] == f"address      {gas_address}"
    assert lines[1] == "balance      0 ETH (0 wei)"
    assert lines[2].startswith("recommended  ") and lines[2].endswith(f"ETH ({status.recommended} wei)")
    assert f"  pool {pool.pk} {pool.name}: approve and launch: " in out.getvalue()
    assert lines[-1].startswith("send ") and f"ETH ({status.recommended} wei) to {gas_address}" in lines[-1]


def test_the_command_says_funded_when_it_holds_the_recommendation(stack, anvil, gas_address):
    anvil.rpc("anvil_setBalance", [gas_address, hex(10**20)])
    out = StringIO()

    call_command("gas_account", stdout=out)

    assert out.getvalue().splitlines()[-1] == "funded: nothing to send"


def test_the_command_exits_1_with_the_fix_when_the_signer_is_down(stack, signer_stack):
    signer_stack.stop()

    with pytest.raises(CommandError) as raised:
        call_command("gas_account")

    assert raised.value.returncode == 1
    assert str(raised.value).endswith("start the signer, then run preflight again")


@pytest.fixture
def on_base(stack, anvil, dev_chain, monkeypatch):
    """The same anvil answering chain id 8453 and the app configured for it by CHAIN_* settings; /healthz with only
    the parts this file is about (the worker and beat are not running here)."""
    anvil.rpc("anvil_setChainId", [BASE_CHAIN_ID])
    stack.CHAIN_ID = BASE_CHAIN_ID
    stack.CHAIN_ADDRESSES = {k: v for k, v in vars(dev_chain).items() if k != "chain_id"}
    stack.HEALTHZ_TOKEN = TOKEN
    monkeypatch.setattr("pools.services.health.CHECKS", {name: CHECKS[name] for name in ("preflight", "gas_account")})
    cache.clear()
    yield stack
    anvil.rpc("anvil_setChainId", [31337])
    cache.clear()


def test_healthz_warns_when_the_gas_account_is_below_the_recommendation(client, on_base, anvil, gas_address):
    anvil.rpc("anvil_setBalance", [gas_address, "0x0"])

    report = client.get(reverse("healthz"), **DETAIL).json()

    gas = report["components"]["gas_account"]
    assert gas["status"] == "warning"
    assert "send " in gas["reason"] and gas_address in gas["reason"]
    assert gas["detail"]["balance_wei"] == "0"
    # the same finding is a preflight error (not enough for one top-up), said as a warning: the site still serves
    assert report["status"] == "ok"
    assert report["components"]["preflight"]["status"] == "warning"
    reason = report["components"]["preflight"]["reason"]
    assert reason.startswith("preflight errors: ") and "gas_account" in reason.split(":")[1]


def test_healthz_gas_account_is_ok_when_funded(client, on_base, anvil, gas_address):
    anvil.rpc("anvil_setBalance", [gas_address, hex(10**20)])

    gas = client.get(reverse("healthz"), **DETAIL).json()["components"]["gas_account"]

    assert gas["status"] == "ok"
    assert gas["detail"]["balance_wei"] == str(10**20)


def test_healthz_on_the_local_chain_says_preflight_errors_as_warnings_too(
    client, stack, dev_chain, anvil, gas_address, monkeypatch
):
    stack.HEALTHZ_TOKEN = TOKEN
    addresses = {k: v for k, v in vars(dev_chain).items() if k != "chain_id"}
    stack.CHAIN_ADDRESSES = {**addresses, "uniswap_v2_factory": anvil.account(9).address}
    monkeypatch.setattr("pools.services.health.CHECKS", {name: CHECKS[name] for name in ("preflight", "gas_account")})
    anvil.rpc("anvil_setBalance", [gas_address, "0x0"])
    cache.clear()

    response = client.get(reverse("healthz"), **DETAIL)

    report = response.json()
    assert response.status_code == 200
    assert report["components"]["preflight"]["status"] == "warning"
    assert any(f["status"] == "error" for f in report["components"]["preflight"]["detail"]["failing"])
    assert report["components"]["gas_account"]["status"] == "ok"  # anvil funds it on the local chain
    cache.clear()
