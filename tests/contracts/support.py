"""Helpers for the contract tests: contract handles on the dev chain, launch parameters, sending, reverts, time."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import pytest
import requests
from eth_utils import keccak, to_checksum_address
from web3 import Web3
from web3.contract import Contract
from web3.exceptions import ContractCustomError, ContractLogicError

from chain.artifacts import load_artifact
from chain.contracts import (
    NATIVE_ASSET,
    LaunchedEvent,
    LaunchParams,
    decode_launched,
    encode_approve,
    encode_launch,
    pool_id_bytes32,
    selector,
)
from chain.devnet import DEV_ETH_USD_ANSWER, DEV_USDC_USD_ANSWER, ChainDeployment, deploy_contract
from enclave_signer.allocation import allocate_pro_rata, bps_share
from enclave_signer.merkle import AllocationTree
from tests.anvil import AnvilNode

ETHER = 10**18
USDC = 10**6
TOKEN = 10**18
DAY = 86_400

# Fresh addresses with no history, so their balances before a launch are zero and after it are exactly what it paid.
TREASURY = to_checksum_address("0x7e450000000000000000000000000000000000a1")
FEE_RECIPIENT = to_checksum_address("0xfee0000000000000000000000000000000000001")
AGENT = to_checksum_address("0xa9e0000000000000000000000000000000000001")


def fresh_address(label: str | int) -> str:
    """A deterministic address that nobody holds a key for (impersonate it to send from it)."""
    return to_checksum_address(keccak(text=f"test-address-{label}")[12:])


@dataclass
class ChainEnv:
    """The dev chain of one test (reverted afterwards) with handles on every contract the tests use."""

    anvil: AnvilNode
    deployment: ChainDeployment
    deployer: str
    pool: str  # a funded anvil account standing in for a pool's enclave address

    def __post_init__(self) -> None:
        d = self.deployment
        self.w3: Web3 = self.anvil.w3
        self.launcher = self.contract("Launcher", d.launcher)
        self.refunder = self.contract("Refunder", d.refunder)
        self.factory = self.contract("UniswapV2Factory", d.uniswap_v2_factory)
        self.router = self.contract("UniswapV2Router02", d.uniswap_v2_router)
        self.weth = self.contract("WETH9", d.weth)
        self.usdc = self.contract("TestUSDC", d.usdc)
        self.eth_usd_feed = self.contract("DevPriceFeed", d.eth_usd_feed)
        self.usdc_usd_feed = self.contract("DevPriceFeed", d.usdc_usd_feed)

    def contract(self, name: str, address: str) -> Contract:
        return self.w3.eth.contract(address=to_checksum_address(address), abi=load_artifact(name).abi)

    def deploy(self, name: str, *args: Any) -> Contract:
        return self.contract(name, deploy_contract(self.w3, deployer=self.deployer, name=name, args=args))

    def send(self, *, sender: str, to: str, data: bytes = b"", value: int = 0, gas: int | None = None) -> dict:
        """Send a transaction from an unlocked or impersonated account and return its successful receipt."""
        tx: dict[str, Any] = {"from": sender, "to": to, "data": data, "value": value}
        if gas is not None:
            tx["gas"] = gas
        receipt = self.w3.eth.wait_for_transaction_receipt(self.w3.eth.send_transaction(tx), timeout=30)
        assert receipt["status"] == 1, receipt
        return receipt

    def transact(self, call: Any, *, sender: str, value: int = 0) -> dict:
        """Send a contract function call (`contract.functions.x(...)`) and return its successful receipt."""
        tx_hash = call.transact({"from": sender, "value": value})
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
        assert receipt["status"] == 1, receipt
        return receipt

    def impersonate(self, address: str, *, balance: int = 10 * ETHER) -> str:
        self.anvil.rpc("anvil_impersonateAccount", [address])
        self.anvil.rpc("anvil_setBalance", [address, hex(balance)])
        return address

    def now(self) -> int:
        return self.w3.eth.get_block("latest")["timestamp"]

    def block_number(self) -> int:
        return self.w3.eth.block_number

    def mine_at(self, timestamp: int) -> None:
        """Mine one block with exactly this timestamp (the next transaction's block gets a later one)."""
        self.anvil.rpc("evm_setNextBlockTimestamp", [timestamp])
        self.anvil.rpc("evm_mine")

    def mine_blocks(self, count: int) -> None:
        self.anvil.rpc("anvil_mine", [hex(count)])

    def eth_balance(self, address: str) -> int:
        return self.w3.eth.get_balance(to_checksum_address(address))

    def token_balance(self, token: str, address: str) -> int:
        return self.contract("AgentToken", token).functions.balanceOf(to_checksum_address(address)).call()

    def gas_cost(self, receipt: dict) -> int:
        return receipt["gasUsed"] * receipt["effectiveGasPrice"]

    def rpc_batch(self, calls: Sequence[tuple[str, list]]) -> list[Any]:
        """Many JSON-RPC calls in one HTTP request (anvil answers batches); raises on the first error."""
        payload = [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in enumerate(calls)]
        answers = sorted(requests.post(self.anvil.rpc_url, json=payload, timeout=120).json(), key=lambda a: a["id"])
        for answer in answers:
            if "error" in answer:
                raise RuntimeError(f"{calls[answer['id']][0]}: {answer['error']}")
        return [answer["result"] for answer in answers]


@contextmanager
def reverts_with(error_signature: str) -> Iterator[None]:
    """Expect a revert with this custom error, e.g. `reverts_with("DeadlinePassed(uint256,uint256)")`."""
    with pytest.raises((ContractCustomError, ContractLogicError)) as caught:
        yield
    data = caught.value.data
    expected = "0x" + selector(error_signature).hex()
    assert isinstance(data, str) and data.startswith(expected), f"reverted with {data!r}, expected {error_signature}"


@contextmanager
def reverts_with_message(text: str) -> Iterator[None]:
    """Expect a revert whose reason string (e.g. a Uniswap `require`) contains `text`."""
    with pytest.raises(ContractLogicError) as caught:
        yield
    assert text in str(caught.value), f"reverted with {caught.value!r}, expected {text!r}"


@dataclass(frozen=True)
class Depositors:
    """A launch's depositors: their contributions, their token allocations and the tree over them."""

    contributions: dict[str, int]
    allocations: dict[str, int]
    tree: AllocationTree


def make_depositors(*, count: int, depositor_tokens: int, seed: str = "depositor") -> Depositors:
    """`count` depositors with varied contributions, allocated `depositor_tokens` pro rata (summing exactly)."""
    contributions = {fresh_address(f"{seed}-{i}"): (i % 7 + 1) * ETHER // (i % 3 + 1) + i for i in range(count)}
    allocations = allocate_pro_rata(total=depositor_tokens, contributions=contributions)
    return Depositors(contributions=contributions, allocations=allocations, tree=AllocationTree.build(allocations))


def eth_launch_params(env: ChainEnv, *, depositors: Depositors | None = None, **overrides: Any) -> LaunchParams:
    """A complete ETH launch of pool 1: 10 ETH raised, 40/40/20 supply split, no USD target, LP burned."""
    total_supply = overrides.get("total_supply", 1_000_000_000 * TOKEN)
    if depositors is None:
        depositor_tokens = bps_share(total_supply, overrides.get("depositor_supply_bps", 4_000))
        depositors = make_depositors(count=5, depositor_tokens=depositor_tokens)
    params = LaunchParams(
        pool_id=pool_id_bytes32(1),
        name="Agent Token",
        symbol="AGNT",
        total_supply=total_supply,
        liquidity_supply_bps=4_000,
        depositor_supply_bps=4_000,
        raise_asset=NATIVE_ASSET,
        raise_amount=10 * ETHER,
        liquidity_raise_bps=6_000,
        fee_bps=250,
        fee_recipient=FEE_RECIPIENT,
        treasury=TREASURY,
        agent=AGENT,
        agent_cliff=30 * DAY,
        agent_duration=365 * DAY,
        merkle_root=depositors.tree.root,
        depositor_cliff=7 * DAY,
        depositor_duration=90 * DAY,
        lp_lock_until=0,
        protection_blocks=0,
        max_buy_per_tx=0,
        price_feed=env.deployment.eth_usd_feed,
        expected_answer=DEV_ETH_USD_ANSWER,
        tolerance_bps=200,
        max_oracle_age=3_600,
        target_price_usd=0,
        deadline=env.now() + 3_600,
        log_head=keccak(text="signer log head"),
    )
    return replace(params, **overrides)


def usdc_launch_params(env: ChainEnv, **overrides: Any) -> LaunchParams:
    """The same launch raising 100,000 USDC against the USDC/USD feed."""
    base = {
        "raise_asset": env.deployment.usdc,
        "raise_amount": 100_000 * USDC,
        "price_feed": env.deployment.usdc_usd_feed,
        "expected_answer": DEV_USDC_USD_ANSWER,
    }
    return eth_launch_params(env, **(base | overrides))


def launch(env: ChainEnv, params: LaunchParams, *, sender: str | None = None) -> tuple[dict, LaunchedEvent]:
    """Send the launch the way the app does (encoded calldata; approve first for an ERC-20 raise)."""
    sender = sender or env.pool
    if not params.is_native:
        if params.raise_asset == env.deployment.usdc:
            env.transact(env.usdc.functions.mint(sender, params.raise_amount), sender=env.deployer)
        env.send(
            sender=sender,
            to=params.raise_asset,
            data=encode_approve(spender=env.deployment.launcher, amount=params.raise_amount),
        )
    receipt = env.send(sender=sender, to=env.deployment.launcher, data=encode_launch(params), value=params.value)
    return receipt, decode_launched(receipt, launcher=env.deployment.launcher)


def attempt_launch(env: ChainEnv, params: LaunchParams, *, sender: str | None = None) -> None:
    """Send a launch expected to revert (raises from gas estimation, before anything is mined)."""
    env.w3.eth.send_transaction(
        {
            "from": sender or env.pool,
            "to": env.deployment.launcher,
            "data": encode_launch(params),
            "value": params.value,
        }
    )
