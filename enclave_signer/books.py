"""The signer's own books: what each pool received (its ledger of proven deposits), what the signer let it spend, and
what the chain says happened to every transaction the signer signed.

Nothing here is taken from the caller. Deposits are proven on chain (evidence.py); a ledger is declared complete at a
block only when the address's balance there, plus everything the signer's own mined transactions took out of it
(value and fees), equals the proven deposits plus the gas top-ups the signer sent it. The crediting rules
(crediting.py), the allocation (allocation.py) and the Merkle tree (merkle.py) are then applied to that ledger, so the
signer knows the credited total, every allocation and the root a launch must carry, and what each deposit is owed.

Sealed state used here (store.py):
  ledgers  {pool_id: {deposits: {key: record}, verified: {block, timestamp} | null, phase: "open" | "refund_all"}}
  slots    {"<address>/<nonce>": {tx_hash: {kind, to, value, max_fee, pool}}}   every transaction signed
  mined    {"<address>/<nonce>": {tx_hash, block, status, fee, value, token_out: {token: amount}}}   once mined
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from enclave_signer.allocation import allocate_pro_rata, split_supply
from enclave_signer.calls import ERC20_TRANSFER_TOPIC
from enclave_signer.chain import ChainReader
from enclave_signer.crediting import CreditDecision, DepositFact, contributions, decide_credits
from enclave_signer.merkle import AllocationTree
from enclave_signer.params import ZERO_ADDRESS, credit_rules

PHASE_OPEN, PHASE_REFUND_ALL = "open", "refund_all"


class BooksRefused(Exception):
    """The books do not allow it; `code` is stable for callers."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code, self.reason = code, reason


@dataclass(frozen=True)
class Mined:
    """The transaction the chain mined at one of the signer's (address, nonce) slots."""

    tx_hash: str
    block: int
    status: int
    fee: int  # gasUsed * effectiveGasPrice, plus the OP-stack L1 data fee (the receipt's l1Fee) where there is one
    value: int  # what left the address besides the fee (0 when it reverted)
    token_out: dict  # {token (lower-case): amount} of ERC-20 Transfers out of the address (empty when it reverted)

    def record(self) -> dict:
        return {
            "tx_hash": self.tx_hash,
            "block": self.block,
            "status": self.status,
            "fee": str(self.fee),
            "value": str(self.value),
            "token_out": {token: str(amount) for token, amount in self.token_out.items()},
        }

    @classmethod
    def of(cls, record: dict) -> Mined:
        return cls(
            tx_hash=record["tx_hash"],
            block=record["block"],
            status=record["status"],
            fee=int(record["fee"]),
            value=int(record["value"]),
            token_out={token: int(amount) for token, amount in record["token_out"].items()},
        )


@dataclass(frozen=True)
class Allocation:
    """What the ledger says a launch must carry."""

    credited: int
    contributions: dict[str, int]
    tokens: dict[str, int]
    merkle_root: str


def new_ledger() -> dict:
    return {"deposits": {}, "verified": None, "phase": PHASE_OPEN}


def slot_key(address: str, nonce: int) -> str:
    return f"{address}/{nonce}"


def facts(ledger: dict, *, through: int) -> list[DepositFact]:
    """The ledger's deposits up to block `through`, as the crediting function takes them."""
    return [
        DepositFact(
            key=key,
            sender=record["sender"],
            amount=int(record["amount"]),
            at=record["at"],
            block=record["block"],
            tx_index=record["tx_index"],
            position=tuple(record["position"]),
        )
        for key, record in ledger["deposits"].items()
        if record["block"] <= through
    ]


def credits(params: dict, ledger: dict, *, through: int) -> list[CreditDecision]:
    return decide_credits(rules=credit_rules(params), deposits=facts(ledger, through=through))


def allocation(params: dict, decisions: list[CreditDecision]) -> Allocation:
    """Each depositor's tokens, pro rata to the credited contribution, and the Merkle root (OpenZeppelin format)."""
    credited = contributions(decisions)
    supply = split_supply(
        total_supply=int(params["total_supply"]),
        liquidity_bps=int(params["liquidity_supply_bps"]),
        depositor_bps=int(params["depositor_supply_bps"]),
    )
    tokens = allocate_pro_rata(total=supply.depositors, contributions=credited) if credited else {}
    root = AllocationTree.build(tokens).root_hex if tokens else "0x" + "00" * 32
    return Allocation(credited=sum(credited.values()), contributions=credited, tokens=tokens, merkle_root=root)


def balance_difference(*, holds: int, paid_out: int, received: int, listed: str = "the ledger") -> str:
    """ "" when what the address holds plus what left it equals what it received; else which side is short, and by how
    much (a deposit missing from `listed`, or one counted that the address never got)."""
    difference = holds + paid_out - received
    if difference > 0:
        return f"the address received {difference} more than {listed} accounts for: a deposit is missing from it"
    if difference < 0:
        return f"{listed} accounts for {-difference} more than the address received"
    return ""


@dataclass(frozen=True)
class BalanceSheet:
    """A pool address at a block: what it holds of its raise asset, what its key's mined transactions took out of it,
    and what it received (the ledger's deposits, and for ETH the gas top-ups)."""

    block: int
    holds: int
    sent: int  # native value, or raise-asset transfers, out of the address
    fees: int  # native fees its key paid (taken out of it only for an ETH raise)
    deposits: int
    deposit_count: int
    topups: int  # for an ETH raise; 0 for an ERC-20 one
    native: bool

    @property
    def paid_out(self) -> int:
        return self.sent + self.fees if self.native else self.sent

    def difference(self, *, listed: str = "the ledger") -> str:
        return balance_difference(
            holds=self.holds, paid_out=self.paid_out, received=self.deposits + self.topups, listed=listed
        )


class Books:
    """The books over the sealed state and a chain reader; the caller holds the signer's lock."""

    def __init__(self, *, state: dict, chain: ChainReader, gas_address: str) -> None:
        self.state, self.chain, self.gas_address = state, chain, gas_address
        state.setdefault("ledgers", {})
        state.setdefault("slots", {})
        state.setdefault("mined", {})

    def ledger(self, pool_id: str) -> dict:
        return self.state["ledgers"].setdefault(pool_id, new_ledger())

    # -- what was signed, and what was mined --------------------------------------------------------------------

    def note_signed(self, *, address: str, nonce: int, tx_hash: str, info: dict) -> None:
        self.state["slots"].setdefault(slot_key(address, nonce), {})[tx_hash] = info

    def mined(self, address: str, nonce: int, *, account_nonce: int | None = None) -> Mined | None:
        """The transaction mined at this slot, or None while the nonce is unused (cached once found)."""
        slot = slot_key(address, nonce)
        cached = self.state["mined"].get(slot)
        if cached:
            return Mined.of(cached)
        if nonce >= (self.chain.nonce(address) if account_nonce is None else account_nonce):
            return None
        signed = self.state["slots"].get(slot, {})
        for tx_hash, info in signed.items():
            receipt = self.chain.receipt(tx_hash)
            if not receipt:
                continue
            status = int(receipt["status"], 16)
            token_out: dict[str, int] = {}
            if status == 1:
                for log in receipt.get("logs", []):
                    topics = log.get("topics", [])
                    sent = len(topics) == 3 and topics[0].lower() == ERC20_TRANSFER_TOPIC
                    if sent and "0x" + topics[1][-40:].lower() == address.lower():
                        token = log["address"].lower()
                        token_out[token] = token_out.get(token, 0) + int(log["data"], 16)
            record = Mined(
                tx_hash=tx_hash,
                block=int(receipt["blockNumber"], 16),
                status=status,
                fee=int(receipt["gasUsed"], 16) * int(receipt["effectiveGasPrice"], 16)
                + int(receipt.get("l1Fee") or "0x0", 16),
                value=int(info["value"]) if status == 1 else 0,
                token_out=token_out,
            )
            self.state["mined"][slot] = record.record()
            return record
        raise BooksRefused(
            "books_broken", f"nonce {nonce} of {address} is used, but by no transaction this signer signed"
        )

    def slots_of(self, address: str) -> list[int]:
        prefix = address + "/"
        return sorted(int(slot[len(prefix) :]) for slot in self.state["slots"] if slot.startswith(prefix))

    def _outcomes(
        self, address: str, *, keep: Callable[[dict], bool] | None = None, except_nonce: int | None = None
    ) -> Iterator[tuple[int, dict, Mined | None]]:
        """For each nonce (but `except_nonce`) at which the signer signed for `address` a transaction that `keep`
        keeps: (nonce, {tx_hash: info} of those it keeps, the transaction mined there or None while it is open)."""
        account_nonce = self.chain.nonce(address)
        for nonce in self.slots_of(address):
            signed = self.state["slots"][slot_key(address, nonce)]
            if keep is not None:
                signed = {tx_hash: info for tx_hash, info in signed.items() if keep(info)}
            if signed and nonce != except_nonce:
                yield nonce, signed, self.mined(address, nonce, account_nonce=account_nonce)

    def _topup_outcomes(self, pool_address: str, *, except_nonce: int | None):
        def to_pool(info: dict) -> bool:
            return info["to"].lower() == pool_address.lower()

        return self._outcomes(self.gas_address, keep=to_pool, except_nonce=except_nonce)

    def fees_committed(self, address: str, *, except_nonce: int, below: int | None = None) -> int:
        """Fees the address has paid (mined slots) or may still pay (the costliest signed tx of an open slot); with
        `below`, only at nonces below it."""
        return sum(
            mined.fee if mined else max(int(info["max_fee"]) for info in signed.values())
            for nonce, signed, mined in self._outcomes(address, except_nonce=except_nonce)
            if below is None or nonce < below
        )

    def topups(
        self,
        pool_address: str,
        *,
        except_nonce: int | None = None,
        through: int | None = None,
        mined_only: bool = False,
    ) -> int:
        """Gas top-ups to `pool_address`: every one signed at an open nonce counts; at a mined one, only the mined one
        (against the cap). With `mined_only`, only those mined (what the address really got); with `through`, only
        those mined at or before that block (the completeness check).
        """
        mined_only = mined_only or through is not None
        total = 0
        for _, signed, mined in self._topup_outcomes(pool_address, except_nonce=except_nonce):
            if mined is None:
                total += 0 if mined_only else sum(int(info["value"]) for info in signed.values())
            elif mined.tx_hash in signed and mined.status == 1 and (through is None or mined.block <= through):
                total += int(signed[mined.tx_hash]["value"])
        return total

    def topup_fees(self, pool_address: str, *, except_nonce: int) -> int:
        """Fees the gas key paid for top-ups to `pool_address` (mined), or may still pay (the costliest one signed at
        each open nonce)."""
        return sum(
            max(int(info["max_fee"]) for info in signed.values()) if mined is None
            else mined.fee if mined.tx_hash in signed else 0
            for _, signed, mined in self._topup_outcomes(pool_address, except_nonce=except_nonce)
        )  # fmt: skip

    def launched(self, pool_id: str, address: str) -> bool:
        """A launch the signer signed for this pool was mined and succeeded."""
        launches = self._outcomes(address, keep=lambda info: info["kind"] == "launch")
        return any(mined is not None and mined.status == 1 and mined.tx_hash in signed for _, signed, mined in launches)

    def launch_in_flight(self, address: str) -> bool:
        """A launch signed at a nonce not used yet, whose deadline has not passed: it could still be mined and succeed.
        (Past its deadline the Launcher reverts it, so it cannot launch any more.)"""
        account_nonce, now = self.chain.nonce(address), self.chain.latest_timestamp()
        return any(
            nonce >= account_nonce
            and any(
                i["kind"] == "launch" and int(i.get("deadline", 2**256)) >= now
                for i in self.state["slots"][slot_key(address, nonce)].values()
            )
            for nonce in self.slots_of(address)
        )

    # -- completeness -------------------------------------------------------------------------------------------

    def spent_through(self, address: str, *, block: int) -> tuple[int, int, dict]:
        """(value, fees, token_out) of the address's transactions mined at or before `block`."""
        nonce_then = self.chain.nonce(address, block)
        value = fees = 0
        tokens: dict[str, int] = {}
        for nonce in range(nonce_then):
            mined = self.mined(address, nonce, account_nonce=nonce_then)
            if mined is None or mined.block > block:
                raise BooksRefused("books_broken", f"nonce {nonce} of {address} was used by block {block}, not found")
            value, fees = value + mined.value, fees + mined.fee
            for token, amount in mined.token_out.items():
                tokens[token] = tokens.get(token, 0) + amount
        return value, fees, tokens

    def balance_sheet(self, *, address: str, asset: str, ledger: dict, block: int) -> BalanceSheet:
        """The address's balance sheet at `block` (BooksRefused books_broken if its key's transactions are not all
        the signer's)."""
        deposits = [int(r["amount"]) for r in ledger["deposits"].values() if r["block"] <= block]
        value, fees, tokens = self.spent_through(address, block=block)
        native = asset == ZERO_ADDRESS
        return BalanceSheet(
            block=block,
            holds=self.chain.balance(address, block) if native else self.chain.erc20_balance(asset, address, block),
            sent=value if native else tokens.get(asset.lower(), 0),
            fees=fees,
            deposits=sum(deposits),
            deposit_count=len(deposits),
            topups=self.topups(address, through=block) if native else 0,
            native=native,
        )

    def check_complete(self, pool: dict, ledger: dict, *, block: int, allow_surplus: bool = False) -> int:
        """Refuse (ledger_incomplete) unless the ledger's deposits up to `block` are every one the address got.

        With `allow_surplus`, the address may hold more than the ledger accounts for (ETH that came without a
        transaction: a block's fees or a validator withdrawal paid to it); the surplus is returned. Only once a pool
        has launched or is refunded in full: from then on every new deposit is owed back in full whatever came
        before it, so one the web tier leaves out is not taken from anybody, only not yet paid back. Before that the
        surplus is refused, since it cannot be told apart from a hidden deposit that would change the raise."""
        sheet = self.balance_sheet(
            address=pool["address"], asset=pool["params"]["raise_asset"], ledger=ledger, block=block
        )
        surplus = sheet.holds + sheet.paid_out - sheet.deposits - sheet.topups
        if surplus < 0 or (surplus > 0 and not allow_surplus):
            raise BooksRefused("ledger_incomplete", f"at block {block}, {sheet.difference()}")
        return surplus
