"""Chain reads for the website and dashboard, read-only: a claim's status, an ERC-20's symbol and decimals, and every
launched pair's reserves and every price feed's answer at one block, in one batched read.

Callers get plain dataclasses of integers, and chain errors as chain.errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_abi import decode, encode
from eth_abi.exceptions import DecodingError
from eth_utils import keccak, to_checksum_address
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception, Web3RPCError

from chain.artifacts import load_artifact
from chain.client import chain_deployment, web3_client
from chain.contracts import event_topic
from chain.errors import ChainError, ChainUnavailable, NotAnErc20, RpcError
from chain.rpc import hex_int, json_rpc


def _selector(signature: str) -> str:
    return "0x" + keccak(text=signature)[:4].hex()


GET_RESERVES = _selector("getReserves()")
PRICE0_CUMULATIVE = _selector("price0CumulativeLast()")
PRICE1_CUMULATIVE = _selector("price1CumulativeLast()")
TOTAL_SUPPLY = _selector("totalSupply()")
BALANCE_OF = _selector("balanceOf(address)")
LATEST_ROUND_DATA = _selector("latestRoundData()")
DECIMALS = _selector("decimals()")
SYMBOL = _selector("symbol()")
MAX_ERC20_DECIMALS = 255  # decimals() is a uint8


@dataclass(frozen=True)
class ClaimStatus:
    claimed: int
    vested: int
    claimable: int
    vesting_start: int
    vesting_end: int
    chain_time: int


def claim_status(*, vault: str, account: str, allocation: int) -> ClaimStatus:
    """What `account` claimed from `vault` so far, what of `allocation` has vested, and what it can claim now."""
    w3 = web3_client()
    contract = w3.eth.contract(address=to_checksum_address(vault), abi=load_artifact("ClaimVault").abi)
    try:
        now = w3.eth.get_block("latest")["timestamp"]
        claimed = contract.functions.claimed(to_checksum_address(account)).call()
        vested = contract.functions.vestedAmount(allocation, now).call()
        start = contract.functions.vestingStart().call()
        end = contract.functions.vestingEnd().call()
    except (RequestException, OSError, Web3Exception) as exc:
        raise ChainUnavailable(f"could not read the claim vault {vault}: {exc}") from exc
    return ClaimStatus(
        claimed=claimed,
        vested=vested,
        claimable=max(vested - claimed, 0),
        vesting_start=start,
        vesting_end=end,
        chain_time=now,
    )


CLAIMED_TOPIC = "0x" + event_topic("Claimed(address,uint256,uint256)").hex()  # contracts/ClaimVault.sol


@dataclass(frozen=True)
class ClaimedEvent:
    """One claim of tokens from a claim vault, as its Claimed event says."""

    tx_hash: str
    block_number: int
    amount: int


def claimed_events(*, account: str, vaults: list[tuple[str, int]]) -> list[list[ClaimedEvent]]:
    """`account`'s Claimed events in each (vault, from block), in one batched eth_getLogs: a list per vault."""
    account_topic = "0x" + "00" * 12 + account.lower().removeprefix("0x")
    calls = [
        (
            "eth_getLogs",
            [
                {
                    "address": vault,
                    "topics": [CLAIMED_TOPIC, account_topic],
                    "fromBlock": hex(start),
                    "toBlock": "latest",
                }
            ],
        )
        for vault, start in vaults
    ]
    answers = json_rpc().batch(calls) if calls else []
    return [
        [
            ClaimedEvent(
                tx_hash=log["transactionHash"],
                block_number=hex_int(log["blockNumber"]),
                amount=int(log["data"][2:66], 16),
            )
            for log in logs
        ]
        for logs in answers
    ]


@dataclass(frozen=True)
class Erc20Metadata:
    symbol: str
    decimals: int


def erc20_metadata(*, address: str, w3: Web3 | None = None) -> Erc20Metadata:
    """An ERC-20's symbol() and decimals(), read with eth_call at the latest block.

    The symbol may be a `string` or, as some old tokens (MKR) have it, a `bytes32` (trailing NULs stripped).
    NotAnErc20 when there is no code at the address, a call reverts, answers nothing or garbage, decimals() is above
    255, or the symbol is not UTF-8; ChainUnavailable or RpcError when the node did not answer properly.
    """
    w3 = w3 or web3_client()
    token = to_checksum_address(address)
    try:
        if not w3.eth.get_code(token):
            raise NotAnErc20(f"there is no contract code at {token}", address=token)
        decimals_answer = _erc20_call(w3, token, DECIMALS, "decimals()")
        symbol_answer = _erc20_call(w3, token, SYMBOL, "symbol()")
    except ChainError:
        raise
    except (RequestException, OSError) as exc:
        raise ChainUnavailable(f"could not read the token at {token}: {exc}") from exc
    except Web3RPCError as exc:
        raise RpcError(f"the node refused to read the token at {token}: {exc}") from exc
    except Web3Exception as exc:
        raise ChainUnavailable(f"could not read the token at {token}: {exc}") from exc
    return Erc20Metadata(
        symbol=_decode_symbol(symbol_answer, token=token), decimals=_decode_decimals(decimals_answer, token=token)
    )


def _erc20_call(w3: Web3, token: str, data: str, name: str) -> bytes:
    try:
        answer = bytes(w3.eth.call({"to": token, "data": data}))
    except ContractLogicError as exc:
        raise NotAnErc20(f"{name} reverted at {token} ({exc})", address=token) from exc
    if not answer:
        raise NotAnErc20(f"{name} answered nothing at {token}", address=token)
    return answer


def _decode_decimals(answer: bytes, *, token: str) -> int:
    if len(answer) != 32:
        raise NotAnErc20(f"decimals() answered {len(answer)} bytes at {token}, not one number", address=token)
    decimals = int.from_bytes(answer, "big")
    if decimals > MAX_ERC20_DECIMALS:
        raise NotAnErc20(f"decimals() answered {decimals} at {token}, above {MAX_ERC20_DECIMALS}", address=token)
    return decimals


def _decode_symbol(answer: bytes, *, token: str) -> str:
    if len(answer) == 32:  # bytes32, as MKR has it (a string answer is at least 64 bytes: offset and length)
        raw = answer.rstrip(b"\x00")
    else:
        try:
            (raw,) = decode(["bytes"], answer)
        except (DecodingError, OverflowError, ValueError) as exc:
            raise NotAnErc20(f"symbol() answered neither a string nor a bytes32 at {token}", address=token) from exc
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise NotAnErc20(f"symbol() at {token} is not UTF-8 text ({raw!r})", address=token) from exc


def price_feed_for(*, raise_asset: str) -> str:
    """The USD feed of a raise asset: ETH/USD for native pools, USDC/USD for the configured USDC; else ''."""
    deployment = chain_deployment()
    if not raise_asset:
        return deployment.eth_usd_feed
    if deployment.usdc and to_checksum_address(raise_asset) == to_checksum_address(deployment.usdc):
        return deployment.usdc_usd_feed
    return ""


def quote_asset_for(*, raise_asset: str) -> str:
    """The pair's other token: WETH for native pools, else the ERC-20 raise asset itself."""
    return to_checksum_address(raise_asset or chain_deployment().weth)


@dataclass(frozen=True)
class PairTarget:
    """What to read for one launched pool."""

    pool_id: int
    pair: str
    token: str
    quote_asset: str
    holders_locked: tuple[str, ...]  # claim vault, vesting wallet: their balances do not circulate


@dataclass(frozen=True)
class PairReading:
    pool_id: int
    reserve_token: int
    reserve_asset: int
    token_is_token0: bool
    cumulative_last: int  # the token's price in the asset, as the pair last stored it
    reserve_timestamp_last: int
    total_supply: int
    locked: int


@dataclass(frozen=True)
class FeedReading:
    feed: str
    answer: int
    decimals: int
    updated_at: int


@dataclass(frozen=True)
class ChainReading:
    block_number: int
    block_timestamp: int
    pairs: list[PairReading]
    feeds: dict[str, FeedReading]


def _call(to: str, data: str, block: str) -> tuple[str, list]:
    return ("eth_call", [{"to": to, "data": data}, block])


def _word(result: str, index: int = 0) -> int:
    raw = bytes.fromhex(result.removeprefix("0x"))
    return int.from_bytes(raw[32 * index : 32 * (index + 1)], "big")


def read_chain(*, pairs: list[PairTarget], feeds: list[str]) -> ChainReading:
    """Every pair's reserves, cumulative price and token supply, and every feed's answer, at one block, batched."""
    rpc = json_rpc()
    try:
        head = rpc.call("eth_getBlockByNumber", ["latest", False])
        block = head["number"] if isinstance(head["number"], str) else hex(head["number"])
        calls: list[tuple[str, list]] = []
        for target in pairs:
            token0_is_token = int(target.token, 16) < int(target.quote_asset, 16)
            calls += [
                _call(target.pair, GET_RESERVES, block),
                _call(target.pair, PRICE0_CUMULATIVE if token0_is_token else PRICE1_CUMULATIVE, block),
                _call(target.token, TOTAL_SUPPLY, block),
                *[
                    _call(target.token, BALANCE_OF + encode(["address"], [holder]).hex(), block)
                    for holder in target.holders_locked
                ],
            ]
        for feed in feeds:
            calls += [_call(feed, LATEST_ROUND_DATA, block), _call(feed, DECIMALS, block)]
        results = iter(rpc.batch(calls))
    except ChainError:
        raise
    except (RequestException, OSError, KeyError, TypeError) as exc:
        raise ChainUnavailable(f"reading pairs and feeds failed: {exc}") from exc
    readings = []
    for target in pairs:
        token0_is_token = int(target.token, 16) < int(target.quote_asset, 16)
        reserve0, reserve1, reserve_timestamp = decode(
            ["uint112", "uint112", "uint32"], bytes.fromhex(next(results).removeprefix("0x"))
        )
        cumulative = _word(next(results))
        supply = _word(next(results))
        locked = sum(_word(next(results)) for _ in target.holders_locked)
        readings.append(
            PairReading(
                pool_id=target.pool_id,
                reserve_token=reserve0 if token0_is_token else reserve1,
                reserve_asset=reserve1 if token0_is_token else reserve0,
                token_is_token0=token0_is_token,
                cumulative_last=cumulative,
                reserve_timestamp_last=reserve_timestamp,
                total_supply=supply,
                locked=locked,
            )
        )
    feed_readings = {}
    for feed in feeds:
        _, answer, _, updated_at, _ = decode(
            ["uint80", "int256", "uint256", "uint256", "uint80"], bytes.fromhex(next(results).removeprefix("0x"))
        )
        feed_readings[feed] = FeedReading(
            feed=feed, answer=answer, decimals=_word(next(results)), updated_at=updated_at
        )
    return ChainReading(
        block_number=hex_int(head["number"]),
        block_timestamp=hex_int(head["timestamp"]),
        pairs=readings,
        feeds=feed_readings,
    )
