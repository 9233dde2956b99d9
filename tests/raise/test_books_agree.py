"""The web tier's books and the signer's books agree on every deposit, the credited total and the Merkle root.

Random deposit histories for one pool -- deposits before the opening and at or after the (scheduled or early) close,
over the per-wallet maximum and the hard cap, under the minimum, whitelisted or not under each access mode, native
(top-level and internal transfers) or ERC-20, some still PENDING and some confirmed, credited, then reorged away
back to PENDING -- are put through both sides:

- the web tier: Deposit rows, `pool_recompute_credits` (before and after the reorg), and the launch's `_allocate`;
- the signer: a ledger of the CONFIRMED deposits only, shaped as `evidence.Deposit.record()`, the pool's parameters
  as the web tier registers them (`signer_registration_params`, normalized as the signer seals them), `credits` and
  `allocation`.

No chain is needed: the chain reads the signer would make (proving each deposit, and the address's balance) are
replaced by the generated history itself; proving deposits on chain is tested in tests/signer and tests/launch.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import transaction
from django.test import override_settings
from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave_signer import evidence
from enclave_signer.books import allocation, balance_difference, credits, new_ledger
from enclave_signer.params import normalize_pool_params
from pools.models import Allocation, Deposit, Launch, Pool, WhitelistEntry
from pools.services.crediting import pool_recompute_credits
from pools.services.launch import _allocate
from pools.services.pools import signer_registration_params
from tests.factories import PoolFactory

CHAIN_ID = 31337
UNIT = 10**15
OPEN = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
# Block b is mined at OPEN - 1 h + b * 30 min: block 2 at the opening second, 6 at the whitelist phase's end,
# 14 at the early close, 26 at the scheduled close.
BLOCK_SECONDS, FIRST_BLOCK_AT, LAST_BLOCK = 1800, OPEN - 3600, 30
DEPOSITORS = [to_checksum_address(f"0x{0xD0 + n:040x}") for n in range(5)]
USDC = to_checksum_address("0x" + "77" * 20)
# What `chain_deployment()` reads on a real network; the registered price feed comes from here.
CHAIN_ADDRESSES = {
    "weth": "0x" + "01" * 20,
    "uniswap_v2_factory": "0x" + "02" * 20,
    "uniswap_v2_router": "0x" + "03" * 20,
    "eth_usd_feed": "0x" + "04" * 20,
    "usdc": USDC,
    "usdc_usd_feed": "0x" + "05" * 20,
    "launcher": "0x" + "06" * 20,
    "refunder": "0x" + "07" * 20,
}
# A deposit's place inside its transaction: native top level, internal calls (trace addresses), or a log.
NATIVE_PLACES = ["tx", "trace:0", "trace:0.1", "trace:1", "trace:2.0.3"]
CONFIRMED, PENDING, REORGED = "confirmed", "pending", "reorged"


def at_second(second: int, microsecond: int) -> datetime:
    return datetime.fromtimestamp(second, tz=UTC) + timedelta(microseconds=microsecond)


@st.composite
def pool_settings(draw) -> dict:
    hard_cap = draw(st.integers(min_value=10, max_value=120))
    min_contribution = draw(st.sampled_from([0, 5, 20]))
    max_contribution = draw(st.sampled_from([0, max(min_contribution, 40), max(min_contribution, 90)]))
    fraction = draw(st.sampled_from([0, 500_000]))  # stored times need not be whole seconds
    return {
        "raise_asset": draw(st.sampled_from(["", USDC])),
        "hard_cap": hard_cap * UNIT,
        "soft_cap": draw(st.integers(min_value=1, max_value=hard_cap)) * UNIT,
        "min_contribution": min_contribution * UNIT,
        "max_contribution": max_contribution * UNIT,
        "access": draw(st.sampled_from([Pool.Access.PUBLIC, *Pool.Access.values])),
        "whitelist_until": draw(st.sampled_from([None, at_second(OPEN + 2 * 3600, fraction)])),
        "opens_at": at_second(OPEN, fraction),
        "closes_at": at_second(OPEN + 12 * 3600, fraction),
        "closed_early_at": draw(st.sampled_from([None, at_second(OPEN + 6 * 3600, fraction)])),
        "whitelist": draw(st.sets(st.sampled_from(DEPOSITORS), min_size=1, max_size=4)),
    }


deposit_histories = st.lists(
    st.fixed_dictionaries(
        {
            "sender": st.sampled_from(DEPOSITORS),
            "amount": st.one_of(st.integers(1, 10), st.integers(1, 80)).map(lambda n: n * UNIT),
            # Mostly while the pool is open (blocks 2-13), often several in one block or transaction (where only
            # the position orders them), some before the opening, after an early close or the close.
            "block": st.one_of(st.integers(2, 4), st.integers(2, 13), st.integers(0, LAST_BLOCK)),
            "tx_index": st.integers(min_value=0, max_value=1),
            "place": st.integers(min_value=0, max_value=len(NATIVE_PLACES) - 1),
            "status": st.sampled_from([CONFIRMED, CONFIRMED, CONFIRMED, PENDING, REORGED]),
            "stale": st.booleans(),  # a pending deposit still carrying parts from an earlier computation
        }
    ),
    min_size=3,
    max_size=14,
    unique_by=lambda d: (d["block"], d["tx_index"], d["place"]),  # one deposit per place in the chain
)


def make_pool(config: dict) -> Pool:
    config = dict(config)
    whitelist = config.pop("whitelist")
    pool = PoolFactory(status=Pool.Status.OPEN, chain_id=CHAIN_ID, **config)
    if pool.raise_asset:
        pool.raise_asset_symbol, pool.raise_asset_decimals = "USDC", 6
        pool.save(update_fields=["raise_asset_symbol", "raise_asset_decimals"])
    WhitelistEntry.objects.bulk_create([WhitelistEntry(pool=pool, address=address) for address in whitelist])
    return pool


def make_deposit(pool: Pool, spec: dict) -> Deposit:
    tx_hash = "0x" + f"{spec['block']:032x}{spec['tx_index']:032x}"
    if pool.raise_asset:
        # Log indices are block-wide and grow with the transaction index.
        log_index = spec["tx_index"] * len(NATIVE_PLACES) + spec["place"]
        position, kind, ordinal = f"log:{log_index}", Deposit.Kind.ERC20, log_index
    else:
        position, ordinal = NATIVE_PLACES[spec["place"]], spec["place"]
        kind = Deposit.Kind.NATIVE_TX if position == "tx" else Deposit.Kind.NATIVE_INTERNAL
    stale = spec["status"] == PENDING and spec["stale"]
    return Deposit.objects.create(
        pool=pool,
        chain_id=CHAIN_ID,
        tx_hash=tx_hash,
        position=position,
        kind=kind,
        sender=spec["sender"],
        amount=spec["amount"],
        block_number=spec["block"],
        block_hash="0x" + f"{spec['block']:064x}",
        tx_index=spec["tx_index"],
        ordinal=ordinal,
        block_timestamp=datetime.fromtimestamp(FIRST_BLOCK_AT + spec["block"] * BLOCK_SECONDS, tz=UTC),
        status=Deposit.Status.PENDING if spec["status"] == PENDING else Deposit.Status.CONFIRMED,
        credited_amount=spec["amount"] if stale else 0,
        refund_reason=Deposit.RefundReason.NOT_OPEN if stale else "",
    )


def signer_key(deposit: Deposit) -> str:
    """The deposit's key in the signer's ledger: the key of the citation that proves it."""
    kind, _, where = deposit.position.partition(":")
    citation = evidence.Citation(
        tx_hash=deposit.tx_hash,
        log_index=int(where) if kind == "log" else None,
        trace_address=tuple(int(step) for step in where.split(".")) if kind == "trace" else (),
    )
    return citation.key(chain_id=deposit.chain_id)


def signer_record(deposit: Deposit) -> dict:
    """What the signer's ledger holds once it has proven this deposit (evidence.prove_deposits' result)."""
    kind, _, where = deposit.position.partition(":")
    position = (int(where),) if kind == "log" else tuple(int(step) for step in where.split(".") if step)
    return evidence.Deposit(
        key=signer_key(deposit),
        sender=to_checksum_address(deposit.sender),
        amount=deposit.amount,
        block=deposit.block_number,
        tx_index=deposit.tx_index,
        position=position,
        at=int(deposit.block_timestamp.timestamp()),
    ).record()


def web_allocation(pool: Pool) -> tuple[str, dict[str, tuple[int, int]]]:
    """The launch's Merkle root and Allocation rows, computed as the dry run does and rolled back."""
    preview = Launch(pool=pool)
    with transaction.atomic():
        _allocate(preview, pool)
        rows = {a.address: (int(a.contribution), int(a.token_amount)) for a in Allocation.objects.filter(pool=pool)}
        transaction.set_rollback(True)
    return preview.merkle_root, rows


def number_in(message: str) -> int:
    (number,) = re.findall(r"\d+", message)
    return int(number)


@pytest.mark.django_db
@settings(max_examples=30, deadline=None)
@given(config=pool_settings(), history=deposit_histories, data=st.data())
def test_the_web_tier_and_the_signer_credit_every_deposit_alike(config, history, data):
    with transaction.atomic(), override_settings(CHAIN_ADDRESSES=CHAIN_ADDRESSES, CHAIN_ID=CHAIN_ID):
        pool = make_pool(config)
        deposits = [make_deposit(pool, spec) for spec in history]
        reorged = [d.pk for d, spec in zip(deposits, history, strict=True) if spec["status"] == REORGED]

        # The web tier: credit everything confirmed, then lose the reorged deposits back to PENDING and recompute.
        pool_recompute_credits(pool_id=pool.pk)
        Deposit.objects.filter(pk__in=reorged).update(status=Deposit.Status.PENDING)
        pool = pool_recompute_credits(pool_id=pool.pk)
        stored = list(Deposit.objects.filter(pool=pool))
        confirmed = [d for d in stored if d.status == Deposit.Status.CONFIRMED]
        web = {signer_key(d): (int(d.credited_amount), int(d.refund_amount), d.refund_reason) for d in confirmed}

        # The signer: its ledger holds only what it proved (the confirmed deposits), its rules are the registered ones.
        params = normalize_pool_params(signer_registration_params(pool=pool))
        ledger = new_ledger()
        proof_order = data.draw(st.permutations(confirmed), label="the order the signer proved them in")
        ledger["deposits"] = {signer_key(d): signer_record(d) for d in proof_order}
        decisions = credits(params, ledger, through=LAST_BLOCK)
        books = allocation(params, decisions)
        signer = {d.key: (d.credited, d.refund, d.reason) for d in decisions}

        assert web == signer
        assert all(
            (d.credited_amount, d.refund_amount, d.refund_reason) == (0, 0, "")
            for d in stored
            if d.status == Deposit.Status.PENDING
        )
        assert (pool.raised, pool.refund_owed) == (books.credited, sum(d.refund for d in decisions))
        if books.credited:  # a pool with nothing credited never launches (the soft cap is positive)
            root, rows = web_allocation(pool)
            assert root == books.merkle_root
            assert rows == {
                address: (books.contributions[address.lower()], tokens) for address, tokens in books.tokens.items()
            }

        # The completeness check: a ledger missing some confirmed deposits is told which side is short, and by how
        # much; so is one that counts deposits the address never got.
        amounts = [int(d.amount) for d in confirmed]
        total = sum(amounts)
        assert balance_difference(holds=total, paid_out=0, received=total) == ""
        if len(amounts) >= 2:
            kept = data.draw(
                st.sets(st.sampled_from(range(len(amounts))), min_size=1, max_size=len(amounts) - 1),
                label="the confirmed deposits a short ledger holds",
            )
            received = sum(amounts[i] for i in kept)
            missing = total - received

            short = balance_difference(holds=total, paid_out=0, received=received)
            assert "missing from it" in short and number_in(short) == missing

            counted_too_much = balance_difference(holds=received, paid_out=0, received=total)
            assert "the ledger accounts for" in counted_too_much and number_in(counted_too_much) == missing

        transaction.set_rollback(True)
