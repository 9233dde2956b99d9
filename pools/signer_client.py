"""The web app's client for the enclave signer (enclave_signer/, docs/signer.md): HMAC-signed HTTP, typed errors.

Deliberately free of Django: the caller passes the URL and key (settings are wired in elsewhere), and it does not
import enclave_signer either -- the two sides share only the wire format, kept in step by tests/signer.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import requests

HEADER_KEY_ID = "X-Signer-Key-Id"
HEADER_TIMESTAMP = "X-Signer-Timestamp"
HEADER_REQUEST_ID = "X-Signer-Request-Id"
HEADER_SIGNATURE = "X-Signer-Signature"
TX_FIELDS = ("to", "data", "value", "nonce", "gas", "maxFeePerGas", "maxPriorityFeePerGas", "chainId")
DEFAULT_TIMEOUT_SECONDS = 30
LEDGER_TIMEOUT_SECONDS = 120  # proving 1000 deposits reads the chain 2000+ times (batched)
GAS_KEY = "gas"
# Refusals that come from what the signer is configured to allow (its Launcher, Refunder and raise assets), not from
# the request: the same request passes once the signer runs with the right contracts, so callers wait, not give up.
CONFIGURATION_REFUSALS = frozenset({"unknown_destination", "unknown_asset", "bad_spender", "unknown_selector"})
CONFIGURATION_FIX = (
    "give the signer the app's CHAIN_LAUNCHER_ADDRESS, CHAIN_REFUNDER_ADDRESS and CHAIN_USDC_ADDRESS and restart it "
    "(`manage.py preflight` says what is wrong)"
)


class SignerError(Exception):
    """Base class of every signer client error."""


class SignerUnavailable(SignerError):
    """The signer (or the chain RPC behind it) did not answer; safe to retry later."""


class SignerAuthError(SignerError):
    """The signer refused our credentials (wrong key, clock skew, replayed request id)."""


class SignerBadRequest(SignerError):
    """The request was malformed or named something unknown (HTTP 400/404/413)."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason = code, reason


class SignerRefused(SignerError):
    """The signer's policy refused (HTTP 403), or a registration change on a funded pool (HTTP 409)."""

    def __init__(self, code: str, reason: str, *, intent: dict | None = None, log_index: int | None = None) -> None:
        super().__init__(f"{code}: {reason}")
        self.code, self.reason, self.intent, self.log_index = code, reason, intent, log_index

    @property
    def by_configuration(self) -> bool:
        """Refused for what the signer allows, not for what was asked: retry once its configuration is fixed."""
        return self.code in CONFIGURATION_REFUSALS

    def configuration_error(self) -> str:
        """What a job waiting on a configuration refusal says: the contract the signer does not allow, and the fix."""
        intent = self.intent or {}
        refused = (intent.get("args") or {}).get("spender") or intent.get("to") or "a contract"
        return f"The signer does not allow {refused} ({self.code}: {self.reason}): {CONFIGURATION_FIX}."


@dataclass(frozen=True)
class SignedTransaction:
    """A transaction the signer signed: broadcast `raw_tx` as is."""

    raw_tx: str
    tx_hash: str
    intent: dict
    log_index: int


def request_signature(*, secret: bytes, method: str, path: str, timestamp: str, request_id: str, body: bytes) -> str:
    """HMAC-SHA256 over METHOD, PATH?QUERY, TIMESTAMP, REQUEST_ID and hex(sha256(BODY)), newline-separated."""
    message = "\n".join([method.upper(), path, timestamp, request_id, hashlib.sha256(body).hexdigest()]).encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def wire_transaction(tx: dict[str, Any]) -> dict[str, str]:
    """An EIP-1559 transaction dict (web3 style: ints, bytes or hex data) as the signer's JSON (decimal strings)."""
    wire: dict[str, str] = {}
    for name in TX_FIELDS:
        value = tx[name]
        if name == "to":
            wire[name] = str(value)
        elif name == "data":
            wire[name] = "0x" + value.hex() if isinstance(value, bytes | bytearray) else str(value or "0x")
        else:
            wire[name] = str(int(value, 16) if isinstance(value, str) and value.startswith("0x") else int(value))
    return wire


class SignerClient:
    """One signer endpoint with one HMAC key."""

    def __init__(
        self,
        *,
        base_url: str,
        key_id: str,
        secret: bytes | str,
        timeout: float = DEFAULT_TIMEOUT_SECONDS,
        session: requests.Session | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.key_id = key_id
        self.secret = bytes.fromhex(secret) if isinstance(secret, str) else secret
        self.timeout = timeout
        self.session = session or requests.Session()

    # -- operations -------------------------------------------------------------------------------------------

    def health(self) -> dict:
        """{status, tee, chain_id, log_head, limits: {max_tx_fee_wei, ...}}; unauthenticated."""
        return self._request("GET", "/health", authenticated=False)

    def attestation(self, *, nonce: str) -> dict:
        """An attestation report bound to `nonce` (check it with `python -m enclave_signer verify-attestation`)."""
        return self._request("GET", "/attestation?" + urlencode({"nonce": nonce}))

    def addresses(self) -> dict:
        """{log_key, gas: {address, derivation_path}, pools: {pool_id: {address, derivation_path}}}."""
        return self._request("GET", "/addresses")

    def log_head(self) -> dict:
        """{seq, hash}: pass `hash` as the launch's logHead."""
        return self._request("GET", "/log/head")

    def log_entries(self, *, after: int = -1, limit: int = 100) -> dict:
        """{entries: [...], head}: entries with seq > after."""
        return self._request("GET", f"/log?after={int(after)}&limit={int(limit)}")

    def register_pool(self, *, pool_id: int, chain_id: int, params: dict[str, Any], final: bool = False) -> dict:
        """Create the pool's key and register its parameters: {pool_id, chain_id, address, derivation_path, ...}.

        Integers in `params` may be ints; they travel as decimal strings. `final` freezes the registration (only an
        early close may change it after that).
        """
        wire_params = {name: str(value) if isinstance(value, int) else value for name, value in params.items()}
        body = {"pool_id": str(pool_id), "chain_id": str(chain_id), "params": wire_params, "final": final}
        return self._request("POST", "/pools", body=body)

    def record_deposits(self, *, pool_id: int, deposits: list[dict], complete_at_block: int | None = None) -> dict:
        """Have the signer prove `deposits` (citations, as refund evidence) into the pool's ledger; with
        `complete_at_block`, prove the ledger complete there. Raises SignerRefused (ledger_incomplete, ...)."""
        body: dict[str, Any] = {"pool_id": str(pool_id), "deposits": deposits}
        if complete_at_block is not None:
            body["complete_at_block"] = str(complete_at_block)
        # The signer reads the chain for every deposit: slower than a signature (seconds per 1000 on a busy node).
        return self._request("POST", "/pools/deposits", body=body, timeout=max(self.timeout, LEDGER_TIMEOUT_SECONDS))

    def refund_all(self, *, pool_id: int) -> dict:
        """From now on every deposit of the pool is owed back in full; it can never launch. Idempotent."""
        return self._request("POST", "/pools/refund-all", body={"pool_id": str(pool_id)})

    def note_set_aside(self, *, pool_id: int, recipient: str, amount: int, deposits: list[dict], note: str) -> dict:
        """Record in the signer's log that a refund was set aside for manual handling; {log_index}."""
        body = {
            "pool_id": str(pool_id),
            "recipient": recipient,
            "amount": str(amount),
            "deposits": deposits,
            "note": note,
        }
        return self._request("POST", "/pools/set-aside", body=body)

    def sign(self, *, pool_id: int | str, tx: dict[str, Any], evidence: dict | None = None) -> SignedTransaction:
        """Ask the signer to sign `tx` with the pool's key (pool_id "gas": the gas-funding key).

        `evidence` (refunds only): {recipient: [{"tx_hash", "log_index"} | {"tx_hash", "trace_address"?}, ...]}.
        Raises SignerRefused with the policy's code and reason when refused.
        """
        body = {"pool_id": str(pool_id), "tx": wire_transaction(tx)}
        if evidence is not None:
            body["evidence"] = evidence
        answer = self._request("POST", "/sign", body=body)
        return SignedTransaction(
            raw_tx=answer["raw_tx"], tx_hash=answer["tx_hash"], intent=answer["intent"], log_index=answer["log_index"]
        )

    # -- transport --------------------------------------------------------------------------------------------

    def _headers(self, *, method: str, path: str, body: bytes) -> dict[str, str]:
        timestamp, request_id = str(int(time.time())), uuid.uuid4().hex
        signature = request_signature(
            secret=self.secret, method=method, path=path, timestamp=timestamp, request_id=request_id, body=body
        )
        return {
            HEADER_KEY_ID: self.key_id,
            HEADER_TIMESTAMP: timestamp,
            HEADER_REQUEST_ID: request_id,
            HEADER_SIGNATURE: signature,
            "Content-Type": "application/json",
        }

    def _request(
        self,
        method: str,
        path: str,
        *,
        body: dict | None = None,
        authenticated: bool = True,
        timeout: float | None = None,
    ) -> dict:
        payload = json.dumps(body).encode() if body is not None else b""
        headers = self._headers(method=method, path=path, body=payload) if authenticated else {}
        try:
            response = self.session.request(
                method, self.base_url + path, data=payload or None, headers=headers, timeout=timeout or self.timeout
            )
        except requests.RequestException as error:
            raise SignerUnavailable(f"signer at {self.base_url} unreachable: {error}") from error
        try:
            answer = response.json()
        except ValueError as error:
            raise SignerUnavailable(f"signer answered {response.status_code} without JSON") from error
        return self._check(response.status_code, answer)

    @staticmethod
    def _check(status: int, answer: dict) -> dict:
        if status < 300:
            return answer
        code, reason = answer.get("code") or answer.get("error", "unknown"), answer.get("reason", "")
        if status == 401:
            raise SignerAuthError(f"{code}: {reason}")
        if status in (403, 409):
            raise SignerRefused(code, reason, intent=answer.get("intent"), log_index=answer.get("log_index"))
        if status in (400, 404, 413):
            raise SignerBadRequest(code, reason)
        raise SignerUnavailable(f"signer answered {status}: {code}: {reason}")
