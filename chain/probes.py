"""What the preflight asks the chain: does an address hold code, what does a view answer, which RPC methods the node
serves. Read-only, on a client with a timeout of the caller's choosing (a health check cannot wait ten seconds).

Node errors come back as chain.errors (RpcMethodUnsupported for a method the node does not offer); a view that
reverts or answers garbage is UnexpectedAnswer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from django.conf import settings
from eth_abi import decode
from eth_abi.exceptions import DecodingError
from requests.exceptions import RequestException
from web3 import Web3
from web3.exceptions import ContractLogicError, Web3Exception

from chain.contracts import selector
from chain.errors import ChainError, ChainUnavailable
from chain.rpc import JsonRpc


class UnexpectedAnswer(ChainError):
    """A contract did not answer a view as the expected contract would (reverted, nothing, not the right type)."""


def probe_web3(*, timeout: float) -> Web3:
    """A web3 client for CHAIN_RPC_URL that gives up after `timeout` seconds per request."""
    return Web3(Web3.HTTPProvider(settings.CHAIN_RPC_URL, request_kwargs={"timeout": timeout}))


def probe_rpc(*, timeout: float) -> JsonRpc:
    """A raw JSON-RPC client for CHAIN_RPC_URL, for methods web3 has no wrapper for (debug_*)."""
    return JsonRpc(url=settings.CHAIN_RPC_URL, timeout=timeout)


def _unavailable(exc: Exception) -> ChainUnavailable:
    return ChainUnavailable(f"CHAIN_RPC_URL did not answer ({type(exc).__name__})")


def has_code(*, address: str, w3: Web3) -> bool:
    """True when a contract is deployed at `address` on the RPC's chain."""
    try:
        return bool(w3.eth.get_code(Web3.to_checksum_address(address)))
    except (RequestException, OSError) as exc:
        raise _unavailable(exc) from exc


def view(*, address: str, signature: str, returns: Sequence[str], w3: Web3) -> tuple:
    """Call a view without arguments (`signature` like "factory()") and decode its answer as the `returns` types."""
    try:
        answer = bytes(w3.eth.call({"to": Web3.to_checksum_address(address), "data": selector(signature)}))
    except (RequestException, OSError) as exc:
        raise _unavailable(exc) from exc
    except ContractLogicError as exc:
        raise UnexpectedAnswer(f"{signature} reverted at {address}") from exc
    except Web3Exception as exc:
        raise UnexpectedAnswer(f"{signature} could not be called at {address}: {type(exc).__name__}") from exc
    try:
        values = decode(list(returns), answer)
    except (DecodingError, OverflowError, ValueError) as exc:
        raise UnexpectedAnswer(f"{signature} at {address} did not answer ({', '.join(returns)})") from exc
    return tuple(Web3.to_checksum_address(v) if t == "address" else v for t, v in zip(returns, values, strict=True))


def rpc_serves(*, method: str, params: Sequence[Any], rpc: JsonRpc) -> None:
    """Nothing when the node answers `method`; RpcMethodUnsupported (or another chain error) when it does not."""
    rpc.call(method, params)
