"""`python -m enclave_signer verify-pool POOL_ID --rpc URL --site URL [--log FILE]`: check a pool from public data.

Nothing here is taken on the website's word. The inputs are a chain RPC of your choosing, the signer's transparency
log (its hash chain and signatures are checked first; the pool's address and registered parameters come from it, as
do the transactions the signer signed) and the site's list of the pool's deposits. The checks, printed one per line
with ✓ or ✗ and amounts as integers in the smallest unit:

1. each listed deposit is proven on chain (evidence.prove_deposits), and the site's figures for it are the chain's;
2. the list is complete at a confirmed block: what the address holds, plus what its key's own mined transactions sent
   and paid in fees, equals the proven deposits plus the gas top-ups the signer's gas key sent it (books.Books);
3. the crediting rules applied to the proven deposits: the credited total, each depositor's allocation and the Merkle
   root (books.credits, books.allocation), and the site's credited and owed-back parts agree with them;
4. if a launch the signer signed was mined and succeeded: its Launched event's raiseAmount (at most the credited
   total; for an ERC-20 raise exactly it), the Merkle root held by the ClaimVault it created, its depositor tokens,
   and that the log head it anchored on chain is in this log;
5. refunds: what the signer's refund transactions paid each recipient (Refunded events) against what each is owed,
   all of it after pool_refund_all, else the part the crediting rules owe back; nobody may be paid more.

Exit status: 0 when every check passes, 1 when any fails, 2 when an input cannot be read (a line says what to do).
docs/verify-pool.md explains the output.
"""

from __future__ import annotations

import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from eth_abi import decode
from eth_utils import function_signature_to_4byte_selector, keccak, to_checksum_address

from enclave_signer.books import Allocation, Books, BooksRefused, allocation, credits, slot_key
from enclave_signer.chain import ChainError, ChainReader
from enclave_signer.crediting import CreditDecision
from enclave_signer.evidence import Citation, Deposit, EvidenceRefused, parse_citation, prove_deposits
from enclave_signer.log import LogError, read_entries, verify_entries
from enclave_signer.params import ZERO_ADDRESS

HTTP_TIMEOUT_SECONDS = 30
DEPOSIT_PAGE_SIZE = 200  # the API's largest page
USER_AGENT = "enclave-signer-verify-pool"

# The Launcher's and the Refunder's events (docs/chain-interface.md, contracts/Launcher.sol's LaunchRecord), decoded
# here rather than imported: the signer's package depends on nothing of the web tier.
LAUNCH_RECORD_FIELDS = (
    ("pair", "address"),
    ("raiseAsset", "address"),
    ("raiseAmount", "uint256"),
    ("tokensToLiquidity", "uint256"),
    ("assetToLiquidity", "uint256"),
    ("liquidity", "uint256"),
    ("lpHolder", "address"),
    ("lpLockUntil", "uint64"),
    ("claimVault", "address"),
    ("depositorTokens", "uint256"),
    ("vestingWallet", "address"),
    ("agentTokens", "uint256"),
    ("tokensBurned", "uint256"),
    ("feeRecipient", "address"),
    ("fee", "uint256"),
    ("treasury", "address"),
    ("treasuryAmount", "uint256"),
    ("donationSkimmed", "uint256"),
    ("oracleAnswer", "int256"),
    ("logHead", "bytes32"),
)
LAUNCH_RECORD_TYPE = "(" + ",".join(abi_type for _, abi_type in LAUNCH_RECORD_FIELDS) + ")"
LAUNCHED_TOPIC = "0x" + keccak(text=f"Launched(address,bytes32,address,{LAUNCH_RECORD_TYPE})").hex()
REFUNDED_TOPIC = "0x" + keccak(text="Refunded(address,address,address,uint256,bool)").hex()
MERKLE_ROOT_SELECTOR = "0x" + function_signature_to_4byte_selector("merkleRoot()").hex()
REFUND_KINDS = frozenset({"refundETH", "refundERC20"})
ZERO_ROOT = "0x" + "00" * 32


class Unusable(Exception):
    """An input cannot be read or does not fit (exit 2); the message says what to do."""


# -- reading the inputs ---------------------------------------------------------------------------------------------


def fetch(url: str, *, if_missing: str = "check --site") -> bytes:
    """GET `url` (the site's URL was checked to be http(s)); `if_missing` says what to do on a 404."""
    headers = {"Accept": "application/json", "User-Agent": USER_AGENT}
    request = urllib.request.Request(url, headers=headers)  # noqa: S310 - http(s) checked
    try:
        with urllib.request.urlopen(request, timeout=HTTP_TIMEOUT_SECONDS) as answer:  # noqa: S310 - http(s) checked
            return answer.read()
    except urllib.error.HTTPError as error:
        advice = if_missing if error.code == 404 else "check --site, or try again later"
        raise Unusable(f"{url} answered HTTP {error.code}: {advice}") from error
    except (OSError, ValueError) as error:
        raise Unusable(f"cannot reach {url} ({error}): check --site") from error


def fetch_log(site: str) -> list[dict]:
    """The signer's whole log as the site serves it (JSON lines)."""
    url = f"{site}/transparency/log.jsonl"
    try:
        return [json.loads(line) for line in fetch(url).decode().splitlines() if line.strip()]
    except ValueError as error:
        raise Unusable(
            f"{url} is not a JSON-lines log ({error}): check --site, or download it and pass --log"
        ) from error


def fetch_deposits(site: str, pool_id: int) -> list[dict]:
    """Every deposit the site lists for the pool, all pages (by offset: no link from the site is followed)."""
    deposits: list[dict] = []
    while True:
        query = urllib.parse.urlencode({"limit": DEPOSIT_PAGE_SIZE, "offset": len(deposits)})
        url = f"{site}/api/v1/pools/{pool_id}/deposits/?{query}"
        try:
            page = json.loads(fetch(url, if_missing=f"the site has no public pool {pool_id}; check the id and --site"))
            results, count = page["results"], int(page["count"])
        except (ValueError, KeyError, TypeError) as error:
            raise Unusable(f"{url} is not a page of deposits ({error}): check --site") from error
        deposits.extend(results)
        if not results or len(deposits) >= count:
            return deposits


@dataclass
class SignedTx:
    """A `signed` log entry: a transaction the signer signed."""

    seq: int
    signer: str
    kind: str
    to: str
    value: int
    nonce: int
    tx_hash: str


@dataclass
class PoolLog:
    """What the signer's log says about one pool."""

    log_key: str
    entries: int
    head: str
    gas_address: str
    address: str = ""
    chain_id: int = 0
    params: dict = field(default_factory=dict)
    registered_at: int = -1
    changes: list[str] = field(default_factory=list)
    refund_all_at: int | None = None
    signed: list[SignedTx] = field(default_factory=list)  # by the pool's key or the gas key
    hashes: dict[str, int] = field(default_factory=dict)  # entry hash -> seq

    @property
    def native(self) -> bool:
        return self.params["raise_asset"] == ZERO_ADDRESS

    def signed_by(self, address: str, kinds: frozenset[str] | set[str]) -> list[SignedTx]:
        return [tx for tx in self.signed if tx.signer == address and tx.kind in kinds]


def read_pool_log(entries: list[dict], *, pool_id: int) -> PoolLog:
    """Check the log as verify-log does (LogError if broken), then collect the pool's registration and transactions."""
    check = verify_entries(entries)
    first = entries[0]["payload"] if entries else {}
    facts = PoolLog(
        log_key=check.signer or "",
        entries=check.count,
        head=check.head["hash"],
        gas_address=(first.get("gas_key") or {}).get("address", ""),
    )
    for entry in entries:
        try:
            _collect(facts, entry, pool_id=str(pool_id))
        except (KeyError, TypeError, ValueError, AttributeError) as error:
            raise LogError(
                f"entry {entry['seq']} ({entry['kind']}) is not the shape the signer writes: {error!r}"
            ) from error
    facts.signed = [tx for tx in facts.signed if facts.address and tx.signer in (facts.address, facts.gas_address)]
    return facts


def _collect(facts: PoolLog, entry: dict, *, pool_id: str) -> None:
    kind, payload, seq = entry["kind"], entry["payload"], entry["seq"]
    facts.hashes[entry["hash"]] = seq
    if kind == "signed":
        intent = payload["intent"]
        facts.signed.append(
            SignedTx(
                seq=seq,
                signer=intent["signer"]["address"],
                kind=intent["kind"],
                to=intent["to"],
                value=int(intent["value"]),
                nonce=int(intent["nonce"]),
                tx_hash=payload["tx_hash"],
            )
        )
    elif payload.get("pool_id") != pool_id:
        return
    elif kind == "pool_registered":
        facts.address, facts.params, facts.registered_at = payload["address"], dict(payload["params"]), seq
        facts.chain_id = int(payload["chain_id"])
    elif kind == "pool_params_changed":
        facts.params = dict(payload["new"])
        facts.changes.append(f"parameters changed at entry #{seq} (before any deposit)")
    elif kind == "pool_closed_early":
        facts.params["closes_at"] = payload["closes_at"]
        facts.changes.append(f"closed early at entry #{seq}: closes_at {payload['closes_at']}")
    elif kind == "pool_refund_all":
        facts.refund_all_at = seq


# -- the report -----------------------------------------------------------------------------------------------------


class Report:
    """Lines out, problems counted."""

    def __init__(self, out: TextIO) -> None:
        self.out, self.problems = out, []

    def line(self, text: str = "") -> None:
        print(text, file=self.out)

    def ok(self, text: str) -> None:
        self.line(f"✓ {text}")

    def fail(self, text: str) -> None:
        self.line(f"✗ {text}")
        self.problems.append(text)

    def check(self, passed: bool, text: str, failed_text: str | None = None) -> None:
        if passed:
            self.ok(text)
        else:
            self.fail(failed_text or text)

    def note(self, text: str) -> None:
        self.line(f"  {text}")

    def section(self, title: str) -> None:
        self.line()
        self.line(title)


def describe(key: str) -> str:
    """A deposit key ("chain:tx:log:3", "chain:tx:trace:0.1") as people read it."""
    _, tx_hash, kind, where = key.split(":", 3)
    if kind == "log":
        return f"{tx_hash} log {where}"
    return f"{tx_hash} call {where}" if where else tx_hash


# -- the checks -----------------------------------------------------------------------------------------------------


def prove_listed(
    report: Report, chain: ChainReader, facts: PoolLog, listed: list[dict], *, chain_id: int, block: int
) -> dict[str, Deposit]:
    """Prove each listed deposit on chain; the proven ones, by key (each once)."""
    citations: dict[str, Citation] = {}
    site_of: dict[str, dict] = {}
    for item in listed:
        try:
            citation = parse_citation(item.get("citation") if isinstance(item, dict) else None)
        except EvidenceRefused as error:
            report.fail(f"a listed deposit has no usable citation: {error.reason}")
            continue
        key = citation.key(chain_id=chain_id)
        if key in citations:
            report.fail(f"{describe(key)} is listed twice")
            continue
        citations[key], site_of[key] = citation, item

    def prove(batch: list[Citation]) -> list[Deposit]:
        return prove_deposits(
            chain,
            chain_id=chain_id,
            citations=batch,
            pool_address=facts.address,
            raise_asset=facts.params["raise_asset"],
            min_confirmations=1,
            not_from=frozenset({facts.gas_address.lower()}),
        )

    try:
        results: dict[str, Deposit | EvidenceRefused] = {d.key: d for d in prove(list(citations.values()))}
    except EvidenceRefused:  # one at a time, to name every one that fails
        results = {}
        for key, citation in citations.items():
            try:
                results[key] = prove([citation])[0]
            except EvidenceRefused as error:
                results[key] = error
    proven = {}
    for key, result in results.items():
        if isinstance(result, EvidenceRefused):
            report.fail(f"{describe(key)}: not a deposit to this pool ({result.code}: {result.reason})")
            continue
        site = site_of[key]
        said = (str(site.get("sender", "")).lower(), str(site.get("amount")), site.get("block_number"))
        if said != (result.sender.lower(), str(result.amount), result.block):
            report.fail(
                f"{describe(key)}: the site says {said[1]} from {site.get('sender')} at block {said[2]}, "
                f"the chain {result.amount} from {result.sender} at block {result.block}"
            )
            continue
        after = f", after block {block}: not counted yet" if result.block > block else ""
        report.ok(f"{describe(key)}: {result.amount} from {result.sender} at block {result.block}{after}")
        proven[key] = result
    return proven


def check_complete(report: Report, books: Books, facts: PoolLog, ledger: dict, *, block: int):
    """The address's balance and its key's own outflows against the proven deposits and the gas top-ups."""
    address, asset = facts.address, facts.params["raise_asset"]
    try:
        sheet = books.balance_sheet(address=address, asset=asset, ledger=ledger, block=block)
    except BooksRefused as error:
        report.fail(f"the pool key's transactions: {error.reason}")
        return
    for slot, mined in sorted(books.state["mined"].items(), key=lambda item: item[1]["block"]):
        signer, _, nonce = slot.partition("/")
        info = books.state["slots"][slot].get(mined["tx_hash"], {})
        if mined["block"] > block:
            continue
        if signer == address:
            report.note(
                f"pool key nonce {nonce}: {info.get('kind')} {mined['tx_hash']} at block {mined['block']}, "
                f"status {mined['status']}, sent {mined['value']}, fee {mined['fee']}"
            )
        elif info.get("to") == address and mined["status"] == 1:
            report.note(
                f"gas key nonce {nonce}: gas top-up {mined['tx_hash']} at block {mined['block']}, {mined['value']}"
            )
    received = f"proven deposits through block {block}: {sheet.deposits} ({sheet.deposit_count})"
    if sheet.native:
        report.note(
            f"the address holds {sheet.holds}; its key's mined transactions sent {sheet.sent} and paid {sheet.fees} "
            "in fees"
        )
        report.note(f"{received}; gas top-ups: {sheet.topups}")
    else:
        report.note(
            f"the address holds {sheet.holds} of {asset}; its key's mined transactions transferred out {sheet.sent}"
        )
        report.note(received)
    if problem := sheet.difference(listed="the deposit list"):
        report.fail(f"at block {block} {problem}")
    else:
        what = "deposits + gas top-ups" if sheet.native else "deposits"
        report.ok(f"complete at block {block}: holds + paid out = {sheet.holds + sheet.paid_out} = {what}")


def check_crediting(
    report: Report, facts: PoolLog, ledger: dict, listed: list[dict], *, chain_id: int, block: int
) -> tuple[list[CreditDecision], Allocation]:
    decisions = credits(facts.params, ledger, through=block)
    books = allocation(facts.params, decisions)
    received = sum(d.credited + d.refund for d in decisions)
    report.note(f"received {received}: credited {books.credited}, owed back {received - books.credited}")
    report.note(f"soft cap {facts.params['soft_cap']}, hard cap {facts.params['hard_cap']}")
    if facts.refund_all_at is None:
        for address, tokens in sorted(books.tokens.items()):
            report.note(f"{address}: credited {books.contributions[address.lower()]}, allocated {tokens} tokens")
        report.note(f"Merkle root of the allocation: {books.merkle_root}")
    else:
        report.note("no allocation: the pool is refunded in full, it can never launch")
    by_key = {d.key: d for d in decisions}
    compared = []  # (key, shown, the rules' split, the refunded-in-full split)
    for item in listed:
        try:
            key = parse_citation(item.get("citation")).key(chain_id=chain_id)
        except (EvidenceRefused, AttributeError):
            continue
        decision = by_key.get(key)
        if decision is None or item.get("status") != "confirmed":
            continue
        shown = (str(item.get("credited_amount")), str(item.get("refund_amount")))
        rules = (str(decision.credited), str(decision.refund))
        compared.append((key, shown, rules, ("0", str(decision.credited + decision.refund))))
    # Once the pool is refunded in full nothing stays credited: the site shows every deposit owed back whole. The site
    # does so from the failure (or cancel) on; the signer enters its refund-all phase with the first refund batch, so
    # before that entry the site may show every deposit owed back in full, all of them or none.
    whole = facts.refund_all_at is not None
    shown_in_full = bool(compared) and all(shown == in_full for _, shown, _, in_full in compared)
    if not whole and shown_in_full and any(shown != rules for _, shown, rules, _ in compared):
        whole = True
        report.note(
            "the site shows every deposit owed back in full (the pool failed or was cancelled); the signer's log "
            "has no pool_refund_all yet: it comes with the pool's first refund batch"
        )
    disagree = 0
    for key, shown, rules, in_full in compared:
        expected = in_full if whole else rules
        if shown != expected:
            disagree += 1
            how = "refunded in full, the rules give" if whole else "the crediting rules give"
            report.fail(
                f"{describe(key)}: the site shows credited {shown[0]} and owed back {shown[1]}, "
                f"{how} {expected[0]} and {expected[1]}"
            )
    if not disagree:
        note = ", all owed back since the pool is refunded in full" if whole else ""
        report.ok(f"the site's credited and owed-back parts are the crediting rules' (confirmed deposits{note})")
    return decisions, books


def receipts_of(chain: ChainReader, txs: list[SignedTx], *, block: int) -> list[tuple[SignedTx, dict]]:
    """The signed transactions mined by `block`, with their receipts, in log order."""
    receipts = chain.batch([("eth_getTransactionReceipt", [tx.tx_hash]) for tx in txs]) if txs else []
    return [
        (tx, receipt)
        for tx, receipt in zip(txs, receipts, strict=True)
        if receipt and int(receipt["blockNumber"], 16) <= block
    ]


def events(receipt: dict, *, topic: str, emitter: str, pool: str) -> list[dict]:
    """The receipt's logs with this topic, from `emitter`, with the pool address as the first indexed argument."""
    return [
        log
        for log in receipt.get("logs", [])
        if len(log.get("topics", [])) >= 3
        and log["topics"][0].lower() == topic
        and log["address"].lower() == emitter.lower()
        and "0x" + log["topics"][1][-40:].lower() == pool.lower()
    ]


def check_launch(
    report: Report, chain: ChainReader, facts: PoolLog, books: Allocation, *, pool_id: int, block: int
) -> None:
    mined = receipts_of(chain, facts.signed_by(facts.address, {"launch"}), block=block)
    for tx, receipt in mined:
        if int(receipt["status"], 16) != 1:
            report.note(f"launch attempt {tx.tx_hash} (entry #{tx.seq}) reverted; its fee came out of the address")
    launched = [(tx, receipt) for tx, receipt in mined if int(receipt["status"], 16) == 1]
    if not launched:
        report.note(f"not launched by block {block}")
        return
    tx, receipt = launched[0]
    report.ok(f"launched by {tx.tx_hash} at block {int(receipt['blockNumber'], 16)} (signed at entry #{tx.seq})")
    logs = events(receipt, topic=LAUNCHED_TOPIC, emitter=tx.to, pool=facts.address)
    if not logs or logs[0]["topics"][2].lower() != "0x" + int(pool_id).to_bytes(32, "big").hex():
        report.fail(f"the launch transaction has no Launched event of pool {pool_id} from the Launcher {tx.to}")
        return
    (values,) = decode([LAUNCH_RECORD_TYPE], bytes.fromhex(logs[0]["data"][2:]))
    record = dict(zip((name for name, _ in LAUNCH_RECORD_FIELDS), values, strict=True))
    raise_amount = record["raiseAmount"]
    if facts.native:
        report.note(
            f"credited {books.credited}, raiseAmount {raise_amount}, difference {books.credited - raise_amount} "
            "(held back for the launch's gas, and for earlier fees the gas top-ups did not cover)"
        )
        report.check(
            raise_amount <= books.credited,
            f"raiseAmount {raise_amount} <= credited {books.credited}",
            f"raiseAmount {raise_amount} is more than the credited {books.credited}",
        )
    else:
        report.check(
            raise_amount == books.credited,
            f"raiseAmount {raise_amount} == credited {books.credited}",
            f"raiseAmount {raise_amount} is not the credited {books.credited}",
        )
    vault = to_checksum_address(record["claimVault"])
    root = ZERO_ROOT  # no ClaimVault: the depositors' share is 0
    if vault != ZERO_ADDRESS:
        answer = chain.call("eth_call", [{"to": vault, "data": MERKLE_ROOT_SELECTOR}, hex(block)])
        root = answer.lower() if isinstance(answer, str) and len(answer) == 66 else f"no root ({answer!r})"
    report.check(
        root == books.merkle_root,
        f"merkleRoot of the ClaimVault {vault} is the computed root {root}",
        f"merkleRoot of the ClaimVault {vault} is {root}, the computed root is {books.merkle_root}",
    )
    allocated = sum(books.tokens.values())
    report.check(
        record["depositorTokens"] == allocated,
        f"depositorTokens {record['depositorTokens']} == the allocation's total",
        f"depositorTokens {record['depositorTokens']}, the allocation's total is {allocated}",
    )
    head = "0x" + record["logHead"].hex()
    anchored = facts.hashes.get(head)
    report.check(
        anchored is not None and anchored < tx.seq,
        f"the logHead it anchored on chain is entry #{anchored} of this log",
        f"the logHead it anchored on chain, {head}, is not an entry of this log before the launch",
    )


def check_refunds(
    report: Report,
    chain: ChainReader,
    facts: PoolLog,
    ledger: dict,
    decisions: list[CreditDecision],
    *,
    block: int,
) -> None:
    owed: dict[str, int] = defaultdict(int)
    if facts.refund_all_at is not None:
        report.note(f"the pool is refunded in full (pool_refund_all at entry #{facts.refund_all_at}): all is owed back")
        for record in ledger["deposits"].values():
            if record["block"] <= block:
                owed[record["sender"].lower()] += int(record["amount"])
    else:
        for decision in decisions:
            owed[decision.sender.lower()] += decision.refund
    paid: dict[str, int] = defaultdict(int)
    held: dict[str, int] = defaultdict(int)
    for tx, receipt in receipts_of(chain, facts.signed_by(facts.address, REFUND_KINDS), block=block):
        if int(receipt["status"], 16) != 1:
            continue
        for log in events(receipt, topic=REFUNDED_TOPIC, emitter=tx.to, pool=facts.address):
            token, amount, was_paid = decode(["address", "uint256", "bool"], bytes.fromhex(log["data"][2:]))
            recipient = "0x" + log["topics"][2][-40:].lower()
            if token.lower() != facts.params["raise_asset"].lower():
                report.fail(f"{tx.tx_hash} refunded {amount} of {token}, not the raise asset, to {recipient}")
                continue
            paid[recipient] += amount
            held[recipient] += 0 if was_paid else amount
    outstanding = 0
    for recipient in sorted(set(owed) | set(paid)):
        owes, got = owed.get(recipient, 0), paid.get(recipient, 0)
        if not owes and not got:
            continue
        shown = to_checksum_address(recipient)
        kept = f" ({held[recipient]} held by the Refunder for them to withdraw)" if held[recipient] else ""
        if got > owes:
            report.fail(f"{shown}: owed {owes}, refunded {got}{kept}: paid {got - owes} more than owed")
        else:
            report.ok(
                f"{shown}: owed {owes}, refunded {got}{kept}" + (f", {owes - got} still owed" if got < owes else "")
            )
            outstanding += owes - got
    if not any(owed.values()) and not paid:
        report.note("nothing is owed back, and nothing was refunded")
    if outstanding:
        holds = (
            chain.balance(facts.address, block)
            if facts.native
            else chain.erc20_balance(facts.params["raise_asset"], facts.address, block)
        )
        report.check(
            holds >= outstanding,
            f"the address holds {holds}, enough for the {outstanding} still owed back",
            f"the address holds {holds}, less than the {outstanding} still owed back",
        )


# -- the command ----------------------------------------------------------------------------------------------------


def verify_pool(
    pool_id: int,
    *,
    rpc: str,
    site: str,
    log: Path | None = None,
    block: int | None = None,
    out: TextIO | None = None,
) -> int:
    """Run every check, print the report; 0 when all pass, 1 when any fails. Raises Unusable for unusable inputs."""
    out = out or sys.stdout
    site = site.rstrip("/")
    if not site.startswith(("http://", "https://")):
        raise Unusable(f"--site must be an http(s) URL, got {site!r}")
    try:
        chain = ChainReader(url=rpc)
    except ValueError as error:
        raise Unusable(f"--rpc must be an http(s) URL, got {rpc!r}") from error
    if log is not None and not log.is_file():
        raise Unusable(f"no log file at {log}: download {site}/transparency/log.jsonl, or leave out --log")
    try:
        entries = read_entries(log) if log is not None else fetch_log(site)
    except LogError as error:
        raise Unusable(f"{log}: {error}: pass the log as {site}/transparency/log.jsonl serves it") from error
    listed = fetch_deposits(site, pool_id)
    try:
        return _run_checks(Report(out), chain, entries, listed, pool_id=pool_id, block=block)
    except ChainError as error:
        raise Unusable(f"the RPC failed ({error}): try again, or pass another --rpc") from error


def _run_checks(
    report: Report, chain: ChainReader, entries: list[dict], listed: list[dict], *, pool_id: int, block: int | None
) -> int:
    report.line(f"verify-pool {pool_id}")
    try:
        facts = read_pool_log(entries, pool_id=pool_id)
    except LogError as error:
        report.fail(f"the signer's log does not verify: {error}")
        return _verdict(report)
    report.ok(
        f"the signer's log: {facts.entries} entries, an unbroken hash chain, each signed by the log key "
        f"{facts.log_key} (head {facts.head})"
    )
    if not facts.address:
        report.fail(f"pool {pool_id} is not registered in the signer's log")
        return _verdict(report)
    chain_id = facts.chain_id
    asset = "ETH" if facts.native else facts.params["raise_asset"]
    report.ok(f"pool {pool_id} registered at entry #{facts.registered_at}: address {facts.address}, raise {asset}")
    for change in facts.changes:
        report.note(change)
    if not facts.gas_address:
        report.fail("the log does not name the signer's gas key (no signer_initialized entry first)")
    served = chain.chain_id()
    if served != chain_id:
        raise Unusable(f"the RPC serves chain {served}, pool {pool_id} is on chain {chain_id}: pass an RPC of it")
    head = chain.block_number()
    confirmations = max(1, int(facts.params["confirmations"]))
    if block is None:
        block = head - confirmations + 1
    elif block > head:
        raise Unusable(f"--block {block} is past the chain's head {head}")
    report.note(f"chain {chain_id}, head {head}: checking as of block {block} ({confirmations} confirmations)")

    report.section(f"deposits ({len(listed)} listed by the site)")
    proven = prove_listed(report, chain, facts, listed, chain_id=chain_id, block=block)
    ledger = {"deposits": {key: deposit.record() for key, deposit in proven.items()}}
    books = Books(state=signed_state(facts), chain=chain, gas_address=facts.gas_address)

    report.section(f"completeness at block {block}")
    check_complete(report, books, facts, ledger, block=block)

    report.section("crediting")
    decisions, allocated = check_crediting(report, facts, ledger, listed, chain_id=chain_id, block=block)

    report.section("launch")
    check_launch(report, chain, facts, allocated, pool_id=pool_id, block=block)

    report.section("refunds")
    check_refunds(report, chain, facts, ledger, decisions, block=block)
    return _verdict(report)


def signed_state(facts: PoolLog) -> dict:
    """The books' record of signed transactions (store.py's `slots`), rebuilt from the log's `signed` entries."""
    slots: dict[str, dict] = {}
    for tx in facts.signed:
        info = {"kind": tx.kind, "to": tx.to, "value": str(tx.value), "max_fee": "0", "pool": ""}
        slots.setdefault(slot_key(tx.signer, tx.nonce), {})[tx.tx_hash] = info
    return {"slots": slots, "mined": {}}


def _verdict(report: Report) -> int:
    report.line()
    if not report.problems:
        report.ok("every wei accounted for")
        return 0
    report.line(f"✗ {len(report.problems)} problem(s):")
    for problem in report.problems:
        report.line(f"  - {problem}")
    return 1


def main(args) -> int:
    """The CLI's verify-pool subcommand: exit 2 with one line on stderr when an input cannot be used."""
    try:
        return verify_pool(args.pool_id, rpc=args.rpc, site=args.site, log=args.log, block=args.block)
    except Unusable as error:
        print(f"verify-pool: {error}", file=sys.stderr)
        return 2
