"""The HTTP API through the web app's client (pools/signer_client.py): shapes, typed errors, authentication."""

from __future__ import annotations

import json
import urllib.request

import pytest
import requests
from eth_account import Account

from enclave_signer.attestation import verify_report
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
    HMAC_KEY_ID,
    HMAC_SECRET,
    LAUNCHER,
    USDC,
    launch_args,
    launch_calldata,
    pool_params,
    write_contracts_file,
)


@pytest.fixture
def api(live_signer, tmp_path):
    signer, client = live_signer(SIGNER_CONTRACTS_FILE=str(write_contracts_file(tmp_path / "contracts.json")))
    return signer, client


def launch_tx(client, params, **overrides) -> dict:
    fields = launch_args(pool_id=7, params=params, log_head=client.log_head()["hash"], raise_amount=2 * ETHER)
    fields.update(overrides)
    return {
        "to": LAUNCHER,
        "data": launch_calldata(fields),
        "value": 2 * ETHER,
        "nonce": 0,
        "gas": 3_000_000,
        "maxFeePerGas": 2 * 10**9,
        "maxPriorityFeePerGas": 10**9,
        "chainId": CHAIN_ID,
    }


def test_health_is_unauthenticated_and_everything_else_is_not(api):
    signer, client = api
    health = client.health()
    assert health == {"status": "ok", "tee": "none (development)", "chain_id": CHAIN_ID, "log_head": signer.log.head}
    url = client.base_url
    for path in ("/log/head", "/addresses", "/attestation?nonce=x", "/log"):
        assert requests.get(url + path, timeout=5).status_code == 401
    assert requests.post(url + "/sign", data=b"{}", timeout=5).status_code == 401


def test_register_sign_and_read_the_log_through_the_client(api):
    signer, client = api
    params = pool_params()
    registered = client.register_pool(pool_id=7, chain_id=CHAIN_ID, params=params)
    assert registered["derivation_path"] == "pool/7" and registered["created"] is True
    assert client.addresses()["pools"]["7"]["address"] == registered["address"]
    signer.chain.balances[registered["address"]] = 2 * ETHER  # the raise, at the pool address
    signed = client.sign(pool_id=7, tx=launch_tx(client, params))
    assert Account.recover_transaction(signed.raw_tx) == registered["address"]
    assert signed.intent["kind"] == "launch" and signed.intent["args"]["raiseAmount"] == str(2 * ETHER)
    page = client.log_entries(after=signed.log_index - 1, limit=5)
    assert page["entries"][0]["kind"] == "signed" and page["entries"][0]["payload"]["tx_hash"] == signed.tx_hash


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
    assert verify_report(report, nonce="fresh nonce/with?odd=chars").ok


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
