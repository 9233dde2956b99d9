"""Builders for signer tests: valid pool parameters, launch calldata, transactions, signers on a temp data dir."""

from __future__ import annotations

import json
import time
from pathlib import Path

from eth_abi import encode

from enclave_signer.calls import APPROVE, LAUNCH, LAUNCH_PARAMS_FIELDS, LAUNCH_PARAMS_TUPLE, REFUND_ERC20, REFUND_ETH
from enclave_signer.chain import ChainError
from enclave_signer.config import load_config
from enclave_signer.params import ZERO_ADDRESS
from enclave_signer.sealing import obtain_sealing_root
from enclave_signer.service import EnclaveSigner

CHAIN_ID = 31337
HMAC_KEY_ID = "web"
HMAC_SECRET = bytes(range(32))
TREASURY = "0x1111111111111111111111111111111111111111"
FEE_RECIPIENT = "0x2222222222222222222222222222222222222222"
AGENT = "0x3333333333333333333333333333333333333333"
PRICE_FEED = "0x4444444444444444444444444444444444444444"
LAUNCHER = "0x5555555555555555555555555555555555555555"
REFUNDER = "0x6666666666666666666666666666666666666666"
USDC = "0x7777777777777777777777777777777777777777"
ETHER = 10**18
GWEI = 10**9


def pool_params(**overrides: object) -> dict:
    """Valid registration parameters for a native-ETH pool (decimal strings, as on the wire)."""
    params = {
        "raise_asset": ZERO_ADDRESS,
        "soft_cap": str(1 * ETHER),
        "hard_cap": str(10 * ETHER),
        "liquidity_supply_bps": "5000",
        "depositor_supply_bps": "3000",
        "liquidity_raise_bps": "6000",
        "fee_bps": "200",
        "fee_recipient": FEE_RECIPIENT,
        "treasury": TREASURY,
        "agent": AGENT,
        "agent_cliff": "0",
        "agent_duration": "86400",
        "depositor_cliff": "0",
        "depositor_duration": "3600",
        "lp_lock_until": "0",
        "protection_blocks": "0",
        "max_buy_per_tx": "0",
        "price_feed": PRICE_FEED,
        "tolerance_bps_max": "500",
        "max_oracle_age": "3600",
        "target_price_usd": "0",
        "total_supply": str(1_000_000 * ETHER),
        "name": "Agent Token",
        "symbol": "AGT",
        "max_value_wei": str(100 * ETHER),
        "opens_at": "0",
        "closes_at": "0",
        "access": "public",
        "whitelist_until": "0",
        "whitelist": [],
        "min_contribution": "0",
        "max_contribution": "0",
        "confirmations": "1",
    }
    params.update({key: str(value) if isinstance(value, int) else value for key, value in overrides.items()})
    return params


def launch_args(*, pool_id: int, params: dict, log_head: str, raise_amount: int, **overrides: object) -> dict:
    """LaunchParams (by field name) matching `params`; override any field."""
    fields = {
        "poolId": pool_id.to_bytes(32, "big"),
        "name": params["name"],
        "symbol": params["symbol"],
        "totalSupply": int(params["total_supply"]),
        "liquiditySupplyBps": int(params["liquidity_supply_bps"]),
        "depositorSupplyBps": int(params["depositor_supply_bps"]),
        "raiseAsset": params["raise_asset"],
        "raiseAmount": raise_amount,
        "liquidityRaiseBps": int(params["liquidity_raise_bps"]),
        "feeBps": int(params["fee_bps"]),
        "feeRecipient": params["fee_recipient"],
        "treasury": params["treasury"],
        "agent": params["agent"],
        "agentCliff": int(params["agent_cliff"]),
        "agentDuration": int(params["agent_duration"]),
        "merkleRoot": b"\x42" * 32,
        "depositorCliff": int(params["depositor_cliff"]),
        "depositorDuration": int(params["depositor_duration"]),
        "lpLockUntil": int(params["lp_lock_until"]),
        "protectionBlocks": int(params["protection_blocks"]),
        "maxBuyPerTx": int(params["max_buy_per_tx"]),
        "priceFeed": params["price_feed"],
        "expectedAnswer": 3000 * 10**8,
        "toleranceBps": int(params["tolerance_bps_max"]),
        "maxOracleAge": int(params["max_oracle_age"]),
        "targetPriceUsd": int(params["target_price_usd"]),
        "deadline": int(time.time()) + 600,
        "logHead": bytes.fromhex(log_head.removeprefix("0x")),
    }
    fields.update(overrides)
    return fields


def launch_calldata(fields: dict) -> bytes:
    values = tuple(fields[name] for name, _ in LAUNCH_PARAMS_FIELDS)
    return LAUNCH.selector + encode([LAUNCH_PARAMS_TUPLE], [values])


def approve_calldata(spender: str, amount: int) -> bytes:
    return APPROVE.selector + encode(list(APPROVE.arg_types), [spender, amount])


def refund_eth_calldata(recipients: list[str], amounts: list[int]) -> bytes:
    return REFUND_ETH.selector + encode(list(REFUND_ETH.arg_types), [recipients, amounts])


def refund_erc20_calldata(token: str, recipients: list[str], amounts: list[int]) -> bytes:
    return REFUND_ERC20.selector + encode(list(REFUND_ERC20.arg_types), [token, recipients, amounts])


def wire_tx(
    *,
    to: str,
    data: bytes = b"",
    value: int = 0,
    nonce: int = 0,
    gas: int = 500_000,
    max_fee: int = 2 * GWEI,
    priority_fee: int = GWEI,
    chain_id: int = CHAIN_ID,
) -> dict:
    """A transaction as the signer's JSON wants it (decimal strings)."""
    return {
        "to": to,
        "data": "0x" + data.hex(),
        "value": str(value),
        "nonce": str(nonce),
        "gas": str(gas),
        "maxFeePerGas": str(max_fee),
        "maxPriorityFeePerGas": str(priority_fee),
        "chainId": str(chain_id),
    }


# -- a raise on a real chain (anvil): deposits, the close, and what the signer's books then say a launch carries ------

LAUNCH_GAS_LIMIT = 5_000_000  # the least gas a launch may carry (enclave_signer/policy.py LAUNCH_GAS)


def latest_timestamp(w3) -> int:
    return w3.eth.get_block("latest")["timestamp"]


def closing_pool_params(w3, *, seconds: int = 20, **overrides: object) -> dict:
    """pool_params that close `seconds` after the chain's newest block: deposits sent right away are credited, and
    `mine_past(w3, int(params["closes_at"]))` then ends the raise."""
    return pool_params(closes_at=latest_timestamp(w3) + seconds, **overrides)


def mine_past(w3, timestamp: int) -> int:
    """Mine a block whose timestamp is at least `timestamp`; return its number (the block to prove a ledger at)."""
    if latest_timestamp(w3) < timestamp:
        w3.provider.make_request("evm_setNextBlockTimestamp", [timestamp])
    w3.provider.make_request("evm_mine", [])
    block = w3.eth.get_block("latest")
    assert block["timestamp"] >= timestamp, block
    return block["number"]


def send_eth(chain, *, sender: str, to: str, value: int) -> dict:
    """A plain ETH transfer from an unlocked dev account; returns its citation ({tx_hash}) for the signer."""
    receipt = chain.transact({"from": sender, "to": to, "value": value})
    return {"tx_hash": "0x" + bytes(receipt["transactionHash"]).hex()}


def native_raise(summary: dict, *, gas: int, max_fee: int, uncovered_fees: int = 0) -> int:
    """The raiseAmount of a native launch per the signer's ledger summary: the credited total less the launch's gas
    budget (and less earlier fees the gas top-ups did not cover)."""
    return int(summary["credited"]) - uncovered_fees - gas * max_fee


def write_contracts_file(
    path: Path,
    *,
    launcher: str = LAUNCHER,
    refunder: str = REFUNDER,
    raise_assets: tuple[str, ...] = (USDC,),
    chain_id: int = CHAIN_ID,
) -> Path:
    path.write_text(
        json.dumps(
            {"chain_id": chain_id, "launcher": launcher, "refunder": refunder, "raise_assets": list(raise_assets)}
        )
    )
    return path


class FakeChain:
    """A chain where every address is untouched and nothing can be proven: for tests that need no anvil."""

    url = "fake://"

    def __init__(self) -> None:
        self.balances: dict[str, int] = {}  # what a test funded; everything else is untouched (0)

    def nonce(self, address: str) -> int:
        return 0

    def latest_timestamp(self) -> int:
        return int(time.time())

    def balance(self, address: str) -> int:
        return self.balances.get(address, 0)

    def erc20_balance(self, token: str, holder: str) -> int:
        return 0

    def __getattr__(self, name: str):
        def unavailable(*args, **kwargs):
            raise ChainError(f"FakeChain has no {name}")

        return unavailable


def signer_env(data_dir: Path, **extra: str) -> dict[str, str]:
    env = {
        "SIGNER_DATA_DIR": str(data_dir),
        "SIGNER_SEALING_SECRET": "test sealing secret, development only",
        "SIGNER_HMAC_KEYS": f"{HMAC_KEY_ID}:{HMAC_SECRET.hex()}",
        "CHAIN_ID": str(CHAIN_ID),
    }
    env.update(extra)
    return env


def make_signer(data_dir: Path, *, chain=None, **env: str) -> EnclaveSigner:
    """A signer on `data_dir` (created on first use, reopened after), with a fake chain unless one is given."""
    config = load_config(signer_env(data_dir, **env))
    return EnclaveSigner(config=config, root=obtain_sealing_root(config), chain=chain or FakeChain())
