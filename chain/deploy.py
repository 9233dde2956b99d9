"""Deploying our own contracts, the Launcher and the Refunder, once per network from an operator's key.

A real RPC has no unlocked account: every transaction is signed here with eth-account (or printed unsigned for a
hardware wallet) and sent with eth_sendRawTransaction. The key is only ever held in memory by the caller. Running
it again deploys nothing already there: a configured address is checked for our code instead.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import rlp
from eth_account import Account
from eth_account.signers.local import LocalAccount
from eth_utils import keccak, to_bytes, to_checksum_address
from web3 import Web3
from web3.exceptions import Web3Exception

from chain.artifacts import BUILD_DIR, load_artifact
from chain.errors import ChainError
from chain.transactions import current_fees, send_raw_transaction, transaction_receipt

# A deployment is sent with this share of its estimated gas: creation estimates are exact, but the node's state may
# move between the estimate and the block.
GAS_MARGIN_PERCENT = 120
RECEIPT_TIMEOUT_SECONDS = 600
RECEIPT_POLL_SECONDS = 1
RECEIPT_PROGRESS_SECONDS = 15


class DeployRefused(ChainError):
    """The configuration or the deployer's account does not allow deploying: nothing was sent (exit 2)."""


class DeploymentReverted(ChainError):
    """A deployment transaction was mined and reverted (exit 1)."""


@dataclass(frozen=True)
class Contract:
    """One of our contracts: its artifact, constructor arguments, the setting that names it, and where it is now."""

    name: str
    setting: str
    args: tuple = ()
    configured: str = ""

    def creation_code(self) -> str:
        artifact = load_artifact(self.name)
        constructor = Web3().eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*self.args)
        return constructor.data_in_transaction


def our_contracts(*, factory: str, weth: str, launcher: str, refunder: str) -> list[Contract]:
    """The Launcher (bound to the network's Uniswap V2 factory and WETH) and the Refunder; DeployRefused without
    the factory or WETH."""
    named = (("CHAIN_UNISWAP_V2_FACTORY", factory), ("CHAIN_WETH_ADDRESS", weth))
    missing = [setting for setting, value in named if not value]
    if missing:
        raise DeployRefused(
            f"set {' and '.join(missing)} (the network's canonical Uniswap V2 factory and WETH; "
            "docs/real-network.md) before deploying the Launcher"
        )
    factory, weth = _address("CHAIN_UNISWAP_V2_FACTORY", factory), _address("CHAIN_WETH_ADDRESS", weth)
    return [
        Contract("Launcher", "CHAIN_LAUNCHER_ADDRESS", (factory, weth), launcher),
        Contract("Refunder", "CHAIN_REFUNDER_ADDRESS", (), refunder),
    ]


def _address(setting: str, value: str) -> str:
    try:
        return to_checksum_address(value)
    except ValueError as error:
        raise DeployRefused(f"{setting}={value!r} is not an address: fix it and run again") from error


def runtime_code(name: str) -> str:
    """The runtime code solc says one of our contracts leaves on chain (without immutables, which the Refunder has
    none of)."""
    return json.loads((BUILD_DIR / f"{name}.json").read_text())["deployedBytecode"]


def env_line(contract: Contract, address: str) -> str:
    return f"{contract.setting}={to_checksum_address(address)}"


def creation_address(sender: str, nonce: int) -> str:
    """Where a contract created by `sender` at `nonce` lands: keccak(rlp([sender, nonce]))[12:]."""
    return to_checksum_address(keccak(rlp.encode([to_bytes(hexstr=sender), nonce]))[12:])


def mismatch(w3: Web3, contract: Contract) -> str:
    """What is wrong with the code at the contract's configured address ("" when it is ours)."""
    address = _address(contract.setting, contract.configured)
    code = w3.eth.get_code(address)
    if not code:
        return f"{contract.setting}={address} has no code on this chain"
    artifact = load_artifact(contract.name)
    if contract.name == "Refunder":
        deployed = bytes.fromhex(runtime_code("Refunder").removeprefix("0x"))
        return "" if bytes(code) == deployed else f"{contract.setting}={address} holds code that is not our Refunder"
    launcher = w3.eth.contract(address=address, abi=artifact.abi)
    try:
        answers = (launcher.functions.factory().call(), launcher.functions.weth().call())
    except (Web3Exception, ValueError):  # reverted, answered nothing or garbage: not our Launcher
        return f"{contract.setting}={address} does not answer factory() and weth() as our Launcher does"
    if tuple(to_checksum_address(a) for a in answers) != contract.args:
        return (
            f"{contract.setting}={address} is a Launcher for factory {answers[0]} and WETH {answers[1]}, "
            f"not the configured {contract.args[0]} and {contract.args[1]}"
        )
    return ""


def to_deploy(w3: Web3, contracts: list[Contract], *, report: Callable[[str], None]) -> list[Contract]:
    """The contracts not yet configured; a configured one is skipped when its code is ours, else DeployRefused."""
    pending = []
    for contract in contracts:
        if not contract.configured:
            pending.append(contract)
            continue
        wrong = mismatch(w3, contract)
        if wrong:
            raise DeployRefused(
                f"{wrong}: fix {contract.setting} (or remove it to deploy a new {contract.name}) and run again"
            )
        report(f"{contract.name} already deployed at {to_checksum_address(contract.configured)}: skipped")
    return pending


# --- the operator's key ----------------------------------------------------------------------------------------


def account_from_key(private_key: str) -> LocalAccount:
    """The deployer from a hex private key; DeployRefused (without echoing it) when it is not one."""
    try:
        return Account.from_key(private_key.strip())
    except (ValueError, TypeError) as error:
        raise DeployRefused("DEPLOYER_PRIVATE_KEY is not a 32-byte hex private key: check the value") from error


def account_from_keystore(path: Path, *, password: str) -> LocalAccount:
    """The deployer from an encrypted JSON keystore (geth / eth-account format)."""
    try:
        keystore = json.loads(path.read_text())
    except (OSError, ValueError) as error:
        raise DeployRefused(f"cannot read the keystore {path}: {error}") from error
    try:
        return Account.from_key(Account.decrypt(keystore, password))
    except (ValueError, TypeError, KeyError) as error:
        raise DeployRefused(
            f"cannot decrypt the keystore {path}: wrong password (DEPLOYER_KEYSTORE_PASSWORD) or not a keystore"
        ) from error


# --- the transactions ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Deployment:
    """One contract creation: the unsigned EIP-1559 transaction and the address it creates."""

    contract: Contract
    address: str
    tx: dict

    def unsigned_json(self) -> dict:
        """For a hardware wallet: the transaction's fields (no `to`: it creates a contract) and what it creates."""
        return {
            "contract": self.contract.name,
            "address": self.address,
            "env": env_line(self.contract, self.address),
            "transaction": {"to": None, **self.tx},
        }


def plan(w3: Web3, pending: list[Contract], *, sender: str) -> list[Deployment]:
    """The creation transactions from `sender`, at its next nonces and the network's current fees."""
    sender = to_checksum_address(sender)
    fees = current_fees(w3=w3)
    first_nonce = w3.eth.get_transaction_count(sender, "latest")
    deployments = []
    for offset, contract in enumerate(pending):
        data = contract.creation_code()
        gas = w3.eth.estimate_gas({"from": sender, "data": data}) * GAS_MARGIN_PERCENT // 100
        tx = {
            "type": 2,
            "chainId": w3.eth.chain_id,
            "nonce": first_nonce + offset,
            "gas": gas,
            "maxFeePerGas": fees.max_fee_per_gas,
            "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
            "value": 0,
            "data": data,
        }
        deployments.append(Deployment(contract, creation_address(sender, first_nonce + offset), tx))
    return deployments


def most_cost(deployments: list[Deployment]) -> int:
    """The most the deployments can cost in wei: each transaction's gas at its fee cap."""
    return sum(d.tx["gas"] * d.tx["maxFeePerGas"] + d.tx["value"] for d in deployments)


def check_funds(w3: Web3, deployments: list[Deployment], *, sender: str) -> None:
    """DeployRefused naming the address and amount to send when the deployer cannot pay for every deployment."""
    balance, needed = w3.eth.get_balance(to_checksum_address(sender)), most_cost(deployments)
    if balance < needed:
        short = needed - balance
        raise DeployRefused(
            f"the deployer {to_checksum_address(sender)} holds {balance} wei but the deployments may cost up to "
            f"{needed} wei at current fees: send it at least {short} wei ({Web3.from_wei(short, 'ether')} ETH) "
            "and run again"
        )


def wait_for_receipt(w3: Web3, tx_hash: str, *, what: str, report: Callable[[str], None]):
    """The transaction's receipt, saying every so often that it is still awaited."""
    started = time.monotonic()
    next_report = started + RECEIPT_PROGRESS_SECONDS
    while (receipt := transaction_receipt(tx_hash, w3=w3)) is None:
        now = time.monotonic()
        if now - started > RECEIPT_TIMEOUT_SECONDS:
            raise ChainError(f"{what}: {tx_hash} not mined after {RECEIPT_TIMEOUT_SECONDS} s; run again later")
        if now >= next_report:
            report(f"{what}: still waiting for {tx_hash} ({now - started:.0f} s)")
            next_report = now + RECEIPT_PROGRESS_SECONDS
        time.sleep(RECEIPT_POLL_SECONDS)
    return receipt


def send(w3: Web3, deployment: Deployment, *, account: LocalAccount, report: Callable[[str], None]) -> str:
    """Sign the creation locally, send it raw, wait for its receipt; the created address, or DeploymentReverted."""
    name = deployment.contract.name
    signed = account.sign_transaction(deployment.tx)
    send_raw_transaction(signed.raw_transaction.to_0x_hex(), w3=w3)
    tx_hash = signed.hash.to_0x_hex()
    report(f"{name}: sent {tx_hash} (nonce {deployment.tx['nonce']}), waiting for its receipt")
    receipt = wait_for_receipt(w3, tx_hash, what=name, report=report)
    if receipt["status"] != 1:
        raise DeploymentReverted(
            f"deploying the {name} reverted in transaction {tx_hash}: check the Uniswap V2 factory and WETH "
            "settings and the network's contract size limit, then run again"
        )
    report(f"{name}: deployed at {receipt['contractAddress']} in block {receipt['blockNumber']}")
    return to_checksum_address(receipt["contractAddress"])


def deploy(
    w3: Web3, pending: list[Contract], *, account: LocalAccount, report: Callable[[str], None]
) -> Iterator[tuple[Contract, str]]:
    """Deploy `pending` from `account`, checking first that it can pay for all of them; yields each contract and its
    address as soon as it is mined, so the caller records it before the next one is sent."""
    deployments = plan(w3, pending, sender=account.address)
    check_funds(w3, deployments, sender=account.address)
    report(f"deploying {', '.join(d.contract.name for d in deployments)} from {account.address}")
    for deployment in deployments:
        yield deployment.contract, send(w3, deployment, account=account, report=report)
