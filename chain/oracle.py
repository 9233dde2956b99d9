"""Chainlink AggregatorV3-style price feeds, read-only."""

from __future__ import annotations

from dataclasses import dataclass

from web3 import Web3

from chain.client import web3_client

AGGREGATOR_V3_ABI = [
    {
        "name": "latestRoundData",
        "type": "function",
        "stateMutability": "view",
        "inputs": [],
        "outputs": [
            {"name": "roundId", "type": "uint80"},
            {"name": "answer", "type": "int256"},
            {"name": "startedAt", "type": "uint256"},
            {"name": "updatedAt", "type": "uint256"},
            {"name": "answeredInRound", "type": "uint80"},
        ],
    },
    {"name": "decimals", "type": "function", "stateMutability": "view", "inputs": [], "outputs": [{"type": "uint8"}]},
]


@dataclass(frozen=True)
class FeedAnswer:
    answer: int  # USD per whole unit of the asset, with `decimals` decimals
    decimals: int
    updated_at: int  # unix seconds


def read_price_feed(*, address: str, w3: Web3 | None = None) -> FeedAnswer:
    feed = (w3 or web3_client()).eth.contract(address=Web3.to_checksum_address(address), abi=AGGREGATOR_V3_ABI)
    _, answer, _, updated_at, _ = feed.functions.latestRoundData().call()
    return FeedAnswer(answer=answer, decimals=feed.functions.decimals().call(), updated_at=updated_at)
