"""The crediting rules: which part of each confirmed deposit counts toward the raise, and which is owed back.

One pure function, shared: the signer applies it to the deposits it has proven on chain, and the web tier imports it
from here (never the other way round), so the two cannot disagree. Times are unix seconds (block timestamps);
amounts are integers in the smallest unit. Deposits are judged in chain order -- (block, transaction index,
position), the position being the log index of an ERC-20 Transfer or the trace address of a native transfer (the
top-level transfer is `()`, which comes before every internal call) -- whatever order they are given in.

In order, for each deposit:

0. no sender: an ERC-20 minted straight to the pool (a Transfer from address(0)) -> neither credited nor owed back
   (no_sender): there is nobody to pay back, and a refund to address(0) would revert its whole batch. It stays at
   the pool address and is shown as such (docs/refunds.md, "What is not a deposit")
1. sent before the pool opened                                  -> all owed back (not_open)
2. sent at or after the close (the close time, or an early close) -> all owed back (closed)
3. sent once the credited total has reached the hard cap         -> all owed back (hard_cap)
4. the sender is not whitelisted while only whitelisted may pay  -> all owed back (not_whitelisted)
5. the sender's credited total would stay below the minimum      -> all owed back (below_minimum)
6. otherwise the part that fits under the sender's maximum and the hard cap is credited; the rest is owed back
   (above_maximum, or hard_cap when the hard cap was the tighter limit) -- unless what fits would leave the
   sender's total under the minimum, in which case all of it is owed back.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

PUBLIC, WHITELIST, WHITELIST_THEN_PUBLIC = "public", "whitelist", "whitelist_then_public"
ACCESS_MODES = (PUBLIC, WHITELIST, WHITELIST_THEN_PUBLIC)

# Why a part is owed back (the web tier's Deposit.RefundReason values).
CREDITED = ""
NOT_OPEN = "not_open"
CLOSED = "closed"
NOT_WHITELISTED = "not_whitelisted"
BELOW_MINIMUM = "below_minimum"
ABOVE_MAXIMUM = "above_maximum"
HARD_CAP = "hard_cap"
NO_SENDER = "no_sender"
ZERO_SENDER = "0x" + "00" * 20


@dataclass(frozen=True)
class CreditRules:
    """Every input of the rules; 0 means "not set" for the times and for max_contribution."""

    opens_at: int
    closes_at: int  # the earlier of the scheduled close and an early close
    access: str
    whitelist_until: int
    whitelist: frozenset[str]  # lower-cased addresses
    min_contribution: int
    max_contribution: int
    hard_cap: int


@dataclass(frozen=True)
class DepositFact:
    """A confirmed deposit: who sent how much, when, and where in the chain."""

    key: object  # the caller's identifier, handed back in the decision
    sender: str
    amount: int
    at: int  # block timestamp
    block: int
    tx_index: int
    position: tuple[int, ...]  # (log index,) for ERC-20; the trace address for native (() = the transaction itself)

    @property
    def chain_order(self) -> tuple[int, int, tuple[int, ...]]:
        return (self.block, self.tx_index, self.position)


@dataclass(frozen=True)
class CreditDecision:
    key: object
    sender: str
    credited: int
    refund: int
    reason: str


def _whitelist_applies(rules: CreditRules, at: int) -> bool:
    if rules.access == WHITELIST:
        return True
    if rules.access == WHITELIST_THEN_PUBLIC:
        return not rules.whitelist_until or at < rules.whitelist_until
    return False


def decide_credits(*, rules: CreditRules, deposits: Iterable[DepositFact]) -> list[CreditDecision]:
    """Apply the rules in chain order; decisions come back in that order, and credited + refund == amount, except
    for a deposit without a sender (rule 0), which is neither."""
    decisions: list[CreditDecision] = []
    wallet_total: dict[str, int] = defaultdict(int)
    total = 0

    def owed(fact: DepositFact, reason: str) -> None:
        decisions.append(CreditDecision(fact.key, fact.sender, credited=0, refund=fact.amount, reason=reason))

    for fact in sorted(deposits, key=lambda fact: fact.chain_order):
        sender = fact.sender.lower()
        if sender == ZERO_SENDER:
            decisions.append(CreditDecision(fact.key, fact.sender, credited=0, refund=0, reason=NO_SENDER))
            continue
        if rules.opens_at and fact.at < rules.opens_at:
            owed(fact, NOT_OPEN)
            continue
        if rules.closes_at and fact.at >= rules.closes_at:
            owed(fact, CLOSED)
            continue
        if total >= rules.hard_cap:
            owed(fact, HARD_CAP)
            continue
        if _whitelist_applies(rules, fact.at) and sender not in rules.whitelist:
            owed(fact, NOT_WHITELISTED)
            continue
        if wallet_total[sender] + fact.amount < rules.min_contribution:
            owed(fact, BELOW_MINIMUM)
            continue
        wallet_room = rules.max_contribution - wallet_total[sender] if rules.max_contribution else fact.amount
        cap_room = rules.hard_cap - total
        credited = min(fact.amount, max(wallet_room, 0), cap_room)
        if wallet_total[sender] + credited < rules.min_contribution:
            credited = 0  # what still fits would leave the wallet under the minimum: owe it all back
        refund = fact.amount - credited
        if refund == 0:
            reason = CREDITED
        elif wallet_room <= cap_room:
            reason = ABOVE_MAXIMUM
        else:
            reason = HARD_CAP
        decisions.append(CreditDecision(fact.key, fact.sender, credited=credited, refund=refund, reason=reason))
        wallet_total[sender] += credited
        total += credited
    return decisions


def contributions(decisions: Iterable[CreditDecision]) -> dict[str, int]:
    """Credited total per sender (lower-cased), senders with nothing credited left out."""
    totals: dict[str, int] = defaultdict(int)
    for decision in decisions:
        if decision.credited:
            totals[decision.sender.lower()] += decision.credited
    return dict(totals)


def position_of(position: str) -> tuple[int, ...]:
    """The chain-order position of a deposit from its stored form: "tx", "trace:0.1" or "log:5"."""
    kind, _, where = position.partition(":")
    if kind == "log":
        return (int(where),)
    if kind == "trace":
        return tuple(int(step) for step in where.split(".") if step)
    return ()


def ceil_seconds(timestamp: float) -> int:
    """A wall-clock time as the integer second the rules compare block times with.

    For an integer block time t, `t < x` holds exactly when `t < ceil(x)`, so both sides of the rules agree however
    finely the web tier stores its times.
    """
    whole = int(timestamp)
    return whole if whole == timestamp else whole + 1
