"""Property tests of the signing policy (no chain): nothing outside the policy is ever signed."""

from __future__ import annotations

import dataclasses
import time

import pytest
from eth_abi import decode
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from enclave_signer.calls import APPROVE, LAUNCH, LAUNCH_FIELD_OF_PARAM, LAUNCH_PARAMS_FIELDS, REFUND_ERC20, REFUND_ETH
from enclave_signer.config import KnownContracts
from enclave_signer.evidence import Deposit, EvidenceRefused
from enclave_signer.params import ZERO_ADDRESS, normalize_pool_params
from enclave_signer.policy import GAS_KEY, PolicyContext, Refusal, describe, evaluate, parse_transaction
from tests.signer.factories import (
    CHAIN_ID,
    ETHER,
    GWEI,
    LAUNCHER,
    REFUNDER,
    USDC,
    approve_calldata,
    launch_args,
    launch_calldata,
    pool_params,
    refund_erc20_calldata,
    refund_eth_calldata,
    wire_tx,
)

POOL_ID = "7"
POOL_ADDRESS = "0x00000000000000000000000000000000000000A7"
USDC_POOL_ID = "8"
USDC_POOL_ADDRESS = "0x00000000000000000000000000000000000000A8"
LOG_HEAD = "0x" + "ab" * 32
GAS_TOPUP_MAX = 10**16
MAX_TX_FEE = 10**17
ALLOWED_SELECTORS = {call.selector for call in (LAUNCH, APPROVE, REFUND_ETH, REFUND_ERC20)}
NATIVE_PARAMS = normalize_pool_params(pool_params())
USDC_PARAMS = normalize_pool_params(
    pool_params(raise_asset=USDC, soft_cap=10**6, hard_cap=10**12, max_value_wei=10**12)
)

addresses = st.binary(min_size=20, max_size=20).map(lambda raw: to_checksum_address("0x" + raw.hex()))
uint256 = st.integers(min_value=0, max_value=2**256 - 1)
small_value = st.one_of(st.integers(min_value=0, max_value=1000 * ETHER), uint256)


def _no_deposit_proves(citation, sender, pool):
    raise EvidenceRefused("deposit_not_found", "no chain in property tests")


RICH = 10**30  # the pool addresses hold plenty unless a test says otherwise


def context(*, now: int | None = None, prove=_no_deposit_proves, balance: int = RICH) -> PolicyContext:
    return PolicyContext(
        chain_id=CHAIN_ID,
        contracts=KnownContracts(launcher=LAUNCHER, refunder=REFUNDER, raise_assets=frozenset({ZERO_ADDRESS, USDC})),
        pools={
            POOL_ID: {
                "chain_id": CHAIN_ID,
                "address": POOL_ADDRESS,
                "derivation_path": "pool/7",
                "params": NATIVE_PARAMS,
            },
            USDC_POOL_ID: {
                "chain_id": CHAIN_ID,
                "address": USDC_POOL_ADDRESS,
                "derivation_path": "pool/8",
                "params": USDC_PARAMS,
            },
        },
        log_head=LOG_HEAD,
        now=now or int(time.time()),
        account_nonce=0,
        gas_topup_max_wei=GAS_TOPUP_MAX,
        max_tx_fee_wei=MAX_TX_FEE,
        launch_deadline_window_seconds=3600,
        refunds={},
        prove_deposit=prove,
        balance_of=lambda address: balance,
    )


def decide(pool_id: str, wire: dict, *, evidence: object = None, ctx: PolicyContext | None = None):
    """Return the approval, or the Refusal."""
    try:
        tx = parse_transaction(wire)
        address = POOL_ADDRESS if pool_id == POOL_ID else USDC_POOL_ADDRESS
        intent = describe(tx, key_path=f"pool/{pool_id}", address=address)
        return evaluate(pool_id=pool_id, address=address, tx=tx, evidence=evidence, intent=intent, ctx=ctx or context())
    except Refusal as refusal:
        return refusal


def assert_within_policy(pool_id: str, wire: dict, approval) -> None:
    """The independent oracle: what an approved transaction must look like, per docs/chain-interface.md."""
    tx = parse_transaction(wire)
    params = NATIVE_PARAMS if pool_id == POOL_ID else USDC_PARAMS
    assert tx["chainId"] == CHAIN_ID
    assert tx["gas"] * tx["maxFeePerGas"] <= MAX_TX_FEE
    assert tx["value"] <= int(params["max_value_wei"])
    selector = tx["data"][:4]
    if tx["to"] == LAUNCHER:
        assert selector == LAUNCH.selector
        (values,) = decode([LAUNCH.arg_types[0]], tx["data"][4:])
        launch = dict(zip([name for name, _ in LAUNCH_PARAMS_FIELDS], values, strict=True))
        for param, field in LAUNCH_FIELD_OF_PARAM.items():
            assert str(launch[field]).lower() == params[param].lower()
        assert int(params["soft_cap"]) <= launch["raiseAmount"] <= int(params["hard_cap"])
        assert "0x" + launch["logHead"].hex() == LOG_HEAD
    elif tx["to"] == USDC:
        assert selector == APPROVE.selector and tx["value"] == 0 and params["raise_asset"] == USDC
        spender, amount = decode(["address", "uint256"], tx["data"][4:])
        assert to_checksum_address(spender) in (LAUNCHER, REFUNDER)
    else:
        pytest.fail(f"signed a transaction to {tx['to']} (refunds cannot pass without evidence here)")


# -- random transactions ------------------------------------------------------------------------------------------

calldata = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda selector, tail: selector + tail, st.sampled_from(sorted(ALLOWED_SELECTORS)), st.binary(max_size=600)
    ),
)


@settings(max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(
    pool_id=st.sampled_from([POOL_ID, USDC_POOL_ID, "9", GAS_KEY]),
    to=st.one_of(addresses, st.sampled_from([LAUNCHER, REFUNDER, USDC, POOL_ADDRESS, ZERO_ADDRESS])),
    data=calldata,
    value=small_value,
    nonce=st.integers(min_value=0, max_value=100),
    chain_id=st.sampled_from([CHAIN_ID, 1, 5]),
)
def test_random_transactions_are_never_signed_outside_the_policy(pool_id, to, data, value, nonce, chain_id):
    wire = wire_tx(to=to, data=data, value=value, nonce=nonce, chain_id=chain_id)
    outcome = decide(pool_id, wire)
    if isinstance(outcome, Refusal):
        return
    if pool_id == GAS_KEY:
        tx = parse_transaction(wire)
        assert tx["data"] == b"" and tx["to"] in (POOL_ADDRESS, USDC_POOL_ADDRESS) and 0 < tx["value"] <= GAS_TOPUP_MAX
    else:
        assert_within_policy(pool_id, wire, outcome)


@settings(max_examples=200)
@given(
    selector=st.binary(min_size=4, max_size=4),
    tail=st.binary(max_size=200),
    to=st.sampled_from([LAUNCHER, REFUNDER, USDC]),
)
def test_unknown_selectors_to_known_contracts_are_refused(selector, tail, to):
    assume(selector not in ALLOWED_SELECTORS)
    outcome = decide(USDC_POOL_ID, wire_tx(to=to, data=selector + tail))
    assert isinstance(outcome, Refusal) and outcome.code == "unknown_selector"


@settings(max_examples=200)
@given(to=addresses, value=st.integers(min_value=1, max_value=ETHER), data=st.binary(max_size=64))
def test_a_pool_key_never_sends_a_plain_transfer_or_calls_an_unknown_address(to, value, data):
    assume(to not in (LAUNCHER, REFUNDER, USDC))
    outcome = decide(POOL_ID, wire_tx(to=to, data=data, value=value))
    assert isinstance(outcome, Refusal) and outcome.code in ("unknown_destination", "value_cap")


# -- mutations of a valid launch ----------------------------------------------------------------------------------

# Fields the web tier legitimately chooses (within bounds checked separately); everything else is registered.
FREE_FIELDS = {"merkleRoot", "expectedAnswer", "raiseAmount", "toleranceBps", "deadline"}
FIELD_VALUES = {
    "bytes32": st.binary(min_size=32, max_size=32),
    "string": st.text(max_size=20),
    "address": addresses,
    "int256": st.integers(min_value=-(2**255), max_value=2**255 - 1),
}


def _field_strategy(abi_type: str):
    if abi_type in FIELD_VALUES:
        return FIELD_VALUES[abi_type]
    return st.integers(min_value=0, max_value=2 ** int(abi_type.removeprefix("uint")) - 1)


def valid_launch(**overrides) -> dict:
    fields = launch_args(pool_id=int(POOL_ID), params=NATIVE_PARAMS, log_head=LOG_HEAD, raise_amount=2 * ETHER)
    fields.update(overrides)
    return wire_tx(to=LAUNCHER, data=launch_calldata(fields), value=fields["raiseAmount"], gas=3_000_000)


def test_a_valid_launch_is_signed():
    outcome = decide(POOL_ID, valid_launch())
    assert not isinstance(outcome, Refusal), outcome
    assert outcome.intent["kind"] == "launch"


@settings(max_examples=500)
@given(data=st.data())
def test_changing_any_registered_launch_field_is_refused(data):
    name, abi_type = data.draw(st.sampled_from([f for f in LAUNCH_PARAMS_FIELDS if f[0] not in FREE_FIELDS]))
    current = launch_args(pool_id=int(POOL_ID), params=NATIVE_PARAMS, log_head=LOG_HEAD, raise_amount=2 * ETHER)
    value = data.draw(_field_strategy(abi_type))
    normalized = value.lower() if isinstance(value, str) and abi_type == "address" else value
    assume(normalized != (current[name].lower() if abi_type == "address" else current[name]))
    outcome = decide(POOL_ID, valid_launch(**{name: value}))
    assert isinstance(outcome, Refusal), f"{name}={value!r} was signed"


@settings(max_examples=300)
@given(raise_amount=uint256, value=uint256)
def test_launch_amount_and_value_must_match_the_caps(raise_amount, value):
    fields = launch_args(pool_id=int(POOL_ID), params=NATIVE_PARAMS, log_head=LOG_HEAD, raise_amount=raise_amount)
    wire = wire_tx(to=LAUNCHER, data=launch_calldata(fields), value=value, gas=3_000_000)
    outcome = decide(POOL_ID, wire)
    gas_budget = 3_000_000 * 2 * GWEI  # the launch pays its gas out of a native raise
    allowed = raise_amount + gas_budget >= ETHER and raise_amount <= 10 * ETHER and value == raise_amount
    assert isinstance(outcome, Refusal) != allowed


@pytest.mark.parametrize(
    ("override", "code"),
    [
        ({"deadline": 1}, "bad_deadline"),
        ({"deadline": 2**64}, "bad_deadline"),
        ({"logHead": b"\x01" * 32}, "stale_log_head"),
        ({"toleranceBps": 501}, "bad_oracle_bounds"),
        ({"expectedAnswer": 0}, "bad_oracle_bounds"),
        ({"poolId": (8).to_bytes(32, "big")}, "param_mismatch"),
        ({"treasury": "0x000000000000000000000000000000000000dEaD"}, "param_mismatch"),
        ({"symbol": "agt"}, "param_mismatch"),
    ],
)
def test_launch_bounds(override, code):
    outcome = decide(POOL_ID, valid_launch(**override))
    assert isinstance(outcome, Refusal) and outcome.code == code


def test_launch_calldata_with_trailing_bytes_is_refused():
    wire = valid_launch()
    wire["data"] += "00"
    assert decide(POOL_ID, wire).code == "bad_calldata"


def test_fee_and_chain_envelope():
    assert decide(POOL_ID, {**valid_launch(), "maxFeePerGas": str(10**12)}).code == "fee_cap"
    assert decide(POOL_ID, {**valid_launch(), "chainId": "1"}).code == "chain_mismatch"
    assert decide(POOL_ID, {**valid_launch(), "nonce": "1000"}).code == "nonce_out_of_window"
    assert decide(POOL_ID, {**valid_launch(), "accessList": []}).code == "malformed"
    assert decide(POOL_ID, {**valid_launch(), "value": "1.5"}).code == "malformed"


# -- approvals and refunds ----------------------------------------------------------------------------------------


@settings(max_examples=200)
@given(spender=st.one_of(addresses, st.sampled_from([LAUNCHER, REFUNDER])), amount=uint256)
def test_approve_only_to_launcher_or_refunder_within_the_cap(spender, amount):
    outcome = decide(USDC_POOL_ID, wire_tx(to=USDC, data=approve_calldata(spender, amount)))
    allowed = spender in (LAUNCHER, REFUNDER) and amount <= 10**12
    assert isinstance(outcome, Refusal) != allowed


def test_approve_from_a_native_pool_is_refused():
    assert isinstance(decide(POOL_ID, wire_tx(to=USDC, data=approve_calldata(LAUNCHER, 1))), Refusal)


@settings(max_examples=200)
@given(
    recipients=st.lists(addresses, min_size=1, max_size=4, unique=True),
    amounts=st.lists(st.integers(min_value=0, max_value=10 * ETHER), min_size=1, max_size=4),
    erc20=st.booleans(),
    with_evidence=st.booleans(),
)
def test_refunds_without_proven_deposits_are_refused(recipients, amounts, erc20, with_evidence):
    evidence = (
        {
            r: [{"tx_hash": "0x" + "11" * 32, "log_index": 0} if erc20 else {"tx_hash": "0x" + "11" * 32}]
            for r in recipients
        }
        if with_evidence
        else None
    )
    if erc20:
        wire = wire_tx(to=REFUNDER, data=refund_erc20_calldata(USDC, recipients, amounts))
        outcome = decide(USDC_POOL_ID, wire, evidence=evidence)
    else:
        wire = wire_tx(to=REFUNDER, data=refund_eth_calldata(recipients, amounts), value=sum(amounts))
        outcome = decide(POOL_ID, wire, evidence=evidence)
    assert isinstance(outcome, Refusal)


@settings(max_examples=200)
@given(to=st.one_of(addresses, st.just(POOL_ADDRESS)), value=uint256, data=st.binary(max_size=8))
def test_gas_key_only_tops_up_registered_pools_within_the_cap(to, value, data):
    outcome = decide(GAS_KEY, wire_tx(to=to, data=data, value=value, gas=21_000))
    allowed = to == POOL_ADDRESS and 0 < value <= GAS_TOPUP_MAX and data == b""
    assert isinstance(outcome, Refusal) != allowed


def test_a_native_launch_may_bring_its_gas_budget_less_than_the_soft_cap_and_not_a_wei_more():
    budget = 3_000_000 * 2 * GWEI
    exactly = decide(POOL_ID, valid_launch(raiseAmount=ETHER - budget))
    short = decide(POOL_ID, valid_launch(raiseAmount=ETHER - budget - 1))

    assert not isinstance(exactly, Refusal), exactly
    assert isinstance(short, Refusal) and short.code == "bad_amount"


def test_evidence_spent_by_a_refund_batch_that_reverted_can_be_refunded_again():
    recipient = to_checksum_address("0x" + "ab" * 20)

    def prove(citation, sender, pool):
        return Deposit(key=f"{CHAIN_ID}:{citation.tx_hash}", sender=sender, amount=ETHER)

    spent_at_nonce_3 = {
        f"{CHAIN_ID}:0x" + "11" * 32: {"amount": str(ETHER), "consumed": {f"{POOL_ADDRESS}/3": str(ETHER)}}
    }
    wire = wire_tx(to=REFUNDER, data=refund_eth_calldata([recipient], [ETHER]), value=ETHER, nonce=4)
    evidence = {recipient: [{"tx_hash": "0x" + "11" * 32}]}

    pending = context(prove=prove)
    pending.refunds.update(spent_at_nonce_3)
    reverted = dataclasses.replace(context(prove=prove), slot_reverted=lambda slot: slot == f"{POOL_ADDRESS}/3")
    reverted.refunds.update(spent_at_nonce_3)

    refused = decide(POOL_ID, wire, evidence=evidence, ctx=pending)
    allowed = decide(POOL_ID, wire, evidence=evidence, ctx=reverted)

    assert isinstance(refused, Refusal) and refused.code == "already_refunded"
    assert not isinstance(allowed, Refusal), allowed


def test_gas_top_ups_to_one_pool_stop_at_its_cap_and_a_launch_cannot_spend_them():
    ctx = context(balance=2 * ETHER)
    ctx.gas_topups[POOL_ADDRESS] = {"0xGas/0": str(GAS_TOPUP_MAX), "0xGas/1": str(10**17 - GAS_TOPUP_MAX)}
    topup = wire_tx(to=POOL_ADDRESS, value=1, nonce=2)

    over_cap = decide("gas", topup, ctx=ctx)
    launch_with_topups = decide(POOL_ID, valid_launch(), ctx=ctx)  # 2 ETH held, 0.1 ETH of it top-ups
    launch_without = decide(POOL_ID, valid_launch(), ctx=context(balance=2 * ETHER))

    assert isinstance(over_cap, Refusal) and over_cap.code == "topup_cap"
    assert isinstance(launch_with_topups, Refusal) and launch_with_topups.code == "bad_value"
    assert not isinstance(launch_without, Refusal), launch_without
