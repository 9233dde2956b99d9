"""The issue's "Done when": 200 depositors from distinct accounts into an ETH pool and a USDC pool, with every case
the rules know (before open, whitelist phase, under the minimum, over the maximum, the hard cap, after close),
a contract wallet's internal transfer, a spoofed Transfer event, another token, reverted transfers and a 3-block
reorganisation that takes a credited deposit away. The credited totals and the refunds owed must come out exactly;
re-running the indexer over the same range changes nothing; two indexers at once credit nothing twice.

The expected numbers are computed here from the chain's own receipts and the rules as the issue states them, not by
the crediting code under test.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

import pytest
from django.db import connection

from chain.artifacts import load_artifact
from chain.rpc import hex_int
from pools.models import Deposit, IndexerCursor, Pool, WhitelistEntry
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, USDC, contract_call, eth_transfer, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db(transaction=True)]

Reason = Deposit.RefundReason


@dataclass(frozen=True)
class Expected:
    """A deposit the chain says happened, with what the rules say about it."""

    pool_id: int
    tx_hash: str
    position: str
    sender: str
    amount: int
    block: int
    tx_index: int
    ordinal: int
    timestamp: int
    case: str


def expected_split(pool: Pool, deposits: list[Expected], whitelist: set[str]) -> dict[tuple[str, str], tuple]:
    """(tx, position) → (credited, owed back) by the issue's rules, first come first served. Every sender here
    deposits once, so a wallet's total is its one deposit."""
    opens, closes = int(pool.opens_at.timestamp()), int(pool.closes_at.timestamp())
    whitelist_until = int(pool.whitelist_until.timestamp()) if pool.whitelist_until else None
    raised, per_wallet, split = 0, defaultdict(int), {}
    for d in sorted(deposits, key=lambda d: (d.block, d.tx_index, d.ordinal)):
        key = (d.tx_hash, d.position)
        in_whitelist_phase = whitelist_until is not None and d.timestamp < whitelist_until
        if (
            d.timestamp < opens
            or d.timestamp >= closes
            or raised >= pool.hard_cap
            or (in_whitelist_phase and d.sender not in whitelist)
            or d.amount < pool.min_contribution
        ):
            split[key] = (0, d.amount)
            continue
        credited = min(d.amount, pool.max_contribution - per_wallet[d.sender], pool.hard_cap - raised)
        split[key] = (credited, d.amount - credited)
        raised += credited
        per_wallet[d.sender] += credited
    return split


class Scenario:
    """Sends the deposits and remembers, from the receipts, what each one is."""

    def __init__(self, chain) -> None:
        self.chain = chain
        self.expected: list[Expected] = []
        self.depositors: set[str] = set()

    def people(self, label: str, count: int) -> list[str]:
        people = [fresh_address(f"{label}-{i}") for i in range(count)]
        self.depositors.update(people)
        return people

    def block(self, at: int, sends: list[tuple[dict, Pool | None, str, str]]) -> None:
        """Mine one block at time `at`; each send is (tx, pool it should credit or None, case, position)."""
        hashes = self.chain.block([tx for tx, *_ in sends], timestamp=at)
        receipts = self.chain.rpc.batch([("eth_getTransactionReceipt", [h]) for h in hashes])
        for (tx, pool, case, position), tx_hash, receipt in zip(sends, hashes, receipts, strict=True):
            if pool is None:
                continue
            assert hex_int(receipt["status"]) == 1, case
            if position == "log":
                log = next(log for log in receipt["logs"] if log["address"].lower() == pool.raise_asset.lower())
                position, ordinal = f"log:{hex_int(log['logIndex'])}", hex_int(log["logIndex"])
                sender, amount = "0x" + log["topics"][1][-40:], int(log["data"], 16)
            elif position == "tx":
                ordinal, sender, amount = 0, tx["from"], tx["value"]
            else:  # "trace:<address>@<sender>": an internal transfer; the test knows which frame pays the pool
                position, sender = position.split("@")
                ordinal, amount = position.count(".") + 1, tx["value"]
            self.expected.append(
                Expected(
                    pool_id=pool.id,
                    tx_hash=tx_hash,
                    position=position,
                    sender=sender.lower(),
                    amount=amount,
                    block=hex_int(receipt["blockNumber"]),
                    tx_index=hex_int(receipt["transactionIndex"]),
                    ordinal=ordinal,
                    timestamp=at,
                    case=case,
                )
            )


def regular_amount(i: int) -> int:
    """0.2 ETH, 0.24, 0.28, ... up to 4.12 for the 99th: within the 0.1–5 ETH per-wallet bounds."""
    return ETHER // 5 + i * ETHER // 25


def deposit_state() -> list[tuple]:
    return list(
        Deposit.objects.order_by("chain_id", "tx_hash", "position").values_list(
            "pool_id", "tx_hash", "position", "sender", "amount", "block_number", "block_hash", "status",
            "credited_amount", "refund_amount", "refund_reason",
        )
    )  # fmt: skip


def pool_state() -> list[tuple]:
    return list(Pool.objects.order_by("id").values_list("id", "raised", "refund_owed", "balance_difference"))


def index_with_two_at_once() -> None:
    start = threading.Barrier(2)

    def run():
        try:
            start.wait()
            return index_chain(chain_id=ANVIL_CHAIN_ID)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as workers:
        list(workers.map(lambda _: run(), range(2)))
    index_chain(chain_id=ANVIL_CHAIN_ID)  # finish whatever the one that skipped left


def test_two_hundred_depositors_every_case_credited_and_owed_exactly(chain, cursor, make_pool, dev_chain):
    w3 = chain.w3
    usdc = w3.eth.contract(address=dev_chain.usdc, abi=load_artifact("TestUSDC").abi)
    other_token = chain.deploy("TestUSDC")
    spoof = chain.deploy("SpoofToken")
    wallet, via, inner = (chain.deploy("ForwardingWallet") for _ in range(3))
    minter = chain.anvil.account(0).address

    start = chain.timestamp() + 100
    opens, whitelist_until, closes = start + 100, start + 200, start + 1_100
    at = lambda seconds: datetime.fromtimestamp(seconds, tz=UTC)  # noqa: E731
    eth_pool = make_pool(
        "eth",
        access=Pool.Access.WHITELIST_THEN_PUBLIC,
        opens_at=at(opens),
        whitelist_until=at(whitelist_until),
        closes_at=at(closes),
        min_contribution=ETHER // 10,
        max_contribution=5 * ETHER,
        soft_cap=ETHER,
        hard_cap=500 * ETHER,
    )
    usdc_pool = make_pool(
        "usdc",
        raise_asset=dev_chain.usdc,
        raise_asset_symbol="USDC",
        raise_asset_decimals=6,
        opens_at=at(opens),
        closes_at=at(closes),
        min_contribution=10 * USDC,
        max_contribution=1_000 * USDC,
        soft_cap=0,
        hard_cap=20_000 * USDC,
    )
    IndexerCursor.objects.update(window=3)  # several windows, so the window logic is exercised too

    s = Scenario(chain)
    early = s.people("early", 1)
    whitelisted = s.people("whitelisted", 10)
    not_whitelisted = s.people("not-whitelisted", 3)
    regulars = s.people("regular", 99)
    under_min, over_max, owners = s.people("under-min", 1), s.people("over-max", 1), s.people("wallet-owner", 4)
    reorged, late = s.people("reorged", 1), s.people("late", 2)
    usdc_people = s.people("usdc", 75)
    usdc_under_min, usdc_over_max = s.people("usdc-min", 1), s.people("usdc-max", 1)
    usdc_late = s.people("usdc-late", 1)
    attacker, broke = s.people("attacker", 1), s.people("broke", 1)
    s.depositors.update(a.lower() for a in (wallet.address, inner.address))  # the wallets are depositors too
    assert len({d.lower() for d in s.depositors} - {o.lower() for o in owners}) == 200

    WhitelistEntry.objects.bulk_create([WhitelistEntry(pool=eth_pool, address=a) for a in whitelisted])
    chain.fund(sorted(s.depositors | {minter}), 1_000 * ETHER)
    chain.block(
        [
            contract_call(usdc, "mint", [holder, 2_000 * USDC], sender=minter)
            for holder in usdc_people + usdc_under_min + usdc_over_max + usdc_late
        ]
        + [contract_call(usdc, "mint", [broke[0], 5 * USDC], sender=minter)]
    )

    eth, usd = eth_pool.deposit_address, usdc_pool.deposit_address
    s.block(opens - 50, [(eth_transfer(early[0], eth, ETHER), eth_pool, "before open", "tx")])
    s.block(
        opens + 10,
        [(eth_transfer(a, eth, ETHER), eth_pool, "whitelisted", "tx") for a in whitelisted]
        + [(eth_transfer(a, eth, ETHER), eth_pool, "not whitelisted", "tx") for a in not_whitelisted],
    )
    s.block(
        whitelist_until + 10,
        [(eth_transfer(a, eth, regular_amount(i)), eth_pool, "regular", "tx") for i, a in enumerate(regulars)]
        + [
            (eth_transfer(under_min[0], eth, ETHER // 20), eth_pool, "under min", "tx"),
            (eth_transfer(over_max[0], eth, 7 * ETHER), eth_pool, "over max", "tx"),
            (
                contract_call(wallet, "forward", [eth], sender=owners[0], value=3 * ETHER // 2),
                eth_pool,
                "contract wallet",
                f"trace:0@{wallet.address}",
            ),
            (
                contract_call(via, "forwardVia", [inner.address, eth], sender=owners[1], value=ETHER // 2),
                eth_pool,
                "nested contract wallet",
                f"trace:0.0@{inner.address}",
            ),
            (contract_call(via, "forwardThenRevert", [eth], sender=owners[2], value=ETHER), None, "reverted", ""),
            (contract_call(via, "forwardInFailedSubcall", [eth], sender=owners[3], value=ETHER), None, "caught", ""),
        ],
    )
    s.block(
        whitelist_until + 15,
        [
            (contract_call(usdc, "transfer", [usd, 5 * USDC], sender=usdc_under_min[0]), usdc_pool, "under min", "log"),
            (contract_call(usdc, "transfer", [usd, 1_500 * USDC], sender=usdc_over_max[0]), usdc_pool, "max", "log"),
            (contract_call(spoof, "spoof", [attacker[0], usd, 10**6 * USDC], sender=attacker[0]), None, "spoof", ""),
            (contract_call(other_token, "mint", [usd, 10**6 * USDC], sender=attacker[0]), None, "other token", ""),
            (contract_call(usdc, "transfer", [usd, 50 * USDC], sender=broke[0]), None, "reverted token", ""),
        ],
    )
    s.block(
        whitelist_until + 20,
        [(contract_call(usdc, "transfer", [usd, 300 * USDC], sender=a), usdc_pool, "usdc", "log") for a in usdc_people],
    )
    chain.mine(2)
    index_chain(chain_id=ANVIL_CHAIN_ID)

    # A deposit that is credited, then taken away by a 3-block reorganisation.
    chain.block([eth_transfer(reorged[0], eth, 2 * ETHER)], timestamp=whitelist_until + 100)
    chain.mine(2)
    index_chain(chain_id=ANVIL_CHAIN_ID)
    reorged_deposit = Deposit.objects.get(sender=reorged[0])
    assert (reorged_deposit.status, reorged_deposit.credited_amount) == (Deposit.Status.CONFIRMED, 2 * ETHER)
    chain.anvil.rpc("anvil_reorg", [3, []])
    report = index_chain(chain_id=ANVIL_CHAIN_ID)
    assert report.reorgs == [reorged_deposit.block_number]
    assert not Deposit.objects.filter(sender=reorged[0]).exists()

    s.block(
        closes + 10,
        [(eth_transfer(a, eth, ETHER), eth_pool, "after close", "tx") for a in late]
        + [(contract_call(usdc, "transfer", [usd, 100 * USDC], sender=usdc_late[0]), usdc_pool, "after close", "log")],
    )
    chain.mine(2)
    index_chain(chain_id=ANVIL_CHAIN_ID)

    # --- what must have come out ---------------------------------------------------------------------------------
    whitelist = {a.lower() for a in whitelisted}
    expected = {}
    for pool in (eth_pool, usdc_pool):
        pool.refresh_from_db()
        expected.update(expected_split(pool, [d for d in s.expected if d.pool_id == pool.id], whitelist))
    rows = {(d.tx_hash, d.position): d for d in Deposit.objects.all()}
    assert set(rows) == set(expected), "exactly the real deposits: no spoof, other token, reverted or reorged one"
    assert {d.status for d in rows.values()} == {Deposit.Status.CONFIRMED}
    for key, (credited, owed) in expected.items():
        assert (rows[key].credited_amount, rows[key].refund_amount) == (credited, owed), key
    by_case = {(e.tx_hash, e.position): e.case for e in s.expected}
    reasons = defaultdict(set)
    for key, row in rows.items():
        reasons[by_case[key]].add(row.refund_reason)
    assert reasons["before open"] == {Reason.NOT_OPEN}
    assert reasons["not whitelisted"] == {Reason.NOT_WHITELISTED}
    assert reasons["under min"] == {Reason.BELOW_MINIMUM}
    assert reasons["over max"] == reasons["max"] == {Reason.ABOVE_MAXIMUM}
    assert reasons["after close"] == {Reason.CLOSED}
    assert reasons["contract wallet"] == reasons["nested contract wallet"] == reasons["whitelisted"] == {Reason.NONE}
    assert reasons["usdc"] == {Reason.NONE, Reason.HARD_CAP}
    assert rows[next(k for k, c in by_case.items() if c == "contract wallet")].sender == wallet.address
    assert rows[next(k for k, c in by_case.items() if c == "nested contract wallet")].sender == inner.address

    # The numbers, spelled out: ETH — 10 whitelisted + 99 regulars + 5 of the 7 over the max + 2 from wallets.
    regular_total = sum(regular_amount(i) for i in range(99))
    assert eth_pool.raised == 10 * ETHER + regular_total + 5 * ETHER + 3 * ETHER // 2 + ETHER // 2
    assert eth_pool.refund_owed == ETHER + 3 * ETHER + ETHER // 20 + 2 * ETHER + 2 * ETHER
    # USDC — 1,000 of the 1,500, then 300 each until the 20,000 cap: 63 in full and 100 of the 64th.
    assert usdc_pool.raised == 20_000 * USDC
    assert usdc_pool.refund_owed == 5 * USDC + 500 * USDC + (75 * 300 - 19_000) * USDC + 100 * USDC
    assert usdc_pool.status == Pool.Status.CLOSED, "the hard cap closes the pool"
    for pool in (eth_pool, usdc_pool):
        assert pool.raised == sum(expected[(e.tx_hash, e.position)][0] for e in s.expected if e.pool_id == pool.id)
        assert pool.balance_difference == 0, "every wei at the address is credited or owed back"

    # --- re-running over the same range changes nothing ----------------------------------------------------------
    before_deposits, before_pools = deposit_state(), pool_state()
    IndexerCursor.objects.update(last_block=cursor.last_block)
    rerun = index_chain(chain_id=ANVIL_CHAIN_ID)
    assert rerun.deposits_found == len(expected) and rerun.deposits_new == 0
    assert (deposit_state(), pool_state()) == (before_deposits, before_pools)

    # --- two indexers at once, over the same range again, and from nothing ---------------------------------------
    IndexerCursor.objects.update(last_block=cursor.last_block)
    index_with_two_at_once()
    assert (deposit_state(), pool_state()) == (before_deposits, before_pools)

    Deposit.objects.all().delete()
    Pool.objects.update(raised=0, refund_owed=0)
    IndexerCursor.objects.update(last_block=cursor.last_block, window=1)  # many steps: the two take turns
    index_with_two_at_once()
    assert (deposit_state(), pool_state()) == (before_deposits, before_pools)
