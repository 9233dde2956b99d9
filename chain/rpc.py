"""Raw, batched JSON-RPC for the indexer: many requests per HTTP round trip, answers as the node's plain JSON.

web3.py's `batch_requests()` works against anvil too, but it runs every answer through web3's result formatters
(AttributeDict, HexBytes), which costs more than the indexer's own work on big blocks; the indexer only needs a
few fields as hex strings. Node errors become the typed errors of chain/errors.py here and nowhere else.
"""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cache
from typing import Any

import requests
from django.conf import settings

from chain.errors import (
    ChainUnavailable,
    RpcError,
    RpcMethodUnsupported,
    RpcResponseTooLarge,
    RpcTimeout,
)

# Requests per HTTP POST: public providers cap batches (commonly at 100 to 1,000); 100 is accepted everywhere.
DEFAULT_BATCH_SIZE = 100
# Batches in flight at once: the node answers them in parallel; more rarely helps and can trip rate limits.
DEFAULT_PARALLEL_BATCHES = 4

METHOD_NOT_FOUND = -32601
LIMIT_EXCEEDED = -32005  # EIP-1474
# What nodes and providers say when a request asks for too much (geth, Infura, Alchemy, QuickNode, Ankr, ...).
TOO_LARGE_PATTERN = re.compile(
    r"more than \d+ results|response size|too large|too many|range (is )?too (wide|large)|exceed|limit",
    re.IGNORECASE,
)
UNSUPPORTED_PATTERN = re.compile(r"method not found|not supported|unsupported|does not exist", re.IGNORECASE)

Call = tuple[str, Sequence[Any]]


def _error_for(method: str, error: dict) -> RpcError:
    code, message = error.get("code"), str(error.get("message", error))
    text = f"{method}: {message}"
    if code == METHOD_NOT_FOUND or UNSUPPORTED_PATTERN.search(message):
        return RpcMethodUnsupported(text, code=code, method=method)
    if code == LIMIT_EXCEEDED or TOO_LARGE_PATTERN.search(message):
        return RpcResponseTooLarge(text, code=code, method=method)
    return RpcError(text, code=code, method=method)


@dataclass
class JsonRpc:
    """A JSON-RPC endpoint: `call` one method, or `batch` many, chunked and sent a few chunks at a time."""

    url: str
    timeout: float = 10
    batch_size: int = DEFAULT_BATCH_SIZE
    parallel_batches: int = DEFAULT_PARALLEL_BATCHES

    def __post_init__(self) -> None:
        self._local = threading.local()  # one HTTP session per thread: requests' Session is not thread-safe

    @property
    def _session(self) -> requests.Session:
        session = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
        return session

    def _post(self, payload: list[dict] | dict) -> Any:
        try:
            response = self._session.post(
                self.url,
                data=json.dumps(payload),
                headers={"Content-Type": "application/json"},
                timeout=self.timeout,
            )
        except requests.exceptions.Timeout as exc:
            raise RpcTimeout(f"the RPC at {self.url} did not answer within {self.timeout} s") from exc
        except (requests.exceptions.RequestException, OSError) as exc:
            raise ChainUnavailable(f"the RPC at {self.url} did not answer: {exc}") from exc
        if response.status_code == 413:
            raise RpcResponseTooLarge(f"the RPC at {self.url} refused the request as too large (HTTP 413)")
        if response.status_code >= 500 or response.status_code == 429:
            raise ChainUnavailable(f"the RPC at {self.url} answered HTTP {response.status_code}")
        try:
            return response.json()
        except ValueError as exc:
            raise ChainUnavailable(f"the RPC at {self.url} answered HTTP {response.status_code} without JSON") from exc

    def call(self, method: str, params: Sequence[Any] = ()) -> Any:
        """One request; its result, or the typed error."""
        answer = self._post({"jsonrpc": "2.0", "id": 0, "method": method, "params": list(params)})
        if not isinstance(answer, dict):
            raise RpcError(f"{method}: unexpected answer {str(answer)[:200]}", method=method)
        if answer.get("error"):
            raise _error_for(method, answer["error"])
        return answer.get("result")

    def _batch_chunk(self, calls: Sequence[Call], first_id: int) -> list[Any]:
        payload = [
            {"jsonrpc": "2.0", "id": first_id + i, "method": method, "params": list(params)}
            for i, (method, params) in enumerate(calls)
        ]
        answers = self._post(payload)
        if isinstance(answers, dict):  # a node that refuses the whole batch answers with one error object
            raise _error_for(calls[0][0] if calls else "batch", answers.get("error") or {"message": str(answers)})
        by_id = {answer.get("id"): answer for answer in answers}
        results = []
        for i, (method, _params) in enumerate(calls):
            answer = by_id.get(first_id + i)
            if answer is None:
                raise RpcError(f"{method}: no answer in the batch", method=method)
            if answer.get("error"):
                raise _error_for(method, answer["error"])
            results.append(answer.get("result"))
        return results

    def batch(self, calls: Sequence[Call], *, chunk_size: int | None = None) -> list[Any]:
        """Many requests; their results in the same order. Any error in any of them raises it.

        `chunk_size` below the batch size spreads heavy requests (traces) over parallel HTTP requests: a node
        answers one batch's requests one after another, but several batches at once.
        """
        if not calls:
            return []
        size = min(chunk_size or self.batch_size, self.batch_size)
        chunks = [(calls[i : i + size], i) for i in range(0, len(calls), size)]
        if len(chunks) == 1 or self.parallel_batches <= 1:
            return [result for chunk, first in chunks for result in self._batch_chunk(chunk, first)]
        with ThreadPoolExecutor(max_workers=min(self.parallel_batches, len(chunks))) as pool:
            parts = list(pool.map(lambda item: self._batch_chunk(*item), chunks))
        return [result for part in parts for result in part]


@cache
def _rpc_for(url: str, timeout: float) -> JsonRpc:
    return JsonRpc(url=url, timeout=timeout)


def json_rpc() -> JsonRpc:
    """The process's batched JSON-RPC client for CHAIN_RPC_URL."""
    return _rpc_for(settings.CHAIN_RPC_URL, settings.CHAIN_RPC_TIMEOUT)


def hex_int(value: str | int | None) -> int:
    """A node's hex quantity as an int (anvil answers a few fields as plain numbers)."""
    if value is None:
        return 0
    return value if isinstance(value, int) else int(value, 16)
