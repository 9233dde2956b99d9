"""Signed transactions are real: they recover to the key's address and execute on anvil (gas top-up, launch)."""

from __future__ import annotations

import json
import time

import pytest
from eth_account import Account
from web3.logs import DISCARD

from enclave_signer.merkle import AllocationTree
from tests.signer.conftest import PROJECT_ROOT
from tests.signer.factories import (
    CHAIN_ID,
    ETHER,
    GWEI,
    LAUNCH_GAS_LIMIT,
    closing_pool_params,
    launch_args,
    launch_calldata,
    make_signer,
    mine_past,
    native_raise,
    pool_params,
    send_eth,
    wire_tx,
    write_contracts_file,
)

pytestmark = pytest.mark.chain
BUILD = PROJECT_ROOT / "build" / "contracts"
UNISWAP_CORE = PROJECT_ROOT / "node_modules" / "@uniswap" / "v2-core" / "build"
UNISWAP_PERIPHERY = PROJECT_ROOT / "node_modules" / "@uniswap" / "v2-periphery" / "build"
TOPUP = 5 * 10**16
MAX_FEE = 3 * GWEI
CLAIM_VAULT_ABI = [
    {
        "name": "verify",
        "type": "function",
        "stateMutability": "view",
        "inputs": [
            {"name": "account", "type": "address"},
            {"name": "allocation", "type": "uint256"},
            {"name": "proof", "type": "bytes32[]"},
        ],
        "outputs": [{"name": "", "type": "bool"}],
    }
]


def top_up(anvil_chain, signer, *, pool: str, nonce: int) -> dict:
    """Fund the gas key from a dev account, then have the gas key top up the pool (a signed plain transfer)."""
    gas_key = signer.addresses()["gas"]["address"]
    anvil_chain.transact({"from": anvil_chain.account(0), "to": gas_key, "value": ETHER})
    outcome = signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=TOPUP, gas=21_000, nonce=nonce)})
    assert outcome.status == 200, outcome.body
    assert Account.recover_transaction(outcome.body["raw_tx"]) == gas_key
    return anvil_chain.broadcast(outcome.body["raw_tx"])


def test_gas_topup_is_signed_by_the_gas_key_and_executes(anvil_chain, data_dir):
    signer = make_signer(
        data_dir,
        chain=anvil_chain.reader,
        SIGNER_GAS_TOPUP_MAX_WEI=str(TOPUP),
        SIGNER_GAS_TOPUP_POOL_MAX_WEI=str(TOPUP + TOPUP // 2),
    )
    pool = signer.register_pool({"pool_id": "1", "chain_id": CHAIN_ID, "params": pool_params()}).body["address"]
    receipt = top_up(anvil_chain, signer, pool=pool, nonce=0)
    assert receipt["status"] == 1
    assert anvil_chain.w3.eth.get_balance(pool) == TOPUP
    too_much = signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=TOPUP + 1, gas=21_000, nonce=1)})
    assert too_much.body["code"] == "value_cap"
    too_much_gas = signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=1, gas=30_001, nonce=1)})
    assert too_much_gas.body["code"] == "bad_gas"
    # The mined top-up counts against the pool's cap: half of one more fits, a wei over it does not.
    past_cap = signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=TOPUP // 2 + 1, gas=21_000, nonce=1)})
    assert past_cap.body["code"] == "topup_cap"
    assert signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=TOPUP // 2, gas=21_000, nonce=1)}).status == 200


def test_a_signed_launch_executes_on_anvil(anvil_chain, data_dir, tmp_path):
    if not (BUILD / "Launcher.json").exists():
        pytest.skip("build/contracts/Launcher.json is not built yet (make contracts)")
    w3 = anvil_chain.w3
    deployer = anvil_chain.account(0)
    weth, _ = anvil_chain.deploy_artifact(UNISWAP_PERIPHERY / "WETH9.json")
    factory, _ = anvil_chain.deploy_artifact(UNISWAP_CORE / "UniswapV2Factory.json", args=(deployer,))
    feed, _ = anvil_chain.deploy_artifact(BUILD / "DevPriceFeed.json", args=(8, "ETH / USD", 3000 * 10**8))
    launcher, launcher_abi = anvil_chain.deploy_artifact(BUILD / "Launcher.json", args=(factory, weth))
    contracts = write_contracts_file(tmp_path / "contracts.json", launcher=launcher, raise_assets=())
    signer = make_signer(
        data_dir, chain=anvil_chain.reader, SIGNER_CONTRACTS_FILE=str(contracts), SIGNER_GAS_TOPUP_MAX_WEI=str(TOPUP)
    )
    params = closing_pool_params(w3, price_feed=feed)
    registered = signer.register_pool({"pool_id": "42", "chain_id": CHAIN_ID, "params": params, "final": True})
    pool = registered.body["address"]
    depositors = [anvil_chain.account(1), anvil_chain.account(2)]
    deposits = [send_eth(anvil_chain, sender=depositor, to=pool, value=ETHER) for depositor in depositors]
    top_up(anvil_chain, signer, pool=pool, nonce=0)

    # The raise closes; the signer proves its ledger complete at a block past the close (the pool holds the two
    # deposits and the top-up, which is not a deposit), and computes the credited total and the allocation's root.
    block = mine_past(w3, int(params["closes_at"]))
    recorded = signer.record_deposits({"pool_id": "42", "deposits": deposits, "complete_at_block": block})
    assert recorded.status == 200, recorded.body
    summary = recorded.body
    assert (summary["deposits"], summary["received"], summary["credited"]) == (2, str(2 * ETHER), str(2 * ETHER))
    # Each depositor put in half of the raise: half of the depositors' 30% of the supply each.
    tokens = {depositor: 150_000 * ETHER for depositor in depositors}
    tree = AllocationTree.build(tokens)
    assert summary["merkle_root"] == tree.root_hex

    block_time = w3.eth.get_block("latest")["timestamp"]

    def launch(raise_amount: int, gas: int) -> tuple[dict, dict]:
        fields = launch_args(
            pool_id=42,
            params=params,
            log_head=signer.log.head["hash"],
            raise_amount=raise_amount,
            merkleRoot=tree.root,
            deadline=max(int(time.time()), block_time) + 600,
        )
        data = launch_calldata(fields)
        return fields, wire_tx(to=launcher, data=data, value=raise_amount, gas=gas, max_fee=MAX_FEE)

    _, estimate_tx = launch(2 * ETHER, LAUNCH_GAS_LIMIT)
    estimate = w3.eth.estimate_gas({"from": pool, "to": launcher, "data": estimate_tx["data"], "value": 2 * ETHER})
    gas = max(LAUNCH_GAS_LIMIT, estimate * 12 // 10)
    raise_amount = native_raise(summary, gas=gas, max_fee=MAX_FEE)

    _, spends_the_topup = launch(raise_amount + TOPUP, gas)
    refused = signer.sign({"pool_id": "42", "tx": spends_the_topup})
    assert (refused.status, refused.body["code"]) == (403, "bad_amount"), "the gas top-up is not part of the raise"

    fields, tx = launch(raise_amount, gas)
    outcome = signer.sign({"pool_id": "42", "tx": tx})
    assert outcome.status == 200, outcome.body
    assert Account.recover_transaction(outcome.body["raw_tx"]) == pool
    receipt = anvil_chain.broadcast(outcome.body["raw_tx"])
    assert receipt["status"] == 1
    launched = (
        w3.eth.contract(address=launcher, abi=launcher_abi).events.Launched().process_receipt(receipt, errors=DISCARD)
    )
    assert len(launched) == 1
    token = launched[0]["args"]["token"]
    assert w3.eth.get_code(token) != b""
    assert launched[0]["args"]["record"]["raiseAmount"] == raise_amount
    record = json.dumps(dict(launched[0]["args"]["record"]), default=lambda value: "0x" + bytes(value).hex())
    assert signer.log.entries(after=-1, limit=100)[-1]["kind"] == "signed"
    assert fields["logHead"].hex() in record, "the launch anchors the signer's log head on-chain"

    # The depositors claim against the root the signer computed.
    vault = w3.eth.contract(address=launched[0]["args"]["record"]["claimVault"], abi=CLAIM_VAULT_ABI)
    for depositor in depositors:
        assert vault.functions.verify(depositor, tokens[depositor], tree.proof(depositor)).call()
    # Launched: the pool can no longer be refunded in full.
    too_late = signer.refund_all({"pool_id": "42"})
    assert (too_late.status, too_late.body["code"]) == (409, "pool_launched")
