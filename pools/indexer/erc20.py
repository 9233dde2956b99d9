"""ERC-20 deposits: `Transfer` logs whose `to` topic is a pool address, emitted by that pool's raise asset only.

A log exists only for a successful transaction, so no receipt is needed. A token that is not the pool's raise
asset can emit any Transfer it likes (a spoof): it is not asked for, and if it comes anyway it is ignored. The
amount is the one in the log, i.e. what the pool received (fee-on-transfer tokens log the net amount to it).
"""

from __future__ import annotations

import logging

from chain.rpc import JsonRpc, hex_int
from pools.indexer.base import ChainBlocks, DepositIndexer, FoundDeposit, WatchedPools, checksum_address
from pools.indexer.constants import ADDRESSES_PER_LOG_FILTER, TRANSFER_TOPIC
from pools.indexer.errors import ChainChangedDuringFetch
from pools.models import Deposit

logger = logging.getLogger(__name__)

UINT256_HEX_LENGTH = 2 + 64


def address_topic(address: str) -> str:
    """An address as a 32-byte indexed topic."""
    return "0x" + address.lower().removeprefix("0x").rjust(64, "0")


def topic_address(topic: str) -> str:
    return "0x" + topic[-40:].lower()


class Erc20TransferIndexer(DepositIndexer):
    """Transfer(from, to = pool address, value) logs of the pools' raise assets."""

    name = "erc20"

    def watches(self, pools: WatchedPools) -> bool:
        return bool(pools.erc20)

    def find_relevant_elements(self, *, rpc: JsonRpc, pools: WatchedPools, blocks: ChainBlocks) -> list[dict]:
        addresses = sorted(pools.erc20)
        assets = sorted({pool.raise_asset for pool in pools.erc20.values()})
        window = blocks.window
        filters = [
            {
                "fromBlock": hex(window.first),
                "toBlock": hex(window.last),
                "address": assets,
                "topics": [TRANSFER_TOPIC, None, [address_topic(a) for a in chunk]],
            }
            for chunk in (
                addresses[i : i + ADDRESSES_PER_LOG_FILTER] for i in range(0, len(addresses), ADDRESSES_PER_LOG_FILTER)
            )
        ]
        logs = [log for answer in rpc.batch([("eth_getLogs", [f]) for f in filters]) for log in answer]
        for log in logs:
            if not log.get("removed") and not blocks.is_canonical(hex_int(log["blockNumber"]), log["blockHash"]):
                raise ChainChangedDuringFetch(f"a log of block {hex_int(log['blockNumber'])} is from another fork")
        return logs

    def process_elements(self, *, pools: WatchedPools, blocks: ChainBlocks, elements: list[dict]) -> list[FoundDeposit]:
        deposits = []
        for log in elements:
            topics = log.get("topics") or []
            if log.get("removed") or len(topics) != 3 or topics[0].lower() != TRANSFER_TOPIC:
                continue  # removed by a reorg, or not an ERC-20 Transfer (ERC-721 indexes a fourth topic)
            pool = pools.erc20.get(topic_address(topics[2]))
            if pool is None or log["address"].lower() != pool.raise_asset:
                continue  # another token's Transfer to a pool address: not the raise asset, not a deposit
            data = log.get("data") or "0x"
            if len(data) != UINT256_HEX_LENGTH:
                logger.warning("ignoring a malformed Transfer log in %s (data %r)", log["transactionHash"], data[:80])
                continue
            amount = int(data, 16)
            if amount == 0:
                continue
            number = hex_int(log["blockNumber"])
            log_index = hex_int(log["logIndex"])
            deposits.append(
                FoundDeposit(
                    pool_id=pool.id,
                    tx_hash=log["transactionHash"].lower(),
                    position=f"log:{log_index}",
                    kind=Deposit.Kind.ERC20,
                    sender=checksum_address(topic_address(topics[1])),
                    amount=amount,
                    block_number=number,
                    block_hash=blocks.hash_of(number),
                    tx_index=hex_int(log["transactionIndex"]),
                    ordinal=log_index,
                    block_timestamp=blocks.timestamp_of(number),
                )
            )
        return deposits
