"""The crediting rules, applied to a pool's confirmed deposits and written to the database.

The rules themselves are `enclave_signer.crediting.decide_credits`, one pure function the signer applies to the
deposits it proved on chain: the web tier imports it from the signer's package, so the two cannot disagree (README,
"How deposits are credited"). Re-running after a reorg or a crash just recomputes.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from enclave_signer.crediting import CreditDecision, CreditRules, DepositFact, ceil_seconds, decide_credits, position_of
from pools.models import Deposit, Pool
from pools.services import events
from pools.services.pool_state import touch_pool


def _seconds(moment) -> int:
    return ceil_seconds(moment.timestamp()) if moment is not None else 0


def rules_for(pool: Pool) -> CreditRules:
    """The pool's rules as the signer has them registered (times as whole seconds, see `ceil_seconds`)."""
    closes_at = min(filter(None, [pool.closes_at, pool.closed_early_at]), default=None)
    return CreditRules(
        opens_at=_seconds(pool.opens_at),
        closes_at=_seconds(closes_at),
        access=pool.access,
        whitelist_until=_seconds(pool.whitelist_until),
        whitelist=frozenset(address.lower() for address in pool.whitelist.values_list("address", flat=True)),
        min_contribution=pool.min_contribution,
        max_contribution=pool.max_contribution,
        hard_cap=pool.hard_cap,
    )


def deposit_fact(deposit: Deposit) -> DepositFact:
    return DepositFact(
        key=deposit.id,
        sender=deposit.sender,
        amount=deposit.amount,
        at=int(deposit.block_timestamp.timestamp()),
        block=deposit.block_number,
        tx_index=deposit.tx_index,
        position=position_of(deposit.position),
    )


# A confirmed deposit as the recomputation reads it: the crediting facts, then the parts stored now.
_ROW_FIELDS = (
    "id",
    "sender",
    "amount",
    "block_timestamp",
    "block_number",
    "tx_index",
    "position",
    "credited_amount",
    "refund_amount",
    "refund_reason",
)


@dataclass(frozen=True)
class StagedDeposit:
    """A deposit about to be stored already CONFIRMED (the indexer catching up), not in the database yet."""

    key: Hashable  # the caller's, to match the decisions with its rows
    sender: str
    amount: int
    at: int  # block timestamp, seconds
    block: int
    tx_index: int
    position: str  # as stored: "tx", "log:<index>", "trace:<a.b.c>"


# Stores the staged deposits with their decisions (by key); returns the new rows' ids by key.
StoreStaged = Callable[[dict[Hashable, CreditDecision]], dict[Hashable, int]]


class StagedDepositsNotStored(RuntimeError):
    """Some staged deposits were stored meanwhile by a writer that did not hold the cursor's lock: the step is rolled
    back, and the next one stores and credits them the usual way."""


@transaction.atomic
def pool_recompute_credits(
    *, pool_id: int, staged: Sequence[StagedDeposit] = (), store_staged: StoreStaged | None = None
) -> Pool:
    """Recompute every confirmed deposit's credited and owed parts, the pool's totals, and close it at the hard cap.

    Idempotent; the pool row is locked, so two indexers recomputing the same pool serialise here. The rows are read
    as tuples, not model objects (the indexer recomputes pools of thousands of deposits after every window).

    `staged` deposits (with `store_staged`) are decided together with the stored ones, exactly as if they had been
    stored first, and `store_staged` then writes them with their parts: each row is written once, not inserted and
    updated (the indexer's catch-up; half the cost of crediting a window).
    """
    pool = Pool.objects.select_for_update().get(pk=pool_id)
    rows = list(
        Deposit.objects.filter(pool=pool, status=Deposit.Status.CONFIRMED)
        .order_by("block_number", "tx_index", "ordinal", "id")
        .values_list(*_ROW_FIELDS)
    )
    facts = [
        DepositFact(
            key=pk,
            sender=sender,
            amount=amount,
            at=int(timestamp.timestamp()),
            block=block,
            tx_index=tx_index,
            position=position_of(position),
        )
        for pk, sender, amount, timestamp, block, tx_index, position, *_stored in rows
    ]
    facts += [
        DepositFact(
            key=("staged", d.key),  # never equal to a row's id
            sender=d.sender,
            amount=d.amount,
            at=d.at,
            block=d.block,
            tx_index=d.tx_index,
            position=position_of(d.position),
        )
        for d in staged
    ]
    decisions = {decision.key: decision for decision in decide_credits(rules=rules_for(pool), deposits=facts)}
    changed, newly_credited, raised, owed = [], [], 0, 0
    for pk, *_facts, credited, refund, reason in rows:
        decision = decisions[pk]
        raised, owed = raised + decision.credited, owed + decision.refund
        if (credited, refund, reason) != (decision.credited, decision.refund, decision.reason):
            if credited == 0 and decision.credited > 0:
                newly_credited.append(pk)
            changed.append((pk, decision.credited, decision.refund, decision.reason))
    _write_decisions(changed)
    if staged:
        staged_decisions = {d.key: decisions[("staged", d.key)] for d in staged}
        ids = store_staged(staged_decisions)
        if len(ids) != len(staged):
            raise StagedDepositsNotStored(f"pool {pool_id}: {len(staged) - len(ids)} staged deposit(s) already stored")
        for key, decision in staged_decisions.items():
            raised, owed = raised + decision.credited, owed + decision.refund
            if decision.credited > 0:
                newly_credited.append(ids[key])
    # Deposits no longer confirmed (reorged back to pending) count for nothing.
    Deposit.objects.filter(pool=pool, status=Deposit.Status.PENDING).exclude(
        credited_amount=0, refund_amount=0, refund_reason=""
    ).update(credited_amount=0, refund_amount=0, refund_reason="")

    # The totals over the confirmed deposits are the sums of their decisions, just written.
    pool.raised = raised
    pool.refund_owed = owed
    fields = ["raised", "refund_owed", "updated_at"]
    if pool.status == Pool.Status.OPEN and pool.hard_cap and pool.raised >= pool.hard_cap:
        # Later deposits are owed back by rule (hard_cap); the close time itself stays as scheduled.
        pool.status, pool.status_reason = Pool.Status.CLOSED, "The hard cap was reached."
        pool.closed_at = timezone.now()
        fields += ["status", "status_reason", "closed_at"]
    pool.save(update_fields=fields)
    touch_pool(pool_id=pool.pk)  # what the pool's public reads show (pools/services/pool_state.py)
    events.deposits_credited(pool=pool, deposit_ids=newly_credited)
    if "closed_at" in fields:
        events.pool_closed(pool=pool)
    return pool


WRITE_CHUNK = 5_000


def _write_decisions(decisions: list[tuple[int, int, int, str]]) -> None:
    """(id, credited, refund, reason) per deposit, written by one UPDATE … FROM unnest(arrays) per chunk: Django's
    bulk_update builds a CASE per row (~10× slower), and a VALUES list has four placeholders per row for the driver
    to parse and fill in Python (amounts as text: they can pass 64 bits)."""
    table = Deposit._meta.db_table
    for start in range(0, len(decisions), WRITE_CHUNK):
        ids, credited, refund, reason = zip(*decisions[start : start + WRITE_CHUNK], strict=True)
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {table} AS d SET credited_amount = v.credited, refund_amount = v.refund, "  # noqa: S608 - table name from the model, values bound
                "refund_reason = v.reason FROM unnest(%s::bigint[], %s::text[]::numeric[], %s::text[]::numeric[], "
                "%s::text[]) AS v(id, credited, refund, reason) WHERE d.id = v.id",
                [list(ids), [str(n) for n in credited], [str(n) for n in refund], list(reason)],
            )
