"""The HTTP API through the web app's client (pools/signer_client.py): shapes, typed errors, authentication."""

from __future__ import annotations

import json
import urllib.request

import pytest
import requests
from eth_account import Account

from enclave_signer.verify_attestation import Expectations, verify_attestation
from pools.signer_client import (
    SignerAuthError,
    SignerBadRequest,
    SignerClient,
    SignerRefused,
    SignerUnavailable,
    wire_transaction,
)
from tests.signer.factories import (
    CHAIN_ID,
    ETHER,
    GWEI,
    HMAC_KEY_ID,
    HMAC_SECRET,
    LAUNCH_GAS_LIMIT,
    LAUNCHER,
    REFUNDER,
    USDC,
    closing_pool_params,
    latest_timestamp,
    launch_args,
    launch_calldata,
    mine_past,
    native_raise,
    pool_params,
    refund_eth_calldata,
    send_eth,
    write_contracts_file,
)

MAX_FEE = 2 * GWEI


@pytest.fixture
def api(live_signer, tmp_path):
    signer, client = live_signer(SIGNER_CONTRACTS_FILE=str(write_contracts_file(tmp_path / "contracts.json")))
    return signer, client


@pytest.fixture
def chain_api(live_signer, tmp_path, anvil_chain):
    """A signer reading the session's anvil chain, behind its HTTP server."""
    signer, client = live_signer(
        chain=anvil_chain.reader, SIGNER_CONTRACTS_FILE=str(write_contracts_file(tmp_path / "contracts.json"))
    )
    return signer, client


def launch_tx(
    client,
    params,
    *,
    raise_amount: int = 2 * ETHER,
    merkle_root: str = "0x" + "42" * 32,
    now: int | None = None,
    nonce: int = 0,
    **overrides,
) -> dict:
    """A native launch of pool 7 (value = raiseAmount), its deadline 10 minutes after `now` (default: wall clock)."""
    fields = launch_args(
        pool_id=7,
        params=params,
        log_head=client.log_head()["hash"],
        raise_amount=raise_amount,
        merkleRoot=bytes.fromhex(merkle_root.removeprefix("0x")),
    )
    if now is not None:
        fields["deadline"] = now + 600
    fields.update(overrides)
    return {
        "to": LAUNCHER,
        "data": launch_calldata(fields),
        "value": fields["raiseAmount"],
        "nonce": nonce,
        "gas": LAUNCH_GAS_LIMIT,
        "maxFeePerGas": MAX_FEE,
        "maxPriorityFeePerGas": GWEI,
        "chainId": CHAIN_ID,
    }


def refund_tx(recipient: str, amount: int, *, nonce: int) -> dict:
    return {
        "to": REFUNDER,
        "data": refund_eth_calldata([recipient], [amount]),
        "value": amount,
        "nonce": nonce,
        "gas": 150_000,  # the least a one-recipient ETH refund may carry
        "maxFeePerGas": MAX_FEE,
        "maxPriorityFeePerGas": GWEI,
        "chainId": CHAIN_ID,
    }


def test_health_is_unauthenticated_and_everything_else_is_not(api):
    signer, client = api
    health = client.health()
    limits, contracts = health.pop("limits"), health.pop("contracts")
    assert contracts["chain_id"] == CHAIN_ID  # which contracts and from where: tests/signer/test_allowlist_from_config
    assert health == {"status": "ok", "tee": "none (development)", "chain_id": CHAIN_ID, "log_head": signer.log.head}
    assert int(limits["max_tx_fee_wei"]) == signer.config.max_tx_fee_wei  # the refund job sizes batches by these
    url = client.base_url
    for path in ("/log/head", "/addresses", "/attestation?nonce=x", "/log"):
        assert requests.get(url + path, timeout=5).status_code == 401
    assert requests.post(url + "/sign", data=b"{}", timeout=5).status_code == 401


@pytest.mark.chain
def test_register_record_deposits_sign_a_launch_and_read_the_log_through_the_client(chain_api, anvil_chain):
    _, client = chain_api
    w3 = anvil_chain.w3
    params = closing_pool_params(w3)
    registered = client.register_pool(pool_id=7, chain_id=CHAIN_ID, params=params, final=True)
    assert registered["derivation_path"] == "pool/7" and registered["created"] is True
    pool = registered["address"]
    assert client.addresses()["pools"]["7"]["address"] == pool
    deposits = [
        send_eth(anvil_chain, sender=anvil_chain.account(1), to=pool, value=ETHER),
        send_eth(anvil_chain, sender=anvil_chain.account(2), to=pool, value=ETHER),
    ]

    recorded = client.record_deposits(pool_id=7, deposits=deposits)
    assert (recorded["added"], recorded["deposits"], recorded["received"]) == (2, 2, str(2 * ETHER))
    assert recorded["verified"] is None and "credited" not in recorded
    closed_at_block = mine_past(w3, int(params["closes_at"]))
    summary = client.record_deposits(pool_id=7, deposits=deposits, complete_at_block=closed_at_block)
    assert summary["added"] == 0, "deposits already in the ledger are not added twice"
    assert summary["verified"]["block"] == closed_at_block and summary["credited"] == str(2 * ETHER)

    now = latest_timestamp(w3)
    raise_amount = native_raise(summary, gas=LAUNCH_GAS_LIMIT, max_fee=MAX_FEE)
    root = summary["merkle_root"]
    with pytest.raises(SignerRefused) as whole_credit:  # the launch's gas comes out of the raise
        client.sign(pool_id=7, tx=launch_tx(client, params, raise_amount=2 * ETHER, merkle_root=root, now=now))
    assert whole_credit.value.code == "bad_amount"
    with pytest.raises(SignerRefused) as other_root:
        client.sign(pool_id=7, tx=launch_tx(client, params, raise_amount=raise_amount, now=now))
    assert other_root.value.code == "bad_merkle_root"

    signed = client.sign(pool_id=7, tx=launch_tx(client, params, raise_amount=raise_amount, merkle_root=root, now=now))
    assert Account.recover_transaction(signed.raw_tx) == pool
    assert signed.intent["kind"] == "launch" and signed.intent["args"]["raiseAmount"] == str(raise_amount)
    assert signed.intent["args"]["merkleRoot"] == root
    page = client.log_entries(after=signed.log_index - 1, limit=5)
    assert page["entries"][0]["kind"] == "signed" and page["entries"][0]["payload"]["tx_hash"] == signed.tx_hash
    kinds = [entry["kind"] for entry in client.log_entries(after=-1, limit=100)["entries"]]
    assert kinds.count("ledger_updated") == 1 and kinds.count("ledger_complete") == 1


@pytest.mark.chain
def test_ledger_refusals_and_refund_all_through_the_client(chain_api, anvil_chain):
    _, client = chain_api
    w3 = anvil_chain.w3
    params = closing_pool_params(w3)
    pool = client.register_pool(pool_id=7, chain_id=CHAIN_ID, params=params, final=True)["address"]
    depositor = anvil_chain.account(3)
    deposit = send_eth(anvil_chain, sender=depositor, to=pool, value=ETHER)
    head = w3.eth.block_number

    with pytest.raises(SignerRefused) as missing:  # the pool holds a deposit the ledger does not list
        client.record_deposits(pool_id=7, deposits=[], complete_at_block=head)
    assert missing.value.code == "ledger_incomplete" and missing.value.log_index > 0
    with pytest.raises(SignerRefused) as invented:
        client.record_deposits(pool_id=7, deposits=[{"tx_hash": "0x" + "12" * 32}])
    assert invented.value.code == "deposit_not_found"
    with pytest.raises(SignerBadRequest) as malformed:
        client.record_deposits(pool_id=7, deposits=[{"tx_hash": "not a hash"}])
    assert malformed.value.code == "malformed"

    before_close = client.record_deposits(pool_id=7, deposits=[deposit], complete_at_block=head)
    assert before_close["credited"] == str(ETHER)
    now = latest_timestamp(w3)
    early = launch_tx(
        client,
        params,
        raise_amount=native_raise(before_close, gas=LAUNCH_GAS_LIMIT, max_fee=MAX_FEE),
        merkle_root=before_close["merkle_root"],
        now=now,
    )
    with pytest.raises(SignerRefused) as not_final:  # proven complete, but before the close: deposits may come
        client.sign(pool_id=7, tx=early)
    assert not_final.value.code == "raise_not_final"
    with pytest.raises(SignerRefused) as not_yet:  # neither launched nor refunded in full: nothing is owed back
        client.sign(pool_id=7, tx=refund_tx(depositor, ETHER, nonce=0), evidence={depositor: [deposit]})
    assert not_yet.value.code == "not_refundable"

    assert client.refund_all(pool_id=7) == {"pool_id": "7", "phase": "refund_all"}
    assert client.refund_all(pool_id=7)["phase"] == "refund_all", "idempotent"
    with pytest.raises(SignerRefused) as refunding:
        client.sign(pool_id=7, tx=early)
    assert refunding.value.code == "pool_refunding"
    refund = client.sign(pool_id=7, tx=refund_tx(depositor, ETHER, nonce=0), evidence={depositor: [deposit]})
    assert Account.recover_transaction(refund.raw_tx) == pool and refund.intent["kind"] == "refundETH"
    with pytest.raises(SignerRefused) as twice:
        client.sign(pool_id=7, tx=refund_tx(depositor, 1, nonce=1), evidence={depositor: [deposit]})
    assert twice.value.code == "already_refunded"
    with pytest.raises(SignerBadRequest) as unknown:
        client.refund_all(pool_id=99)
    assert unknown.value.code == "not_found"


@pytest.mark.chain
def test_a_closed_raise_below_the_soft_cap_cannot_launch(chain_api, anvil_chain):
    _, client = chain_api
    w3 = anvil_chain.w3
    params = closing_pool_params(w3, soft_cap=2 * ETHER)
    pool = client.register_pool(pool_id=7, chain_id=CHAIN_ID, params=params, final=True)["address"]
    deposit = send_eth(anvil_chain, sender=anvil_chain.account(4), to=pool, value=ETHER)
    block = mine_past(w3, int(params["closes_at"]))
    summary = client.record_deposits(pool_id=7, deposits=[deposit], complete_at_block=block)
    tx = launch_tx(
        client,
        params,
        raise_amount=native_raise(summary, gas=LAUNCH_GAS_LIMIT, max_fee=MAX_FEE),
        merkle_root=summary["merkle_root"],
        now=latest_timestamp(w3),
    )
    with pytest.raises(SignerRefused) as missed:
        client.sign(pool_id=7, tx=tx)
    assert missed.value.code == "soft_cap_missed"


def test_a_refusal_is_a_typed_error_with_code_reason_and_intent(api):
    _, client = api
    params = pool_params()
    client.register_pool(pool_id=7, chain_id=CHAIN_ID, params=params)
    with pytest.raises(SignerRefused) as refused:
        client.sign(pool_id=7, tx=launch_tx(client, params, treasury="0x000000000000000000000000000000000000dEaD"))
    assert refused.value.code == "param_mismatch"
    assert refused.value.intent["kind"] == "launch" and refused.value.log_index > 0
    with pytest.raises(SignerRefused) as unknown:
        client.sign(pool_id=99, tx=launch_tx(client, params))
    assert unknown.value.code == "unknown_pool"


def test_bad_requests_are_typed_errors(api):
    _, client = api
    with pytest.raises(SignerBadRequest) as bad:
        client.register_pool(pool_id=7, chain_id=CHAIN_ID, params={**pool_params(), "raise_asset": USDC.lower()[:-1]})
    assert bad.value.code == "malformed"
    with pytest.raises(SignerBadRequest):
        client._request("GET", "/nowhere")


def test_attestation_through_the_api_verifies(api):
    _, client = api
    report = client.attestation(nonce="fresh nonce/with?odd=chars")
    assert report["nonce"] == "fresh nonce/with?odd=chars"
    assert verify_attestation(report, at=0, expect=Expectations(nonce="fresh nonce/with?odd=chars")).ok


def test_wrong_key_or_replayed_request_is_an_auth_error(api):
    _, client = api
    wrong = SignerClient(base_url=client.base_url, key_id=HMAC_KEY_ID, secret=b"\x00" * 32)
    with pytest.raises(SignerAuthError, match="bad_signature"):
        wrong.log_head()
    headers = client._headers(method="GET", path="/log/head", body=b"")
    assert requests.get(client.base_url + "/log/head", headers=headers, timeout=5).status_code == 200
    replay = requests.get(client.base_url + "/log/head", headers=headers, timeout=5)
    assert (replay.status_code, replay.json()["error"]) == (401, "replayed")


def test_an_unreachable_signer_is_unavailable():
    client = SignerClient(base_url="http://127.0.0.1:9", key_id=HMAC_KEY_ID, secret=HMAC_SECRET, timeout=2)
    with pytest.raises(SignerUnavailable):
        client.health()


def test_malformed_json_body_is_a_bad_request(api):
    _, client = api
    body = b"{not json"
    request = urllib.request.Request(
        client.base_url + "/sign",
        data=body,
        method="POST",
        headers=client._headers(method="POST", path="/sign", body=body),
    )
    with pytest.raises(urllib.error.HTTPError) as answer:
        urllib.request.urlopen(request, timeout=5)
    assert answer.value.code == 400 and json.loads(answer.value.read())["error"] == "malformed"


def test_wire_transaction_uses_decimal_strings():
    wire = wire_transaction(
        {
            "to": LAUNCHER,
            "data": b"\x01\x02",
            "value": 10**30,
            "nonce": "0x10",
            "gas": 21000,
            "maxFeePerGas": 1,
            "maxPriorityFeePerGas": 1,
            "chainId": CHAIN_ID,
            "from": "ignored",
        }
    )
    assert wire == {
        "to": LAUNCHER,
        "data": "0x0102",
        "value": str(10**30),
        "nonce": "16",
        "gas": "21000",
        "maxFeePerGas": "1",
        "maxPriorityFeePerGas": "1",
        "chainId": str(CHAIN_ID),
    }


@pytest.mark.chain
def test_a_raise_that_reached_its_hard_cap_may_launch_before_the_close(chain_api, anvil_chain):
    _, client = chain_api
    w3 = anvil_chain.w3
    params = closing_pool_params(w3, seconds=3600, soft_cap=ETHER, hard_cap=2 * ETHER)
    pool = client.register_pool(pool_id=7, chain_id=CHAIN_ID, params=params, final=True)["address"]
    deposits = [send_eth(anvil_chain, sender=anvil_chain.account(5), to=pool, value=ETHER)]
    summary = client.record_deposits(pool_id=7, deposits=deposits, complete_at_block=w3.eth.block_number)
    launch = {"merkle_root": summary["merkle_root"], "now": latest_timestamp(w3)}
    below_cap = launch_tx(
        client, params, raise_amount=native_raise(summary, gas=LAUNCH_GAS_LIMIT, max_fee=MAX_FEE), **launch
    )
    with pytest.raises(SignerRefused) as open_raise:
        client.sign(pool_id=7, tx=below_cap)
    assert open_raise.value.code == "raise_not_final"

    # One more deposit takes the raise past its hard cap: what is over it is owed back, and the raise is final.
    deposits.append(send_eth(anvil_chain, sender=anvil_chain.account(6), to=pool, value=2 * ETHER))
    summary = client.record_deposits(pool_id=7, deposits=deposits, complete_at_block=w3.eth.block_number)
    assert (summary["received"], summary["credited"]) == (str(3 * ETHER), str(2 * ETHER))
    raise_amount = native_raise(summary, gas=LAUNCH_GAS_LIMIT, max_fee=MAX_FEE)
    launch["merkle_root"] = summary["merkle_root"]
    signed = client.sign(pool_id=7, tx=launch_tx(client, params, raise_amount=raise_amount, **launch))
    assert signed.intent["args"]["raiseAmount"] == str(raise_amount)
