"""The launch job's allocation step on PostgreSQL: the rows it COPYs are the rows bulk_create wrote (same addresses,
contributions, token amounts and proofs, OpenZeppelin's format), and a broken proof builder stops the launch."""

from __future__ import annotations

import random

import pytest
from django.db import connection
from django.utils import timezone
from eth_utils import keccak, to_checksum_address

from enclave_signer.allocation import allocate_pro_rata, split_supply
from enclave_signer.merkle import AllocationTree, StandardMerkleTree
from pools.models import Allocation, Deposit, Launch, Pool
from pools.services import launch as launch_service
from pools.services.launch import AllocationNotProven, launch_advance
from tests.factories import PoolFactory

ETH = 10**18


def deposit(pool: Pool, sender: str, credited: int, *, status: str = Deposit.Status.CONFIRMED) -> Deposit:
    n = Deposit.objects.count()
    return Deposit.objects.create(
        pool=pool, chain_id=31337, tx_hash="0x" + keccak(text=f"allocation-{n}").hex(), position="tx",
        kind=Deposit.Kind.NATIVE_TX, sender=sender, amount=max(credited, 1), block_number=100 + n,
        block_hash="0x" + "11" * 32, tx_index=0, ordinal=0, block_timestamp=timezone.now(), status=status,
        credited_amount=credited,
    )  # fmt: skip


def closed_pool_with(depositors: int, *, seed: int) -> Pool:
    """A closed pool whose depositors sent random amounts, some of them twice."""
    rng = random.Random(seed)
    pool = PoolFactory(status=Pool.Status.CLOSED, hard_cap=2**200, total_supply=10**9 * ETH + rng.randrange(10**6))
    for _ in range(depositors):
        sender = to_checksum_address(rng.randbytes(20))
        deposit(pool, sender, rng.randrange(1, 10 * ETH))
        if rng.random() < 0.2:
            deposit(pool, sender, rng.randrange(1, ETH))
    return pool


def bulk_create_rows(pool: Pool) -> tuple[str, dict[str, tuple[int, int, list[str]]]]:
    """What the step wrote before COPY (its code as it was), in memory: the root, and address → (contribution,
    tokens, proof), each proof from the verifying `get_proof`."""
    contributions: dict[str, int] = {}
    for row in Deposit.objects.filter(pool=pool, status=Deposit.Status.CONFIRMED, credited_amount__gt=0):
        address = to_checksum_address(row.sender)
        contributions[address] = contributions.get(address, 0) + row.credited_amount
    supply = split_supply(
        total_supply=pool.total_supply,
        liquidity_bps=pool.liquidity_supply_bps,
        depositor_bps=pool.depositor_supply_bps,
    )
    tokens = allocate_pro_rata(total=supply.depositors, contributions=contributions)
    tree = AllocationTree.build(tokens)
    return tree.root_hex, {a: (contributions[a], amount, tree.proof_hex(a)) for a, amount in tokens.items()}


def stored_rows(pool: Pool) -> dict[str, tuple[int, int, list[str]]]:
    rows = Allocation.objects.filter(pool=pool).values_list("address", "contribution", "token_amount", "proof")
    return {address: (contribution, amount, proof) for address, contribution, amount, proof in rows}


@pytest.mark.parametrize(("depositors", "seed"), [(1, 1), (2, 2), (3, 3), (300, 4), (301, 5)])
def test_the_copied_allocation_rows_are_the_rows_bulk_create_wrote(db, depositors: int, seed: int):
    pool = closed_pool_with(depositors, seed=seed)
    root, expected = bulk_create_rows(pool)
    launch = Launch(pool=pool)

    launch_service._allocate(launch, pool)

    assert launch.merkle_root == root and launch.step == Launch.Step.ALLOCATED
    assert stored_rows(pool) == expected
    with connection.cursor() as cursor:  # jsonb arrays of strings, as bulk_create's JSONField wrote them
        cursor.execute(
            "SELECT count(*) FROM pools_allocation WHERE pool_id = %s AND jsonb_typeof(proof) = 'array'", [pool.pk]
        )
        assert cursor.fetchone() == (len(expected),)
    assert (
        sum(amount for _, amount, _ in expected.values())
        == split_supply(
            total_supply=pool.total_supply,
            liquidity_bps=pool.liquidity_supply_bps,
            depositor_bps=pool.depositor_supply_bps,
        ).depositors
    )
    # The ids come from the table's sequence: the ORM inserts after the COPY without a clash.
    Allocation.objects.create(pool=PoolFactory(), address=to_checksum_address("0x" + "12" * 20), contribution=1,
                              token_amount=1)  # fmt: skip


def test_one_depositor_in_any_letter_case_gets_one_row_and_only_credited_confirmed_deposits_count(db):
    pool = PoolFactory(status=Pool.Status.CLOSED, hard_cap=2**200)
    alice = to_checksum_address("0x" + "a1" * 20)
    bob = to_checksum_address("0x" + "b0" * 20)
    deposit(pool, alice, 2 * ETH)
    deposit(pool, alice.lower(), ETH)  # as an older indexer may have stored it
    deposit(pool, bob, 3 * ETH)
    deposit(pool, bob, 5 * ETH, status=Deposit.Status.PENDING)
    deposit(pool, to_checksum_address("0x" + "c0" * 20), 0)  # owed back in full: no allocation
    deposit(PoolFactory(status=Pool.Status.CLOSED), alice, 7 * ETH)  # another pool's
    root, expected = bulk_create_rows(pool)
    launch = Launch(pool=pool)

    launch_service._allocate(launch, pool)

    rows = stored_rows(pool)
    assert rows == expected and launch.merkle_root == root
    assert set(rows) == {alice, bob}
    assert rows[alice][0] == 3 * ETH and rows[bob][0] == 3 * ETH
    assert rows[alice][1] == rows[bob][1]


def _corrupting(which):
    original = StandardMerkleTree.proofs_hex

    def proofs_hex(self):
        proofs = original(self)
        for index in which(len(proofs)):
            node = proofs[index][0]
            proofs[index][0] = node[:-1] + ("0" if node[-1] != "0" else "1")
        return proofs

    return proofs_hex


@pytest.mark.parametrize(
    ("depositors", "which"),
    [
        (200, lambda n: range(n)),  # every proof
        (200, lambda n: [n - 1]),  # the last depositor's: always in the sample
        (200, lambda n: [0]),  # the first depositor's: always in the sample
        (40, lambda n: [17]),  # one of 40: the sample of 64 is everyone
    ],
)
def test_the_allocation_step_refuses_proofs_that_do_not_lead_to_the_root(db, monkeypatch, depositors: int, which):
    pool = closed_pool_with(depositors, seed=depositors)
    Launch.objects.create(pool=pool, requested_by="test")
    monkeypatch.setattr(StandardMerkleTree, "proofs_hex", _corrupting(which))

    with pytest.raises(AllocationNotProven, match="does not lead to the root"):
        launch_advance(pool_id=pool.pk)

    launch = Launch.objects.get(pool=pool)
    assert launch.step == Launch.Step.REQUESTED and not launch.merkle_root
    assert not Allocation.objects.filter(pool=pool).exists()


def test_the_allocation_step_goes_on_with_proofs_that_lead_to_the_root(db, monkeypatch):
    pool = closed_pool_with(200, seed=9)
    Launch.objects.create(pool=pool, requested_by="test")
    root, expected = bulk_create_rows(pool)
    monkeypatch.setitem(launch_service._STEPS, Launch.Step.ALLOCATED, lambda launch, pool: None)  # no chain here

    launch = launch_advance(pool_id=pool.pk)

    assert launch.step == Launch.Step.ALLOCATED and launch.merkle_root == root
    assert stored_rows(pool) == expected
