"""The README's "Running against a real network", followed on a Base stand-in (scripts/base_standin.py).

anvil with chain id 8453 and the real WETH9, Uniswap V2 factory and router, feeds and a 6-decimal USDC at Base's
canonical addresses. The app is configured only as the README says: the `CHAIN_*` settings, no development
fixtures, no deployment.json; our contracts are deployed by `manage.py deploy_contracts` from a private key, and
the signer runs as its own process with the same `CHAIN_*` settings and no contracts file. Everyone here signs
their own transactions, as on a real network: no impersonated account sends anything.

One stand-in for the module; the services are driven as the workers would drive them (the Celery tasks only call
them), as in tests/launch/test_lifecycle.py.
"""

from __future__ import annotations

import os
import runpy
import secrets
import subprocess
import sys
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path
from unittest import mock

import pytest
from django.db import connection
from eth_account import Account
from web3 import Web3

from chain.artifacts import load_artifact
from chain.contracts import encode_claim
from pools.models import Allocation, IndexerCursor, Launch, Pool
from pools.services.gas import gas_account_address
from pools.services.indexing import index_chain
from pools.services.launch import launch_advance, launch_request
from pools.services.pools import pool_schedule, pool_settle, pools_close_due, pools_open_due
from pools.services.refunds import refund_request, refunds_advance
from scripts.base_standin import (
    BASE_CHAIN_ID,
    OPERATOR_ACCOUNT_INDEX,
    StandIn,
    anvil_account,
    base_units,
    start_standin,
)
from tests.anvil import PROJECT_ROOT, free_port
from tests.factories import AgentFactory, PoolFactory
from tests.indexer.support import fresh_address
from tests.processes import SignerProcess, start_signer

pytestmark = [pytest.mark.integration, pytest.mark.chain]

ETHER = 10**18
USDC = 10**6
CONFIRMATIONS = 2
NATIVE_GAS = 21_000
CALL_GAS = 300_000
GAS_ACCOUNT_FUNDING = ETHER  # the README's step 6, more than the refunds here need
DEPOSITOR_FUNDS = 10 * ETHER  # more than any deposit here, and the gas
# Depositors' keys: derived from anvil's public mnemonic past the accounts the stand-in uses.
FIRST_DEPOSITOR_INDEX = 100


@pytest.fixture(scope="module")
def standin() -> StandIn:
    node = start_standin(port=0, block_time=None)
    yield node
    node.stop()


@pytest.fixture(scope="module")
def readme_env(standin, tmp_path_factory) -> dict[str, str]:
    """The README's `.env` for this stand-in: step 2's lines, then the two lines `deploy_contracts` prints (step 3)."""
    env = dict(line.split("=", 1) for line in standin.env_lines())
    # No deployment.json: whatever reads one must not find it.
    env["CHAIN_DEPLOYMENT_FILE"] = str(tmp_path_factory.mktemp("nothing") / "deployment.json")
    printed = manage("deploy_contracts", env={**env, "DEPLOYER_PRIVATE_KEY": standin.deployer.key.to_0x_hex()})
    assert printed.returncode == 0, printed.stderr
    lines = dict(line.split("=", 1) for line in printed.stdout.splitlines())
    assert set(lines) == {"CHAIN_LAUNCHER_ADDRESS", "CHAIN_REFUNDER_ADDRESS"}, printed.stdout
    return {**env, **lines}


@pytest.fixture(scope="module")
def signer(standin, readme_env, tmp_path_factory) -> SignerProcess:
    """The signer as its own process, allowing what the `CHAIN_*` settings name, with no contracts file."""
    process = start_base_signer(standin, tmp_path_factory.mktemp("signer"), extra_env=allow_list(readme_env))
    yield process
    process.stop()


def start_base_signer(standin: StandIn, folder: Path, *, extra_env: dict[str, str]) -> SignerProcess:
    """A signer for the stand-in with no contracts file (the test run's environment may name the dev one)."""
    folder.mkdir(parents=True, exist_ok=True)
    no_file = {"SIGNER_CONTRACTS_FILE": str(folder / "no-signer-contracts.json")}
    return start_signer(
        rpc_url=standin.rpc_url, chain_id=BASE_CHAIN_ID, data_dir=folder / "data", extra_env={**no_file, **extra_env}
    )


@pytest.fixture(scope="module")
def readme_settings(readme_env) -> dict:
    """What launchpad/settings.py makes of the README's `.env`: every CHAIN_* setting, its defaults for 8453 too."""
    with mock.patch.dict(os.environ, readme_env):
        module = runpy.run_path(str(PROJECT_ROOT / "launchpad" / "settings.py"))
    return {name: value for name, value in module.items() if name.startswith("CHAIN_")}


@pytest.fixture
def app(settings, standin, readme_settings, signer) -> StandIn:
    """The app configured as the README's `.env` configures it, and talking to the signer."""
    for name, value in readme_settings.items():
        setattr(settings, name, value)
    settings.SIGNER_URL = signer.url
    settings.SIGNER_CLIENT_KEY = signer.client_key
    head = standin.w3.eth.block_number
    IndexerCursor.objects.get_or_create(chain_id=BASE_CHAIN_ID, defaults={"last_block": head, "first_block": head + 1})
    return standin


@pytest.fixture
def funded_gas_account(app) -> str:
    """The README's step 6: the signer's gas account holds ETH for refunds' and ERC-20 launches' gas, and on an
    OP-stack chain for an ETH launch's L1 data fee."""
    address = gas_account_address()
    if app.w3.eth.get_balance(address) < GAS_ACCOUNT_FUNDING:
        app.pay(to=address, amount=GAS_ACCOUNT_FUNDING, asset="eth", account=OPERATOR_ACCOUNT_INDEX)
    return address


def manage(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    """`manage.py ARGS` as an operator runs it, with `env` over the test run's environment (its database)."""
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT_ROOT,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=300,
    )


def allow_list(readme_env: dict[str, str]) -> dict[str, str]:
    names = ("CHAIN_LAUNCHER_ADDRESS", "CHAIN_REFUNDER_ADDRESS", "CHAIN_USDC_ADDRESS")
    return {name: readme_env[name] for name in names}


def operator_env(readme_env: dict[str, str], signer: SignerProcess) -> dict[str, str]:
    """A production `.env` on the stand-in: the README's lines, real secrets, DEBUG off, and this test's database."""
    db = connection.settings_dict
    return {
        **readme_env,
        "DATABASE_URL": f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECRET_KEY": secrets.token_urlsafe(48),
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1",
        "SIGNER_URL": signer.url,
        "SIGNER_CLIENT_KEY": signer.client_key,
    }


def preflight_errors(readme_env: dict[str, str], signer: SignerProcess) -> list[str]:
    """The names of the checks `manage.py preflight` fails (`error    NAME: ...` lines); its exit code agrees."""
    ran = manage("preflight", env=operator_env(readme_env, signer))
    errors = [line.split()[1].rstrip(":") for line in ran.stdout.splitlines() if line.startswith("error ")]
    assert ran.returncode == (1 if errors else 0), ran.stdout + ran.stderr
    return errors


def printed_gas_account(readme_env: dict[str, str], signer: SignerProcess) -> str:
    """The address `manage.py gas_account` prints (the README's step 6)."""
    ran = manage("gas_account", env=operator_env(readme_env, signer))
    assert ran.returncode == 0, ran.stdout + ran.stderr
    (line,) = [line for line in ran.stdout.splitlines() if line.startswith("address ")]
    return line.split()[1]


# --- the chain, as depositors and a clock see it -------------------------------------------------------------------


def chain_now(standin: StandIn) -> datetime:
    return datetime.fromtimestamp(standin.w3.eth.get_block("latest")["timestamp"], tz=UTC)


def mine(standin: StandIn, blocks: int = 1, *, timestamp: int | None = None) -> None:
    if timestamp is not None:
        standin.rpc("evm_setNextBlockTimestamp", [timestamp])
    standin.rpc("anvil_mine", [hex(blocks)])


def depositors(standin: StandIn, count: int, *, first: int):
    """Fresh keyed accounts holding some ETH, each signing for itself."""
    accounts = [anvil_account(FIRST_DEPOSITOR_INDEX + first + i) for i in range(count)]
    for account in accounts:
        standin.rpc("anvil_setBalance", [account.address, hex(DEPOSITOR_FUNDS)])
    return accounts


def send_signed(standin: StandIn, account, *, to: str, value: int = 0, data: str = "0x", gas: int) -> dict:
    """Sign with the account's own key and send raw, as a wallet does; the mined receipt."""
    w3 = standin.w3
    base_fee = w3.eth.get_block("latest")["baseFeePerGas"]
    tip = 10**9
    tx = {
        "chainId": BASE_CHAIN_ID, "nonce": w3.eth.get_transaction_count(account.address), "to": to, "value": value,
        "data": data, "gas": gas, "maxPriorityFeePerGas": tip, "maxFeePerGas": 2 * base_fee + tip, "type": 2,
    }  # fmt: skip
    signed = Account.sign_transaction(tx, account.key)
    receipt = w3.eth.wait_for_transaction_receipt(w3.eth.send_raw_transaction(signed.raw_transaction), timeout=30)
    assert receipt["status"] == 1, receipt
    return receipt


def usdc_contract(standin: StandIn):
    return standin.w3.eth.contract(address=standin.addresses.usdc, abi=load_artifact("TestUSDC").abi)


# --- the pool's life, as the workers drive it ----------------------------------------------------------------------


def scheduled_pool(standin: StandIn, **fields) -> Pool:
    """A pool opening a minute from now (by the later of the wall and chain clocks), scheduled with the signer."""
    opens = max(datetime.now(tz=UTC), chain_now(standin)) + timedelta(minutes=1)
    values = dict(
        status=Pool.Status.DRAFT,
        chain_id=BASE_CHAIN_ID,
        agent=AgentFactory(wallet_address=fresh_address("standin-agent")),
        opens_at=opens,
        closes_at=opens + timedelta(days=1),
        soft_cap=10 * ETHER,
        hard_cap=200 * ETHER,
        max_contribution=5 * ETHER,
        confirmations=CONFIRMATIONS,
        fee_recipient=fresh_address("standin-fee"),
        treasury_address=fresh_address("standin-treasury"),
        agent_cliff_seconds=0,
        agent_vesting_seconds=86_400,
    )
    pool = pool_schedule(pool_id=PoolFactory(**{**values, **fields}).pk)
    assert pools_open_due(now=pool.opens_at) == [pool.pk]
    return Pool.objects.get(pk=pool.pk)


def index_until_confirmed(standin: StandIn) -> None:
    mine(standin, CONFIRMATIONS + 2)  # past the confirmations and the `safe` tag, which trails the head
    index_chain(chain_id=BASE_CHAIN_ID)


def close_raise(standin: StandIn, pool: Pool) -> Pool:
    mine(standin, timestamp=int(pool.closes_at.timestamp()) + 1)
    index_until_confirmed(standin)
    pools_close_due(now=pool.closes_at)
    # A day passed on the chain: Chainlink's heartbeat would have re-stamped the feeds meanwhile.
    standin.refresh_feeds()
    return Pool.objects.get(pk=pool.pk)


def run_launch(standin: StandIn, pool: Pool) -> Launch:
    for _ in range(30):
        launch = launch_advance(pool_id=pool.pk)
        if launch and launch.step in (Launch.Step.LAUNCHED, Launch.Step.FAILED):
            return launch
        index_until_confirmed(standin)
    raise AssertionError(f"the launch did not finish: {Launch.objects.get(pool=pool).__dict__}")


def run_refunds(standin: StandIn, pool: Pool) -> None:
    refund_request(pool_id=pool.pk, requested_by="test")
    for _ in range(30):
        if refunds_advance(pool_id=pool.pk) == 0:
            return
        index_until_confirmed(standin)
    raise AssertionError("refunds did not finish")


def assert_books_match_chain(standin: StandIn, pool: Pool) -> None:
    """The indexer's reconciliation finds the pool address holding exactly what the books say."""
    index_until_confirmed(standin)
    pool.refresh_from_db()
    assert pool.balance_checked_at is not None
    assert pool.balance_difference == 0


# --- the tests -----------------------------------------------------------------------------------------------------


def test_the_script_prints_the_readmes_env_lines_and_a_funded_deployer_key_and_takes_its_anvil_down(tmp_path):
    port = free_port()
    script = [sys.executable, "scripts/base_standin.py", "--port", str(port), "--no-block-time"]
    process = subprocess.Popen(script, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, text=True)
    watchdog = threading.Timer(120, process.kill)  # a script that hangs fails the test instead of stalling it
    watchdog.start()
    try:
        printed = []
        for line in process.stdout:
            printed.append(line.rstrip("\n"))
            if "Ctrl-C stops it" in line:
                break
        readme_lines = [line for line in readme_network_lines() if not line.startswith("CHAIN_RPC_URL=")]
        assert f"CHAIN_RPC_URL=http://127.0.0.1:{port}" in printed
        assert len(readme_lines) == 9 and [line for line in readme_lines if line not in printed] == []
        (key_line,) = [line for line in printed if line.startswith("DEPLOYER_PRIVATE_KEY=")]
        deployer = Account.from_key(key_line.split("=", 1)[1])
        w3 = Web3(Web3.HTTPProvider(f"http://127.0.0.1:{port}"))
        assert w3.eth.get_balance(deployer.address) > 0
    finally:
        process.terminate()
        assert process.wait(timeout=30) == 0
        watchdog.cancel()
    assert not w3.is_connected(), "the stand-in's anvil stops with the script"


def readme_network_lines() -> list[str]:
    """The CHAIN_* lines of the README's step 2 (Base mainnet)."""
    readme = (PROJECT_ROOT / "README.md").read_text()
    section = readme.split("## Running against a real network", 1)[1].split("\n## ", 1)[0]
    return [line.strip() for line in section.splitlines() if line.strip().startswith("CHAIN_")]


def test_the_helpers_take_amounts_in_whole_units_and_refuse_what_the_asset_cannot_hold():
    assert base_units("2.5", decimals=18) == 25 * 10**17
    assert base_units("0.000001", decimals=6) == 1
    for typed in ("0.0000001", "0", "-1", "two"):
        with pytest.raises(ValueError):
            base_units(typed, decimals=6)


def test_a_signer_without_the_allow_list_refuses_to_start_on_base(standin, tmp_path):
    with pytest.raises(RuntimeError) as refused:
        start_base_signer(standin, tmp_path, extra_env={})

    assert "signer exited (2)" in str(refused.value)
    assert "would allow no Launcher and no Refunder" in str(refused.value)
    assert "set CHAIN_LAUNCHER_ADDRESS and CHAIN_REFUNDER_ADDRESS" in str(refused.value)


@pytest.mark.django_db(transaction=True)
def test_the_preflight_catches_an_allow_list_that_differs_an_unfunded_gas_account_and_a_stale_feed(
    standin, readme_env, tmp_path
):
    # Signers of its own: their gas accounts are new, so empty. This one was not given CHAIN_USDC_ADDRESS.
    without_usdc = {name: value for name, value in allow_list(readme_env).items() if name != "CHAIN_USDC_ADDRESS"}
    signer = start_base_signer(standin, tmp_path / "partial", extra_env=without_usdc)
    try:
        assert preflight_errors(readme_env, signer) == ["signer", "gas_account"]
    finally:
        signer.stop()

    signer = start_base_signer(standin, tmp_path / "whole", extra_env=allow_list(readme_env))
    try:
        gas_account = printed_gas_account(readme_env, signer)
        standin.pay(to=gas_account, amount=GAS_ACCOUNT_FUNDING, asset="eth", account=OPERATOR_ACCOUNT_INDEX)
        heartbeat = int(readme_env["CHAIN_ETH_USD_FEED_HEARTBEAT"])
        standin.rpc("evm_increaseTime", [heartbeat + 1])
        mine(standin)
        assert preflight_errors(readme_env, signer) == ["feed.eth_usd_feed"]

        standin.refresh_feeds()
        assert preflight_errors(readme_env, signer) == []
    finally:
        signer.stop()
    assert not Pool.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_eth_pool_launches_on_the_canonical_uniswap_and_a_depositor_claims_with_the_served_proof(
    app, funded_gas_account, client
):
    pool = scheduled_pool(app)
    amounts = [5 * ETHER, 4 * ETHER, 3 * ETHER]
    senders = depositors(app, len(amounts), first=0)
    mine(app, timestamp=int((pool.opens_at + timedelta(minutes=1)).timestamp()))
    for sender, amount in zip(senders, amounts, strict=True):
        send_signed(app, sender, to=pool.deposit_address, value=amount, gas=NATIVE_GAS)
    index_until_confirmed(app)
    pool = close_raise(app, pool)
    assert pool.raised == sum(amounts)

    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(app, pool)

    assert launch.step == Launch.Step.LAUNCHED, launch.error
    factory = app.w3.eth.contract(address=app.addresses.uniswap_v2_factory, abi=load_artifact("UniswapV2Factory").abi)
    pair = factory.functions.getPair(launch.token_address, app.addresses.weth).call()
    assert app.w3.eth.get_code(pair) not in (b"", None), "the pair lives on the canonical factory"
    claimer = senders[0]
    served = client.get(f"/api/v1/pools/{pool.pk}/allocations/{claimer.address}/")
    assert served.status_code == 200, served.content
    allocation = served.json()
    assert int(allocation["token_amount"]) == Allocation.objects.get(pool=pool, address=claimer.address).token_amount
    calldata = encode_claim(
        amount=int(allocation["token_amount"]), proof=[bytes.fromhex(p.removeprefix("0x")) for p in allocation["proof"]]
    )
    send_signed(app, claimer, to=launch.claim_vault_address, data="0x" + calldata.hex(), gas=CALL_GAS)
    token = app.w3.eth.contract(address=launch.token_address, abi=load_artifact("AgentToken").abi)
    assert token.functions.balanceOf(claimer.address).call() == int(allocation["token_amount"]) > 0
    assert_books_match_chain(app, pool)


@pytest.mark.django_db(transaction=True)
def test_a_usdc_pool_that_misses_its_soft_cap_refunds_every_depositor_on_chain(app, funded_gas_account):
    usdc = usdc_contract(app)
    pool = scheduled_pool(
        app, raise_asset=app.addresses.usdc, raise_asset_symbol="USDC", raise_asset_decimals=6,
        soft_cap=500 * USDC, hard_cap=1_000 * USDC, max_contribution=100 * USDC,
    )  # fmt: skip
    amounts = [100 * USDC, 60 * USDC]
    senders = depositors(app, len(amounts), first=10)
    for sender, amount in zip(senders, amounts, strict=True):
        app.mint_usdc(sender.address, amount)
    mine(app, timestamp=int((pool.opens_at + timedelta(minutes=1)).timestamp()))
    for sender, amount in zip(senders, amounts, strict=True):
        transfer = usdc.encode_abi("transfer", args=[pool.deposit_address, amount])
        send_signed(app, sender, to=app.addresses.usdc, data=transfer, gas=CALL_GAS)
    index_until_confirmed(app)
    pool = close_raise(app, pool)
    assert pool.raised == sum(amounts)
    assert [usdc.functions.balanceOf(s.address).call() for s in senders] == [0, 0]

    pool = pool_settle(pool_id=pool.pk, confirmed_through=chain_now(app))
    assert pool.status == Pool.Status.REFUNDING
    run_refunds(app, pool)

    pool.refresh_from_db()
    assert pool.status == Pool.Status.REFUNDED
    assert [usdc.functions.balanceOf(s.address).call() for s in senders] == amounts
    assert usdc.functions.balanceOf(pool.deposit_address).call() == 0
    assert_books_match_chain(app, pool)
