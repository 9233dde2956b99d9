"""The signing policy: deny by default. A transaction is signed only if it decodes to one of the calls in
docs/chain-interface.md ("What the signer allows") and its arguments match the pool's registered parameters.

`evaluate` is pure: everything it needs from the chain and the signer's books (the account nonce, what a launch must
carry, what a deposit is owed, the fees and top-ups so far) comes in the context, so the property tests can throw
arbitrary transactions at it without a chain.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import pairwise

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils import to_checksum_address

from enclave_signer.calls import APPROVE, LAUNCH, LAUNCH_FIELD_OF_PARAM, LAUNCH_PARAMS_FIELDS, REFUND_ERC20, REFUND_ETH
from enclave_signer.config import KnownContracts
from enclave_signer.evidence import Citation, EvidenceRefused, parse_citation
from enclave_signer.params import ZERO_ADDRESS, InvalidInput, parse_address, parse_uint

TX_INT_FIELDS = ("value", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "chainId")
TX_FIELDS = frozenset(("to", "data", *TX_INT_FIELDS))
MIN_GAS = 21_000
# How far past the account's mined nonce a request may sign: refund evidence is consumed at signing, so a
# nonce that can never be mined would lock it; a small window bounds that.
MAX_NONCE_AHEAD = 64
GAS_KEY = "gas"
# Gas limits a transaction may carry, per kind: enough that it cannot be made to run out of gas (and burn its fee for
# nothing), not so much that its fee budget is reserved for nothing. Measured in bench/gas.py: a launch ~4.5M, an
# approve ~46k, a refund ~38k (ETH) / ~30k (ERC-20) per recipient; an ETH recipient may burn its whole call stipend.
LAUNCH_GAS = (5_000_000, 10_000_000)
APPROVE_GAS = (50_000, 200_000)
TOPUP_GAS = (21_000, 30_000)
REFUND_BASE_GAS = 60_000
REFUND_GAS_PER_RECIPIENT = {True: 90_000, False: 45_000}  # keyed by "is the raise native"


def refund_gas_range(recipients: int, *, native: bool) -> tuple[int, int]:
    least = REFUND_BASE_GAS + REFUND_GAS_PER_RECIPIENT[native] * recipients
    return least, 2 * least


def _refuse_unconfigured(*args: object) -> object:
    raise Refusal("ledger_incomplete", "the signer has no books for this pool")


class Refusal(Exception):
    """The policy says no; `code` is stable for callers, `reason` is for people."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


@dataclass(frozen=True)
class PolicyContext:
    """What the policy knows besides the request."""

    chain_id: int
    contracts: KnownContracts
    pools: dict  # pool_id -> registration {chain_id, address, derivation_path, params}
    log_head: str
    now: int
    account_nonce: int
    gas_topup_max_wei: int
    max_tx_fee_wei: int  # any transaction may spend this on fees, whatever its price per gas
    launch_deadline_window_seconds: int
    refunds: dict  # the sealed refund record: deposit_key -> {amount, consumed: {slot: {tx_hash: amount}}}
    # (citation, recipient, pool registration) -> (deposit key, what the books say it is owed); raises Refusal.
    owed_deposit: Callable[[Citation, str, dict], tuple[str, int]] = _refuse_unconfigured
    # (slot "address/nonce", {tx_hash: take}) -> the part of those takes that counts: at a mined nonce only the mined,
    # successful transaction's; at an open nonce the largest (only one transaction per nonce can be mined).
    counted_take: Callable[[str, dict], int] = lambda slot, takes: max(int(take) for take in takes.values())
    # (pool_id, tx) -> (raiseAmount, merkleRoot) the books say this launch must carry; raises Refusal.
    expected_launch: Callable[[str, dict], tuple[int, str]] = _refuse_unconfigured
    # (pool address, except nonce) -> top-ups that count against the pool's cap (every one signed at an open nonce,
    # only the mined one at a mined nonce), and the most a pool address may receive in all.
    topped_up: Callable[[str, int], int] = lambda address, nonce: 0
    gas_topup_pool_max_wei: int = 10**17
    # (address, except nonce) -> fees the key has paid or may still pay; the budget is per pool key, for its life.
    fees_committed: Callable[[str, int], int] = lambda address, nonce: 0
    # (pool address, except nonce) -> fees the gas key has paid or may still pay for top-ups to that pool address.
    topup_fees: Callable[[str, int], int] = lambda address, nonce: 0
    fee_budget_min_wei: int = 5 * 10**17
    fee_budget_bps: int = 50
    # Above max_tx_fee_wei, a transaction's fees are allowed at up to this price per gas (its gas is bounded per kind).
    max_fee_per_gas_wei: int = 500 * 10**9


@dataclass
class Approval:
    """A transaction the policy allows, its decoded intent, and the refund record changes it commits."""

    tx: dict
    intent: dict
    consumptions: dict[str, dict] = field(default_factory=dict)  # deposit_key -> {amount, take}


def jsonable(value: object) -> object:
    """Decoded ABI values for JSON: integers as decimal strings, bytes as 0x hex."""
    if isinstance(value, bytes):
        return "0x" + value.hex()
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, list | tuple):
        return [jsonable(item) for item in value]
    if isinstance(value, dict):
        return {key: jsonable(item) for key, item in value.items()}
    return value


def parse_transaction(raw: object) -> dict:
    """The EIP-1559 fields of a request, typed; anything else (contract creation, access lists, ...) is refused."""
    if not isinstance(raw, dict) or set(raw) != TX_FIELDS:
        raise Refusal("malformed", f"tx must have exactly the fields {sorted(TX_FIELDS)}")
    try:
        tx = {name: parse_uint(raw[name], field=name) for name in TX_INT_FIELDS}
        tx["to"] = parse_address(raw["to"], field="to")
        data = raw["data"]
        if not isinstance(data, str) or not data.startswith("0x"):
            raise InvalidInput("data: expected a 0x hex string")
        tx["data"] = bytes.fromhex(data[2:])
    except (InvalidInput, ValueError) as error:
        raise Refusal("malformed", str(error)) from error
    return tx


def describe(tx: dict, *, key_path: str, address: str) -> dict:
    """The intent before decoding: who signs, to whom, what value, which selector."""
    return {
        "signer": {"key": key_path, "address": address},
        "kind": "unknown",
        "to": tx["to"],
        "value": str(tx["value"]),
        "nonce": tx["nonce"],
        "chain_id": tx["chainId"],
        "selector": "0x" + tx["data"][:4].hex(),
    }


def evaluate(*, pool_id: str, address: str, tx: dict, evidence: object, intent: dict, ctx: PolicyContext) -> Approval:
    """Allow `tx` for the key of `pool_id` (or GAS_KEY) at `address`, or raise Refusal. Fills `intent` in place."""
    _check_envelope(tx, ctx=ctx)
    if pool_id == GAS_KEY:
        return _gas_topup(tx, address=address, intent=intent, ctx=ctx)
    pool = ctx.pools.get(pool_id)
    if pool is None:
        raise Refusal("unknown_pool", f"pool {pool_id} is not registered")
    if pool["chain_id"] != ctx.chain_id:
        raise Refusal("chain_mismatch", f"pool {pool_id} was registered for chain {pool['chain_id']}")
    params = pool["params"]
    budget = fee_budget(params, ctx=ctx)
    committed = ctx.fees_committed(address, tx["nonce"])
    if committed + tx["gas"] * tx["maxFeePerGas"] > budget:
        raise Refusal(
            "fee_budget",
            f"this pool key has paid or may still pay {committed} wei of fees; with {tx['gas'] * tx['maxFeePerGas']} "
            f"more it would pass its budget of {budget}",
        )
    if tx["value"] > int(params["max_value_wei"]):
        raise Refusal("value_cap", f"value {tx['value']} exceeds the pool's cap {params['max_value_wei']}")
    known = ctx.contracts
    if params["raise_asset"] not in known.raise_assets:
        raise Refusal("unknown_asset", f"raise asset {params['raise_asset']} is not allowlisted on this chain")
    if tx["to"] == known.launcher and tx["data"][:4] == LAUNCH.selector:
        return _launch(tx, pool_id=pool_id, params=params, intent=intent, ctx=ctx)
    if tx["to"] == known.refunder and tx["data"][:4] in (REFUND_ETH.selector, REFUND_ERC20.selector):
        return _refund(tx, pool=pool, address=address, evidence=evidence, intent=intent, ctx=ctx)
    erc20_raise_asset = params["raise_asset"] if params["raise_asset"] != ZERO_ADDRESS else None
    if tx["to"] == erc20_raise_asset and tx["data"][:4] == APPROVE.selector:
        return _approve(tx, params=params, intent=intent, ctx=ctx)
    if tx["to"] not in (known.launcher, known.refunder, erc20_raise_asset):
        raise Refusal("unknown_destination", f"{tx['to']} is not a contract this pool may call")
    raise Refusal("unknown_selector", f"selector {intent['selector']} is not allowed on {tx['to']}")


def fee_budget(params: dict, *, ctx: PolicyContext) -> int:
    """A pool key's fee budget for its life: a share of a native hard cap, at least the floor."""
    share = int(params["hard_cap"]) * ctx.fee_budget_bps // 10_000 if params["raise_asset"] == ZERO_ADDRESS else 0
    return max(ctx.fee_budget_min_wei, share)


def max_tx_fee(gas: int, *, ctx: PolicyContext) -> int:
    """The most a transaction of `gas` may spend on fees: SIGNER_MAX_TX_FEE_WEI at any price, or more while its price
    is at most SIGNER_MAX_FEE_PER_GAS_WEI -- so the cap follows the network's fees, and the pool's fee budget, not
    this, bounds what a compromised caller can burn in all (docs/signer.md, "Fees")."""
    return max(ctx.max_tx_fee_wei, gas * ctx.max_fee_per_gas_wei)


def _check_gas(tx: dict, gas_range: tuple[int, int], what: str) -> None:
    least, most = gas_range
    if not least <= tx["gas"] <= most:
        raise Refusal("bad_gas", f"{what}: gas must be within [{least}, {most}], got {tx['gas']}")


def _check_envelope(tx: dict, *, ctx: PolicyContext) -> None:
    if tx["chainId"] != ctx.chain_id:
        raise Refusal("chain_mismatch", f"chainId {tx['chainId']} is not the signer's chain {ctx.chain_id}")
    if tx["gas"] < MIN_GAS or tx["maxPriorityFeePerGas"] > tx["maxFeePerGas"]:
        raise Refusal("bad_fees", "gas below 21000, or maxPriorityFeePerGas above maxFeePerGas")
    if tx["gas"] * tx["maxFeePerGas"] > max_tx_fee(tx["gas"], ctx=ctx):
        raise Refusal(
            "fee_cap",
            f"maxFeePerGas {tx['maxFeePerGas']} is above the signer's {ctx.max_fee_per_gas_wei} wei per gas, and "
            f"gas * maxFeePerGas above its {ctx.max_tx_fee_wei} wei per transaction",
        )
    if not ctx.account_nonce <= tx["nonce"] <= ctx.account_nonce + MAX_NONCE_AHEAD:
        raise Refusal(
            "nonce_out_of_window",
            f"nonce {tx['nonce']} is outside [{ctx.account_nonce}, "
            f"{ctx.account_nonce + MAX_NONCE_AHEAD}] (used already, or too far ahead)",
        )


def _decode(call, tx: dict, intent: dict) -> dict:
    """Decode calldata strictly: it must be exactly the canonical encoding of the decoded arguments."""
    try:
        values = decode(list(call.arg_types), tx["data"][4:])
        canonical = encode(list(call.arg_types), values) == tx["data"][4:]
    except (DecodingError, ValueError, OverflowError) as error:
        raise Refusal("bad_calldata", f"{call.name}: calldata does not decode ({error})") from error
    if not canonical:
        raise Refusal("bad_calldata", f"{call.name}: calldata is not canonically encoded")
    values = [_checksummed(abi_type, value) for abi_type, value in zip(call.arg_types, values, strict=True)]
    args = dict(zip(call.arg_names, values, strict=True))
    intent.update(kind=call.name, args=jsonable(args))
    return args


def _checksummed(abi_type: str, value: object) -> object:
    """Decoded addresses in checksum form, so they compare equal to registered ones (no nested tuples here)."""
    if abi_type == "address":
        return to_checksum_address(value)
    if abi_type.endswith("[]"):
        return [_checksummed(abi_type[:-2], item) for item in value]
    if abi_type.startswith("("):
        return tuple(_checksummed(inner, item) for inner, item in zip(abi_type[1:-1].split(","), value, strict=True))
    return value


def _gas_topup(tx: dict, *, address: str, intent: dict, ctx: PolicyContext) -> Approval:
    intent["kind"] = "gas_topup"
    pool_addresses = {pool["address"] for pool in ctx.pools.values() if pool["chain_id"] == ctx.chain_id}
    if tx["data"]:
        raise Refusal("gas_key_data", "the gas key only sends plain transfers (no data)")
    if tx["to"] not in pool_addresses:
        raise Refusal("unknown_destination", f"{tx['to']} is not a registered pool address")
    if not 0 < tx["value"] <= ctx.gas_topup_max_wei:
        raise Refusal("value_cap", f"top-up must be 1..{ctx.gas_topup_max_wei} wei")
    _check_gas(tx, TOPUP_GAS, "a top-up")
    # Every top-up signed at an open nonce counts, and at a mined nonce the mined one; a replacement at this same
    # nonce is the one exception, since only one transaction per nonce can be mined.
    before = ctx.topped_up(tx["to"], tx["nonce"])
    if before + tx["value"] > ctx.gas_topup_pool_max_wei:
        raise Refusal(
            "topup_cap", f"{tx['to']} has had {before} wei of top-ups; the cap is {ctx.gas_topup_pool_max_wei}"
        )
    # The gas key's fees for a pool's top-ups count against that pool's fee budget: priority fees go to whoever
    # builds the block, so many 1-wei top-ups at the fee cap would otherwise drain the gas key.
    params = next(pool["params"] for pool in ctx.pools.values() if pool["address"] == tx["to"])
    budget, spent = fee_budget(params, ctx=ctx), ctx.topup_fees(tx["to"], tx["nonce"])
    if spent + tx["gas"] * tx["maxFeePerGas"] > budget:
        raise Refusal(
            "fee_budget",
            f"top-ups to {tx['to']} have cost or may cost {spent} wei of fees; the pool's budget is {budget}",
        )
    return Approval(tx=tx, intent=intent)


def _approve(tx: dict, *, params: dict, intent: dict, ctx: PolicyContext) -> Approval:
    args = _decode(APPROVE, tx, intent)
    if tx["value"] != 0:
        raise Refusal("bad_value", "approve carries no value")
    if args["spender"] not in (ctx.contracts.launcher, ctx.contracts.refunder):
        raise Refusal("bad_spender", f"spender {args['spender']} is neither the Launcher nor the Refunder")
    if args["amount"] > int(params["max_value_wei"]):
        raise Refusal("value_cap", f"approve amount exceeds the pool's cap {params['max_value_wei']}")
    _check_gas(tx, APPROVE_GAS, "an approve")
    return Approval(tx=tx, intent=intent)


def _launch(tx: dict, *, pool_id: str, params: dict, intent: dict, ctx: PolicyContext) -> Approval:
    (values,) = _decode(LAUNCH, tx, intent).values()
    launch = dict(zip((name for name, _ in LAUNCH_PARAMS_FIELDS), values, strict=True))
    intent["args"] = jsonable(launch)
    if launch["poolId"] != int(pool_id).to_bytes(32, "big"):
        raise Refusal("param_mismatch", f"poolId is not pool {pool_id}")
    abi_type = dict(LAUNCH_PARAMS_FIELDS)
    for param, launch_field in LAUNCH_FIELD_OF_PARAM.items():
        registered, given = params[param], launch[launch_field]
        same = given.lower() == registered.lower() if abi_type[launch_field] == "address" else str(given) == registered
        if not same:
            raise Refusal("param_mismatch", f"{launch_field} is {given}, registered {param} is {registered}")
    raise_amount, native = launch["raiseAmount"], params["raise_asset"] == ZERO_ADDRESS
    _check_gas(tx, LAUNCH_GAS, "a launch")
    if raise_amount > min(int(params["hard_cap"]), int(params["max_value_wei"])):
        raise Refusal("bad_amount", "raiseAmount is above min(hard cap, value cap)")
    if tx["value"] != (raise_amount if native else 0):
        raise Refusal("bad_value", "value must equal raiseAmount for a native raise, 0 for an ERC-20 raise")
    # The numbers come from the signer's books, not from the caller: the credited total of the proven, complete
    # ledger (less, for ETH, the launch's gas budget and any earlier fees the top-ups did not cover), and the root
    # of the allocation the signer computed itself.
    expected_raise, expected_root = ctx.expected_launch(pool_id, tx)
    if raise_amount != expected_raise:
        raise Refusal("bad_amount", f"raiseAmount is {raise_amount}; the signer's books say {expected_raise}")
    if "0x" + launch["merkleRoot"].hex() != expected_root:
        raise Refusal("bad_merkle_root", f"merkleRoot must be the root of the signer's allocation, {expected_root}")
    if launch["toleranceBps"] > int(params["tolerance_bps_max"]) or launch["expectedAnswer"] <= 0:
        raise Refusal("bad_oracle_bounds", "toleranceBps above the registered maximum, or expectedAnswer <= 0")
    if not ctx.now < launch["deadline"] <= ctx.now + ctx.launch_deadline_window_seconds:
        raise Refusal("bad_deadline", f"deadline must be within {ctx.launch_deadline_window_seconds} s from now")
    if "0x" + launch["logHead"].hex() != ctx.log_head:
        raise Refusal("stale_log_head", f"logHead must be the signer's current log head {ctx.log_head}")
    return Approval(tx=tx, intent=intent)


def _refund(tx: dict, *, pool: dict, address: str, evidence: object, intent: dict, ctx: PolicyContext) -> Approval:
    params = pool["params"]
    native = params["raise_asset"] == ZERO_ADDRESS
    if tx["data"][:4] == REFUND_ETH.selector:
        args = _decode(REFUND_ETH, tx, intent)
        if not native or tx["value"] != sum(args["amounts"]):
            raise Refusal("bad_value", "refundETH: only for a native raise, with value == sum(amounts)")
    else:
        args = _decode(REFUND_ERC20, tx, intent)
        if args["token"] != params["raise_asset"] or native or tx["value"] != 0:
            raise Refusal("bad_asset", "refundERC20: token must be the pool's ERC-20 raise asset, value 0")
    recipients, amounts = args["recipients"], args["amounts"]
    if not recipients or len(recipients) != len(amounts):
        raise Refusal("bad_arguments", "recipients and amounts must be non-empty and equally long")
    if ZERO_ADDRESS in recipients:
        raise Refusal("bad_arguments", "a refund to address(0) would revert the whole batch")
    # The Refunder reverts a batch whose recipients are not strictly ascending (its proof that nobody is named twice).
    values = [int(recipient, 16) for recipient in recipients]
    if any(before >= after for before, after in pairwise(values)):
        raise Refusal("bad_arguments", "recipients must be unique and in ascending order, or the Refunder reverts")
    if min(amounts) <= 0 or sum(amounts) > int(params["max_value_wei"]):
        raise Refusal("bad_amount", "every amount must be positive and their sum within the pool's value cap")
    _check_gas(tx, refund_gas_range(len(recipients), native=native), f"a refund to {len(recipients)} recipients")
    cited = _evidence_by_recipient(evidence, recipients=recipients)
    approval = Approval(tx=tx, intent=intent)
    slot = f"{address}/{tx['nonce']}"
    for recipient, amount in zip(recipients, amounts, strict=True):
        _cover_refund(recipient, amount, citations=cited[recipient], pool=pool, slot=slot, approval=approval, ctx=ctx)
    return approval


def _evidence_by_recipient(evidence: object, *, recipients: list[str]) -> dict[str, list[Citation]]:
    if not isinstance(evidence, dict):
        raise Refusal("missing_evidence", "a refund needs evidence: {recipient: [deposit, ...]}")
    try:
        by_recipient = {parse_address(key, field="evidence"): value for key, value in evidence.items()}
        if set(by_recipient) != set(recipients):
            raise Refusal("missing_evidence", "evidence must name exactly the refund's recipients")
        if not all(isinstance(items, list) and items for items in by_recipient.values()):
            raise Refusal("missing_evidence", "each recipient needs a non-empty list of deposits")
        return {recipient: [parse_citation(item) for item in items] for recipient, items in by_recipient.items()}
    except (InvalidInput, EvidenceRefused) as error:
        raise Refusal("malformed_evidence", str(error)) from error


def _cover_refund(
    recipient: str,
    amount: int,
    *,
    citations: list[Citation],
    pool: dict,
    slot: str,
    approval: Approval,
    ctx: PolicyContext,
) -> None:
    """Cover `amount` with what the books say the recipient's cited deposits are owed and not yet refunded."""
    remaining, refunded_before = amount, 0
    for citation in citations:
        try:
            key, owed = ctx.owed_deposit(citation, recipient, pool)
        except EvidenceRefused as error:
            raise Refusal(error.code, f"{recipient}: {error.reason}") from error
        if key in approval.consumptions:
            continue  # cited twice in one request: counts once
        record = ctx.refunds.get(key, {"consumed": {}})
        # Refunds signed at other nonces count (at a mined nonce, only if the refund mined there succeeded); a
        # replacement at this same nonce does not, since only one of them can be mined.
        elsewhere = sum(ctx.counted_take(other, takes) for other, takes in record["consumed"].items() if other != slot)
        refunded_before += elsewhere
        take = min(max(owed - elsewhere, 0), remaining)
        approval.consumptions[key] = {"amount": owed, "take": take}
        remaining -= take
    if remaining > 0:
        code = "already_refunded" if refunded_before else "not_evidenced"
        raise Refusal(code, f"{recipient}: {remaining} of {amount} is more than its cited deposits are still owed")
