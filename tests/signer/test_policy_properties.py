"""Property tests of the signing policy (no chain): nothing outside the policy is ever signed.

The signer's books (what a launch must carry, what a deposit is owed, the fees and top-ups so far) reach the policy
as callbacks in its context; here they are small fakes, so every rule can be driven from both sides.
"""

from __future__ import annotations

import dataclasses
import itertools
import time

import pytest
from eth_abi import decode
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from enclave_signer.calls import APPROVE, LAUNCH, LAUNCH_FIELD_OF_PARAM, LAUNCH_PARAMS_FIELDS, REFUND_ERC20, REFUND_ETH
from enclave_signer.config import DEFAULT_MAX_FEE_PER_GAS_WEI, KnownContracts
from enclave_signer.evidence import EvidenceRefused, parse_citation
from enclave_signer.params import ZERO_ADDRESS, normalize_pool_params
from enclave_signer.policy import (
    GAS_KEY,
    PolicyContext,
    Refusal,
    describe,
    evaluate,
    fee_budget,
    parse_transaction,
)
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
POOL_ADDRESS = to_checksum_address("0x00000000000000000000000000000000000000A7")
USDC_POOL_ID = "8"
USDC_POOL_ADDRESS = to_checksum_address("0x00000000000000000000000000000000000000A8")
GAS_ADDRESS = to_checksum_address("0x00000000000000000000000000000000000000A9")
ADDRESS_OF = {POOL_ID: POOL_ADDRESS, USDC_POOL_ID: USDC_POOL_ADDRESS, GAS_KEY: GAS_ADDRESS}
LOG_HEAD = "0x" + "ab" * 32
GAS_TOPUP_MAX = 10**16
TOPUP_POOL_MAX = 10**17
MAX_TX_FEE = 10**17
FEE_BUDGET_MIN = 5 * 10**17
ALLOWED_SELECTORS = {call.selector for call in (LAUNCH, APPROVE, REFUND_ETH, REFUND_ERC20)}
NATIVE_PARAMS = normalize_pool_params(pool_params())
USDC_PARAMS = normalize_pool_params(
    pool_params(raise_asset=USDC, soft_cap=10**6, hard_cap=10**12, max_value_wei=10**12)
)
PARAMS_OF = {POOL_ID: NATIVE_PARAMS, USDC_POOL_ID: USDC_PARAMS}

# What the books say each pool's launch must carry (the fake expected_launch answers this).
EXPECTED_LAUNCH = {POOL_ID: (2 * ETHER, "0x" + "42" * 32), USDC_POOL_ID: (5 * 10**9, "0x" + "43" * 32)}

# Gas limit ranges per kind, written out here rather than imported: the oracle must not share the policy's numbers.
LAUNCH_GAS = (5_000_000, 10_000_000)
APPROVE_GAS = (50_000, 200_000)
TOPUP_GAS = (21_000, 30_000)
LAUNCH_GAS_LIMIT = 5_000_000
APPROVE_GAS_LIMIT = 100_000


def refund_gas(recipients: int, *, native: bool) -> tuple[int, int]:
    least = 60_000 + (90_000 if native else 45_000) * recipients
    return least, 2 * least


addresses = st.binary(min_size=20, max_size=20).map(lambda raw: to_checksum_address("0x" + raw.hex()))
uint256 = st.integers(min_value=0, max_value=2**256 - 1)
small_value = st.one_of(st.integers(min_value=0, max_value=1000 * ETHER), uint256)
gas_limits = st.one_of(
    st.sampled_from(sorted({*LAUNCH_GAS, *APPROVE_GAS, *TOPUP_GAS, 150_000, 300_000, 500_000})),
    st.integers(min_value=21_000, max_value=12_000_000),
)


# -- the fake books -----------------------------------------------------------------------------------------------


def tx_hash_of(number: int) -> str:
    return "0x" + f"{number:064x}"


def citation(number: int, *, erc20: bool = False) -> dict:
    """Deposit `number` cited as refund evidence: an ERC-20 Transfer log or a top-level native transfer."""
    return {"tx_hash": tx_hash_of(number), "log_index": 0} if erc20 else {"tx_hash": tx_hash_of(number)}


def deposit_key(number: int, *, erc20: bool = False) -> str:
    return parse_citation(citation(number, erc20=erc20)).key(chain_id=CHAIN_ID)


def ledger_books(ledger: dict[str, tuple[str, str, int]]):
    """owed_deposit over {deposit key: (pool address, sender, owed)}, refusing as the signer's books do."""

    def owed_deposit(cited, recipient: str, pool: dict) -> tuple[str, int]:
        key = cited.key(chain_id=CHAIN_ID)
        if key not in ledger or ledger[key][0] != pool["address"]:
            raise EvidenceRefused("not_in_ledger", f"{key} is not in the pool's ledger")
        _, sender, owed = ledger[key]
        if sender.lower() != recipient.lower():
            raise EvidenceRefused("not_a_deposit", f"{key} was sent by {sender}")
        return key, owed

    return owed_deposit


def expected_launch(pool_id: str, tx: dict) -> tuple[int, str]:
    return EXPECTED_LAUNCH[pool_id]


def context(*, now: int | None = None, ledger: dict | None = None, **fields: object) -> PolicyContext:
    ctx = PolicyContext(
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
        gas_topup_pool_max_wei=TOPUP_POOL_MAX,
        max_tx_fee_wei=MAX_TX_FEE,
        fee_budget_min_wei=FEE_BUDGET_MIN,
        fee_budget_bps=50,
        launch_deadline_window_seconds=3600,
        refunds={},
        owed_deposit=ledger_books(ledger or {}),
        expected_launch=expected_launch,
    )
    return dataclasses.replace(ctx, **fields)


def decide(pool_id: str, wire: dict, *, evidence: object = None, ctx: PolicyContext | None = None):
    """Return the approval, or the Refusal."""
    try:
        tx = parse_transaction(wire)
        address = ADDRESS_OF.get(pool_id, USDC_POOL_ADDRESS)
        intent = describe(tx, key_path=f"pool/{pool_id}", address=address)
        return evaluate(pool_id=pool_id, address=address, tx=tx, evidence=evidence, intent=intent, ctx=ctx or context())
    except Refusal as refusal:
        return refusal


def refused(outcome, code: str | None = None) -> bool:
    return isinstance(outcome, Refusal) and (code is None or outcome.code == code)


def assert_within_policy(pool_id: str, wire: dict, approval) -> None:
    """The independent oracle: what an approved transaction must look like, per docs/chain-interface.md."""
    tx = parse_transaction(wire)
    params = PARAMS_OF[pool_id]
    assert tx["chainId"] == CHAIN_ID
    # Any price within SIGNER_MAX_TX_FEE_WEI per transaction; above it, at most SIGNER_MAX_FEE_PER_GAS_WEI per gas.
    assert tx["gas"] * tx["maxFeePerGas"] <= MAX_TX_FEE or tx["maxFeePerGas"] <= DEFAULT_MAX_FEE_PER_GAS_WEI
    assert tx["value"] <= int(params["max_value_wei"])
    selector = tx["data"][:4]
    if tx["to"] == LAUNCHER:
        assert selector == LAUNCH.selector
        (values,) = decode([LAUNCH.arg_types[0]], tx["data"][4:])
        launch = dict(zip([name for name, _ in LAUNCH_PARAMS_FIELDS], values, strict=True))
        for param, field in LAUNCH_FIELD_OF_PARAM.items():
            assert str(launch[field]).lower() == params[param].lower()
        assert (launch["raiseAmount"], "0x" + launch["merkleRoot"].hex()) == EXPECTED_LAUNCH[pool_id]
        assert "0x" + launch["logHead"].hex() == LOG_HEAD
        assert LAUNCH_GAS[0] <= tx["gas"] <= LAUNCH_GAS[1]
    elif tx["to"] == USDC:
        assert selector == APPROVE.selector and tx["value"] == 0 and params["raise_asset"] == USDC
        spender, amount = decode(["address", "uint256"], tx["data"][4:])
        assert to_checksum_address(spender) in (LAUNCHER, REFUNDER)
        assert APPROVE_GAS[0] <= tx["gas"] <= APPROVE_GAS[1]
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
    gas=gas_limits,
    chain_id=st.sampled_from([CHAIN_ID, 1, 5]),
)
def test_random_transactions_are_never_signed_outside_the_policy(pool_id, to, data, value, nonce, gas, chain_id):
    wire = wire_tx(to=to, data=data, value=value, nonce=nonce, gas=gas, chain_id=chain_id)
    outcome = decide(pool_id, wire)
    if isinstance(outcome, Refusal):
        return
    tx = parse_transaction(wire)
    if pool_id == GAS_KEY:
        assert tx["data"] == b"" and tx["to"] in (POOL_ADDRESS, USDC_POOL_ADDRESS) and 0 < tx["value"] <= GAS_TOPUP_MAX
        assert TOPUP_GAS[0] <= tx["gas"] <= TOPUP_GAS[1]
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
    assert refused(outcome, "unknown_selector")


@settings(max_examples=200)
@given(to=addresses, value=st.integers(min_value=1, max_value=ETHER), data=st.binary(max_size=64))
def test_a_pool_key_never_sends_a_plain_transfer_or_calls_an_unknown_address(to, value, data):
    assume(to not in (LAUNCHER, REFUNDER, USDC))
    outcome = decide(POOL_ID, wire_tx(to=to, data=data, value=value))
    assert isinstance(outcome, Refusal) and outcome.code in ("unknown_destination", "value_cap")


# -- launches -----------------------------------------------------------------------------------------------------

# Fields the web tier legitimately chooses (within bounds checked separately). Everything else is registered, or --
# raiseAmount and merkleRoot -- what the signer's books say.
FREE_FIELDS = {"expectedAnswer", "toleranceBps", "deadline"}
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


def launch_fields(pool_id: str = POOL_ID, **overrides) -> dict:
    raise_amount, root = EXPECTED_LAUNCH[pool_id]
    fields = launch_args(
        pool_id=int(pool_id),
        params=PARAMS_OF[pool_id],
        log_head=LOG_HEAD,
        raise_amount=raise_amount,
        merkleRoot=bytes.fromhex(root[2:]),
    )
    fields.update(overrides)
    return fields


def valid_launch(*, nonce: int = 0, gas: int = LAUNCH_GAS_LIMIT, max_fee: int = 2 * GWEI, **overrides) -> dict:
    """The native pool's launch as the books say it must be (value follows raiseAmount); override launch fields."""
    fields = launch_fields(POOL_ID, **overrides)
    data = launch_calldata(fields)
    return wire_tx(
        to=LAUNCHER, data=data, value=fields["raiseAmount"], nonce=nonce, gas=gas, max_fee=max_fee, priority_fee=0
    )


def valid_usdc_launch(**overrides) -> dict:
    return wire_tx(to=LAUNCHER, data=launch_calldata(launch_fields(USDC_POOL_ID, **overrides)), gas=LAUNCH_GAS_LIMIT)


def test_a_valid_launch_is_signed():
    native = decide(POOL_ID, valid_launch())
    erc20 = decide(USDC_POOL_ID, valid_usdc_launch())
    assert not isinstance(native, Refusal), native
    assert not isinstance(erc20, Refusal), erc20
    assert native.intent["kind"] == erc20.intent["kind"] == "launch"
    assert native.intent["args"]["raiseAmount"] == str(2 * ETHER)


@settings(max_examples=500)
@given(data=st.data())
def test_changing_any_registered_or_booked_launch_field_is_refused(data):
    name, abi_type = data.draw(st.sampled_from([f for f in LAUNCH_PARAMS_FIELDS if f[0] not in FREE_FIELDS]))
    current = launch_fields()
    value = data.draw(_field_strategy(abi_type))
    normalized = value.lower() if isinstance(value, str) and abi_type == "address" else value
    assume(normalized != (current[name].lower() if abi_type == "address" else current[name]))
    outcome = decide(POOL_ID, valid_launch(**{name: value}))
    assert isinstance(outcome, Refusal), f"{name}={value!r} was signed"


@settings(max_examples=300)
@given(
    expected_raise=st.integers(min_value=1, max_value=10 * ETHER),
    offset=st.one_of(st.just(0), st.integers(min_value=-(10**18), max_value=10**18), st.sampled_from([-1, 1])),
    expected_root=st.binary(min_size=32, max_size=32),
    root=st.one_of(st.none(), st.binary(min_size=32, max_size=32)),
)
def test_a_launch_carries_exactly_the_raise_and_root_of_the_books(expected_raise, offset, expected_root, root):
    raise_amount = expected_raise + offset
    assume(raise_amount >= 0)
    root = expected_root if root is None else root
    books = (expected_raise, "0x" + expected_root.hex())
    ctx = context(expected_launch=lambda pool_id, tx: books)
    outcome = decide(POOL_ID, valid_launch(raiseAmount=raise_amount, merkleRoot=root), ctx=ctx)
    if raise_amount != expected_raise:
        assert refused(outcome, "bad_amount"), outcome
    elif root != expected_root:
        assert refused(outcome, "bad_merkle_root"), outcome
    else:
        assert not isinstance(outcome, Refusal), outcome


def test_the_books_are_asked_about_this_pool_and_this_transaction():
    asked = []

    def books(pool_id, tx):
        asked.append((pool_id, tx["nonce"], tx["gas"], tx["maxFeePerGas"]))
        return EXPECTED_LAUNCH[pool_id]

    assert not refused(decide(POOL_ID, valid_launch(nonce=3, gas=6_000_000), ctx=context(expected_launch=books)))
    assert asked == [(POOL_ID, 3, 6_000_000, 2 * GWEI)]


@pytest.mark.parametrize(
    "code", ["ledger_incomplete", "raise_not_final", "soft_cap_missed", "pool_refunding", "bad_amount"]
)
def test_a_launch_the_books_refuse_is_refused_with_their_code(code):
    def books(pool_id, tx):
        raise Refusal(code, "the books say no")

    assert refused(decide(POOL_ID, valid_launch(), ctx=context(expected_launch=books)), code)


def test_without_books_no_launch_is_signed():
    unconfigured = dataclasses.replace(context(), expected_launch=PolicyContext.expected_launch)
    assert refused(decide(POOL_ID, valid_launch(), ctx=unconfigured), "ledger_incomplete")


@settings(max_examples=150)
@given(value=st.one_of(st.sampled_from([0, 2 * ETHER, 2 * ETHER + 1, 2 * ETHER - 1]), uint256))
def test_a_launch_sends_the_raise_as_value_for_eth_and_nothing_for_an_erc20(value):
    native_wire = {**valid_launch(), "value": str(value)}
    erc20_wire = {**valid_usdc_launch(), "value": str(value)}
    assert refused(decide(POOL_ID, native_wire)) != (value == 2 * ETHER)
    assert refused(decide(USDC_POOL_ID, erc20_wire)) != (value == 0)


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
        ({"raiseAmount": 2 * ETHER + 1}, "bad_amount"),
        ({"raiseAmount": 11 * ETHER}, "bad_amount"),
        ({"merkleRoot": b"\x43" * 32}, "bad_merkle_root"),
    ],
)
def test_launch_bounds(override, code):
    outcome = decide(POOL_ID, valid_launch(**override))
    assert refused(outcome, code), outcome


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


# -- approvals ----------------------------------------------------------------------------------------------------


@settings(max_examples=200)
@given(spender=st.one_of(addresses, st.sampled_from([LAUNCHER, REFUNDER])), amount=uint256)
def test_approve_only_to_launcher_or_refunder_within_the_cap(spender, amount):
    outcome = decide(USDC_POOL_ID, wire_tx(to=USDC, data=approve_calldata(spender, amount), gas=APPROVE_GAS_LIMIT))
    allowed = spender in (LAUNCHER, REFUNDER) and amount <= 10**12
    assert isinstance(outcome, Refusal) != allowed


def test_approve_from_a_native_pool_is_refused():
    wire = wire_tx(to=USDC, data=approve_calldata(LAUNCHER, 1), gas=APPROVE_GAS_LIMIT)
    assert isinstance(decide(POOL_ID, wire), Refusal)


# -- refunds ------------------------------------------------------------------------------------------------------


def refund_wire(
    recipients: list[str], amounts: list[int], *, erc20: bool = False, nonce: int = 0, gas: int | None = None
) -> dict:
    """A refund batch with the least gas its size allows (unless `gas` is given)."""
    gas = gas if gas is not None else refund_gas(len(recipients), native=not erc20)[0]
    if erc20:
        return wire_tx(to=REFUNDER, data=refund_erc20_calldata(USDC, recipients, amounts), nonce=nonce, gas=gas)
    data = refund_eth_calldata(recipients, amounts)
    return wire_tx(to=REFUNDER, data=data, value=sum(amounts), nonce=nonce, gas=gas)


def refund_pool(erc20: bool) -> tuple[str, str]:
    return (USDC_POOL_ID, USDC_POOL_ADDRESS) if erc20 else (POOL_ID, POOL_ADDRESS)


@pytest.mark.parametrize("erc20", [False, True])
def test_a_refund_to_address_zero_is_refused_whatever_the_books_say(erc20):
    """A mint to the pool is recorded from address(0); the Refunder reverts a whole batch that names it."""
    pool_id, pool_address = refund_pool(erc20)
    ledger = {deposit_key(1, erc20=erc20): (pool_address, ZERO_ADDRESS, 10**12)}
    wire = refund_wire([ZERO_ADDRESS], [10**12], erc20=erc20)

    outcome = decide(pool_id, wire, evidence={ZERO_ADDRESS: [citation(1, erc20=erc20)]}, ctx=context(ledger=ledger))

    assert refused(outcome, "bad_arguments")


@settings(max_examples=200)
@given(recipients=st.lists(addresses, min_size=2, max_size=5), erc20=st.booleans())
def test_a_refund_whose_recipients_are_not_strictly_ascending_is_refused_before_the_books(recipients, erc20):
    """Duplicates or any other order would revert on chain (the Refunder's rule); the books are not even asked."""
    values = [int(address, 16) for address in recipients]
    assume(ZERO_ADDRESS not in recipients and values != sorted(set(values)))
    pool_id, _ = refund_pool(erc20)
    evidence = {r: [citation(n, erc20=erc20)] for n, r in enumerate(recipients)}

    outcome = decide(pool_id, refund_wire(recipients, [10**6] * len(recipients), erc20=erc20), evidence=evidence)

    assert refused(outcome, "bad_arguments"), outcome


@settings(max_examples=200)
@given(
    recipients=st.lists(addresses, min_size=1, max_size=4, unique=True),
    amounts=st.lists(st.integers(min_value=1, max_value=10**11), min_size=4, max_size=4),
    erc20=st.booleans(),
    evidence_kind=st.sampled_from(["none", "not_in_ledger", "another_pools", "someone_elses"]),
)
def test_refunds_of_deposits_the_books_do_not_owe_the_recipient_are_refused(recipients, amounts, erc20, evidence_kind):
    """Everything else about the batch is valid; only the deposits cited are wrong (or missing)."""
    recipients = sorted(recipients, key=lambda address: int(address, 16))  # the Refunder's order
    amounts = amounts[: len(recipients)]
    pool_id, pool_address = refund_pool(erc20)
    other_pool = USDC_POOL_ADDRESS if pool_address == POOL_ADDRESS else POOL_ADDRESS
    stranger = to_checksum_address("0x" + "99" * 20)
    assume(stranger not in recipients and ZERO_ADDRESS not in recipients)
    ledger = {
        deposit_key(1, erc20=erc20): (other_pool, recipients[0], 10**12),  # a deposit to the other pool
        deposit_key(2, erc20=erc20): (pool_address, stranger, 10**12),  # a deposit by somebody else
    }
    evidence = {
        "none": None,
        "not_in_ledger": {r: [citation(3, erc20=erc20)] for r in recipients},
        "another_pools": {r: [citation(1, erc20=erc20)] for r in recipients},
        "someone_elses": {r: [citation(2, erc20=erc20)] for r in recipients},
    }[evidence_kind]
    outcome = decide(
        pool_id, refund_wire(recipients, amounts, erc20=erc20), evidence=evidence, ctx=context(ledger=ledger)
    )
    expected = {
        "none": "missing_evidence",
        "not_in_ledger": "not_in_ledger",
        "another_pools": "not_in_ledger",
        "someone_elses": "not_a_deposit",
    }
    assert refused(outcome, expected[evidence_kind]), outcome


@pytest.mark.parametrize("code", ["not_in_ledger", "not_a_deposit", "not_refundable", "ledger_incomplete"])
def test_a_refund_the_books_refuse_is_refused_with_their_code(code):
    recipient = to_checksum_address("0x" + "ab" * 20)

    def owed_deposit(cited, who, pool):
        raise EvidenceRefused(code, "the books say no")

    wire = refund_wire([recipient], [ETHER])
    outcome = decide(POOL_ID, wire, evidence={recipient: [citation(1)]}, ctx=context(owed_deposit=owed_deposit))
    assert refused(outcome, code)


@settings(max_examples=300)
@given(
    owed=st.integers(min_value=0, max_value=10 * ETHER),
    elsewhere=st.dictionaries(
        st.integers(min_value=0, max_value=6),
        st.lists(st.integers(min_value=1, max_value=5 * ETHER), min_size=1, max_size=3),
        max_size=4,
    ),
    reverted=st.sets(st.integers(min_value=0, max_value=6)),
    nonce=st.integers(min_value=0, max_value=6),
    amount=st.integers(min_value=1, max_value=10 * ETHER),
)
def test_a_refund_takes_at_most_what_the_books_owe_less_what_other_slots_count(
    owed, elsewhere, reverted, nonce, amount
):
    """Takes recorded at other nonces count as counted_take says (a reverted batch's count nothing); takes recorded
    at this same nonce are replacements, one of which only can be mined, and do not count."""
    recipient = to_checksum_address("0x" + "ab" * 20)
    key = deposit_key(1)
    record = {
        "amount": str(owed),
        "consumed": {
            f"{POOL_ADDRESS}/{slot_nonce}": {tx_hash_of(100 + i): str(take) for i, take in enumerate(takes)}
            for slot_nonce, takes in elsewhere.items()
        },
    }
    asked = []

    def counted_take(slot, takes):
        asked.append(slot)
        if int(slot.rpartition("/")[2]) in reverted:
            return 0
        return max(int(take) for take in takes.values())

    ctx = context(ledger={key: (POOL_ADDRESS, recipient, owed)}, counted_take=counted_take, refunds={key: record})
    outcome = decide(
        POOL_ID, refund_wire([recipient], [amount], nonce=nonce), evidence={recipient: [citation(1)]}, ctx=ctx
    )

    counted = sum(max(takes) for n, takes in elsewhere.items() if n != nonce and n not in reverted)
    assert f"{POOL_ADDRESS}/{nonce}" not in asked, "a replacement at the same nonce is never counted"
    if amount <= owed - counted:
        assert not isinstance(outcome, Refusal), outcome
        assert outcome.consumptions == {key: {"amount": owed, "take": amount}}
    else:
        assert refused(outcome, "already_refunded" if counted else "not_evidenced"), outcome


@settings(max_examples=100, suppress_health_check=[HealthCheck.too_slow])
@given(
    owed=st.lists(st.integers(min_value=0, max_value=3 * ETHER), min_size=4, max_size=4),
    requests=st.lists(
        st.tuples(
            st.sets(st.sampled_from([0, 1]), min_size=1),  # which recipients
            st.lists(st.integers(min_value=1, max_value=3 * ETHER), min_size=2, max_size=2),  # their amounts
            st.integers(min_value=0, max_value=4),  # nonce
            st.booleans(),  # cite a deposit twice, spelled differently
        ),
        min_size=1,
        max_size=12,
    ),
)
def test_many_refunds_never_pay_back_more_than_the_books_owe(owed, requests):
    """Signing refunds one after another (recorded as the service records them, every nonce still open): whichever
    transaction is mined at each nonce, no deposit pays back more than it is owed."""
    recipients = [to_checksum_address("0x" + "a1" * 20), to_checksum_address("0x" + "a2" * 20)]
    # Two deposits per recipient: 0 and 1 from the first, 2 and 3 from the second.
    ledger = {deposit_key(n): (POOL_ADDRESS, recipients[n // 2], owed[n]) for n in range(4)}
    refunds: dict = {}
    ctx = context(ledger=ledger, refunds=refunds)
    hashes = itertools.count(1000)
    for chosen, amounts, nonce, cite_twice in requests:
        who = [recipients[i] for i in sorted(chosen)]
        evidence = {r: [citation(2 * recipients.index(r)), citation(2 * recipients.index(r) + 1)] for r in who}
        if cite_twice:
            evidence[who[0]].append({**citation(2 * recipients.index(who[0])), "trace_address": []})
        slot = f"{POOL_ADDRESS}/{nonce}"
        outcome = decide(POOL_ID, refund_wire(who, amounts[: len(who)], nonce=nonce), evidence=evidence, ctx=ctx)
        if isinstance(outcome, Refusal):
            assert outcome.code in ("already_refunded", "not_evidenced"), outcome
            continue
        assert sum(c["take"] for c in outcome.consumptions.values()) == sum(amounts[: len(who)])
        tx_hash = tx_hash_of(next(hashes))
        for key, consumption in outcome.consumptions.items():
            record = refunds.setdefault(key, {"amount": str(consumption["amount"]), "consumed": {}})
            record["consumed"].setdefault(slot, {})[tx_hash] = str(consumption["take"])
    for key, (_, _, amount) in ledger.items():
        consumed = refunds.get(key, {"consumed": {}})["consumed"]
        assert sum(max(int(take) for take in takes.values()) for takes in consumed.values()) <= amount


def test_a_deposit_cited_twice_in_one_request_covers_its_amount_once():
    recipient = to_checksum_address("0x" + "ab" * 20)
    ctx = context(ledger={deposit_key(1): (POOL_ADDRESS, recipient, ETHER)})
    twice = {recipient: [citation(1), {**citation(1), "trace_address": []}]}
    assert not refused(decide(POOL_ID, refund_wire([recipient], [ETHER]), evidence=twice, ctx=ctx))
    assert refused(decide(POOL_ID, refund_wire([recipient], [ETHER + 1]), evidence=twice, ctx=ctx), "not_evidenced")


def test_evidence_spent_by_a_refund_batch_that_reverted_can_be_refunded_again():
    recipient = to_checksum_address("0x" + "ab" * 20)
    key = deposit_key(1)
    spent_at_nonce_3 = {key: {"amount": str(ETHER), "consumed": {f"{POOL_ADDRESS}/3": {tx_hash_of(9): str(ETHER)}}}}
    wire = refund_wire([recipient], [ETHER], nonce=4)
    evidence = {recipient: [citation(1)]}
    ledger = {key: (POOL_ADDRESS, recipient, ETHER)}

    pending = context(ledger=ledger, refunds=spent_at_nonce_3)
    reverted = context(ledger=ledger, refunds=spent_at_nonce_3, counted_take=lambda slot, takes: 0)

    assert refused(decide(POOL_ID, wire, evidence=evidence, ctx=pending), "already_refunded")
    assert not refused(decide(POOL_ID, wire, evidence=evidence, ctx=reverted))


# -- gas limits ---------------------------------------------------------------------------------------------------


def kind_at_gas(kind: str, gas: int) -> tuple[str, dict, object, PolicyContext, tuple[int, int]]:
    """(pool id, wire, evidence, context, allowed gas range) of an otherwise valid transaction of `kind`."""
    recipients = [to_checksum_address("0x" + f"{0xB0 + i:02x}" * 20) for i in range(3)]
    if kind == "launch":
        return POOL_ID, valid_launch(gas=gas), None, context(), LAUNCH_GAS
    if kind == "approve":
        return USDC_POOL_ID, wire_tx(to=USDC, data=approve_calldata(LAUNCHER, 1), gas=gas), None, context(), APPROVE_GAS
    if kind == "topup":
        return GAS_KEY, wire_tx(to=POOL_ADDRESS, value=1, gas=gas), None, context(), TOPUP_GAS
    erc20, count = kind.startswith("refundERC20"), int(kind[-1])
    pool_address = refund_pool(erc20)[1]
    ledger = {deposit_key(i, erc20=erc20): (pool_address, recipients[i], 10**6) for i in range(count)}
    evidence = {recipients[i]: [citation(i, erc20=erc20)] for i in range(count)}
    wire = refund_wire(recipients[:count], [10**6] * count, erc20=erc20, gas=gas)
    return refund_pool(erc20)[0], wire, evidence, context(ledger=ledger), refund_gas(count, native=not erc20)


GAS_KINDS = ["launch", "approve", "topup", "refundETH/1", "refundETH/3", "refundERC20/1", "refundERC20/3"]


@pytest.mark.parametrize("kind", GAS_KINDS)
def test_each_kind_is_signed_at_both_ends_of_its_gas_range_and_refused_just_outside(kind):
    least, most = kind_at_gas(kind, 0)[4]
    for gas, allowed in ((least - 1, False), (least, True), (most, True), (most + 1, False)):
        pool_id, wire, evidence, ctx, _ = kind_at_gas(kind, gas)
        outcome = decide(pool_id, wire, evidence=evidence, ctx=ctx)
        if allowed:
            assert not isinstance(outcome, Refusal), (gas, outcome)
        else:  # below 21000 every transaction is refused before its kind is known
            assert refused(outcome, "bad_gas" if gas >= 21_000 else "bad_fees"), (gas, outcome)


@settings(max_examples=300)
@given(kind=st.sampled_from(GAS_KINDS), gas=st.integers(min_value=21_000, max_value=25_000_000))
def test_gas_limits_outside_each_kinds_range_are_refused(kind, gas):
    pool_id, wire, evidence, ctx, (least, most) = kind_at_gas(kind, gas)
    outcome = decide(pool_id, wire, evidence=evidence, ctx=ctx)
    if least <= gas <= most:
        assert not isinstance(outcome, Refusal), outcome
    else:
        assert refused(outcome, "bad_gas"), outcome


# -- the fee budget -----------------------------------------------------------------------------------------------


@settings(max_examples=300)
@given(
    max_fee=st.integers(min_value=0, max_value=MAX_TX_FEE // APPROVE_GAS_LIMIT),
    over=st.one_of(st.integers(min_value=-2, max_value=2), st.integers(min_value=-FEE_BUDGET_MIN, max_value=ETHER)),
    nonce=st.integers(min_value=0, max_value=10),
)
def test_a_transaction_that_would_pass_the_pool_keys_fee_budget_is_refused(max_fee, over, nonce):
    """`over`: how far this transaction's fee would take the key past its budget (drawn around the boundary)."""
    committed = max(0, FEE_BUDGET_MIN - APPROVE_GAS_LIMIT * max_fee + over)
    asked = []

    def fees_committed(address, except_nonce):
        asked.append((address, except_nonce))
        return committed

    wire = wire_tx(
        to=USDC, data=approve_calldata(LAUNCHER, 1), gas=APPROVE_GAS_LIMIT, max_fee=max_fee, priority_fee=0, nonce=nonce
    )
    outcome = decide(USDC_POOL_ID, wire, ctx=context(fees_committed=fees_committed))
    assert asked == [(USDC_POOL_ADDRESS, nonce)]
    assert refused(outcome, "fee_budget") == (committed + APPROVE_GAS_LIMIT * max_fee > FEE_BUDGET_MIN), outcome
    assert refused(outcome) == refused(outcome, "fee_budget")


@settings(max_examples=200)
@given(
    floor=st.integers(min_value=0, max_value=ETHER),
    bps=st.integers(min_value=0, max_value=10_000),
    committed=st.integers(min_value=0, max_value=2 * ETHER),
    max_fee=st.integers(min_value=0, max_value=MAX_TX_FEE // LAUNCH_GAS_LIMIT),
)
def test_the_fee_budget_is_a_share_of_a_native_hard_cap_but_at_least_the_floor(floor, bps, committed, max_fee):
    """10 ETH hard cap for the native pool; the ERC-20 pool's hard cap is in token units and earns no share."""
    ctx = context(fee_budget_min_wei=floor, fee_budget_bps=bps, fees_committed=lambda address, nonce: committed)
    fee = LAUNCH_GAS_LIMIT * max_fee
    native = decide(POOL_ID, valid_launch(max_fee=max_fee), ctx=ctx)
    erc20 = decide(
        USDC_POOL_ID, {**valid_usdc_launch(), "maxFeePerGas": str(max_fee), "maxPriorityFeePerGas": "0"}, ctx=ctx
    )
    assert refused(native, "fee_budget") == (committed + fee > max(floor, 10 * ETHER * bps // 10_000)), native
    assert refused(erc20, "fee_budget") == (committed + fee > floor), erc20
    assert refused(native) == refused(native, "fee_budget") and refused(erc20) == refused(erc20, "fee_budget")


@settings(max_examples=100)
@given(
    requests=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=5),  # nonce
            st.integers(min_value=APPROVE_GAS[0], max_value=APPROVE_GAS[1]),  # gas
            st.integers(min_value=0, max_value=500 * GWEI),  # maxFeePerGas
        ),
        min_size=1,
        max_size=30,
    )
)
def test_the_fee_budget_binds_across_many_transactions(requests):
    """Many transactions, each under the per-transaction cap, signed one after another (every nonce open): whichever
    is mined at each nonce, the key can never pay more than its budget in fees."""
    signed: dict[int, list[int]] = {}  # nonce -> max fee of each transaction signed there

    def fees_committed(address, except_nonce):  # as the books count it while no nonce is mined
        assert address == USDC_POOL_ADDRESS
        return sum(max(fees) for nonce, fees in signed.items() if nonce != except_nonce)

    ctx = context(fees_committed=fees_committed)
    for nonce, gas, max_fee in requests:
        wire = wire_tx(
            to=USDC, data=approve_calldata(REFUNDER, 1), nonce=nonce, gas=gas, max_fee=max_fee, priority_fee=0
        )
        would_commit = fees_committed(USDC_POOL_ADDRESS, nonce) + gas * max_fee
        outcome = decide(USDC_POOL_ID, wire, ctx=ctx)
        assert refused(outcome, "fee_budget") == (would_commit > FEE_BUDGET_MIN), outcome
        if not isinstance(outcome, Refusal):
            signed.setdefault(nonce, []).append(gas * max_fee)
        assert sum(max(fees) for fees in signed.values()) <= FEE_BUDGET_MIN


# -- gas top-ups --------------------------------------------------------------------------------------------------


@settings(max_examples=200)
@given(to=st.one_of(addresses, st.just(POOL_ADDRESS)), value=uint256, data=st.binary(max_size=8))
def test_gas_key_only_tops_up_registered_pools_within_the_cap(to, value, data):
    outcome = decide(GAS_KEY, wire_tx(to=to, data=data, value=value, gas=21_000))
    allowed = to == POOL_ADDRESS and 0 < value <= GAS_TOPUP_MAX and data == b""
    assert isinstance(outcome, Refusal) != allowed


@settings(max_examples=300)
@given(
    value=st.integers(min_value=1, max_value=GAS_TOPUP_MAX),
    over=st.one_of(st.integers(min_value=-2, max_value=2), st.integers(min_value=-TOPUP_POOL_MAX, max_value=ETHER)),
    nonce=st.integers(min_value=0, max_value=10),
    pool_address=st.sampled_from([POOL_ADDRESS, USDC_POOL_ADDRESS]),
)
def test_a_top_up_past_the_pools_cap_is_refused(value, over, nonce, pool_address):
    """`over`: how far this top-up would take the pool past its cap (drawn around the boundary)."""
    before = max(0, TOPUP_POOL_MAX - value + over)
    asked = []

    def topped_up(address, except_nonce):
        asked.append((address, except_nonce))
        return before

    outcome = decide(
        GAS_KEY, wire_tx(to=pool_address, value=value, gas=21_000, nonce=nonce), ctx=context(topped_up=topped_up)
    )
    assert asked == [(pool_address, nonce)]
    assert refused(outcome, "topup_cap") == (before + value > TOPUP_POOL_MAX), outcome
    assert refused(outcome) == refused(outcome, "topup_cap")


@settings(max_examples=100)
@given(
    requests=st.lists(
        st.tuples(st.integers(min_value=0, max_value=15), st.integers(min_value=1, max_value=GAS_TOPUP_MAX)),
        min_size=1,
        max_size=40,
    )
)
def test_top_ups_to_one_pool_never_pass_its_cap_whichever_are_mined(requests):
    signed: dict[int, list[int]] = {}  # nonce -> value of each top-up signed there

    def topped_up(address, except_nonce):  # as the books count it while no nonce is mined: every one signed
        return sum(sum(values) for nonce, values in signed.items() if nonce != except_nonce)

    ctx = context(topped_up=topped_up)
    for nonce, value in requests:
        outcome = decide(GAS_KEY, wire_tx(to=POOL_ADDRESS, value=value, gas=21_000, nonce=nonce), ctx=ctx)
        if not isinstance(outcome, Refusal):
            signed.setdefault(nonce, []).append(value)
        assert sum(max(values) for values in signed.values()) <= TOPUP_POOL_MAX
    assert signed, "the first top-up is always within the cap"


@settings(max_examples=200)
@given(
    spent=st.integers(min_value=0, max_value=2 * FEE_BUDGET_MIN),
    max_fee=st.integers(min_value=1, max_value=MAX_TX_FEE // 21_000),
    pool=st.sampled_from([(POOL_ADDRESS, NATIVE_PARAMS), (USDC_POOL_ADDRESS, USDC_PARAMS)]),
)
def test_the_gas_keys_fees_for_a_pools_top_ups_stay_within_that_pools_fee_budget(spent, max_fee, pool):
    """Many 1-wei top-ups at the fee cap would pass the top-up cap and hand the gas key to the block builder."""
    pool_address, params = pool
    budget = fee_budget(params, ctx=context())
    asked = []

    def topup_fees(address, except_nonce):
        asked.append((address, except_nonce))
        return spent

    tx = wire_tx(to=pool_address, value=1, gas=21_000, nonce=3, max_fee=max_fee, priority_fee=max_fee)
    outcome = decide(GAS_KEY, tx, ctx=context(topup_fees=topup_fees))
    assert asked == [(pool_address, 3)]
    assert refused(outcome, "fee_budget") == (spent + 21_000 * max_fee > budget), outcome
    assert refused(outcome) == refused(outcome, "fee_budget")
