"""Native deposits sent by a transaction itself: `to` is a pool address, value > 0, receipt status 1."""

from __future__ import annotations

from dataclasses import dataclass

from chain.rpc import JsonRpc, hex_int
from pools.indexer.base import ChainBlocks, DepositIndexer, FoundDeposit, WatchedPools, checksum_address
from pools.indexer.errors import ChainChangedDuringFetch
from pools.models import Deposit


@dataclass(frozen=True)
class NativeTransfer:
    transaction: dict
    receipt: dict


class NativeTxIndexer(DepositIndexer):
    """Top-level ETH transfers to pool addresses. Internal transfers are InternalTransferIndexer's."""

    name = "native_tx"
    needs_transactions = True

    def watches(self, pools: WatchedPools) -> bool:
        return bool(pools.native)

    def find_relevant_elements(self, *, rpc: JsonRpc, pools: WatchedPools, blocks: ChainBlocks) -> list[NativeTransfer]:
        candidates = [
            tx
            for header in blocks.headers.values()
            for tx in header.transactions or ()
            if tx.get("to") and tx["to"].lower() in pools.native and hex_int(tx["value"]) > 0
        ]
        # Only the candidates' receipts: a failed transaction moved no value, and its status is only there.
        receipts = rpc.batch([("eth_getTransactionReceipt", [tx["hash"]]) for tx in candidates])
        found = []
        for tx, receipt in zip(candidates, receipts, strict=True):
            if receipt is None or not blocks.is_canonical(hex_int(tx["blockNumber"]), receipt["blockHash"]):
                raise ChainChangedDuringFetch(f"the receipt of {tx['hash']} is not from the block we fetched")
            found.append(NativeTransfer(transaction=tx, receipt=receipt))
        return found

    def process_elements(
        self, *, pools: WatchedPools, blocks: ChainBlocks, elements: list[NativeTransfer]
    ) -> list[FoundDeposit]:
        deposits = []
        for element in elements:
            tx = element.transaction
            if hex_int(element.receipt["status"]) != 1:
                continue  # reverted: the value never left the sender
            number = hex_int(tx["blockNumber"])
            deposits.append(
                FoundDeposit(
                    pool_id=pools.native[tx["to"].lower()].id,
                    tx_hash=tx["hash"].lower(),
                    position="tx",
                    kind=Deposit.Kind.NATIVE_TX,
                    sender=checksum_address(tx["from"]),
                    amount=hex_int(tx["value"]),
                    block_number=number,
                    block_hash=blocks.hash_of(number),
                    tx_index=hex_int(tx["transactionIndex"]),
                    ordinal=0,  # the transaction's own value moves before any call it makes
                    block_timestamp=blocks.timestamp_of(number),
                )
            )
        return deposits
