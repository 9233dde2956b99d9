"""Read-only JSON-RPC over urllib: the few chain reads the policy needs. The signer never sends transactions."""

from __future__ import annotations

import itertools
import json
import urllib.error
import urllib.request

from eth_utils import function_signature_to_4byte_selector

RPC_TIMEOUT_SECONDS = 15
BALANCE_OF_SELECTOR = function_signature_to_4byte_selector("balanceOf(address)")


class ChainError(Exception):
    """The RPC could not answer (unreachable, error response, malformed answer)."""


class ChainReader:
    """A minimal JSON-RPC client; every method returns plain Python values."""

    def __init__(self, *, url: str, timeout: float = RPC_TIMEOUT_SECONDS) -> None:
        if not url.startswith(("http://", "https://")):
            raise ValueError(f"CHAIN_RPC_URL must be http(s): {url!r}")
        self.url = url
        self.timeout = timeout
        self._ids = itertools.count(1)

    def call(self, method: str, params: list) -> object:
        """One JSON-RPC call; raises ChainError on any failure."""
        body = json.dumps({"jsonrpc": "2.0", "id": next(self._ids), "method": method, "params": params}).encode()
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(self.url, data=body, headers=headers)  # noqa: S310 - http(s) checked
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310 - configured URL
                answer = json.loads(response.read())
        except (OSError, ValueError) as error:
            raise ChainError(f"{method}: RPC unreachable or malformed answer: {error}") from error
        if not isinstance(answer, dict) or "error" in answer:
            raise ChainError(f"{method}: {answer.get('error') if isinstance(answer, dict) else answer}")
        return answer.get("result")

    def batch(self, calls: list[tuple[str, list]], *, chunk: int = 500) -> list[object]:
        """Many calls in JSON-RPC batches of `chunk`; results in the order of `calls`. Any error fails the whole."""
        results: list[object] = []
        for start in range(0, len(calls), chunk):
            part = calls[start : start + chunk]
            ids = [next(self._ids) for _ in part]
            body = json.dumps(
                [{"jsonrpc": "2.0", "id": i, "method": m, "params": p} for i, (m, p) in zip(ids, part, strict=True)]
            ).encode()
            request = urllib.request.Request(  # noqa: S310 - http(s) checked
                self.url, data=body, headers={"Content-Type": "application/json"}
            )
            try:
                with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                    answers = json.loads(response.read())
            except (OSError, ValueError) as error:
                raise ChainError(f"batch of {len(part)}: RPC unreachable or malformed answer: {error}") from error
            if not isinstance(answers, list):
                raise ChainError(f"batch of {len(part)}: {answers}")
            by_id = {answer.get("id"): answer for answer in answers if isinstance(answer, dict)}
            for i, (method, _) in zip(ids, part, strict=True):
                answer = by_id.get(i)
                if answer is None or "error" in answer:
                    raise ChainError(f"{method}: {answer.get('error') if answer else 'no answer in the batch'}")
                results.append(answer.get("result"))
        return results

    def chain_id(self) -> int:
        return int(self.call("eth_chainId", []), 16)

    def block_number(self) -> int:
        return int(self.call("eth_blockNumber", []), 16)

    def latest_timestamp(self) -> int:
        """The newest block's timestamp: the clock the contracts compare deadlines with."""
        block = self.call("eth_getBlockByNumber", ["latest", False])
        return int(block["timestamp"], 16)

    def block(self, number: int) -> dict:
        """The header of block `number` (number, hash, timestamp, ...)."""
        block = self.call("eth_getBlockByNumber", [hex(number), False])
        if not isinstance(block, dict):
            raise ChainError(f"block {number} is not available")
        return block

    def balance(self, address: str, block: int | None = None) -> int:
        return int(self.call("eth_getBalance", [address, _tag(block)]), 16)

    def nonce(self, address: str, block: int | None = None) -> int:
        return int(self.call("eth_getTransactionCount", [address, _tag(block)]), 16)

    def erc20_balance(self, token: str, holder: str, block: int | None = None) -> int:
        data = "0x" + BALANCE_OF_SELECTOR.hex() + holder.lower().removeprefix("0x").rjust(64, "0")
        result = self.call("eth_call", [{"to": token, "data": data}, _tag(block)])
        if not isinstance(result, str) or len(result) < 3:
            raise ChainError(f"balanceOf on {token} returned {result!r}")
        return int(result, 16)

    def transaction(self, tx_hash: str) -> dict | None:
        return self.call("eth_getTransactionByHash", [tx_hash])

    def receipt(self, tx_hash: str) -> dict | None:
        return self.call("eth_getTransactionReceipt", [tx_hash])

    def call_trace(self, tx_hash: str) -> dict:
        """The transaction's call tree from the callTracer (frames with type, from, to, value, error, calls)."""
        return self.call("debug_traceTransaction", [tx_hash, {"tracer": "callTracer"}])


def _tag(block: int | None) -> str:
    return "latest" if block is None else hex(block)
