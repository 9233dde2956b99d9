"""Refund evidence checked on a real chain: deposits are proven into the signer's own ledger first (record_deposits),
and only deposits in that ledger, sent by the recipient and still owed, are paid back -- in full once the pool is being
refunded in full, or the crediting rules' owed-back part after a successful launch."""

from __future__ import annotations

import json
import time

import pytest
from eth_account import Account

from enclave_signer.allocation import allocate_pro_rata, split_supply
from enclave_signer.merkle import AllocationTree
from enclave_signer.policy import refund_gas_range
from enclave_signer.service import RequestError
from tests.signer.conftest import FORWARDER_INITCODE, PROJECT_ROOT
from tests.signer.factories import (
    CHAIN_ID,
    ETHER,
    GWEI,
    LAUNCHER,
    REFUNDER,
    launch_args,
    launch_calldata,
    make_signer,
    pool_params,
    refund_erc20_calldata,
    refund_eth_calldata,
    wire_tx,
    write_contracts_file,
)

pytestmark = pytest.mark.chain
UNISWAP_ERC20 = PROJECT_ROOT / "node_modules" / "@uniswap" / "v2-core" / "build" / "ERC20.json"
TOPUP = 10**16


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
    return make_signer(
        data_dir, chain=anvil_chain.reader, SIGNER_CONTRACTS_FILE=str(contracts), SIGNER_GAS_TOPUP_MAX_WEI=str(TOPUP)
    )


def register(signer, pool_id: int, **overrides) -> str:
    outcome = signer.register_pool({"pool_id": pool_id, "chain_id": CHAIN_ID, "params": pool_params(**overrides)})
    assert outcome.status in (200, 201), outcome.body
    return outcome.body["address"]


def deposit_eth(chain, *, sender: str, to: str, value: int) -> str:
    return hex_hash(chain.transact({"from": sender, "to": to, "value": value})["transactionHash"])


def head(chain) -> int:
    return chain.w3.eth.block_number


def record(signer, pool_id: int, deposits: list[dict], *, complete_at_block: int | None = None):
    body: dict = {"pool_id": str(pool_id), "deposits": deposits}
    if complete_at_block is not None:
        body["complete_at_block"] = str(complete_at_block)
    return signer.record_deposits(body)


def prove_complete(signer, chain, pool_id: int, deposits: list[dict]) -> dict:
    """Record `deposits` and prove them every deposit the pool address got, at the newest block."""
    outcome = record(signer, pool_id, deposits, complete_at_block=head(chain))
    assert outcome.status == 200, outcome.body
    return outcome.body


def refund_all(signer, pool_id: int) -> None:
    outcome = signer.refund_all({"pool_id": str(pool_id)})
    assert (outcome.status, outcome.body["phase"]) == (200, "refund_all"), outcome.body


def refunding_pool(signer, chain, pool_id: int, deposits: list[dict]) -> None:
    """The usual set-up for a refund: the deposits proven complete, then the pool refunded in full."""
    prove_complete(signer, chain, pool_id, deposits)
    refund_all(signer, pool_id)


def refund_eth(
    signer,
    pool_id: int,
    recipients: list[str],
    amounts: list[int],
    evidence: dict,
    *,
    nonce: int = 0,
    max_fee: int = 2 * GWEI,
    gas: int | None = None,
):
    gas = gas or refund_gas_range(len(recipients), native=True)[0]
    tx = wire_tx(
        to=REFUNDER,
        data=refund_eth_calldata(recipients, amounts),
        value=sum(amounts),
        nonce=nonce,
        max_fee=max_fee,
        gas=gas,
    )
    return signer.sign({"pool_id": str(pool_id), "tx": tx, "evidence": evidence})


def log_kinds(signer) -> list[str]:
    return [entry["kind"] for entry in signer.log.entries(after=-1, limit=1000)]


def trace_address_of(chain, tx_hash: str, *, frame_type: str, to: str) -> list[int]:
    """The callTracer position of the (only) frame of `frame_type` to `to` in the transaction."""
    trace = chain.w3.provider.make_request("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])["result"]
    found = []

    def walk(frame: dict, path: list[int]) -> None:
        if frame.get("type") == frame_type and frame.get("to", "").lower() == to.lower():
            found.append(path)
        for index, child in enumerate(frame.get("calls") or []):
            walk(child, [*path, index])

    walk(trace, [])
    assert len(found) == 1, trace
    return found[0]


# -- the ledger ---------------------------------------------------------------------------------------------------


def test_ledger_is_proven_complete_only_with_every_deposit(anvil_chain, signer):
    pool = register(signer, 1)
    other_pool = register(signer, 2)
    alice, bob = anvil_chain.account(1), anvil_chain.account(2)
    alices = {"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=ETHER)}
    bobs = {"tx_hash": deposit_eth(anvil_chain, sender=bob, to=pool, value=3 * 10**17)}
    elsewhere = {"tx_hash": deposit_eth(anvil_chain, sender=bob, to=other_pool, value=2 * 10**17)}
    block = head(anvil_chain)

    left_out = record(signer, 1, [alices], complete_at_block=block)
    assert (left_out.status, left_out.body["code"]) == (403, "ledger_incomplete")
    assert "missing" in left_out.body["reason"]
    assert f"received {3 * 10**17} more than the ledger accounts for" in left_out.body["reason"]
    assert log_kinds(signer)[-1] == "ledger_refused"

    made_up = record(signer, 1, [alices, bobs, elsewhere], complete_at_block=block)
    assert (made_up.status, made_up.body["code"]) == (403, "not_a_deposit")

    unconfirmed = record(signer, 1, [alices, bobs], complete_at_block=block + 5)
    assert (unconfirmed.status, unconfirmed.body["code"]) == (403, "ledger_unconfirmed")

    complete = record(signer, 1, [alices, bobs], complete_at_block=block)
    assert complete.status == 200, complete.body
    body = complete.body
    assert body["verified"]["block"] == block
    assert body["verified"]["timestamp"] == anvil_chain.w3.eth.get_block(block)["timestamp"]
    assert (body["deposits"], body["received"]) == (2, str(13 * 10**17)), "the made-up request recorded nothing"
    assert body["credited"] == str(13 * 10**17)
    params = pool_params()
    supply = split_supply(
        total_supply=int(params["total_supply"]),
        liquidity_bps=int(params["liquidity_supply_bps"]),
        depositor_bps=int(params["depositor_supply_bps"]),
    )
    tokens = allocate_pro_rata(total=supply.depositors, contributions={alice.lower(): ETHER, bob.lower(): 3 * 10**17})
    assert body["merkle_root"] == AllocationTree.build(tokens).root_hex
    assert log_kinds(signer)[-1] == "ledger_complete"
    ledger = signer.state["ledgers"]["1"]["deposits"]
    assert ledger[f"{CHAIN_ID}:{bobs['tx_hash']}:trace:"]["sender"] == bob, "the sender is read from the chain"


def test_a_selfdestruct_to_the_pool_is_a_deposit(anvil_chain, signer):
    pool = register(signer, 1)
    alice, deployer = anvil_chain.account(1), anvil_chain.account(3)
    alices = {"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=ETHER)}
    # Initcode `PUSH20 pool; SELFDESTRUCT`: the constructor hands the value it was created with to the pool.
    receipt = anvil_chain.transact({"from": deployer, "data": "0x73" + pool.lower()[2:] + "ff", "value": ETHER // 2})
    created, tx_hash = receipt["contractAddress"], hex_hash(receipt["transactionHash"])
    assert anvil_chain.w3.eth.get_balance(pool) == ETHER + ETHER // 2
    where = trace_address_of(anvil_chain, tx_hash, frame_type="SELFDESTRUCT", to=pool)
    selfdestructed = {"tx_hash": tx_hash, "trace_address": where}

    without = record(signer, 1, [alices], complete_at_block=head(anvil_chain))
    assert without.body["code"] == "ledger_incomplete"
    assert f"received {ETHER // 2} more" in without.body["reason"]
    complete = prove_complete(signer, anvil_chain, 1, [alices, selfdestructed])
    assert (complete["deposits"], complete["credited"]) == (2, str(ETHER + ETHER // 2))
    key = f"{CHAIN_ID}:{tx_hash}:trace:{'.'.join(map(str, where))}"
    assert signer.state["ledgers"]["1"]["deposits"][key]["sender"] == created

    refund_all(signer, 1)
    evidence = {deployer: [selfdestructed]}
    assert refund_eth(signer, 1, [deployer], [ETHER // 2], evidence).body["code"] == "not_a_deposit"
    assert refund_eth(signer, 1, [created], [ETHER // 2], {created: [selfdestructed]}).status == 200


def test_eth_without_a_transaction_is_refused_before_and_set_apart_after_the_pool_is_refunded_in_full(
    anvil_chain, signer
):
    """A block's priority fees paid to the pool address (it is the block's coinbase): ETH that arrives without any
    transaction to it. Before the pool is settled it cannot be told from a hidden deposit, so the ledger is not
    complete; once it is refunded in full it is nobody's, recorded as unexplained, and refunds go on."""
    pool = register(signer, 1)
    alice, bob, carol = anvil_chain.account(1), anvil_chain.account(2), anvil_chain.account(3)
    alices = {"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=ETHER)}
    miner = anvil_chain.w3.eth.get_block("latest")["miner"]
    anvil_chain.w3.provider.make_request("anvil_setCoinbase", [pool])
    try:
        tip = {"maxPriorityFeePerGas": GWEI, "maxFeePerGas": 10 * GWEI}
        anvil_chain.transact({"from": bob, "to": carol, "value": 1, **tip})
    finally:
        anvil_chain.w3.provider.make_request("anvil_setCoinbase", [miner])
    surplus = anvil_chain.w3.eth.get_balance(pool) - ETHER
    assert surplus > 0

    before = record(signer, 1, [alices], complete_at_block=head(anvil_chain))
    assert before.body["code"] == "ledger_incomplete" and f"received {surplus} more" in before.body["reason"]
    refund_all(signer, 1)
    after = prove_complete(signer, anvil_chain, 1, [alices])
    assert after["verified"]["block"] == head(anvil_chain)
    complete = [e for e in signer.log.entries(after=-1, limit=1000) if e["kind"] == "ledger_complete"][-1]
    assert complete["payload"]["unexplained"] == str(surplus)
    assert refund_eth(signer, 1, [alice], [ETHER], {alice: [alices]}).status == 200
    assert refund_eth(signer, 1, [bob], [surplus], {bob: [alices]}, nonce=1).body["code"] == "not_a_deposit"


def test_a_gas_topup_is_not_a_deposit_but_is_counted_for_completeness(anvil_chain, signer):
    pool = register(signer, 1)
    alice = anvil_chain.account(1)
    alices = {"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=ETHER)}
    gas_key = signer.addresses()["gas"]["address"]
    anvil_chain.transact({"from": anvil_chain.account(0), "to": gas_key, "value": ETHER})
    topup = signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=TOPUP, gas=21_000, nonce=0)})
    assert topup.status == 200, topup.body
    assert anvil_chain.broadcast(topup.body["raw_tx"])["status"] == 1
    assert anvil_chain.w3.eth.get_balance(pool) == ETHER + TOPUP

    as_deposit = record(signer, 1, [{"tx_hash": topup.body["tx_hash"]}], complete_at_block=head(anvil_chain))
    assert (as_deposit.status, as_deposit.body["code"]) == (403, "not_a_deposit")
    assert "gas-funding" in as_deposit.body["reason"]
    # A second top-up signed but never mined is not in the balance, and completeness does not count it either.
    unmined = signer.sign({"pool_id": "gas", "tx": wire_tx(to=pool, value=TOPUP, gas=21_000, nonce=1)})
    assert unmined.status == 200, unmined.body
    complete = prove_complete(signer, anvil_chain, 1, [alices])
    assert (complete["deposits"], complete["received"], complete["credited"]) == (1, str(ETHER), str(ETHER))


# -- when refunds are allowed -------------------------------------------------------------------------------------


def test_no_refund_before_refund_all_or_a_launch_and_refund_all_is_idempotent(anvil_chain, signer):
    pool = register(signer, 1)
    alice = anvil_chain.account(1)
    evidence = {alice: [{"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=ETHER)}]}
    before_ledger = refund_eth(signer, 1, [alice], [ETHER], evidence)
    assert (before_ledger.status, before_ledger.body["code"]) == (403, "not_in_ledger")
    prove_complete(signer, anvil_chain, 1, evidence[alice])
    too_early = refund_eth(signer, 1, [alice], [1], evidence)
    assert (too_early.status, too_early.body["code"]) == (403, "not_refundable")

    refund_all(signer, 1)
    refund_all(signer, 1)
    assert log_kinds(signer).count("pool_refund_all") == 1, "the second call changes nothing and logs nothing"
    entry = next(e for e in reversed(signer.log.entries(after=-1, limit=1000)) if e["kind"] == "pool_refund_all")
    assert entry["payload"] == {"pool_id": "1"}
    with pytest.raises(RequestError) as unknown:
        signer.refund_all({"pool_id": "9"})
    assert (unknown.value.status, unknown.value.code) == (404, "not_found")

    assert refund_eth(signer, 1, [alice], [ETHER], evidence).status == 200
    params = pool_params()
    fields = launch_args(pool_id=1, params=params, log_head=signer.log.head["hash"], raise_amount=ETHER // 2)
    launch = wire_tx(to=LAUNCHER, data=launch_calldata(fields), value=ETHER // 2, gas=5_000_000, nonce=1)
    refused = signer.sign({"pool_id": "1", "tx": launch})
    assert (refused.status, refused.body["code"]) == (403, "pool_refunding")


def test_after_a_launch_only_the_owed_back_part_is_refunded(anvil_chain, signer):
    cap = ETHER
    pool = register(signer, 1, soft_cap=cap, hard_cap=cap)
    alice, bob = anvil_chain.account(1), anvil_chain.account(2)
    alices = {"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=cap + cap // 2)}
    ledger = prove_complete(signer, anvil_chain, 1, [alices])
    assert ledger["credited"] == str(cap), "half an ether is above the hard cap"

    gas, max_fee = 5_000_000, 2 * GWEI
    raise_amount = cap - gas * max_fee
    block_time = anvil_chain.w3.eth.get_block("latest")["timestamp"]
    fields = launch_args(
        pool_id=1,
        params=pool_params(soft_cap=cap, hard_cap=cap),
        log_head=signer.log.head["hash"],
        raise_amount=raise_amount,
        merkleRoot=bytes.fromhex(ledger["merkle_root"][2:]),
        deadline=max(int(time.time()), block_time) + 600,
    )
    launch = wire_tx(to=LAUNCHER, data=launch_calldata(fields), value=raise_amount, gas=gas, max_fee=max_fee)
    signed = signer.sign({"pool_id": "1", "tx": launch})
    assert signed.status == 200, signed.body
    in_flight = signer.refund_all({"pool_id": "1"})
    assert (in_flight.status, in_flight.body["code"]) == (409, "launch_in_flight")
    assert anvil_chain.broadcast(signed.body["raw_tx"])["status"] == 1  # the Launcher here is a plain address
    launched = signer.refund_all({"pool_id": "1"})
    assert (launched.status, launched.body["code"]) == (409, "pool_launched")
    assert log_kinds(signer)[-1] == "refund_all_refused"

    evidence = {alice: [alices]}
    more = refund_eth(signer, 1, [alice], [cap // 2 + 1], evidence, nonce=1)
    assert (more.status, more.body["code"]) == (403, "not_evidenced")
    assert refund_eth(signer, 1, [alice], [cap // 2], evidence, nonce=1).status == 200
    assert refund_eth(signer, 1, [alice], [1], evidence, nonce=2).body["code"] == "already_refunded"

    late = {"tx_hash": deposit_eth(anvil_chain, sender=bob, to=pool, value=ETHER)}
    assert record(signer, 1, [late]).status == 200
    past_verified = refund_eth(signer, 1, [bob], [ETHER], {bob: [late]}, nonce=2)
    assert (past_verified.status, past_verified.body["code"]) == (403, "ledger_incomplete")


def test_refund_gas_must_fit_the_recipients(anvil_chain, signer):
    pool = register(signer, 1)
    alice = anvil_chain.account(1)
    evidence = {alice: [{"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=ETHER)}]}
    refunding_pool(signer, anvil_chain, 1, evidence[alice])
    assert refund_gas_range(1, native=True) == (150_000, 300_000)
    assert refund_eth(signer, 1, [alice], [ETHER], evidence, gas=149_999).body["code"] == "bad_gas"
    assert refund_eth(signer, 1, [alice], [ETHER], evidence, gas=300_001).body["code"] == "bad_gas"
    assert refund_eth(signer, 1, [alice], [ETHER], evidence, gas=300_000).status == 200


# -- what a refund may cite ---------------------------------------------------------------------------------------


def test_refund_of_a_native_deposit_is_signed_and_recovers_to_the_pool_address(anvil_chain, signer):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    tx_hash = deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)
    refunding_pool(signer, anvil_chain, 1, [{"tx_hash": tx_hash}])
    outcome = refund_eth(signer, 1, [depositor], [ETHER], {depositor: [{"tx_hash": tx_hash}]})
    assert outcome.status == 200, outcome.body
    assert Account.recover_transaction(outcome.body["raw_tx"]) == pool
    assert outcome.body["intent"]["kind"] == "refundETH"
    assert log_kinds(signer)[-1] == "signed"


def test_refund_to_someone_who_never_deposited_is_refused(anvil_chain, signer):
    pool = register(signer, 1)
    depositor, stranger = anvil_chain.account(1), anvil_chain.account(2)
    tx_hash = deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)
    refunding_pool(signer, anvil_chain, 1, [{"tx_hash": tx_hash}])
    borrowed = refund_eth(signer, 1, [stranger], [ETHER], {stranger: [{"tx_hash": tx_hash}]})
    assert (borrowed.status, borrowed.body["code"]) == (403, "not_a_deposit")
    invented_hash = "0x" + "12" * 32
    invented = refund_eth(signer, 1, [stranger], [ETHER], {stranger: [{"tx_hash": invented_hash}]})
    assert (invented.status, invented.body["code"]) == (403, "not_in_ledger")
    missing = refund_eth(signer, 1, [stranger], [ETHER], {})
    assert (missing.status, missing.body["code"]) == (403, "missing_evidence")
    assert log_kinds(signer)[-1] == "refused"
    not_mined = record(signer, 1, [{"tx_hash": invented_hash}])
    assert (not_mined.status, not_mined.body["code"]) == (403, "deposit_not_found")


def test_refund_citing_another_pools_deposit_is_refused(anvil_chain, signer):
    register(signer, 1)
    other_pool = register(signer, 2)
    depositor = anvil_chain.account(1)
    elsewhere = {"tx_hash": deposit_eth(anvil_chain, sender=depositor, to=other_pool, value=ETHER)}
    cited_here = record(signer, 1, [elsewhere])
    assert (cited_here.status, cited_here.body["code"]) == (403, "not_a_deposit")
    refunding_pool(signer, anvil_chain, 1, [])
    refunding_pool(signer, anvil_chain, 2, [elsewhere])  # in pool 2's ledger, which is not pool 1's
    outcome = refund_eth(signer, 1, [depositor], [ETHER], {depositor: [elsewhere]})
    assert (outcome.status, outcome.body["code"]) == (403, "not_in_ledger")
    assert refund_eth(signer, 2, [depositor], [ETHER], {depositor: [elsewhere]}).status == 200


def test_refund_citing_an_already_refunded_deposit_is_refused(anvil_chain, signer):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    evidence = {depositor: [{"tx_hash": deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)}]}
    refunding_pool(signer, anvil_chain, 1, evidence[depositor])
    first = refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=0)
    assert first.status == 200, first.body
    again = refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=0)
    assert again.body["raw_tx"] == first.body["raw_tx"], "the same request at the same nonce is idempotent"
    fee_bump = refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=0, max_fee=3 * GWEI)
    assert fee_bump.status == 200, "a replacement at the same nonce can only be mined instead, not as well"
    twice = refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=1)
    assert (twice.status, twice.body["code"]) == (403, "already_refunded")
    spelled_differently = {depositor: [{"tx_hash": evidence[depositor][0]["tx_hash"], "trace_address": []}]}
    assert refund_eth(signer, 1, [depositor], [ETHER], spelled_differently, nonce=1).body["code"] == "already_refunded"


def test_a_refund_replaced_at_its_nonce_no_longer_locks_the_deposit(anvil_chain, signer):
    pool = register(signer, 1)
    alice, bob = anvil_chain.account(1), anvil_chain.account(2)
    alices = {alice: [{"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=ETHER)}]}
    bobs = {bob: [{"tx_hash": deposit_eth(anvil_chain, sender=bob, to=pool, value=2 * 10**17)}]}
    refunding_pool(signer, anvil_chain, 1, alices[alice] + bobs[bob])

    to_alice = refund_eth(signer, 1, [alice], [ETHER], alices, nonce=0)
    assert to_alice.status == 200, to_alice.body
    to_bob = refund_eth(signer, 1, [bob], [1], bobs, nonce=0)
    assert to_bob.status == 200, to_bob.body
    while_open = refund_eth(signer, 1, [alice], [ETHER], alices, nonce=1)
    assert (while_open.status, while_open.body["code"]) == (403, "already_refunded"), "nonce 0 may still pay alice"

    mined = anvil_chain.broadcast(to_bob.body["raw_tx"])
    assert (mined["status"], hex_hash(mined["transactionHash"])) == (1, to_bob.body["tx_hash"])
    released = refund_eth(signer, 1, [alice], [ETHER], alices, nonce=1)
    assert released.status == 200, released.body  # was already_refunded: alice's refund at nonce 0 can never be mined
    assert refund_eth(signer, 1, [bob], [2 * 10**17], bobs, nonce=2).body["code"] == "already_refunded"
    assert refund_eth(signer, 1, [bob], [2 * 10**17 - 1], bobs, nonce=2).status == 200


def test_partial_refunds_add_up_to_the_deposit_and_no_more(anvil_chain, signer):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    evidence = {depositor: [{"tx_hash": deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)}]}
    refunding_pool(signer, anvil_chain, 1, evidence[depositor])
    assert refund_eth(signer, 1, [depositor], [ETHER * 4 // 10], evidence, nonce=0).status == 200
    assert refund_eth(signer, 1, [depositor], [ETHER * 6 // 10], evidence, nonce=1).status == 200
    assert refund_eth(signer, 1, [depositor], [1], evidence, nonce=2).body["code"] == "already_refunded"


def test_refunded_record_survives_a_restart(anvil_chain, signer, data_dir, tmp_path, token):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    evidence = {depositor: [{"tx_hash": deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)}]}
    refunding_pool(signer, anvil_chain, 1, evidence[depositor])
    assert refund_eth(signer, 1, [depositor], [ETHER], evidence, nonce=0).status == 200
    reopened = make_signer(data_dir, chain=anvil_chain.reader, SIGNER_CONTRACTS_FILE=str(tmp_path / "contracts.json"))
    assert reopened.state["ledgers"]["1"]["phase"] == "refund_all"
    assert refund_eth(reopened, 1, [depositor], [ETHER], evidence, nonce=1).body["code"] == "already_refunded"


def test_erc20_deposit_is_evidenced_by_its_transfer_log(anvil_chain, signer, token):
    pool = register(signer, 3, raise_asset=token.address, soft_cap=100, hard_cap=10**20, max_value_wei=10**20)
    depositor = anvil_chain.account(1)
    anvil_chain.transact(token.functions.transfer(depositor, 1000).build_transaction({"from": anvil_chain.account(0)}))
    receipt = anvil_chain.transact(token.functions.transfer(pool, 700).build_transaction({"from": depositor}))
    log = receipt["logs"][0]
    tx_hash = hex_hash(receipt["transactionHash"])
    cited = {"tx_hash": tx_hash, "log_index": log["logIndex"]}

    wrong_index = record(signer, 3, [{"tx_hash": tx_hash, "log_index": log["logIndex"] + 5}])
    assert wrong_index.body["code"] == "deposit_not_found"
    assert record(signer, 3, [{"tx_hash": tx_hash}]).body["code"] == "wrong_asset"
    left_out = record(signer, 3, [], complete_at_block=head(anvil_chain))
    assert left_out.body["code"] == "ledger_incomplete"
    assert "received 700 more than the ledger accounts for" in left_out.body["reason"]
    complete = prove_complete(signer, anvil_chain, 3, [cited])
    assert (complete["deposits"], complete["credited"]) == (1, "700")
    refund_all(signer, 3)

    def refund(amount: int, nonce: int, evidence=None):
        tx = wire_tx(
            to=REFUNDER,
            data=refund_erc20_calldata(token.address, [depositor], [amount]),
            nonce=nonce,
            gas=refund_gas_range(1, native=False)[0],
        )
        return signer.sign({"pool_id": "3", "tx": tx, "evidence": evidence or {depositor: [cited]}})

    assert refund(700, 0).status == 200
    assert refund(1, 1).body["code"] == "already_refunded"
    elsewhere_in_the_tx = {depositor: [{"tx_hash": tx_hash, "log_index": log["logIndex"] + 5}]}
    assert refund(1, 1, elsewhere_in_the_tx).body["code"] == "not_in_ledger"


def test_internal_native_deposit_is_evidenced_by_its_trace_address(anvil_chain, signer):
    pool = register(signer, 4)
    eoa = anvil_chain.account(1)
    wallet = anvil_chain.transact({"from": eoa, "data": FORWARDER_INITCODE})["contractAddress"]
    receipt = anvil_chain.transact(
        {"from": eoa, "to": wallet, "value": ETHER, "data": "0x" + pool.lower()[2:].rjust(64, "0")}
    )
    tx_hash = hex_hash(receipt["transactionHash"])
    assert anvil_chain.w3.eth.get_balance(pool) == ETHER
    assert trace_address_of(anvil_chain, tx_hash, frame_type="CALL", to=pool) == [0]

    as_top_level = record(signer, 4, [{"tx_hash": tx_hash}])
    assert as_top_level.body["code"] == "not_a_deposit", "the top-level call went to the wallet, not the pool"
    assert record(signer, 4, [{"tx_hash": tx_hash, "trace_address": [1]}]).body["code"] == "deposit_not_found"
    internal = {"tx_hash": tx_hash, "trace_address": [0]}
    refunding_pool(signer, anvil_chain, 4, [internal])
    assert signer.state["ledgers"]["4"]["deposits"][f"{CHAIN_ID}:{tx_hash}:trace:0"]["sender"] == wallet

    impostor = refund_eth(signer, 4, [eoa], [ETHER], {eoa: [internal]})
    assert impostor.body["code"] == "not_a_deposit", "the wallet sent it, not the account that called the wallet"
    good = refund_eth(signer, 4, [wallet], [ETHER], {wallet: [internal]})
    assert good.status == 200, good.body


def test_a_reverted_deposit_is_not_evidence(anvil_chain, signer):
    pool = register(signer, 5)
    eoa = anvil_chain.account(1)
    wallet = anvil_chain.transact({"from": eoa, "data": FORWARDER_INITCODE})["contractAddress"]
    w3 = anvil_chain.w3
    tx_hash = w3.eth.send_transaction(
        {"from": eoa, "to": wallet, "value": ETHER, "gas": 23_000, "data": "0x" + pool.lower()[2:].rjust(64, "0")}
    )
    assert w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 0
    good = {"tx_hash": deposit_eth(anvil_chain, sender=eoa, to=pool, value=ETHER)}
    reverted = {"tx_hash": hex_hash(tx_hash), "trace_address": [0]}
    outcome = record(signer, 5, [good, reverted])
    assert (outcome.status, outcome.body["code"]) == (403, "deposit_failed")
    assert signer.state["ledgers"]["5"]["deposits"] == {}, "nothing of a refused request is recorded"
    refunding_pool(signer, anvil_chain, 5, [good])
    assert refund_eth(signer, 5, [wallet], [ETHER], {wallet: [reverted]}).body["code"] == "not_in_ledger"


def test_refund_decisions_are_logged_with_the_consumed_deposits(anvil_chain, signer):
    pool = register(signer, 1)
    depositor = anvil_chain.account(1)
    tx_hash = deposit_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)
    refunding_pool(signer, anvil_chain, 1, [{"tx_hash": tx_hash}])
    kinds = log_kinds(signer)
    assert kinds[-3:] == ["ledger_updated", "ledger_complete", "pool_refund_all"]
    refund_eth(signer, 1, [depositor], [ETHER], {depositor: [{"tx_hash": tx_hash}]})
    entry = signer.log.entries(after=-1, limit=100)[-1]
    assert entry["kind"] == "signed"
    assert json.dumps(entry["payload"]["refunded_deposits"]) == json.dumps(
        {f"{CHAIN_ID}:{tx_hash}:trace:": {"amount": str(ETHER), "take": str(ETHER)}}
    )


def test_a_signed_launch_past_its_deadline_no_longer_blocks_a_full_refund(anvil_chain, signer):
    """A launch signed but never broadcast keeps its nonce open for ever; once its deadline has passed, the Launcher
    would revert it, so it cannot launch any more and the pool may be refunded in full."""
    cap = ETHER
    pool = register(signer, 1, soft_cap=cap, hard_cap=cap)
    alices = {"tx_hash": deposit_eth(anvil_chain, sender=anvil_chain.account(1), to=pool, value=cap)}
    ledger = prove_complete(signer, anvil_chain, 1, [alices])
    gas, max_fee = 5_000_000, 2 * GWEI
    block_time = anvil_chain.w3.eth.get_block("latest")["timestamp"]
    fields = launch_args(
        pool_id=1,
        params=pool_params(soft_cap=cap, hard_cap=cap),
        log_head=signer.log.head["hash"],
        raise_amount=cap - gas * max_fee,
        merkleRoot=bytes.fromhex(ledger["merkle_root"][2:]),
        deadline=block_time + 60,
    )
    launch = wire_tx(to=LAUNCHER, data=launch_calldata(fields), value=cap - gas * max_fee, gas=gas, max_fee=max_fee)
    assert signer.sign({"pool_id": "1", "tx": launch}).status == 200
    assert signer.refund_all({"pool_id": "1"}).body["code"] == "launch_in_flight"
    anvil_chain.w3.provider.make_request("evm_increaseTime", [120])
    anvil_chain.w3.provider.make_request("evm_mine", [])
    assert signer.refund_all({"pool_id": "1"}).status == 200
    assert refund_eth(signer, 1, [anvil_chain.account(1)], [cap], {anvil_chain.account(1): [alices]}).status == 200


def test_a_refund_set_aside_is_logged_and_changes_nothing_the_signer_allows(anvil_chain, signer):
    """The admin's decision is public (a log entry naming the deposits and the note); the deposits stay owed, so a
    later batch may still pay them."""
    pool = register(signer, 1)
    alice = anvil_chain.account(1)
    alices = {"tx_hash": deposit_eth(anvil_chain, sender=alice, to=pool, value=ETHER)}
    refunding_pool(signer, anvil_chain, 1, [alices])
    body = {"pool_id": "1", "recipient": alice, "amount": str(ETHER), "deposits": [alices], "note": "lost key"}

    with pytest.raises(RequestError) as unknown:
        signer.note_set_aside({**body, "pool_id": "99"})
    assert unknown.value.status == 404
    with pytest.raises(RequestError) as malformed:
        signer.note_set_aside({**body, "note": ""})
    assert malformed.value.status == 400
    outcome = signer.note_set_aside(body)

    entry = signer.log.entries(after=outcome.body["log_index"] - 1, limit=1)[0]
    assert (entry["kind"], entry["payload"]["note"], entry["payload"]["amount"]) == (
        "refund_set_aside",
        "lost key",
        str(ETHER),
    )
    assert entry["payload"]["deposits"] == [f"{CHAIN_ID}:{alices['tx_hash']}:trace:"]  # the top-level transfer
    assert refund_eth(signer, 1, [alice], [ETHER], {alice: [alices]}).status == 200
