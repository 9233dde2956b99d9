"""Refund evidence checked on a real chain: only real, unrefunded deposits to this pool are paid back."""

from __future__ import annotations

import json

import pytest
from eth_account import Account

from tests.signer.conftest import FORWARDER_INITCODE, PROJECT_ROOT
from tests.signer.factories import (
    CHAIN_ID,
    ETHER,
    REFUNDER,
    make_signer,
    pool_params,
    refund_erc20_calldata,
    refund_eth_calldata,
    wire_tx,
    write_contracts_file,
)

pytestmark = pytest.mark.chain
UNISWAP_ERC20 = PROJECT_ROOT / "node_modules" / "@uniswap" / "v2-core" / "build" / "ERC20.json"


def hex_hash(value) -> str:
    return "0x" + bytes(value).hex()


@pytest.fixture
def token(anvil_chain):
    """A plain ERC-20 (Uniswap V2's test ERC20: mints the supply to the deployer)."""
    address, abi = anvil_chain.deploy_artifact(UNISWAP_ERC20, args=(10**24,))
    return anvil_chain.w3.eth.contract(address=address, abi=abi)


@pytest.fixture
def signer(anvil_chain, data_dir, tmp_path, token):
    contracts = write_contracts_file(tmp_path / "contracts.json", raise_assets=(token.address,))
    return make_signer(data_dir, chain=anvil_chain.reader, SIGNER_CONTRACTS_FILE=str(contracts))


def register(signer, pool_id: int, **overrides) -> str:
    outcome = signer.register_pool({"pool_id": pool_id, "chain_id": CHAIN_ID, "params": pool_params(**overrides)})
    assert outcome.status in (200, 201), outcome.body
    return outcome.body["address"]


def deposit_eth(chain, *, sender: str, to: str, value: int) -> str:
    return hex_hash(chain.transact({"from": sender, "to": to, "value": value})["transactionHash"])


def refund_eth(
    signer,
    pool_id: int,
    recipients: list[str],
    amounts: list[int],
    evidence: dict,
    *,
    nonce: int = 0,
    max_fee: int = 2 * 10**9,
):
    tx = wire_tx(
        to=REFUNDER, data=refund_eth_calldata(recipients, amounts), value=sum(amounts), nonce=nonce, max_fee=max_fee
    )
    return signer.sign({"pool_id": str(pool_id), "tx": tx, "evidence": evidence})


def test_refund_of_a_native_deposit_is_signed_and_recovers_to_the_pool_address(anvil_chain, signer):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    tx_hash = deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)
    outcome = refund_eth(signer, 1, [depositor], [ETHER], {depositor: [{"tx_hash": tx_hash}]})
    assert outcome.status == 200, outcome.body
    assert Account.recover_transaction(outcome.body["raw_tx"]) == pool
    assert outcome.body["intent"]["kind"] == "refundETH"
    assert signer.log.entries(after=-1, limit=100)[-1]["kind"] == "signed"


def test_refund_to_someone_who_never_deposited_is_refused(anvil_chain, signer):
    pool = register(signer, 1)
    depositor, stranger = anvil_chain.account(1), anvil_chain.account(2)
    tx_hash = deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)
    borrowed = refund_eth(signer, 1, [stranger], [ETHER], {stranger: [{"tx_hash": tx_hash}]})
    assert (borrowed.status, borrowed.body["code"]) == (403, "not_a_deposit")
    invented = refund_eth(signer, 1, [stranger], [ETHER], {stranger: [{"tx_hash": "0x" + "12" * 32}]})
    assert (invented.status, invented.body["code"]) == (403, "deposit_not_found")
    missing = refund_eth(signer, 1, [stranger], [ETHER], {})
    assert (missing.status, missing.body["code"]) == (403, "missing_evidence")
    assert signer.log.entries(after=-1, limit=100)[-1]["kind"] == "refused"


def test_refund_citing_another_pools_deposit_is_refused(anvil_chain, signer):
    register(signer, 1)
    other_pool = register(signer, 2)
    depositor = anvil_chain.account(1)
    tx_hash = deposit_eth(anvil_chain, sender=depositor, to=other_pool, value=ETHER)
    outcome = refund_eth(signer, 1, [depositor], [ETHER], {depositor: [{"tx_hash": tx_hash}]})
    assert (outcome.status, outcome.body["code"]) == (403, "not_a_deposit")


def test_refund_citing_an_already_refunded_deposit_is_refused(anvil_chain, signer):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    evidence = {depositor: [{"tx_hash": deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)}]}
    first = refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=0)
    assert first.status == 200
    again = refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=0)
    assert again.body["raw_tx"] == first.body["raw_tx"], "the same request at the same nonce is idempotent"
    fee_bump = refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=0, max_fee=3 * 10**9)
    assert fee_bump.status == 200, "a replacement at the same nonce can only be mined instead, not as well"
    twice = refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=1)
    assert (twice.status, twice.body["code"]) == (403, "already_refunded")
    spelled_differently = {depositor: [{"tx_hash": evidence[depositor][0]["tx_hash"], "trace_address": []}]}
    assert refund_eth(signer, 1, [depositor], [ETHER], spelled_differently, nonce=1).body["code"] == "already_refunded"


def test_partial_refunds_add_up_to_the_deposit_and_no_more(anvil_chain, signer):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    evidence = {depositor: [{"tx_hash": deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)}]}
    assert refund_eth(signer, 1, [depositor], [ETHER * 4 // 10], evidence, nonce=0).status == 200
    assert refund_eth(signer, 1, [depositor], [ETHER * 6 // 10], evidence, nonce=1).status == 200
    assert refund_eth(signer, 1, [depositor], [1], evidence, nonce=2).body["code"] == "already_refunded"


def test_refunded_record_survives_a_restart(anvil_chain, signer, data_dir, tmp_path, token):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    evidence = {depositor: [{"tx_hash": deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)}]}
    assert refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=0).status == 200
    reopened = make_signer(data_dir, chain=anvil_chain.reader, SIGNER_CONTRACTS_FILE=str(tmp_path / "contracts.json"))
    assert refund_eth(reopened, 1, [depositor], [ETHER], evidence, nonce=1).body["code"] == "already_refunded"


def test_erc20_deposit_is_evidenced_by_its_transfer_log(anvil_chain, signer, token):
    pool = register(signer, 3, raise_asset=token.address, soft_cap=100, hard_cap=10**20, max_value_wei=10**20)
    depositor = anvil_chain.account(1)
    anvil_chain.transact(token.functions.transfer(depositor, 1000).build_transaction({"from": anvil_chain.account(0)}))
    receipt = anvil_chain.transact(token.functions.transfer(pool, 700).build_transaction({"from": depositor}))
    log = receipt["logs"][0]
    evidence = {depositor: [{"tx_hash": hex_hash(receipt["transactionHash"]), "log_index": log["logIndex"]}]}

    def refund(amount: int, nonce: int, cited=evidence):
        tx = wire_tx(to=REFUNDER, data=refund_erc20_calldata(token.address, [depositor], [amount]), nonce=nonce)
        return signer.sign({"pool_id": "3", "tx": tx, "evidence": cited})

    assert refund(700, 0).status == 200
    assert refund(1, 1).body["code"] == "already_refunded"
    wrong_index = {depositor: [{"tx_hash": evidence[depositor][0]["tx_hash"], "log_index": log["logIndex"] + 5}]}
    assert refund(1, 1, wrong_index).body["code"] == "deposit_not_found"
    native_spelling = {depositor: [{"tx_hash": evidence[depositor][0]["tx_hash"]}]}
    assert refund(1, 1, native_spelling).body["code"] == "wrong_asset"


def test_internal_native_deposit_is_evidenced_by_its_trace_address(anvil_chain, signer):
    pool = register(signer, 4)
    wallet = anvil_chain.transact({"from": anvil_chain.account(1), "data": FORWARDER_INITCODE})["contractAddress"]
    receipt = anvil_chain.transact(
        {"from": anvil_chain.account(1), "to": wallet, "value": ETHER, "data": "0x" + pool.lower()[2:].rjust(64, "0")}
    )
    tx_hash = hex_hash(receipt["transactionHash"])
    assert anvil_chain.w3.eth.get_balance(pool) == ETHER
    as_top_level = refund_eth(signer, 4, [wallet], [ETHER], {wallet: [{"tx_hash": tx_hash}]})
    assert as_top_level.body["code"] == "not_a_deposit", "the top-level call went to the wallet, not the pool"
    wrong_sender = anvil_chain.account(1)
    impostor = refund_eth(
        signer, 4, [wrong_sender], [ETHER], {wrong_sender: [{"tx_hash": tx_hash, "trace_address": [0]}]}
    )
    assert impostor.body["code"] == "not_a_deposit"
    assert (
        refund_eth(signer, 4, [wallet], [ETHER], {wallet: [{"tx_hash": tx_hash, "trace_address": [1]}]}).body["code"]
        == "deposit_not_found"
    )
    good = refund_eth(signer, 4, [wallet], [ETHER], {wallet: [{"tx_hash": tx_hash, "trace_address": [0]}]})
    assert good.status == 200, good.body


def test_a_reverted_deposit_is_not_evidence(anvil_chain, signer):
    pool = register(signer, 5)
    wallet = anvil_chain.transact({"from": anvil_chain.account(1), "data": FORWARDER_INITCODE})["contractAddress"]
    w3 = anvil_chain.w3
    tx_hash = w3.eth.send_transaction(
        {
            "from": anvil_chain.account(1),
            "to": wallet,
            "value": ETHER,
            "gas": 23_000,
            "data": "0x" + pool.lower()[2:].rjust(64, "0"),
        }
    )
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 0
    outcome = refund_eth(signer, 5, [wallet], [ETHER], {wallet: [{"tx_hash": hex_hash(tx_hash), "trace_address": [0]}]})
    assert outcome.body["code"] == "deposit_failed"


def test_refund_decisions_are_logged_with_the_consumed_deposits(anvil_chain, signer):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    tx_hash = deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)
    refund_eth(signer, 1, [depositor], [ETHER], {depositor: [{"tx_hash": tx_hash}]})
    entry = signer.log.entries(after=-1, limit=100)[-1]
    assert json.dumps(entry["payload"]["refunded_deposits"]) == json.dumps(
        {f"{CHAIN_ID}:{tx_hash}:trace:": {"amount": str(ETHER), "take": str(ETHER)}}
    )
