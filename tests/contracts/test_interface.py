"""The agreed on-chain interface (docs/chain-interface.md) = the compiled contracts = chain/contracts.py."""

from __future__ import annotations

import re
from dataclasses import fields
from pathlib import Path

from eth_utils import keccak, to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from chain.artifacts import load_artifact
from chain.contracts import (
    LAUNCH_PARAMS_FIELDS,
    LAUNCH_RECORD_FIELDS,
    LAUNCH_SELECTOR,
    LAUNCH_SIGNATURE,
    LAUNCHED_TOPIC,
    REFUNDED_TOPIC,
    LaunchParams,
    decode_launch,
    encode_launch,
    encode_refund_erc20,
    encode_refund_eth,
    encode_withdraw,
    predict_token_address,
    refund_batches,
    selector,
    token_init_code_hash,
)
from tests.contracts.support import ChainEnv, eth_launch_params

INTERFACE_DOC = Path(__file__).resolve().parents[2] / "docs" / "chain-interface.md"


def camel(snake: str) -> str:
    head, *rest = snake.split("_")
    return head + "".join(part.capitalize() for part in rest)


def abi_item(contract: str, kind: str, name: str) -> dict:
    (item,) = [i for i in load_artifact(contract).abi if i["type"] == kind and i.get("name") == name]
    return item


def canonical(item: dict) -> str:
    def type_of(component: dict) -> str:
        if component["type"].startswith("tuple"):
            return "(" + ",".join(type_of(c) for c in component["components"]) + ")" + component["type"][5:]
        return component["type"]

    return f"{item['name']}({','.join(type_of(i) for i in item['inputs'])})"


def test_the_launch_signature_is_the_one_in_the_interface_document():
    documented = re.search(r"`(launch\(\(bytes32,[^`]+\))`", INTERFACE_DOC.read_text()).group(1)
    assert documented == LAUNCH_SIGNATURE
    assert canonical(abi_item("Launcher", "function", "launch")) == LAUNCH_SIGNATURE
    assert selector(documented) == LAUNCH_SELECTOR


def test_launch_params_fields_match_the_struct_by_name_and_type():
    (struct,) = abi_item("Launcher", "function", "launch")["inputs"]
    assert [(c["name"], c["type"]) for c in struct["components"]] == [
        (camel(name), abi_type) for name, abi_type in LAUNCH_PARAMS_FIELDS
    ]
    assert [f.name for f in fields(LaunchParams)] == [name for name, _ in LAUNCH_PARAMS_FIELDS]


def test_the_launched_event_matches_the_decoder():
    event = abi_item("Launcher", "event", "Launched")
    assert keccak(text=canonical(event)) == LAUNCHED_TOPIC
    record = event["inputs"][3]
    assert [(c["name"], c["type"]) for c in record["components"]] == [
        (camel(name), abi_type) for name, abi_type in LAUNCH_RECORD_FIELDS
    ]
    assert keccak(text=canonical(abi_item("Refunder", "event", "Refunded"))) == REFUNDED_TOPIC


def test_the_refunder_functions_are_the_documented_ones():
    doc = INTERFACE_DOC.read_text()
    for name, encoded in [
        ("refundETH", encode_refund_eth(recipients=[], amounts=[])),
        ("refundERC20", encode_refund_erc20(token="0x" + "11" * 20, recipients=[], amounts=[])),
        ("withdraw", encode_withdraw(token="0x" + "00" * 20)),
    ]:
        signature = canonical(abi_item("Refunder", "function", name))
        assert encoded[:4] == selector(signature)
        assert f"function {name}(" in doc


def test_launch_calldata_round_trips(env: ChainEnv):
    params = eth_launch_params(env, target_price_usd=123, protection_blocks=7, max_buy_per_tx=9, expected_answer=-5)
    assert decode_launch(encode_launch(params)) == params
    on_chain = env.launcher.encode_abi("launch", args=[params.as_abi_tuple()])
    assert encode_launch(params) == bytes.fromhex(on_chain[2:])


def test_the_token_init_code_hash_is_the_launchers(env: ChainEnv):
    assert env.launcher.functions.tokenInitCodeHash().call() == token_init_code_hash()


@settings(max_examples=20, deadline=None)
@given(st.binary(min_size=20, max_size=20), st.integers(min_value=0, max_value=2**64))
def test_token_addresses_are_predicted_like_the_launcher(anvil, dev_chain, pool: bytes, pool_pk: int):
    pool_address = to_checksum_address(pool)
    pool_id = pool_pk.to_bytes(32, "big")
    launcher = anvil.w3.eth.contract(address=dev_chain.launcher, abi=load_artifact("Launcher").abi)
    assert (
        predict_token_address(launcher=dev_chain.launcher, pool=pool_address, pool_id=pool_id)
        == launcher.functions.predictToken(pool_address, pool_id).call()
    )


def test_refunds_split_into_batches_in_order():
    recipients = [to_checksum_address(f"0x{i:040x}") for i in range(1, 8)]
    batches = refund_batches(recipients=recipients, amounts=list(range(1, 8)), batch_size=3)
    assert [len(r) for r, _ in batches] == [3, 3, 1]
    assert [a for _, amounts in batches for a in amounts] == list(range(1, 8))
