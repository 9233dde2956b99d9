"""Signed transactions are real: they recover to the key's address and execute on anvil (gas top-up, launch)."""

from __future__ import annotations

import json
import time

import pytest
from eth_account import Account
from web3.logs import DISCARD

from tests.signer.conftest import PROJECT_ROOT
from tests.signer.factories import (
    CHAIN_ID,
    ETHER,
    GWEI,
    launch_args,
    launch_calldata,
    make_signer,
    pool_params,
    wire_tx,
    write_contracts_file,
)

pytestmark = pytest.mark.chain
BUILD = PROJECT_ROOT / "build" / "contracts"
UNISWAP_CORE = PROJECT_ROOT / "node_modules" / "@uniswap" / "v2-core" / "build"
UNISWAP_PERIPHERY = PROJECT_ROOT / "node_modules" / "@uniswap" / "v2-periphery" / "build"
TOPUP = 5 * 10**16


def top_up(anvil_chain, signer, *, pool: str, nonce: int) -> dict:
    """Fund the gas key from a dev account, then have the gas key top up the pool (a signed plain transfer)."""
    gas_key = signer.addresses()["gas"]["address"]
    anvil_chain.transact({"from": anvil_chain.account(0), "to": gas_key, "value": ETHER})
    outcome = signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=TOPUP, gas=21_000, nonce=nonce)})
    assert outcome.status == 200, outcome.body
    assert Account.recover_transaction(outcome.body["raw_tx"]) == gas_key
    return anvil_chain.broadcast(outcome.body["raw_tx"])


def test_gas_topup_is_signed_by_the_gas_key_and_executes(anvil_chain, data_dir):
    signer = make_signer(data_dir, chain=anvil_chain.reader, SIGNER_GAS_TOPUP_MAX_WEI=str(TOPUP))
    pool = signer.register_pool({"pool_id": "1", "chain_id": CHAIN_ID, "params": pool_params()}).body["address"]
    receipt = top_up(anvil_chain, signer, pool=pool, nonce=0)
    assert receipt["status"] == 1
    assert anvil_chain.w3.eth.get_balance(pool) == TOPUP
    too_much = signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=TOPUP + 1, gas=21_000, nonce=1)})
    assert too_much.body["code"] == "value_cap"


def test_a_signed_launch_executes_on_anvil(anvil_chain, data_dir, tmp_path):
    if not (BUILD / "Launcher.json").exists():
        pytest.skip("build/contracts/Launcher.json is not built yet (make contracts)")
    deployer = anvil_chain.account(0)
    weth, _ = anvil_chain.deploy_artifact(UNISWAP_PERIPHERY / "WETH9.json")
    factory, _ = anvil_chain.deploy_artifact(UNISWAP_CORE / "UniswapV2Factory.json", args=(deployer,))
    feed, _ = anvil_chain.deploy_artifact(BUILD / "DevPriceFeed.json", args=(8, "ETH / USD", 3000 * 10**8))
    launcher, launcher_abi = anvil_chain.deploy_artifact(BUILD / "Launcher.json", args=(factory, weth))
    contracts = write_contracts_file(tmp_path / "contracts.json", launcher=launcher, raise_assets=())
    signer = make_signer(
        data_dir, chain=anvil_chain.reader, SIGNER_CONTRACTS_FILE=str(contracts), SIGNER_GAS_TOPUP_MAX_WEI=str(TOPUP)
    )
    params = pool_params(price_feed=feed)
    pool = signer.register_pool({"pool_id": "42", "chain_id": CHAIN_ID, "params": params}).body["address"]
    anvil_chain.transact({"from": anvil_chain.account(1), "to": pool, "value": ETHER})
    anvil_chain.transact({"from": anvil_chain.account(2), "to": pool, "value": ETHER})
    top_up(anvil_chain, signer, pool=pool, nonce=0)

    block_time = anvil_chain.w3.eth.get_block("latest")["timestamp"]
    fields = launch_args(
        pool_id=42,
        params=params,
        log_head=signer.log.head["hash"],
        raise_amount=2 * ETHER,
        deadline=max(int(time.time()), block_time) + 600,
    )
    data = launch_calldata(fields)
    gas = anvil_chain.w3.eth.estimate_gas({"from": pool, "to": launcher, "data": data, "value": 2 * ETHER})
    tx = wire_tx(to=launcher, data=data, value=2 * ETHER, gas=gas * 12 // 10, max_fee=3 * GWEI)
    outcome = signer.sign({"pool_id": "42", "tx": tx})
    assert outcome.status == 200, outcome.body
    assert Account.recover_transaction(outcome.body["raw_tx"]) == pool
    receipt = anvil_chain.broadcast(outcome.body["raw_tx"])
    assert receipt["status"] == 1
    launched = (
        anvil_chain.w3.eth.contract(address=launcher, abi=launcher_abi)
        .events.Launched()
        .process_receipt(receipt, errors=DISCARD)
    )
    assert len(launched) == 1
    token = launched[0]["args"]["token"]
    assert anvil_chain.w3.eth.get_code(token) != b""
    record = json.dumps(dict(launched[0]["args"]["record"]), default=lambda value: "0x" + bytes(value).hex())
    assert signer.log.entries(after=-1, limit=100)[-1]["kind"] == "signed"
    assert fields["logHead"].hex() in record, "the launch anchors the signer's log head on-chain"
