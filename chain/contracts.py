"""Typed wrappers for the contract calls the app prepares and the events it reads (docs/chain-interface.md).

The web tier never signs: it builds calldata here and hands it to the enclave signer, which decodes it against the
same signatures. Encoding uses the canonical signatures below (not the compiled ABI), so a drift between this module,
the contracts and the signer's policy shows up in tests/contracts/test_interface.py.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import astuple, dataclass
from itertools import pairwise
from typing import Any

from eth_abi import decode, encode
from eth_utils import keccak, to_bytes, to_checksum_address

from chain.artifacts import load_artifact

ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"
NATIVE_ASSET = ZERO_ADDRESS  # a raise asset of address(0) is the chain's native currency
DEAD_ADDRESS = "0x000000000000000000000000000000000000dEaD"
MAX_PROTECTION_BLOCKS = 300

# LaunchParams, field by field, in the struct's order (contracts/Launcher.sol, docs/chain-interface.md).
LAUNCH_PARAMS_FIELDS: tuple[tuple[str, str], ...] = (
    ("pool_id", "bytes32"),
    ("name", "string"),
    ("symbol", "string"),
    ("total_supply", "uint256"),
    ("liquidity_supply_bps", "uint16"),
    ("depositor_supply_bps", "uint16"),
    ("raise_asset", "address"),
    ("raise_amount", "uint256"),
    ("liquidity_raise_bps", "uint16"),
    ("fee_bps", "uint16"),
    ("fee_recipient", "address"),
    ("treasury", "address"),
    ("agent", "address"),
    ("agent_cliff", "uint64"),
    ("agent_duration", "uint64"),
    ("merkle_root", "bytes32"),
    ("depositor_cliff", "uint64"),
    ("depositor_duration", "uint64"),
    ("lp_lock_until", "uint64"),
    ("protection_blocks", "uint32"),
    ("max_buy_per_tx", "uint256"),
    ("price_feed", "address"),
    ("expected_answer", "int256"),
    ("tolerance_bps", "uint16"),
    ("max_oracle_age", "uint32"),
    ("target_price_usd", "uint256"),
    ("deadline", "uint256"),
    ("log_head", "bytes32"),
)
LAUNCH_PARAMS_TYPE = "(" + ",".join(abi_type for _, abi_type in LAUNCH_PARAMS_FIELDS) + ")"
LAUNCH_SIGNATURE = f"launch({LAUNCH_PARAMS_TYPE})"
PREDICT_TOKEN_SIGNATURE = "predictToken(address,bytes32)"
REFUND_ETH_SIGNATURE = "refundETH(address[],uint256[])"
REFUND_ERC20_SIGNATURE = "refundERC20(address,address[],uint256[])"
WITHDRAW_SIGNATURE = "withdraw(address)"
APPROVE_SIGNATURE = "approve(address,uint256)"
CLAIM_SIGNATURE = "claim(uint256,bytes32[])"

# Launched's record (Launcher.LaunchRecord), field by field.
LAUNCH_RECORD_FIELDS: tuple[tuple[str, str], ...] = (
    ("pair", "address"),
    ("raise_asset", "address"),
    ("raise_amount", "uint256"),
    ("tokens_to_liquidity", "uint256"),
    ("asset_to_liquidity", "uint256"),
    ("liquidity", "uint256"),
    ("lp_holder", "address"),
    ("lp_lock_until", "uint64"),
    ("claim_vault", "address"),
    ("depositor_tokens", "uint256"),
    ("vesting_wallet", "address"),
    ("agent_tokens", "uint256"),
    ("tokens_burned", "uint256"),
    ("fee_recipient", "address"),
    ("fee", "uint256"),
    ("treasury", "address"),
    ("treasury_amount", "uint256"),
    ("donation_skimmed", "uint256"),
    ("oracle_answer", "int256"),
    ("log_head", "bytes32"),
)
LAUNCH_RECORD_TYPE = "(" + ",".join(abi_type for _, abi_type in LAUNCH_RECORD_FIELDS) + ")"
LAUNCHED_EVENT_SIGNATURE = f"Launched(address,bytes32,address,{LAUNCH_RECORD_TYPE})"
REFUNDED_EVENT_SIGNATURE = "Refunded(address,address,address,uint256,bool)"


def selector(signature: str) -> bytes:
    """The 4-byte function selector of a canonical signature."""
    return keccak(text=signature)[:4]


def event_topic(signature: str) -> bytes:
    return keccak(text=signature)


LAUNCH_SELECTOR = selector(LAUNCH_SIGNATURE)
LAUNCHED_TOPIC = event_topic(LAUNCHED_EVENT_SIGNATURE)
REFUNDED_TOPIC = event_topic(REFUNDED_EVENT_SIGNATURE)


def pool_id_bytes32(pool_pk: int) -> bytes:
    """The on-chain pool id: the Django pool's integer primary key as a left-padded bytes32."""
    if pool_pk < 0:
        raise ValueError("a pool id is a non-negative integer")
    return pool_pk.to_bytes(32, "big")


@dataclass(frozen=True, kw_only=True)
class LaunchParams:
    """The Launcher's LaunchParams in Python values: ints in the smallest unit, checksum addresses, 32-byte values."""

    pool_id: bytes
    name: str
    symbol: str
    total_supply: int
    liquidity_supply_bps: int
    depositor_supply_bps: int
    raise_asset: str
    raise_amount: int
    liquidity_raise_bps: int
    fee_bps: int
    fee_recipient: str
    treasury: str
    agent: str
    agent_cliff: int
    agent_duration: int
    merkle_root: bytes
    depositor_cliff: int
    depositor_duration: int
    lp_lock_until: int
    protection_blocks: int
    max_buy_per_tx: int
    price_feed: str
    expected_answer: int
    tolerance_bps: int
    max_oracle_age: int
    target_price_usd: int
    deadline: int
    log_head: bytes

    def __post_init__(self) -> None:
        for name, abi_type in LAUNCH_PARAMS_FIELDS:
            value = getattr(self, name)
            if abi_type == "address":
                object.__setattr__(self, name, to_checksum_address(value))
            elif abi_type == "bytes32":
                raw = to_bytes(hexstr=value) if isinstance(value, str) else bytes(value)
                if len(raw) != 32:
                    raise ValueError(f"{name} must be 32 bytes, got {len(raw)}")
                object.__setattr__(self, name, raw)

    @property
    def is_native(self) -> bool:
        return int(self.raise_asset, 16) == 0

    @property
    def value(self) -> int:
        """The `value` the launch transaction carries: the raise for ETH, nothing for an ERC-20."""
        return self.raise_amount if self.is_native else 0

    def as_abi_tuple(self) -> tuple:
        return astuple(self)

    @classmethod
    def from_abi_tuple(cls, values: Sequence[Any]) -> LaunchParams:
        return cls(**{name: value for (name, _), value in zip(LAUNCH_PARAMS_FIELDS, values, strict=True)})


def encode_launch(params: LaunchParams) -> bytes:
    """Calldata of `Launcher.launch(params)`."""
    return LAUNCH_SELECTOR + encode([LAUNCH_PARAMS_TYPE], [params.as_abi_tuple()])


def decode_launch(calldata: bytes) -> LaunchParams:
    """The LaunchParams inside `launch` calldata (the inverse of `encode_launch`)."""
    if calldata[:4] != LAUNCH_SELECTOR:
        raise ValueError("not a launch call")
    (values,) = decode([LAUNCH_PARAMS_TYPE], calldata[4:])
    return LaunchParams.from_abi_tuple(values)


def encode_approve(*, spender: str, amount: int) -> bytes:
    """Calldata of ERC-20 `approve(spender, amount)` (before an ERC-20 launch or refund)."""
    return selector(APPROVE_SIGNATURE) + encode(["address", "uint256"], [to_checksum_address(spender), amount])


def encode_refund_eth(*, recipients: Sequence[str], amounts: Sequence[int]) -> bytes:
    """Calldata of `Refunder.refundETH(recipients, amounts)`, recipients in ascending order (see `ascending_batch`);
    send it with value = sum(amounts)."""
    ordered, ordered_amounts = ascending_batch(recipients=recipients, amounts=amounts)
    return selector(REFUND_ETH_SIGNATURE) + encode(["address[]", "uint256[]"], [ordered, ordered_amounts])


def encode_refund_erc20(*, token: str, recipients: Sequence[str], amounts: Sequence[int]) -> bytes:
    """Calldata of `Refunder.refundERC20(token, recipients, amounts)`, recipients in ascending order (see
    `ascending_batch`); approve the Refunder for the sum first."""
    ordered, ordered_amounts = ascending_batch(recipients=recipients, amounts=amounts)
    return selector(REFUND_ERC20_SIGNATURE) + encode(
        ["address", "address[]", "uint256[]"], [to_checksum_address(token), ordered, ordered_amounts]
    )


def ascending_batch(*, recipients: Sequence[str], amounts: Sequence[int]) -> tuple[list[str], list[int]]:
    """A refund batch in the order the Refunder requires: recipients strictly ascending by address value, each amount
    kept with its recipient. The Refunder proves that a batch names nobody twice by that order, so a recipient given
    twice is refused here (ValueError) rather than reverted on chain."""
    _check_batch(recipients, amounts)
    pairs = sorted(
        ((to_checksum_address(r), amount) for r, amount in zip(recipients, amounts, strict=True)),
        key=lambda pair: int(pair[0], 16),
    )
    for (before, _), (after, _) in pairwise(pairs):
        if before == after:
            raise ValueError(f"{after} is named twice in one refund batch")
    return [r for r, _ in pairs], [amount for _, amount in pairs]


def encode_withdraw(*, token: str) -> bytes:
    """Calldata of `Refunder.withdraw(token)` (token 0 = ETH), sent by a recipient whose refund was credited."""
    return selector(WITHDRAW_SIGNATURE) + encode(["address"], [to_checksum_address(token)])


def encode_claim(*, amount: int, proof: Sequence[bytes]) -> bytes:
    """Calldata of `ClaimVault.claim(amount, proof)`, for the claim page's wallet transaction."""
    return selector(CLAIM_SIGNATURE) + encode(["uint256", "bytes32[]"], [amount, list(proof)])


def refund_batches(
    *, recipients: Sequence[str], amounts: Sequence[int], batch_size: int
) -> list[tuple[list[str], list[int]]]:
    """Split a refund into batches of at most `batch_size` recipients (to stay under the block gas limit)."""
    _check_batch(recipients, amounts)
    if batch_size <= 0:
        raise ValueError("batch_size must be positive")
    return [
        (list(recipients[start : start + batch_size]), list(amounts[start : start + batch_size]))
        for start in range(0, len(recipients), batch_size)
    ]


def _check_batch(recipients: Sequence[str], amounts: Sequence[int]) -> None:
    if len(recipients) != len(amounts):
        raise ValueError(f"{len(recipients)} recipients but {len(amounts)} amounts")
    if any(amount < 0 for amount in amounts):
        raise ValueError("refund amounts must not be negative")


def create2_address(*, deployer: str, salt: bytes, init_code_hash: bytes) -> str:
    """The address CREATE2 gives: keccak256(0xff ++ deployer ++ salt ++ keccak256(init code))[12:]."""
    digest = keccak(b"\xff" + to_bytes(hexstr=to_checksum_address(deployer)) + salt + init_code_hash)
    return to_checksum_address(digest[12:])


def token_init_code_hash() -> bytes:
    """keccak256 of AgentToken's creation code (equals `Launcher.tokenInitCodeHash()` of the same build)."""
    return keccak(hexstr=load_artifact("AgentToken").bytecode)


def token_salt(*, pool: str, pool_id: bytes) -> bytes:
    """The token's CREATE2 salt: keccak256(abi.encode(pool, poolId))."""
    return keccak(encode(["address", "bytes32"], [to_checksum_address(pool), pool_id]))


def predict_token_address(*, launcher: str, pool: str, pool_id: bytes, init_code_hash: bytes | None = None) -> str:
    """The token's address before launch, from the pool address and pool id alone (like `Launcher.predictToken`)."""
    return create2_address(
        deployer=launcher,
        salt=token_salt(pool=pool, pool_id=pool_id),
        init_code_hash=init_code_hash or token_init_code_hash(),
    )


def pair_init_code_hash() -> bytes:
    """keccak256 of the Uniswap V2 pair's creation code, from the npm artifact the factory deploys."""
    return keccak(hexstr=load_artifact("UniswapV2Pair").bytecode)


def predict_pair_address(*, factory: str, token_a: str, token_b: str, init_code_hash: bytes | None = None) -> str:
    """The Uniswap V2 pair address of two tokens (the factory's CREATE2, salt keccak256(token0 ++ token1))."""
    token0, token1 = sorted((to_checksum_address(token_a), to_checksum_address(token_b)), key=lambda a: int(a, 16))
    salt = keccak(to_bytes(hexstr=token0) + to_bytes(hexstr=token1))
    return create2_address(deployer=factory, salt=salt, init_code_hash=init_code_hash or pair_init_code_hash())


@dataclass(frozen=True)
class LaunchedEvent:
    """A decoded `Launched` event."""

    pool: str
    pool_id: bytes
    token: str
    pair: str
    raise_asset: str
    raise_amount: int
    tokens_to_liquidity: int
    asset_to_liquidity: int
    liquidity: int
    lp_holder: str
    lp_lock_until: int
    claim_vault: str
    depositor_tokens: int
    vesting_wallet: str
    agent_tokens: int
    tokens_burned: int
    fee_recipient: str
    fee: int
    treasury: str
    treasury_amount: int
    donation_skimmed: int
    oracle_answer: int
    log_head: bytes

    @property
    def lp_burned(self) -> bool:
        return self.lp_holder == DEAD_ADDRESS


@dataclass(frozen=True)
class RefundedEvent:
    """A decoded `Refunded` event: `paid` False means credited to the recipient for a later `withdraw`."""

    pool: str
    recipient: str
    token: str
    amount: int
    paid: bool


def _logs(receipt_or_logs: Mapping | Sequence[Mapping]) -> Sequence[Mapping]:
    return receipt_or_logs["logs"] if isinstance(receipt_or_logs, Mapping) else receipt_or_logs


def _topic_address(topic: bytes) -> str:
    return to_checksum_address(bytes(topic)[12:])


def _from_address(log: Mapping, address: str) -> bool:
    return to_checksum_address(log["address"]) == to_checksum_address(address)


def decode_launched(receipt_or_logs: Mapping | Sequence[Mapping], *, launcher: str) -> LaunchedEvent:
    """The `Launched` event in a launch transaction's receipt (or list of logs) emitted by `launcher`."""
    for log in _logs(receipt_or_logs):
        topics = [bytes(topic) for topic in log["topics"]]
        if not topics or topics[0] != LAUNCHED_TOPIC or not _from_address(log, launcher):
            continue
        (record,) = decode([LAUNCH_RECORD_TYPE], bytes(log["data"]))
        values = dict(zip((name for name, _ in LAUNCH_RECORD_FIELDS), record, strict=True))
        for name, abi_type in LAUNCH_RECORD_FIELDS:
            if abi_type == "address":
                values[name] = to_checksum_address(values[name])
        return LaunchedEvent(
            pool=_topic_address(topics[1]), pool_id=topics[2], token=_topic_address(topics[3]), **values
        )
    raise LookupError("no Launched event from the Launcher in these logs")


def decode_refunded(receipt_or_logs: Mapping | Sequence[Mapping], *, refunder: str) -> list[RefundedEvent]:
    """Every `Refunded` event the Refunder emitted in a refund transaction, in order."""
    events = []
    for log in _logs(receipt_or_logs):
        topics = [bytes(topic) for topic in log["topics"]]
        if not topics or topics[0] != REFUNDED_TOPIC or not _from_address(log, refunder):
            continue
        token, amount, paid = decode(["address", "uint256", "bool"], bytes(log["data"]))
        events.append(
            RefundedEvent(
                pool=_topic_address(topics[1]),
                recipient=_topic_address(topics[2]),
                token=to_checksum_address(token),
                amount=amount,
                paid=paid,
            )
        )
    return events


def describe_revert(
    data: str | bytes, *, contract_names: Sequence[str] = ("Launcher", "Refunder", "ClaimVault")
) -> str:
    """A custom error's name and arguments from revert data, e.g. `StaleOracle(1761200000, 3600)`; else the hex."""
    from eth_abi import decode

    from chain.artifacts import ArtifactMissing, load_artifact

    raw = data if isinstance(data, bytes) else bytes.fromhex(data.removeprefix("0x"))
    for name in contract_names:
        try:
            abi = load_artifact(name).abi
        except ArtifactMissing:
            continue
        for item in abi:
            if item.get("type") != "error":
                continue
            types = [i["type"] for i in item["inputs"]]
            if raw[:4] == selector(f"{item['name']}({','.join(types)})"):
                values = decode(types, raw[4:]) if types else ()
                return f"{item['name']}({', '.join(str(v) for v in values)})"
    return "0x" + raw.hex()
