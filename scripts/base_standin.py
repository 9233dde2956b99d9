"""A local stand-in for Base to rehearse the README's "Running against a real network" on.

anvil with Base's chain id, and the real WETH9, Uniswap V2 factory and router (the npm artifacts), two
Chainlink-shaped price feeds and a 6-decimal USDC placed at Base's canonical addresses, the ones the README's
`.env` example names. Each contract is deployed normally with constructor arguments that name the canonical
addresses (the router's factory and WETH are immutables in its code), then its runtime code and the storage its
constructor wrote are copied to the canonical address: so nothing of ours needs a development-only address.

    .venv/bin/python scripts/base_standin.py                    the stand-in on 127.0.0.1:8545; Ctrl-C stops it
    .venv/bin/python scripts/base_standin.py --mint-usdc 0xYou 1000        (on a running stand-in)
    .venv/bin/python scripts/base_standin.py --pay 0xPoolAddress 2 --asset eth --account 1

The stand-in keeps no state: each start is a fresh chain, so deploy our contracts again after a restart.
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
if str(PROJECT_ROOT) not in sys.path:  # run as a script: `chain` lives at the project root
    sys.path.insert(0, str(PROJECT_ROOT))

import requests  # noqa: E402
from eth_account import Account  # noqa: E402
from eth_account.signers.local import LocalAccount  # noqa: E402
from web3 import Web3  # noqa: E402

from chain.artifacts import load_artifact  # noqa: E402
from chain.devnet import (  # noqa: E402
    DEV_ETH_USD_ANSWER,
    DEV_ETH_USD_DECIMALS,
    DEV_USDC_USD_ANSWER,
    ChainDeployment,
    refresh_dev_price_feeds,
)

ANVIL_BIN = PROJECT_ROOT / "node_modules" / ".bin" / "anvil"
# anvil's public development mnemonic: every key derived from it is known to the world and worth nothing.
ANVIL_MNEMONIC = "test test test test test test test test test test test junk"

BASE_CHAIN_ID = 8453
DEFAULT_PORT = 8545
BLOCK_TIME_SECONDS = 2  # Base's block time
# One slot per epoch: anvil's `safe` and `finalized` tags then trail the head by a block or two, as the app's
# confirmation tag expects of a real chain, instead of staying at genesis.
SLOTS_IN_AN_EPOCH = 1
# Chainlink's heartbeat stand-in: the feeds are re-stamped this often, well inside the README's heartbeats.
FEED_REFRESH_SECONDS = 60
STARTUP_TIMEOUT_SECONDS = 30

# Base mainnet's canonical addresses, as the README's `.env` example names them.
BASE_ADDRESSES = ChainDeployment(
    chain_id=BASE_CHAIN_ID,
    weth="0x4200000000000000000000000000000000000006",
    uniswap_v2_factory="0x8909Dc15e40173Ff4699343b6eB8132c65e18eC6",
    uniswap_v2_router="0x4752ba5DBc23f44D87826276BF6Fd6b1C372aD24",
    eth_usd_feed="0x71041dddad3595F9CEd3DcCFBe3D1F4b0a16Bb70",
    usdc="0x833589fCD6eDb6E08f4c7C32D4f71b54bdA02913",
    usdc_usd_feed="0x7e860098F58bBFC8648a4311b374B1D669a2bc6B",
)
ENV_NAMES = {
    "weth": "CHAIN_WETH_ADDRESS",
    "uniswap_v2_factory": "CHAIN_UNISWAP_V2_FACTORY",
    "uniswap_v2_router": "CHAIN_UNISWAP_V2_ROUTER",
    "eth_usd_feed": "CHAIN_ETH_USD_FEED",
    "usdc": "CHAIN_USDC_ADDRESS",
    "usdc_usd_feed": "CHAIN_USDC_USD_FEED",
}
# The README's heartbeats for Base's feeds.
FEED_HEARTBEATS = {"CHAIN_ETH_USD_FEED_HEARTBEAT": 1200, "CHAIN_USDC_USD_FEED_HEARTBEAT": 86_400}

# anvil unlocks its first ten accounts. The fixtures' owner (it stamps the feeds) is the first; the deployer is
# derived past them, so that `deploy_contracts` must sign its own transactions, as on a real RPC.
OPERATOR_ACCOUNT_INDEX = 0
DEPLOYER_ACCOUNT_INDEX = 20
DEPLOYER_FUNDING_WEI = 10 * 10**18
USDC_DECIMALS = 6

Account.enable_unaudited_hdwallet_features()


def anvil_account(index: int) -> LocalAccount:
    """The index-th account of anvil's public mnemonic, derived at runtime (no key is written anywhere)."""
    return Account.from_mnemonic(ANVIL_MNEMONIC, account_path=f"m/44'/60'/0'/0/{index}")


@dataclass
class StandIn:
    """A running stand-in: its anvil process, a web3 client, and the accounts it set up."""

    rpc_url: str
    process: subprocess.Popen | None  # None when attached to a stand-in another command started
    w3: Web3 = field(init=False)
    addresses: ChainDeployment = BASE_ADDRESSES

    def __post_init__(self) -> None:
        self.w3 = Web3(Web3.HTTPProvider(self.rpc_url, request_kwargs={"timeout": 30}))

    @property
    def operator(self) -> str:
        """The unlocked account that owns the fixtures (stamps the feeds; the factory's feeToSetter)."""
        return anvil_account(OPERATOR_ACCOUNT_INDEX).address

    @property
    def deployer(self) -> LocalAccount:
        """The funded account an operator deploys our contracts from (not unlocked on the node)."""
        return anvil_account(DEPLOYER_ACCOUNT_INDEX)

    def rpc(self, method: str, params: list | None = None):
        response = self.w3.provider.make_request(method, params or [])
        if "error" in response:
            raise RuntimeError(f"{method}: {response['error']}")
        return response["result"]

    def env_lines(self) -> list[str]:
        """The `.env` lines of the README's step 2, for this stand-in."""
        lines = [f"CHAIN_RPC_URL={self.rpc_url}", f"CHAIN_ID={BASE_CHAIN_ID}"]
        lines += [f"{ENV_NAMES[key]}={getattr(self.addresses, key)}" for key in ENV_NAMES]
        lines += [f"{name}={seconds}" for name, seconds in FEED_HEARTBEATS.items()]
        return lines

    def refresh_feeds(self) -> None:
        """Re-stamp both feeds with their current answers, as Chainlink's heartbeat does."""
        refresh_dev_price_feeds(self.w3, self.addresses, deployer=self.operator)

    def mint_usdc(self, to: str, amount: int) -> None:
        """Mint `amount` USDC base units (6 decimals) to `to`; anyone may mint the stand-in's USDC."""
        usdc = self.w3.eth.contract(address=self.addresses.usdc, abi=load_artifact("TestUSDC").abi)
        self._wait(usdc.functions.mint(Web3.to_checksum_address(to), amount).transact({"from": self.operator}))

    def pay(self, *, to: str, amount: int, asset: str, account: int) -> str:
        """Send ETH (wei) or USDC (base units) from the unlocked anvil account `account`, as a depositor would."""
        sender = anvil_account(account).address
        to = Web3.to_checksum_address(to)
        if asset == "eth":
            return self._wait(self.w3.eth.send_transaction({"from": sender, "to": to, "value": amount}))
        usdc = self.w3.eth.contract(address=self.addresses.usdc, abi=load_artifact("TestUSDC").abi)
        short = amount - usdc.functions.balanceOf(sender).call()
        if short > 0:
            self.mint_usdc(sender, short)
        return self._wait(usdc.functions.transfer(to, amount).transact({"from": sender}))

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def _wait(self, tx_hash) -> str:
        receipt = self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=60)
        if receipt["status"] != 1:
            raise RuntimeError(f"transaction {tx_hash.hex()} reverted")
        return receipt["transactionHash"].to_0x_hex()


def start_standin(*, port: int = DEFAULT_PORT, block_time: int | None = BLOCK_TIME_SECONDS) -> StandIn:
    """Start anvil as Base (port 0: a free one; block_time None: a block per transaction) and place the contracts."""
    if not ANVIL_BIN.exists():
        raise RuntimeError(f"{ANVIL_BIN} is missing: run `make bootstrap` (it runs `npm ci`).")
    port = port or _free_port()
    if _port_taken(port):
        raise RuntimeError(f"127.0.0.1:{port} is taken (another anvil or stand-in?): stop it, or pass --port N")
    args = [
        str(ANVIL_BIN), "--host", "127.0.0.1", "--port", str(port), "--chain-id", str(BASE_CHAIN_ID),
        "--slots-in-an-epoch", str(SLOTS_IN_AN_EPOCH), "--mnemonic", ANVIL_MNEMONIC, "--silent",
    ]  # fmt: skip
    if block_time:
        args += ["--block-time", str(block_time)]
    process = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    standin = StandIn(rpc_url=f"http://127.0.0.1:{port}", process=process)
    try:
        _wait_until_answering(standin)
        place_canonical_contracts(standin.w3, operator=standin.operator)
        standin.rpc("anvil_setBalance", [standin.deployer.address, hex(DEPLOYER_FUNDING_WEI)])
    except BaseException:
        standin.stop()
        raise
    return standin


def place_canonical_contracts(w3: Web3, *, operator: str) -> None:
    """Put WETH9, the Uniswap V2 factory and router, the feeds and USDC at Base's addresses."""
    canonical = BASE_ADDRESSES
    place_at(w3, canonical.weth, name="WETH9", operator=operator)
    place_at(w3, canonical.uniswap_v2_factory, name="UniswapV2Factory", args=(operator,), operator=operator)
    router_args = (canonical.uniswap_v2_factory, canonical.weth)
    place_at(w3, canonical.uniswap_v2_router, name="UniswapV2Router02", args=router_args, operator=operator)
    eth_usd = (DEV_ETH_USD_DECIMALS, "ETH / USD", DEV_ETH_USD_ANSWER)
    place_at(w3, canonical.eth_usd_feed, name="DevPriceFeed", args=eth_usd, operator=operator)
    place_at(w3, canonical.usdc, name="TestUSDC", operator=operator)
    usdc_usd = (DEV_ETH_USD_DECIMALS, "USDC / USD", DEV_USDC_USD_ANSWER)
    place_at(w3, canonical.usdc_usd_feed, name="DevPriceFeed", args=usdc_usd, operator=operator)


def place_at(w3: Web3, address: str, *, name: str, operator: str, args: tuple = ()) -> None:
    """Deploy `name` anywhere, then copy its runtime code and the storage its constructor wrote to `address`.

    The constructor's writes come from the deployment's prestate trace (diff mode): anvil has no
    `debug_storageRangeAt`, and the npm artifacts carry no storage layout.
    """
    artifact = load_artifact(name)
    creation = w3.eth.contract(abi=artifact.abi, bytecode=artifact.bytecode).constructor(*args)
    receipt = w3.eth.wait_for_transaction_receipt(creation.transact({"from": operator}), timeout=60)
    if receipt["status"] != 1:
        raise RuntimeError(f"deploying {name} failed")
    code = w3.eth.get_code(receipt["contractAddress"])
    written = _constructor_storage(w3, receipt)
    calls = [("anvil_setCode", [address, code.to_0x_hex()]), ("anvil_setNonce", [address, "0x1"])]
    calls += [("anvil_setStorageAt", [address, slot, value]) for slot, value in written.items()]
    for method, params in calls:
        response = w3.provider.make_request(method, params)
        if "error" in response:
            raise RuntimeError(f"placing {name} at {address}: {method}: {response['error']}")
    if w3.eth.get_code(address) != code:
        raise RuntimeError(f"placing {name} at {address}: the code did not stick")


def _constructor_storage(w3: Web3, receipt) -> dict[str, str]:
    """The storage slots a contract's creation wrote, from its creating transaction's prestate trace."""
    config = {"tracer": "prestateTracer", "tracerConfig": {"diffMode": True}}
    response = w3.provider.make_request("debug_traceTransaction", [receipt["transactionHash"].to_0x_hex(), config])
    if "error" in response:
        raise RuntimeError(f"tracing the deployment at {receipt['contractAddress']}: {response['error']}")
    post = {key.lower(): value for key, value in response["result"]["post"].items()}
    return post.get(receipt["contractAddress"].lower(), {}).get("storage", {})


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _port_taken(port: int) -> bool:
    with socket.socket() as sock:
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_until_answering(standin: StandIn) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        if standin.process.poll() is not None:
            error = standin.process.stderr.read().decode(errors="replace") if standin.process.stderr else ""
            raise RuntimeError(f"anvil exited with code {standin.process.returncode}: {error.strip()}")
        with contextlib.suppress(requests.exceptions.ConnectionError):  # not listening yet
            if standin.w3.eth.chain_id == BASE_CHAIN_ID:
                return
        time.sleep(0.1)
    raise RuntimeError(f"anvil did not answer on {standin.rpc_url} within {STARTUP_TIMEOUT_SECONDS} s")


def base_units(amount: str, *, decimals: int) -> int:
    """An amount typed in whole units ("2.5") as integer base units, refusing what the asset cannot hold."""
    try:
        units = Decimal(amount) * 10**decimals
    except InvalidOperation as exc:
        raise ValueError(f"{amount!r} is not a number") from exc
    if units <= 0 or units != units.to_integral_value():
        raise ValueError(f"{amount} is not a positive amount with at most {decimals} decimals")
    return int(units)


def serve(standin: StandIn) -> None:
    """Print what an operator needs, then keep the feeds fresh until Ctrl-C."""
    deployer = standin.deployer
    print(f"Base stand-in (chain id {BASE_CHAIN_ID}) on {standin.rpc_url}")
    print(f"Deployer account (funded, from anvil's public mnemonic): {deployer.address}")
    print(f"DEPLOYER_PRIVATE_KEY={deployer.key.to_0x_hex()}")
    print("\n# .env lines (README, step 2):")
    print("\n".join(standin.env_lines()))
    print("\nDeposit from anvil's unlocked accounts 1 to 9 (ETH, or USDC minted on the way):")
    print("  .venv/bin/python scripts/base_standin.py --pay ADDRESS AMOUNT [--asset usdc] [--account N]")
    print(f"\nThe feeds are re-stamped every {FEED_REFRESH_SECONDS} s. Ctrl-C stops it.", flush=True)
    # Stopped by a supervisor's SIGTERM, anvil stops with it (the `finally` below) rather than being orphaned.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        while standin.process.poll() is None:
            time.sleep(FEED_REFRESH_SECONDS)
            standin.refresh_feeds()
    except KeyboardInterrupt:
        pass
    finally:
        standin.stop()


def attach(rpc_url: str) -> StandIn:
    """A running stand-in at `rpc_url` (for --mint-usdc and --pay); its process is not ours to stop."""
    standin = StandIn(rpc_url=rpc_url, process=None)
    start = "start one with `.venv/bin/python scripts/base_standin.py` or pass --rpc URL"
    try:
        code = standin.w3.eth.get_code(BASE_ADDRESSES.usdc)
    except requests.exceptions.ConnectionError as error:
        raise RuntimeError(f"nothing answers at {rpc_url}: {start}") from error
    if code in (b"", None):
        raise RuntimeError(f"{rpc_url} is not a Base stand-in (no USDC at {BASE_ADDRESSES.usdc}): {start}")
    return standin


def main(argv: list[str] | None = None) -> None:
    try:
        run(argv)
    except (RuntimeError, ValueError) as error:  # a node, an address or an amount that will not do: say which
        raise SystemExit(f"base_standin: {error}") from error


def run(argv: list[str] | None) -> None:
    """Parse the command line, then start a stand-in or run one helper against a running one."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port on 127.0.0.1 (default 8545)")
    parser.add_argument("--no-block-time", action="store_true", help="mine a block per transaction instead of 2 s")
    parser.add_argument("--rpc", default=f"http://127.0.0.1:{DEFAULT_PORT}", help="a running stand-in (helpers)")
    parser.add_argument("--mint-usdc", nargs=2, metavar=("ADDRESS", "AMOUNT"), help="mint USDC to ADDRESS")
    parser.add_argument("--pay", nargs=2, metavar=("TO", "AMOUNT"), help="send from an unlocked dev account")
    parser.add_argument("--asset", choices=("eth", "usdc"), default="eth", help="what --pay sends (default eth)")
    parser.add_argument("--account", type=int, default=1, help="the dev account --pay sends from (0-9, default 1)")
    args = parser.parse_args(argv)
    if args.mint_usdc:
        address, amount = args.mint_usdc
        attach(args.rpc).mint_usdc(address, base_units(amount, decimals=USDC_DECIMALS))
        print(f"minted {amount} USDC to {address}")
        return
    if args.pay:
        to, amount = args.pay
        decimals = 18 if args.asset == "eth" else USDC_DECIMALS
        sender = anvil_account(args.account)
        tx = attach(args.rpc).pay(
            to=to, amount=base_units(amount, decimals=decimals), asset=args.asset, account=args.account
        )
        print(f"sent {amount} {args.asset.upper()} from {sender.address} to {to} in {tx}")
        print(f"the sender's key, to claim or be refunded with a wallet: {sender.key.to_0x_hex()}")
        return
    serve(start_standin(port=args.port, block_time=None if args.no_block_time else BLOCK_TIME_SECONDS))


if __name__ == "__main__":
    main()
