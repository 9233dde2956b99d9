"""Helpers for the indexer tests: sending many transactions into one block, fresh addresses, test contracts."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from eth_utils import keccak, to_checksum_address
from web3.contract import Contract

from chain.artifacts import load_artifact
from chain.devnet import deploy_contract
from chain.rpc import JsonRpc, hex_int
from tests.anvil import AnvilNode

ETHER = 10**18
USDC = 10**6
NATIVE_GAS = 21_000
CALL_GAS = 200_000


def fresh_address(label: str | int) -> str:
    """A deterministic address nobody holds a key for (anvil impersonates it to send from it)."""
    return to_checksum_address(keccak(text=f"indexer-test-{label}")[12:])


@dataclass
class ChainDriver:
    """Drives the test chain: funds addresses, sends batches of transactions into one block, reorganises."""

    anvil: AnvilNode
    rpc: JsonRpc

    @property
    def w3(self):
        return self.anvil.w3

    def head(self) -> int:
        return self.w3.eth.block_number

    def timestamp(self, block: int | str = "latest") -> int:
        return self.w3.eth.get_block(block)["timestamp"]

    def fund(self, addresses: list[str], wei: int = 100 * ETHER) -> None:
        self.rpc.batch([("anvil_setBalance", [a, hex(wei)]) for a in addresses])

    def deploy(self, name: str, args: tuple = ()) -> Contract:
        address = deploy_contract(self.w3, deployer=self.anvil.account(0).address, name=name, args=args)
        return self.w3.eth.contract(address=address, abi=load_artifact(name).abi)

    @contextmanager
    def manual_mining(self) -> Iterator[None]:
        self.rpc.batch([("evm_setAutomine", [False]), ("anvil_autoImpersonateAccount", [True])])
        try:
            yield
        finally:
            self.rpc.batch([("evm_setAutomine", [True]), ("anvil_autoImpersonateAccount", [False])])

    def block(self, txs: list[dict], *, timestamp: int | None = None) -> list[str]:
        """Mine exactly one block holding `txs` (in this order) and return their hashes. Gas must be given."""
        with self.manual_mining():
            hashes = self.rpc.batch([("eth_sendTransaction", [_quantities(tx)]) for tx in txs])
            self.mine(timestamp=timestamp)
        receipts = self.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        numbers = {hex_int(r["blockNumber"]) for r in receipts if r}
        assert all(receipts) and len(numbers) <= 1, "every transaction must land in the one block mined"
        return hashes

    def mine(self, blocks: int = 1, *, timestamp: int | None = None) -> None:
        if timestamp is not None:
            self.anvil.rpc("evm_setNextBlockTimestamp", [timestamp])
        self.anvil.rpc("evm_mine")
        if blocks > 1:
            self.anvil.rpc("anvil_mine", [hex(blocks - 1)])

    def receipt(self, tx_hash: str) -> dict:
        return self.rpc.call("eth_getTransactionReceipt", [tx_hash])


def _quantities(tx: dict) -> dict:
    return {key: hex(value) if isinstance(value, int) else value for key, value in tx.items()}


def eth_transfer(sender: str, to: str, value: int) -> dict:
    return {"from": sender, "to": to, "value": value, "gas": NATIVE_GAS}


def contract_call(contract: Contract, function: str, args: list, *, sender: str, value: int = 0) -> dict:
    return {
        "from": sender,
        "to": contract.address,
        "data": contract.encode_abi(function, args=args),
        "value": value,
        "gas": CALL_GAS,
    }
