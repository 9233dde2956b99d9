"""The signer itself: sealed state, keys, policy and log put together behind a handful of operations.

Every state-changing operation runs under one lock and in this order: decide, write the sealed state (so a
refund's evidence is consumed before the signature can leave), append the log entry, answer.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from eth_account import Account

from enclave_signer import attestation
from enclave_signer.chain import ChainError, ChainReader
from enclave_signer.config import SignerConfig, load_known_contracts
from enclave_signer.evidence import Citation, Deposit, EvidenceRefused, check_deposit
from enclave_signer.keys import LOG_KEY_PATH, address_of, derive_private_key, gas_key_path, pool_key_path
from enclave_signer.log import TransparencyLog, canonical_json
from enclave_signer.params import ZERO_ADDRESS, InvalidInput, normalize_pool_params, parse_uint
from enclave_signer.policy import GAS_KEY, PolicyContext, Refusal, describe, evaluate, jsonable, parse_transaction
from enclave_signer.sealing import SealingError, SealingRoot, sealing_key_id
from enclave_signer.store import SealedStore, new_state

logger = logging.getLogger(__name__)
MAX_LOG_PAGE = 1000


class RequestError(Exception):
    """A request the signer cannot act on (not a policy refusal): HTTP `status` with a stable `code`."""

    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


@dataclass(frozen=True)
class Outcome:
    """An HTTP status and a JSON body."""

    status: int
    body: dict


def open_state(*, store: SealedStore, log_path: Path) -> dict:
    """Load the sealed state, or create it on the very first start (never over an existing log)."""
    if store.exists():
        return store.load()
    if log_path.exists() and log_path.stat().st_size:
        raise SealingError(f"{store.path} is missing but {log_path} exists: refusing to start with new keys")
    state = new_state()
    store.save(state)
    return state


class EnclaveSigner:
    """Keys, policy and log behind the API; one instance per process."""

    def __init__(self, *, config: SignerConfig, root: SealingRoot, chain: ChainReader) -> None:
        self.config, self.root, self.chain = config, root, chain
        self.store = SealedStore(path=config.store_path, root=root)
        self.state = open_state(store=self.store, log_path=config.log_path)
        self._root_secret = bytes.fromhex(self.state["root_secret"])
        self._log_key = derive_private_key(self._root_secret, path=LOG_KEY_PATH)
        self.log = TransparencyLog(path=config.log_path, private_key=self._log_key)
        head = self.state["log_head"]
        if not self.log.contains(seq=head["seq"], hash_=head["hash"]):
            raise SealingError(
                f"{config.log_path} does not contain entry {head['seq']} that the sealed state "
                "recorded: the log was truncated or replaced"
            )
        self._lock = threading.RLock()
        if self.log.head["seq"] == -1:
            self._log(
                "signer_initialized",
                {
                    "log_key": self.log.signer,
                    "log_key_path": LOG_KEY_PATH,
                    "tee": root.tee,
                    "chain_id": config.chain_id,
                    "gas_key": self._key_info(gas_key_path(config.chain_id)),
                    "code_measurement": attestation.code_measurement(),
                    "sealing_key_id": sealing_key_id(root, salt=self.store.salt),
                },
            )

    # -- keys -------------------------------------------------------------------------------------------------

    def _key_info(self, path: str) -> dict:
        return {"derivation_path": path, "address": address_of(derive_private_key(self._root_secret, path=path))}

    def addresses(self) -> dict:
        """Every public key the signer holds: log key, gas key, pool keys (never a private key)."""
        with self._lock:
            pools = {
                pool_id: {"address": pool["address"], "derivation_path": pool["derivation_path"]}
                for pool_id, pool in self.state["pools"].items()
            }
        return {"log_key": self.log.signer, "gas": self._key_info(gas_key_path(self.config.chain_id)), "pools": pools}

    # -- read-only endpoints ------------------------------------------------------------------------------------

    def health(self) -> dict:
        return {"status": "ok", "tee": self.root.tee, "chain_id": self.config.chain_id, "log_head": self.log.head}

    def attestation(self, *, nonce: str) -> dict:
        if not nonce or len(nonce) > 128:
            raise RequestError(400, "bad_nonce", "nonce: 1..128 characters required")
        return attestation.build_report(
            nonce=nonce,
            tee=self.root.tee,
            chain_id=self.config.chain_id,
            log_key=self._log_key,
            log_key_address=self.log.signer,
            keys=self.addresses(),
            log_head=self.log.head,
            dstack_socket=self.config.dstack_socket,
        )

    def log_page(self, *, after: int, limit: int) -> dict:
        entries = self.log.entries(after=after, limit=max(1, min(limit, MAX_LOG_PAGE)))
        return {"entries": entries, "head": self.log.head}

    # -- pool registration --------------------------------------------------------------------------------------

    def register_pool(self, body: object) -> Outcome:
        """Create a pool's key and seal its parameters; change them only while its address is untouched on-chain."""
        try:
            if not isinstance(body, dict):
                raise InvalidInput("expected a JSON object")
            pool_id = str(parse_uint(body.get("pool_id"), field="pool_id"))
            chain_id = parse_uint(body.get("chain_id"), field="chain_id")
            params = normalize_pool_params(body.get("params"))
        except InvalidInput as error:
            raise RequestError(400, "malformed", str(error)) from error
        if chain_id != self.config.chain_id or pool_id == "0":
            raise RequestError(400, "chain_mismatch", f"this signer serves chain {self.config.chain_id}; pool ids > 0")
        known = load_known_contracts(self.config.contracts_file, chain_id=chain_id)
        if params["raise_asset"] not in known.raise_assets:
            raise RequestError(400, "unknown_asset", f"raise asset {params['raise_asset']} is not allowlisted")
        with self._lock:
            existing = self.state["pools"].get(pool_id)
            if existing and existing["params"] == params:
                return Outcome(200, self._registration_answer(pool_id, created=False, changed=False))
            if existing:
                untouched, reason = self._address_untouched(existing, new_asset=params["raise_asset"])
                if not untouched:
                    entry = self._log("registration_refused", {"pool_id": pool_id, "reason": reason})
                    return Outcome(
                        409, {"decision": "refused", "code": "pool_frozen", "reason": reason, "log_index": entry["seq"]}
                    )
            key = self._key_info(pool_key_path(int(pool_id)))
            self.state["pools"][pool_id] = {"chain_id": chain_id, **key, "params": params}
            self._save()
            if existing:
                self._log("pool_params_changed", {"pool_id": pool_id, "old": existing["params"], "new": params})
            else:
                self._log("key_created", key)
                self._log("pool_registered", {"pool_id": pool_id, "chain_id": chain_id, **key, "params": params})
            return Outcome(
                201 if not existing else 200,
                self._registration_answer(pool_id, created=not existing, changed=bool(existing)),
            )

    def _registration_answer(self, pool_id: str, *, created: bool, changed: bool) -> dict:
        pool = self.state["pools"][pool_id]
        return {
            "pool_id": pool_id,
            "chain_id": pool["chain_id"],
            "address": pool["address"],
            "derivation_path": pool["derivation_path"],
            "created": created,
            "changed": changed,
        }

    def _address_untouched(self, pool: dict, *, new_asset: str) -> tuple[bool, str]:
        """Checked on-chain, not taken from the caller: no nonce used, no native or raise-asset balance."""
        address = pool["address"]
        try:
            if self.chain.nonce(address) or self.chain.balance(address):
                return False, f"{address} has sent a transaction or holds native funds"
            for asset in {pool["params"]["raise_asset"], new_asset} - {ZERO_ADDRESS}:
                if self.chain.erc20_balance(asset, address):
                    return False, f"{address} holds {asset}"
        except ChainError as error:
            raise RequestError(503, "chain_unavailable", str(error)) from error
        return True, ""

    # -- signing ------------------------------------------------------------------------------------------------

    def sign(self, body: object) -> Outcome:
        """Decode, check against the policy, sign or refuse; every decision is logged."""
        body = body if isinstance(body, dict) else {}
        pool_id = str(body.get("pool_id", ""))
        with self._lock:
            try:
                key_path = self._key_path_for(pool_id)
                tx = parse_transaction(body.get("tx"))
            except Refusal as refusal:
                return self._refuse(refusal, intent={"signer": {"key": pool_id}, "kind": "unknown"})
            private_key = derive_private_key(self._root_secret, path=key_path)
            address = address_of(private_key)
            intent = describe(tx, key_path=key_path, address=address)
            request_digest = hashlib.sha256(
                canonical_json({"pool_id": pool_id, "tx": jsonable(tx), "evidence": body.get("evidence")})
            ).hexdigest()
            slot = f"{address}/{tx['chainId']}/{tx['nonce']}"
            cached = self.state["signed"].get(slot, {}).get(request_digest)
            if cached:
                entry = self._log("sign_repeated", {"intent": cached["intent"], "tx_hash": cached["tx_hash"]})
                return Outcome(200, {**cached, "log_index": entry["seq"]})
            try:
                approval = evaluate(
                    pool_id=pool_id,
                    address=address,
                    tx=tx,
                    evidence=body.get("evidence"),
                    intent=intent,
                    ctx=self._policy_context(address),
                )
            except Refusal as refusal:
                return self._refuse(refusal, intent=intent)
            except ChainError as error:
                raise RequestError(503, "chain_unavailable", str(error)) from error
            signed = Account.sign_transaction({**approval.tx, "type": 2, "accessList": []}, private_key)
            result = {
                "decision": "signed",
                "intent": intent,
                "raw_tx": "0x" + signed.raw_transaction.hex(),
                "tx_hash": "0x" + signed.hash.hex(),
            }
            self._commit_refunds(approval.consumptions, slot=f"{address}/{tx['nonce']}")
            if approval.topup is not None:
                pool_address, _, value = approval.topup
                self.state.setdefault("gas_topups", {}).setdefault(pool_address, {})[f"{address}/{tx['nonce']}"] = str(
                    value
                )
            self.state["signed"].setdefault(slot, {})[request_digest] = result
            self._save()
            entry = self._log(
                "signed",
                {"intent": intent, "tx_hash": result["tx_hash"], "refunded_deposits": jsonable(approval.consumptions)},
            )
            return Outcome(200, {**result, "log_index": entry["seq"]})

    def _key_path_for(self, pool_id: str) -> str:
        if pool_id == GAS_KEY:
            return gas_key_path(self.config.chain_id)
        if pool_id not in self.state["pools"]:
            raise Refusal("unknown_pool", f"pool {pool_id!r} is not registered")
        return self.state["pools"][pool_id]["derivation_path"]

    def _policy_context(self, address: str) -> PolicyContext:
        config = self.config

        gas_address = self._key_info(gas_key_path(config.chain_id))["address"]

        def prove_deposit(citation: Citation, sender: str, pool: dict) -> Deposit:
            if sender.lower() == gas_address.lower():
                # Gas top-ups reach pool addresses as plain transfers: they are ours, never a depositor's.
                raise EvidenceRefused("not_a_deposit", "the gas-funding account's top-ups are not deposits")
            return check_deposit(
                self.chain,
                chain_id=config.chain_id,
                citation=citation,
                sender=sender,
                pool_address=pool["address"],
                raise_asset=pool["params"]["raise_asset"],
                min_confirmations=config.min_confirmations,
            )

        def slot_reverted(slot: str) -> bool:
            signer_address, _, nonce = slot.rpartition("/")
            signed = self.state["signed"].get(f"{signer_address}/{config.chain_id}/{nonce}", {})
            mined = [r for r in (self.chain.receipt(s["tx_hash"]) for s in signed.values()) if r]
            return bool(mined) and all(int(str(r["status"]), 0) == 0 for r in mined)

        return PolicyContext(
            chain_id=config.chain_id,
            contracts=load_known_contracts(config.contracts_file, chain_id=config.chain_id),
            pools=self.state["pools"],
            log_head=self.log.head["hash"],
            # Deadlines are checked on chain against block time, so the window is measured on that clock too.
            now=self.chain.latest_timestamp(),
            account_nonce=self.chain.nonce(address),
            gas_topup_max_wei=config.gas_topup_max_wei,
            gas_topup_pool_max_wei=config.gas_topup_pool_max_wei,
            gas_topups=self.state.setdefault("gas_topups", {}),
            balance_of=self.chain.balance,
            max_tx_fee_wei=config.max_tx_fee_wei,
            launch_deadline_window_seconds=config.launch_deadline_window_seconds,
            refunds=self.state["refunds"],
            prove_deposit=prove_deposit,
            slot_reverted=slot_reverted,
        )

    def _commit_refunds(self, consumptions: dict, *, slot: str) -> None:
        """Record what each deposit paid back at this (address, nonce); a replacement keeps the larger take."""
        for deposit_key, consumption in consumptions.items():
            record = self.state["refunds"].setdefault(
                deposit_key, {"amount": str(consumption["amount"]), "consumed": {}}
            )
            previous = int(record["consumed"].get(slot, 0))
            record["consumed"][slot] = str(max(previous, consumption["take"]))

    def _refuse(self, refusal: Refusal, *, intent: dict) -> Outcome:
        entry = self._log("refused", {"intent": intent, "code": refusal.code, "reason": refusal.reason})
        return Outcome(
            403,
            {
                "decision": "refused",
                "code": refusal.code,
                "reason": refusal.reason,
                "intent": intent,
                "log_index": entry["seq"],
            },
        )

    def _log(self, kind: str, payload: dict) -> dict:
        """Append a log entry, then seal the new head into the state, so deleting the entry is noticed on restart."""
        entry = self.log.append(kind, payload)
        self._save()
        return entry

    def _save(self) -> None:
        """Seal the state; it remembers the log head so a truncated log is noticed at the next start."""
        self.state["log_head"] = self.log.head
        self.store.save(self.state)
