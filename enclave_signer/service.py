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
from enclave_signer.books import PHASE_REFUND_ALL, Allocation, Books, BooksRefused, allocation, credits, slot_key
from enclave_signer.chain import ChainError, ChainReader
from enclave_signer.config import SignerConfig
from enclave_signer.evidence import Citation, EvidenceRefused, parse_citation, prove_deposits
from enclave_signer.keys import LOG_KEY_PATH, address_of, derive_private_key, gas_key_path, pool_key_path
from enclave_signer.log import TransparencyLog, canonical_json
from enclave_signer.params import (
    EARLY_CLOSE_PARAMS,
    ZERO_ADDRESS,
    InvalidInput,
    normalize_pool_params,
    parse_address,
    parse_uint,
)
from enclave_signer.policy import GAS_KEY, PolicyContext, Refusal, describe, evaluate, jsonable, parse_transaction
from enclave_signer.sealing import SealingError, SealingRoot, sealing_key_id
from enclave_signer.store import SealedStore, new_state

logger = logging.getLogger(__name__)
MAX_LOG_PAGE = 1000
MAX_DEPOSITS_PER_REQUEST = 1000
BOOKS_CACHE_SIZE = 8


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
        self.gas_address = self._key_info(gas_key_path(config.chain_id))["address"]
        self.books = Books(state=self.state, chain=chain, gas_address=self.gas_address)
        self._books_cache: dict[tuple, tuple[dict, Allocation]] = {}
        if self.log.head["seq"] == -1:
            self._log(
                "signer_initialized",
                {
                    "log_key": self.log.signer,
                    "log_key_path": LOG_KEY_PATH,
                    "tee": root.tee,
                    "chain_id": config.chain_id,
                    "gas_key": self._key_info(gas_key_path(config.chain_id)),
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
        config = self.config
        # The policy's limits are public: the web tier sizes its transactions by them instead of being refused.
        limits = {
            "max_tx_fee_wei": str(config.max_tx_fee_wei),
            "max_fee_per_gas_wei": str(config.max_fee_per_gas_wei),
            "gas_topup_max_wei": str(config.gas_topup_max_wei),
            "gas_topup_pool_max_wei": str(config.gas_topup_pool_max_wei),
            "pool_fee_budget_min_wei": str(config.pool_fee_budget_min_wei),
            "pool_fee_budget_bps": config.pool_fee_budget_bps,
        }
        return {
            "status": "ok",
            "tee": self.root.tee,
            "chain_id": config.chain_id,
            "log_head": self.log.head,
            "limits": limits,
            # The contracts it allows and where they came from: the web tier's preflight compares them with its own.
            "contracts": config.known_contracts().public(chain_id=config.chain_id),
        }

    def attestation(self, *, nonce: str) -> dict:
        if not nonce or len(nonce) > 128:
            raise RequestError(400, "bad_nonce", "nonce: 1..128 characters required")
        try:
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
        except attestation.QuoteUnavailable as error:
            raise RequestError(503, "quote_unavailable", str(error)) from error

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
            final = body.get("final", False)
            if not isinstance(final, bool):
                raise InvalidInput("final: expected true or false")
        except InvalidInput as error:
            raise RequestError(400, "malformed", str(error)) from error
        if chain_id != self.config.chain_id or pool_id == "0":
            raise RequestError(400, "chain_mismatch", f"this signer serves chain {self.config.chain_id}; pool ids > 0")
        known = self.config.known_contracts()
        if params["raise_asset"] not in known.raise_assets:
            raise RequestError(400, "unknown_asset", f"raise asset {params['raise_asset']} is not allowlisted")
        with self._lock:
            existing = self.state["pools"].get(pool_id)
            if existing and existing["params"] == params:
                if final and not existing.get("frozen"):
                    existing["frozen"] = True
                    self._log("pool_frozen", {"pool_id": pool_id})
                return Outcome(200, self._registration_answer(pool_id, created=False, changed=False))
            if existing:
                if existing.get("frozen"):
                    untouched, reason = False, f"pool {pool_id}'s registration was made final when it was scheduled"
                else:
                    untouched, reason = self._address_untouched(existing, new_asset=params["raise_asset"])
                if not untouched and self._is_early_close(existing["params"], params):
                    existing["params"], existing["frozen"] = params, True
                    self._log("pool_closed_early", {"pool_id": pool_id, "closes_at": params["closes_at"]})
                    return Outcome(200, self._registration_answer(pool_id, created=False, changed=True))
                if not untouched:
                    entry = self._log("registration_refused", {"pool_id": pool_id, "reason": reason})
                    return Outcome(
                        409, {"decision": "refused", "code": "pool_frozen", "reason": reason, "log_index": entry["seq"]}
                    )
            key = self._key_info(pool_key_path(int(pool_id)))
            self.state["pools"][pool_id] = {"chain_id": chain_id, **key, "params": params, "frozen": final}
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

    def _is_early_close(self, old: dict, new: dict) -> bool:
        """A frozen pool may still be closed early: only the close moves, earlier, and never into the past."""
        if {name for name in old if old[name] != new[name]} != EARLY_CLOSE_PARAMS:
            return False
        old_close, new_close = int(old["closes_at"]), int(new["closes_at"])
        try:
            now = self.chain.latest_timestamp()
        except ChainError as error:
            raise RequestError(503, "chain_unavailable", str(error)) from error
        return (not old_close or new_close < old_close) and new_close > now

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

    # -- the ledger -------------------------------------------------------------------------------------------

    def record_deposits(self, body: object) -> Outcome:
        """Prove cited deposits on chain and add them to the pool's ledger; with `complete_at_block`, prove the ledger
        complete there (the address's balance and the signer's own mined outflows account for every wei)."""
        try:
            if not isinstance(body, dict) or set(body) - {"pool_id", "deposits", "complete_at_block"}:
                raise InvalidInput("expected {pool_id, deposits, complete_at_block?}")
            pool_id = str(parse_uint(body.get("pool_id"), field="pool_id"))
            items = body.get("deposits")
            if not isinstance(items, list) or len(items) > MAX_DEPOSITS_PER_REQUEST:
                raise InvalidInput(f"deposits: expected a list of at most {MAX_DEPOSITS_PER_REQUEST} citations")
            citations = [parse_citation(item) for item in items]
            complete_at = body.get("complete_at_block")
            complete_at = None if complete_at is None else parse_uint(complete_at, field="complete_at_block", bits=64)
        except (InvalidInput, EvidenceRefused) as error:
            raise RequestError(400, "malformed", str(error)) from error
        with self._lock:
            pool, ledger = self._pool_and_ledger(pool_id)
            params = pool["params"]
            confirmations = max(self.config.min_confirmations, int(params["confirmations"]))
            new = {c.key(chain_id=self.config.chain_id): c for c in citations}
            try:
                proven = prove_deposits(
                    self.chain,
                    chain_id=self.config.chain_id,
                    citations=[c for key, c in new.items() if key not in ledger["deposits"]],
                    pool_address=pool["address"],
                    raise_asset=params["raise_asset"],
                    min_confirmations=confirmations,
                    not_from=frozenset({self.gas_address.lower()}),
                )
            except EvidenceRefused as error:
                return self._refuse_ledger(pool_id, error)  # nothing of this request is recorded
            except ChainError as error:
                raise RequestError(503, "chain_unavailable", str(error)) from error
            for deposit in proven:
                ledger["deposits"][deposit.key] = deposit.record()
            if proven:
                self._log("ledger_updated", self._ledger_summary(pool_id, ledger, added=len(proven)))
            if complete_at is not None:
                try:
                    if self.chain.block_number() - complete_at + 1 < confirmations:
                        raise BooksRefused(
                            "ledger_unconfirmed", f"block {complete_at} has fewer than {confirmations} confirmations"
                        )
                    settled = ledger["phase"] == PHASE_REFUND_ALL or self.books.launched(pool_id, pool["address"])
                    surplus = self.books.check_complete(pool, ledger, block=complete_at, allow_surplus=settled)
                    timestamp = int(self.chain.block(complete_at)["timestamp"], 16)
                except BooksRefused as error:
                    return self._refuse_ledger(pool_id, error)
                except ChainError as error:
                    raise RequestError(503, "chain_unavailable", str(error)) from error
                if not ledger["verified"] or complete_at >= ledger["verified"]["block"]:
                    ledger["verified"] = {"block": complete_at, "timestamp": timestamp}
                # ETH that came without a transaction, once the pool launched or is refunded in full: nobody's.
                unexplained = {"unexplained": str(surplus)} if surplus else {}
                self._log("ledger_complete", {"pool_id": pool_id, "block": complete_at} | unexplained)
            return Outcome(200, self._ledger_summary(pool_id, ledger, added=len(proven)) | {"log_head": self.log.head})

    def note_set_aside(self, body: object) -> Outcome:
        """Log an admin's decision to pay one refund outside the batches. It changes nothing the signer allows: the
        deposits stay owed in its books, so a later batch may still pay them; the entry makes the decision public."""
        try:
            if not isinstance(body, dict) or set(body) != {"pool_id", "recipient", "amount", "deposits", "note"}:
                raise InvalidInput("expected {pool_id, recipient, amount, deposits, note}")
            pool_id = str(parse_uint(body["pool_id"], field="pool_id"))
            recipient = parse_address(body["recipient"], field="recipient")
            amount = parse_uint(body["amount"], field="amount")
            items, note = body["deposits"], body["note"]
            if not isinstance(items, list) or not 0 < len(items) <= MAX_DEPOSITS_PER_REQUEST:
                raise InvalidInput(f"deposits: 1..{MAX_DEPOSITS_PER_REQUEST} citations")
            if not isinstance(note, str) or not 0 < len(note) <= 500:
                raise InvalidInput("note: 1..500 characters")
            keys = [parse_citation(item).key(chain_id=self.config.chain_id) for item in items]
        except (InvalidInput, EvidenceRefused) as error:
            raise RequestError(400, "malformed", str(error)) from error
        with self._lock:
            self._pool_and_ledger(pool_id)
            entry = self._log(
                "refund_set_aside",
                {"pool_id": pool_id, "recipient": recipient, "amount": str(amount), "deposits": keys, "note": note},
            )
        return Outcome(200, {"log_index": entry["seq"]})

    def _refuse_ledger(self, pool_id: str, error: EvidenceRefused | BooksRefused) -> Outcome:
        entry = self._log("ledger_refused", {"pool_id": pool_id, "code": error.code, "reason": error.reason})
        return Outcome(
            403, {"decision": "refused", "code": error.code, "reason": error.reason, "log_index": entry["seq"]}
        )

    def _pool_and_ledger(self, pool_id: str) -> tuple[dict, dict]:
        pool = self.state["pools"].get(pool_id)
        if pool is None:
            raise RequestError(404, "not_found", f"pool {pool_id} is not registered")
        return pool, self.books.ledger(pool_id)

    def _ledger_summary(self, pool_id: str, ledger: dict, *, added: int) -> dict:
        """What a ledger holds; with a proven-complete block, the credited total and root the signer computed."""
        summary = {
            "pool_id": pool_id,
            "added": added,
            "deposits": len(ledger["deposits"]),
            "received": str(sum(int(r["amount"]) for r in ledger["deposits"].values())),
            "verified": ledger["verified"],
            "phase": ledger["phase"],
        }
        if ledger["verified"]:
            _, books = self._books_at(pool_id, through=ledger["verified"]["block"])
            summary |= {"credited": str(books.credited), "merkle_root": books.merkle_root}
        return summary

    def _books_at(self, pool_id: str, *, through: int) -> tuple[dict, Allocation]:
        """The crediting decisions (by deposit key) and the allocation of a ledger's deposits up to block `through`.

        Kept for the last few ledger states: a launch asks for them when its ledger is proven and again when it is
        signed, and every refund batch asks too; for 10,000 depositors each computation costs about a second.
        """
        ledger, params = self.books.ledger(pool_id), self.state["pools"][pool_id]["params"]
        key = (pool_id, through, len(ledger["deposits"]), params["closes_at"])
        if key not in self._books_cache:
            decisions = credits(params, ledger, through=through)
            if len(self._books_cache) >= BOOKS_CACHE_SIZE:
                self._books_cache.pop(next(iter(self._books_cache)))
            self._books_cache[key] = ({d.key: d for d in decisions}, allocation(params, decisions))
        return self._books_cache[key]

    def refund_all(self, body: object) -> Outcome:
        """From now on every deposit of this pool is owed back in full, and it can never launch. Refused once a launch
        succeeded or while one may still be mined."""
        try:
            pool_id = str(parse_uint((body or {}).get("pool_id") if isinstance(body, dict) else None, field="pool_id"))
        except InvalidInput as error:
            raise RequestError(400, "malformed", str(error)) from error
        with self._lock:
            pool, ledger = self._pool_and_ledger(pool_id)
            if ledger["phase"] != PHASE_REFUND_ALL:
                try:
                    if self.books.launched(pool_id, pool["address"]):
                        code, reason = (
                            "pool_launched",
                            f"pool {pool_id} launched: only its owed-back parts are refunded",
                        )
                    elif self.books.launch_in_flight(pool["address"]):
                        code, reason = "launch_in_flight", f"a launch of pool {pool_id} may still be mined: wait for it"
                    else:
                        code = reason = ""
                except BooksRefused as error:
                    code, reason = error.code, error.reason
                except ChainError as error:
                    raise RequestError(503, "chain_unavailable", str(error)) from error
                if code:
                    entry = self._log("refund_all_refused", {"pool_id": pool_id, "code": code, "reason": reason})
                    return Outcome(
                        409, {"decision": "refused", "code": code, "reason": reason, "log_index": entry["seq"]}
                    )
                ledger["phase"] = PHASE_REFUND_ALL
                self._log("pool_refund_all", {"pool_id": pool_id})
            return Outcome(200, {"pool_id": pool_id, "phase": ledger["phase"]})

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
                    ctx=self._policy_context(address, pool_id=pool_id),
                )
            except Refusal as refusal:
                return self._refuse(refusal, intent=intent)
            except BooksRefused as refusal:
                return self._refuse(Refusal(refusal.code, refusal.reason), intent=intent)
            except ChainError as error:
                raise RequestError(503, "chain_unavailable", str(error)) from error
            signed = Account.sign_transaction({**approval.tx, "type": 2, "accessList": []}, private_key)
            result = {
                "decision": "signed",
                "intent": intent,
                "raw_tx": "0x" + signed.raw_transaction.hex(),
                "tx_hash": "0x" + signed.hash.hex(),
            }
            self._commit_refunds(approval.consumptions, slot=slot_key(address, tx["nonce"]), tx_hash=result["tx_hash"])
            self.books.note_signed(
                address=address,
                nonce=tx["nonce"],
                tx_hash=result["tx_hash"],
                info={
                    "kind": intent["kind"],
                    "to": tx["to"],
                    "value": str(tx["value"]),
                    "max_fee": str(tx["gas"] * tx["maxFeePerGas"]),
                    "pool": pool_id,
                    **({"deadline": intent["args"]["deadline"]} if intent["kind"] == "launch" else {}),
                },
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

    def _policy_context(self, address: str, *, pool_id: str) -> PolicyContext:
        config, books = self.config, self.books
        pool = self.state["pools"].get(pool_id)
        ledger = books.ledger(pool_id) if pool else None

        def decisions_at_verified() -> dict:
            return self._books_at(pool_id, through=ledger["verified"]["block"])[0]

        cache: dict = {}

        def launched() -> bool:
            if "launched" not in cache:
                cache["launched"] = books.launched(pool_id, pool["address"])
            return cache["launched"]

        def owed_deposit(citation: Citation, recipient: str, _pool: dict) -> tuple[str, int]:
            key = citation.key(chain_id=config.chain_id)
            record = ledger["deposits"].get(key)
            if record is None:
                raise EvidenceRefused("not_in_ledger", f"{key} is not in the pool's ledger: submit it first")
            if record["sender"].lower() != recipient.lower():
                raise EvidenceRefused("not_a_deposit", f"{key} was sent by {record['sender']}, not by {recipient}")
            if ledger["phase"] == PHASE_REFUND_ALL:
                return key, int(record["amount"])
            if not launched():
                raise EvidenceRefused(
                    "not_refundable", "refunds follow a successful launch, or the pool being refunded in full"
                )
            if not ledger["verified"] or record["block"] > ledger["verified"]["block"]:
                raise EvidenceRefused("ledger_incomplete", f"{key} is past the block the ledger was proven complete at")
            if "decisions" not in cache:
                cache["decisions"] = decisions_at_verified()
            return key, cache["decisions"][key].refund

        def counted_take(slot: str, takes: dict) -> int:
            signer_address, _, nonce = slot.rpartition("/")
            mined = books.mined(signer_address, int(nonce))
            if mined is None:
                return max(int(take) for take in takes.values())
            if mined.status != 1:
                return 0
            return int(takes.get(mined.tx_hash, takes.get("legacy", 0)))

        def expected_launch(_pool_id: str, tx: dict) -> tuple[int, str]:
            return self._expected_launch(pool_id, pool, ledger, tx)

        return PolicyContext(
            chain_id=config.chain_id,
            contracts=config.known_contracts(),
            pools=self.state["pools"],
            log_head=self.log.head["hash"],
            # Deadlines are checked on chain against block time, so the window is measured on that clock too.
            now=self.chain.latest_timestamp(),
            account_nonce=self.chain.nonce(address),
            gas_topup_max_wei=config.gas_topup_max_wei,
            gas_topup_pool_max_wei=config.gas_topup_pool_max_wei,
            max_tx_fee_wei=config.max_tx_fee_wei,
            max_fee_per_gas_wei=config.max_fee_per_gas_wei,
            launch_deadline_window_seconds=config.launch_deadline_window_seconds,
            refunds=self.state["refunds"],
            owed_deposit=owed_deposit,
            counted_take=counted_take,
            expected_launch=expected_launch,
            topped_up=lambda pool_address, nonce: books.topups(pool_address, except_nonce=nonce),
            fees_committed=lambda key_address, nonce: books.fees_committed(key_address, except_nonce=nonce),
            topup_fees=lambda pool_address, nonce: books.topup_fees(pool_address, except_nonce=nonce),
            fee_budget_min_wei=config.pool_fee_budget_min_wei,
            fee_budget_bps=config.pool_fee_budget_bps,
        )

    def _expected_launch(self, pool_id: str, pool: dict, ledger: dict, tx: dict) -> tuple[int, str]:
        """The raiseAmount and merkleRoot the books say this launch must carry; BooksRefused when it may not launch."""
        params, address = pool["params"], pool["address"]
        if ledger["phase"] == PHASE_REFUND_ALL:
            raise BooksRefused("pool_refunding", f"pool {pool_id} is being refunded in full: it can never launch")
        if self.books.launched(pool_id, address):
            raise BooksRefused("pool_launched", f"pool {pool_id} has launched already")
        verified = ledger["verified"]
        if not verified:
            raise BooksRefused(
                "ledger_incomplete", "no deposit list of this pool has been proven complete: submit it with a block"
            )
        block = verified["block"]
        _, books = self._books_at(pool_id, through=block)
        closes_at = int(params["closes_at"])
        if books.credited < int(params["hard_cap"]) and (not closes_at or verified["timestamp"] < closes_at):
            raise BooksRefused(
                "raise_not_final",
                f"block {block} is before the close and the hard cap is not reached: deposits may come",
            )
        if books.credited < int(params["soft_cap"]):
            raise BooksRefused(
                "soft_cap_missed", f"the credited total {books.credited} is below the soft cap {params['soft_cap']}"
            )
        if params["raise_asset"] != ZERO_ADDRESS:
            return books.credited, books.merkle_root
        # A native launch pays its gas out of the raise, and so do earlier fees that the gas top-ups did not cover:
        # what the address holds beyond that is owed back, or is the top-ups' (which pay refunds' gas). Earlier fees
        # are what the key's mined transactions paid, and the most an unmined one at a lower nonce may still pay.
        fees = self.books.fees_committed(address, except_nonce=tx["nonce"], below=tx["nonce"])
        uncovered = max(0, fees - self.books.topups(address, mined_only=True))
        raise_amount = books.credited - uncovered - tx["gas"] * tx["maxFeePerGas"]
        if raise_amount <= 0:
            raise BooksRefused("bad_amount", "the launch's gas budget is more than the credited total")
        return raise_amount, books.merkle_root

    def _commit_refunds(self, consumptions: dict, *, slot: str, tx_hash: str) -> None:
        """Record what each deposit pays back in this transaction (a replacement at the slot is recorded beside it)."""
        for deposit_key, consumption in consumptions.items():
            record = self.state["refunds"].setdefault(
                deposit_key, {"amount": str(consumption["amount"]), "consumed": {}}
            )
            record["consumed"].setdefault(slot, {})[tx_hash] = str(consumption["take"])

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
