"""Deploys the local development chain's fixtures: WETH9, Uniswap V2 factory and router, price feeds,
test USDC, and our Launcher and Refunder. Only for a local chain (anvil); a real network uses the canonical
addresses from settings.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path

from web3 import Web3

from chain.artifacts import ArtifactMissing, load_artifact

# The development ETH/USD answer: $3,000.00000000 with Chainlink's 8 decimals for USD feeds.
DEV_ETH_USD_DECIMALS = 8
DEV_ETH_USD_ANSWER = 3_000 * 10**DEV_ETH_USD_DECIMALS
DEV_USDC_USD_ANSWER = 1 * 10**DEV_ETH_USD_DECIMALS
# anvil's and Hardhat's chain ids: development chains, never real money (the signer has its own copy: it imports
# nothing of the web tier).
LOCAL_CHAIN_IDS = frozenset({31337, 1337})


@dataclass(frozen=True)
class ChainDeployment:
    """Addresses the app reads; on a local chain written by `deploy_dev_fixtures`, elsewhere from settings."""

    chain_id: int
    weth: str
    uniswap_v2_factory: str
    uniswap_v2_router: str
    eth_usd_feed: str
    usdc: str
    usdc_usd_feed: str
    launcher: str = ""
    refunder: str = ""

    def to_json(self) -> str:
        return json.dumps(asdict(self), indent=2) + "\n"

    @classmethod
    def from_file(cls, path: Path) -> ChainDeployment:
        data = json.loads(path.read_text())
        return cls(**{field: data.get(field, "") for field in cls.__dataclass_fields__})

    def write(self, path: Path) -> None:
        write_atomically(path, self.to_json())

    def signer_contracts_json(self) -> str:
        """The enclave signer's view: only the contracts and raise assets its policy allows."""
        allowed = {"chain_id": self.chain_id, "launcher": self.launcher, "refunder": self.refunder}
        return json.dumps({**allowed, "raise_assets": [self.usdc]}, indent=2) + "\n"


def write_atomically(path: Path, text: str) -> None:
    """Write a whole file or nothing, so a reader never sees half of it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False) as handle:
        handle.write(text)
    os.replace(handle.name, path)


def deploy_contract(w3: Web3, *, deployer: str, name: str, args: tuple = ()) -> str:
    """Deploy an artifact from an unlocked development account and return its checksum address."""
    artifact = load_artifact(name)
    contract = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode)
    tx_hash = contract.constructor(*args).transact({"from": deployer})
    receipt = w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    if receipt["status"] != 1:
        raise RuntimeError(f"deploying {name} failed in transaction {tx_hash.hex()}")
    return receipt["contractAddress"]


def deployment_is_live(w3: Web3, deployment: ChainDeployment) -> bool:
    """True when every recorded address still has code on this chain (anvil restarted with its state)."""
    addresses = [
        deployment.weth,
        deployment.uniswap_v2_factory,
        deployment.uniswap_v2_router,
        deployment.eth_usd_feed,
        deployment.usdc,
        deployment.usdc_usd_feed,
    ]
    for optional in (deployment.launcher, deployment.refunder):
        if optional:
            addresses.append(optional)
    return all(w3.eth.get_code(Web3.to_checksum_address(a)) not in (b"", None) for a in addresses)


def deploy_dev_fixtures(w3: Web3, *, deployer: str, report: Callable[[str], None] = lambda _: None) -> ChainDeployment:
    """Deploy every development fixture and return their addresses."""
    weth = deploy_contract(w3, deployer=deployer, name="WETH9")
    report(f"WETH9              {weth}")
    factory = deploy_contract(w3, deployer=deployer, name="UniswapV2Factory", args=(deployer,))
    report(f"UniswapV2Factory   {factory}")
    router = deploy_contract(w3, deployer=deployer, name="UniswapV2Router02", args=(factory, weth))
    report(f"UniswapV2Router02  {router}")
    eth_usd = deploy_contract(
        w3, deployer=deployer, name="DevPriceFeed", args=(DEV_ETH_USD_DECIMALS, "ETH / USD", DEV_ETH_USD_ANSWER)
    )
    report(f"ETH/USD feed       {eth_usd}")
    usdc = deploy_contract(w3, deployer=deployer, name="TestUSDC")
    report(f"Test USDC          {usdc}")
    usdc_usd = deploy_contract(
        w3, deployer=deployer, name="DevPriceFeed", args=(DEV_ETH_USD_DECIMALS, "USDC / USD", DEV_USDC_USD_ANSWER)
    )
    report(f"USDC/USD feed      {usdc_usd}")
    launcher = refunder = ""
    try:
        launcher = deploy_contract(w3, deployer=deployer, name="Launcher", args=(factory, weth))
        report(f"Launcher           {launcher}")
        refunder = deploy_contract(w3, deployer=deployer, name="Refunder")
        report(f"Refunder           {refunder}")
    except ArtifactMissing as missing:
        report(f"Launcher/Refunder not deployed: {missing}")
    return ChainDeployment(
        chain_id=w3.eth.chain_id,
        weth=weth,
        uniswap_v2_factory=factory,
        uniswap_v2_router=router,
        eth_usd_feed=eth_usd,
        usdc=usdc,
        usdc_usd_feed=usdc_usd,
        launcher=launcher,
        refunder=refunder,
    )


def refresh_dev_price_feeds(w3: Web3, deployment: ChainDeployment, *, deployer: str) -> None:
    """Re-stamp the development feeds with their current answers, as Chainlink's heartbeat would on a real network.

    Local chains only; without it, a feed goes stale as soon as the chain's clock moves past its maximum age.
    """
    abi = load_artifact("DevPriceFeed").abi
    for address in (deployment.eth_usd_feed, deployment.usdc_usd_feed):
        feed = w3.eth.contract(address=Web3.to_checksum_address(address), abi=abi)
        _, answer, _, _, _ = feed.functions.latestRoundData().call()
        tx = feed.functions.setAnswer(answer).transact({"from": deployer})
        w3.eth.wait_for_transaction_receipt(tx, timeout=30)
