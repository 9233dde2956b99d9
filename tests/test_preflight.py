"""The preflight on the real development chain and signer: all ok as deployed; then each way a real deployment goes
wrong (an address without code, a router of another factory, a stale feed, a USDC that is not USDC, a signer that
allows other contracts, development secrets on Base, an empty gas account) is an error that names its fix."""

import os
import subprocess
import sys
from dataclasses import asdict

import pytest
from django.core.management import CommandError, call_command

from chain.artifacts import load_artifact
from chain.devnet import deploy_contract, refresh_dev_price_feeds
from pools.services.preflight import (
    check_gas_account,
    check_secrets,
    run_preflight,
)
from pools.signer import signer_client
from tests.anvil import PROJECT_ROOT
from tests.indexer.test_rpc_without_debug import PublicRpc
from tests.loopback import serving

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db]

BASE_CHAIN_ID = 8453
REAL_SECRET_KEY = "a-real-secret-key-from-generate-secrets-0123456789"
REAL_CLIENT_KEY = "web:" + "ab" * 32


@pytest.fixture
def stack(settings, signer_stack, chain_snapshot, dev_chain):
    """The dev chain and signer, with fresh feeds (the session's clock may have moved past their heartbeat)."""
    refresh_dev_price_feeds(chain_snapshot.w3, dev_chain, deployer=chain_snapshot.account(0).address)
    return settings


def configure(settings, dev_chain, **overrides) -> None:
    """The CHAIN_* address settings as a real network has them: the dev chain's addresses, some replaced."""
    addresses = {name: value for name, value in asdict(dev_chain).items() if name != "chain_id"}
    settings.CHAIN_ADDRESSES = {**addresses, **overrides}


def by_name(findings) -> dict:
    return {finding.name: finding for finding in findings}


def failing(findings) -> list:
    return [(f.name, f.status, f.message) for f in findings if f.status != "ok"]


def test_every_check_is_ok_on_the_dev_chain(stack):
    findings = run_preflight()

    assert failing(findings) == []
    names = by_name(findings)
    assert {"rpc.chain_id", "address.launcher", "answers.uniswap_v2_router", "feed.eth_usd_feed", "rpc.traces",
            "signer", "gas_account", "secrets"} <= set(names)  # fmt: skip


def test_the_same_addresses_from_chain_settings_are_ok(stack, dev_chain):
    configure(stack, dev_chain)

    assert failing(run_preflight()) == []


def test_an_address_without_code_is_an_error_naming_its_setting(stack, dev_chain, anvil):
    configure(stack, dev_chain, usdc_usd_feed=anvil.account(7).address)

    finding = by_name(run_preflight())["address.usdc_usd_feed"]

    assert finding.status == "error"
    assert finding.message == f"no contract code at {anvil.account(7).address} on chain 31337"
    assert finding.fix == "set CHAIN_USDC_USD_FEED to the network's Chainlink USDC/USD feed"
    assert "feed.usdc_usd_feed" not in by_name(run_preflight())  # nothing asked of an address without code


def test_an_unset_launcher_says_to_deploy_it(stack, dev_chain):
    configure(stack, dev_chain, launcher="")

    finding = by_name(run_preflight())["address.launcher"]

    assert (finding.status, finding.message) == ("error", "CHAIN_LAUNCHER_ADDRESS is not set")
    assert "manage.py deploy_contracts" in finding.fix


def test_a_router_of_another_factory_is_an_error(stack, dev_chain, anvil):
    deployer = anvil.account(0).address
    other_factory = deploy_contract(anvil.w3, deployer=deployer, name="UniswapV2Factory", args=(deployer,))
    router = deploy_contract(
        anvil.w3, deployer=deployer, name="UniswapV2Router02", args=(other_factory, dev_chain.weth)
    )
    configure(stack, dev_chain, uniswap_v2_router=router)

    findings = by_name(run_preflight())

    finding = findings["answers.uniswap_v2_router"]
    assert finding.status == "error"
    assert finding.message == (
        f"factory() is {other_factory}, not CHAIN_UNISWAP_V2_FACTORY {dev_chain.uniswap_v2_factory}"
    )
    assert "from one Uniswap V2 deployment's official list" in finding.fix
    assert findings["answers.launcher"].status == "ok"


def test_a_feed_older_than_its_heartbeat_is_an_error(stack, dev_chain, anvil):
    stack.CHAIN_ETH_USD_FEED_HEARTBEAT = 1200
    feed = anvil.w3.eth.contract(address=dev_chain.eth_usd_feed, abi=load_artifact("DevPriceFeed").abi)
    now = anvil.w3.eth.get_block("latest")["timestamp"]
    tx = feed.functions.setAnswerAt(3_000 * 10**8, now - 1300).transact({"from": anvil.account(0).address})
    anvil.w3.eth.wait_for_transaction_receipt(tx)

    finding = by_name(run_preflight())["feed.eth_usd_feed"]

    assert finding.status == "error"
    assert "s old, more than CHAIN_ETH_USD_FEED_HEARTBEAT (1200 s)" in finding.message
    assert "CHAIN_ETH_USD_FEED_HEARTBEAT to the heartbeat Chainlink publishes" in finding.fix


def test_a_usdc_with_18_decimals_is_an_error(stack, dev_chain):
    configure(stack, dev_chain, usdc=dev_chain.weth)

    finding = by_name(run_preflight())["answers.usdc"]

    assert (finding.status, finding.message) == ("error", "WETH has 18 decimals, not 6")
    assert finding.fix == "set CHAIN_USDC_ADDRESS to the network's USDC (6 decimals)"


def test_a_signer_allowing_another_launcher_is_an_error(stack, dev_chain, anvil):
    other = deploy_contract(
        anvil.w3,
        deployer=anvil.account(0).address,
        name="Launcher",
        args=(dev_chain.uniswap_v2_factory, dev_chain.weth),
    )
    configure(stack, dev_chain, launcher=other)

    findings = by_name(run_preflight())

    assert findings["answers.launcher"].status == "ok"
    signer = findings["signer"]
    assert signer.status == "error"
    assert f"launcher {dev_chain.launcher} (the app's: {other})" in signer.message
    assert signer.fix.startswith("restart the signer with the app's CHAIN_* settings")


def test_an_rpc_without_debug_methods_is_a_warning_naming_what_is_missed(stack, anvil):
    with serving(PublicRpc(anvil.rpc_url)) as rpc:
        stack.CHAIN_RPC_URL = rpc.url
        findings = by_name(run_preflight(signer=False))

    traces = findings["rpc.traces"]
    assert traces.status == "warning"
    assert "ETH sent to a pool by a contract (a smart wallet, an exchange) is missed" in traces.message
    assert traces.fix.endswith('(docs/real-network.md, "The RPC")')
    assert not [f for f in findings.values() if f.status == "error"]


def test_an_rpc_without_eth_get_logs_is_an_error(stack, anvil):
    with serving(PublicRpc(anvil.rpc_url)) as rpc:
        rpc.refused_prefix = "eth_getLogs"
        stack.CHAIN_RPC_URL = rpc.url
        findings = by_name(run_preflight(signer=False))

    assert findings["rpc.logs"].status == "error"
    assert findings["rpc.logs"].message.startswith("eth_getLogs failed (the node does not offer it)")
    assert findings["rpc.traces"].status == "ok"


def test_an_unreachable_signer_is_a_warning_to_start_it(stack, signer_stack):
    signer_stack.stop()

    findings = by_name(run_preflight())

    assert findings["signer"].status == "warning"
    assert findings["signer"].fix == "start the signer, then run preflight again"
    assert findings["gas_account"].status == "warning"


def test_a_client_key_the_signer_does_not_know_is_an_error(stack):
    stack.SIGNER_CLIENT_KEY = "test:" + "cd" * 32

    findings = by_name(run_preflight())

    finding = findings["signer.client_key"]
    assert finding.status == "error"
    assert finding.fix == "set SIGNER_CLIENT_KEY to keyid:secret of one of the signer's SIGNER_HMAC_KEYS"
    assert "gas_account" not in findings


def test_development_secrets_on_base_are_errors(settings, tmp_path):
    settings.CHAIN_ID = BASE_CHAIN_ID
    settings.DEV_SECRETS_FILE = tmp_path / "dev-secrets.env"
    settings.SECRET_KEY = settings.DEVELOPMENT_SECRET_KEY
    settings.SIGNER_CLIENT_KEY = settings.DEVELOPMENT_SIGNER_CLIENT_KEY
    settings.DEBUG = True

    findings = by_name(check_secrets())

    assert {name: f.status for name, f in findings.items()} == {
        "secrets.django_secret_key": "error",
        "secrets.signer_client_key": "error",
        "secrets.debug": "error",
    }
    assert "manage.py generate_secrets" in findings["secrets.django_secret_key"].fix
    assert findings["secrets.debug"].fix == "set DJANGO_DEBUG=false in .env"


def test_the_secrets_devstack_generated_are_development_secrets_too(settings, tmp_path):
    (tmp_path / "dev-secrets.env").write_text(
        f"DJANGO_SECRET_KEY=generated-by-devstack\nSIGNER_CLIENT_KEY={REAL_CLIENT_KEY}\n"
    )
    settings.CHAIN_ID, settings.DEV_SECRETS_FILE, settings.DEBUG = BASE_CHAIN_ID, tmp_path / "dev-secrets.env", False
    settings.SECRET_KEY, settings.SIGNER_CLIENT_KEY = "generated-by-devstack", REAL_CLIENT_KEY

    assert [f.name for f in check_secrets()] == ["secrets.django_secret_key", "secrets.signer_client_key"]


def test_real_secrets_on_base_and_anything_on_a_local_chain_are_ok(settings, tmp_path):
    settings.DEV_SECRETS_FILE = tmp_path / "dev-secrets.env"
    settings.CHAIN_ID, settings.SECRET_KEY, settings.SIGNER_CLIENT_KEY = BASE_CHAIN_ID, REAL_SECRET_KEY, REAL_CLIENT_KEY
    settings.DEBUG = False
    assert [f.status for f in check_secrets()] == ["ok"]

    settings.CHAIN_ID, settings.SECRET_KEY, settings.DEBUG = 31337, settings.DEVELOPMENT_SECRET_KEY, True
    assert [f.status for f in check_secrets()] == ["ok"]


def test_an_empty_gas_account_on_base_is_an_error_and_a_low_one_a_warning(stack, anvil):
    stack.CHAIN_ID = BASE_CHAIN_ID  # the gas check alone: on a local chain anvil funds the gas account
    client = signer_client()
    address = client.addresses()["gas"]["address"]
    anvil.rpc("anvil_setBalance", [address, "0x0"])

    empty = check_gas_account(client, anvil.w3)

    assert empty.status == "error"
    assert "not enough for one top-up" in empty.message
    assert empty.fix.startswith("send ") and "ETH (" in empty.fix and address in empty.fix
    recommended = int(empty.detail["recommended_wei"])

    anvil.rpc("anvil_setBalance", [address, hex(recommended - 1)])
    assert check_gas_account(client, anvil.w3).status == "warning"

    anvil.rpc("anvil_setBalance", [address, hex(recommended)])
    assert check_gas_account(client, anvil.w3).status == "ok"


def test_an_empty_gas_account_on_the_local_chain_is_ok(stack, anvil):
    anvil.rpc("anvil_setBalance", [signer_client().addresses()["gas"]["address"], "0x0"])

    finding = by_name(run_preflight())["gas_account"]

    assert finding.status == "ok"
    assert "anvil funds it when needed" in finding.message


def test_the_command_prints_each_finding_and_exits_0_when_ready(stack, capsys):
    call_command("preflight")

    out = capsys.readouterr().out
    assert "ok       rpc.chain_id: chain id 31337" in out
    assert "ok       signer: allows the configured Launcher, Refunder and USDC" in out
    assert out.splitlines()[-1].endswith(": ready")


def test_the_command_prints_the_fix_and_exits_1_on_an_error(stack, dev_chain, anvil, capsys):
    configure(stack, dev_chain, refunder=anvil.account(8).address)

    with pytest.raises(CommandError) as raised:
        call_command("preflight", "--no-signer")

    assert raised.value.returncode == 1
    out = capsys.readouterr().out
    assert f"error    address.refunder: no contract code at {anvil.account(8).address} on chain 31337\n" in out
    assert "  fix: run `manage.py deploy_contracts` and add the CHAIN_* lines it prints to .env\n" in out
    assert "warning  signer: not checked (--no-signer)\n" in out
    assert out.splitlines()[-1].endswith("not ready: fix the errors above")


def test_the_command_exits_1_when_the_rpc_does_not_answer():
    env = {**os.environ, "CHAIN_RPC_URL": "http://127.0.0.1:9", "CHAIN_CHECK_ON_START": "false"}

    done = subprocess.run(
        [sys.executable, "manage.py", "preflight", "--no-signer"],
        cwd=PROJECT_ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )

    assert done.returncode == 1, done.stderr
    assert "error    rpc.chain_id: CHAIN_RPC_URL did not answer\n  fix: start the node" in done.stdout
