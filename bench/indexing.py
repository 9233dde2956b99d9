"""Benchmark: index 10,000 deposits against the time merely to fetch the same blocks, traces and logs.

    .venv/bin/python bench/indexing.py                 # its own anvil and a throwaway PostgreSQL (needs the
                                                       # postgresql package, as `make test` does)
    DATABASE_URL=postgres://... .venv/bin/python bench/indexing.py   # an existing, disposable database instead
                                                       # (e.g. `make run`'s: postgres://launchpad:launchpad@127.0.0.1:54320/launchpad)

It starts anvil on a free port, deploys the fixtures (test USDC) and a forwarding wallet, and mines ~100 blocks of
100 deposits each into 10 pools (5 ETH, 5 USDC): per block 40 plain ETH transfers, 20 ETH transfers forwarded by
a contract wallet (internal transfers, found only in traces) and 40 USDC transfers. Then it times

- indexing: `index_chain` from the first deposit block to the head — fetching, decoding, inserting, confirming,
  recomputing every pool's credits, reconciling balances, all of it;
- fetching: the same windows of blocks, receipts, traces and logs, read the same way (the indexer's own batched
  RPC reads, no database), best of two runs;

and prints deposits per second, both times and their ratio.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "scripts")]

BLOCKS = 100
PER_BLOCK = 100  # 40 native, 20 internal, 40 ERC-20
POOLS_PER_ASSET = 5
ETHER, USDC = 10**18, 10**6
ROUNDS = int(os.environ.get("INDEXING_ROUNDS", "3"))  # indexing and fetching alone, alternately; best of each
GAS = hex(80_000)  # per contract call: a forward or a token transfer needs well under this


def throwaway_database(stack, tmp: Path) -> str:
    """A PostgreSQL cluster of our own in a temporary folder, as `scripts/devstack.py test` starts one."""
    import devstack

    devstack.ensure_servers()
    port = devstack.free_port()
    devstack.start_postgres(stack, data_dir=tmp / "postgres" / "data", port=port, log=tmp / "postgres.log")
    return f"postgres://{devstack.DB_USER}:{devstack.DB_PASSWORD}@127.0.0.1:{port}/{devstack.DB_NAME}"


def setup_django(database_url: str, rpc_url: str) -> None:
    os.environ["DATABASE_URL"] = database_url
    os.environ["CHAIN_RPC_URL"] = rpc_url
    os.environ["CHAIN_ID"] = "31337"
    os.environ.setdefault("DJANGO_SECRET_KEY", "bench")
    os.environ["CHAIN_CHECK_ON_START"] = "false"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchpad.settings")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_deposits(node, pools_eth: list, pools_usdc: list) -> tuple[int, int]:
    """Mine BLOCKS blocks of PER_BLOCK deposits; returns (first block, last block)."""
    from eth_utils import keccak, to_checksum_address

    from chain.artifacts import load_artifact
    from chain.devnet import deploy_contract
    from chain.rpc import JsonRpc

    w3 = node.w3
    rpc = JsonRpc(url=node.rpc_url, timeout=120)
    deployer = node.account(0).address
    usdc = w3.eth.contract(address=pools_usdc[0].raise_asset, abi=load_artifact("TestUSDC").abi)
    wallet_address = deploy_contract(w3, deployer=deployer, name="ForwardingWallet")
    wallet = w3.eth.contract(address=wallet_address, abi=load_artifact("ForwardingWallet").abi)
    senders = [to_checksum_address(keccak(text=f"bench-sender-{i}")[12:]) for i in range(PER_BLOCK)]
    rpc.batch([("anvil_setBalance", [s, hex(10**6 * ETHER)]) for s in senders])
    rpc.batch([("anvil_autoImpersonateAccount", [True]), ("evm_setAutomine", [False])])
    mint = [
        ("eth_sendTransaction", [{"from": deployer, "to": usdc.address, "gas": hex(100_000),
                                  "data": usdc.encode_abi("mint", args=[s, 10**12 * USDC])}])
        for s in senders
    ]  # fmt: skip
    rpc.batch(mint)
    rpc.call("evm_mine")
    first = w3.eth.block_number + 1
    for block in range(BLOCKS):
        txs = []
        for i, sender in enumerate(senders):
            amount = (block * PER_BLOCK + i + 1) * 10**12
            if i < 40:
                pool = pools_eth[i % len(pools_eth)].deposit_address
                txs.append({"from": sender, "to": pool, "value": hex(amount), "gas": hex(21_000)})
            elif i < 60:
                pool = pools_eth[i % len(pools_eth)].deposit_address
                data = wallet.encode_abi("forward", args=[pool])
                txs.append({"from": sender, "to": wallet.address, "value": hex(amount), "data": data, "gas": GAS})
            else:
                pool = pools_usdc[i % len(pools_usdc)].deposit_address
                data = usdc.encode_abi("transfer", args=[pool, amount // 10**6])
                txs.append({"from": sender, "to": usdc.address, "data": data, "gas": GAS})
        rpc.batch([("eth_sendTransaction", [tx]) for tx in txs])
        rpc.call("evm_mine")
        mined = len(w3.eth.get_block("latest")["transactions"])
        if mined != PER_BLOCK:
            raise SystemExit(f"a block holds {mined} transactions, not {PER_BLOCK}")
    rpc.call("anvil_mine", [hex(2)])  # two confirmations on top of the last deposits
    rpc.batch([("evm_setAutomine", [True]), ("anvil_autoImpersonateAccount", [False])])
    return first, w3.eth.block_number


def fetch_only(indexer, windows: list[tuple[int, int]]) -> float:
    """The indexer's own reads of the windows, nothing else; each window with the cycle collector paused, as
    index_chain runs a step (so neither side gets the collector's pauses the other does not)."""
    from pools.indexer.base import BlockWindow, WatchedPools
    from pools.services.indexing import _collector_paused

    pools = WatchedPools.load(chain_id=indexer.chain_id)
    started = time.perf_counter()
    for first, last in windows:
        with _collector_paused():
            indexer.fetch_window(window=BlockWindow(first, last), pools=pools)
    return time.perf_counter() - started


def timed(owner, name: str, totals: dict[str, float], *, inner: str = "") -> None:
    """Wrap owner.name so the time spent in it adds up in totals[name] (the breakdown of the indexing time); with
    `inner`, less the time counted meanwhile under that name (crediting done while storing is crediting's)."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started, inner_before = time.perf_counter(), totals.get(inner, 0.0)
        try:
            return original(*args, **kwargs)
        finally:
            spent = time.perf_counter() - started - (totals.get(inner, 0.0) - inner_before if inner else 0.0)
            totals[name] = totals.get(name, 0.0) + spent

    setattr(owner, name, wrapper)


class GcPauses:
    """Adds up the time the garbage collector stops the program while it is active (gc.callbacks)."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started = 0.0

    def _callback(self, phase: str, info: dict) -> None:
        if phase == "start":
            self._started = time.perf_counter()
        else:
            self.seconds += time.perf_counter() - self._started

    def __enter__(self) -> GcPauses:
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *exc) -> None:
        gc.callbacks.remove(self._callback)


def check_books(*, first: int) -> None:
    """What a round must have done: every deposit stored once, confirmed, credited in full, every pool reconciled."""
    from django.db.models import Sum

    from pools.models import Deposit, Pool
    from tests.anvil import ANVIL_CHAIN_ID

    deposits = Deposit.objects.filter(chain_id=ANVIL_CHAIN_ID, block_number__gte=first)
    count = deposits.count()
    confirmed = deposits.filter(status=Deposit.Status.CONFIRMED).count()
    assert count == confirmed == BLOCKS * PER_BLOCK, (count, confirmed)
    totals = deposits.aggregate(credited=Sum("credited_amount"), amount=Sum("amount"))
    assert totals["credited"] == totals["amount"], "everything fits: all of it credited"
    assert not Pool.objects.exclude(balance_difference=0).exists(), "every pool reconciles"


def reset_index(*, first: int, pool_ids: list[int]) -> None:
    """Forget what the last round indexed, so the next one starts from the same state (the chain is unchanged)."""
    from django.db import connection, transaction

    from pools.models import Deposit, IndexedBlock, IndexerCursor, Pool, PoolEvent
    from tests.anvil import ANVIL_CHAIN_ID

    with transaction.atomic():
        PoolEvent.objects.filter(pool_id__in=pool_ids).delete()
        Deposit.objects.filter(chain_id=ANVIL_CHAIN_ID).delete()
        IndexedBlock.objects.filter(chain_id=ANVIL_CHAIN_ID).delete()
        IndexerCursor.objects.filter(chain_id=ANVIL_CHAIN_ID).update(
            last_block=first - 1, window=IndexerCursor._meta.get_field("window").default, head=-1, final_block=None
        )
        Pool.objects.filter(pk__in=pool_ids).update(
            raised=0, refund_owed=0, balance_difference=0, balance_checked_at=None
        )
    with connection.cursor() as cursor:  # the dead rows would slow the next round's inserts; autovacuum is slower
        for model in (Deposit, PoolEvent, IndexedBlock):
            cursor.execute(f"VACUUM ANALYZE {model._meta.db_table}")


def remove_bench_rows(pool_ids: list[int]) -> None:
    """Leave a given database as we found it (best effort: other apps' rows may hang on the pools)."""
    from django.db import DatabaseError, transaction

    from pools.models import Agent, Deposit, IndexedBlock, IndexerCursor, Pool
    from tests.anvil import ANVIL_CHAIN_ID

    try:
        with transaction.atomic():
            Deposit.objects.filter(chain_id=ANVIL_CHAIN_ID).delete()
            IndexerCursor.objects.filter(chain_id=ANVIL_CHAIN_ID).delete()
            IndexedBlock.objects.filter(chain_id=ANVIL_CHAIN_ID).delete()
            agents = list(Pool.objects.filter(pk__in=pool_ids).values_list("agent_id", flat=True))
            Pool.objects.filter(pk__in=pool_ids).delete()
            Agent.objects.filter(pk__in=agents).delete()
    except DatabaseError as exc:
        print(f"note: the bench's rows were left in the database ({exc.__class__.__name__}: {exc})".strip())


def run(database_url: str | None, *, profile: bool = False) -> None:
    import devstack

    from tests.anvil import ANVIL_CHAIN_ID, start_anvil

    stack, tmp = devstack.Stack(), Path(tempfile.mkdtemp(prefix="launchpad-bench-"))
    os.chmod(tmp, 0o755)  # noqa: S103 - the postgres user must reach its data folder inside
    node = start_anvil()
    disposable_given = database_url is not None
    try:
        if database_url is None:
            database_url = throwaway_database(stack, tmp)
        setup_django(database_url, node.rpc_url)
        from eth_utils import to_checksum_address

        from chain.devnet import deploy_dev_fixtures
        from chain.rpc import JsonRpc
        from pools.indexer import chain as chain_indexer
        from pools.indexer.chain import ChainIndexer
        from pools.models import Deposit, IndexerCursor
        from pools.services import crediting, indexing
        from pools.services.indexing import index_chain
        from tests.factories import PoolFactory

        if IndexerCursor.objects.filter(chain_id=ANVIL_CHAIN_ID).exists():
            raise SystemExit("this database already indexes chain 31337: give the bench a disposable database")
        deployment = deploy_dev_fixtures(node.w3, deployer=node.account(0).address)
        common = {"chain_id": ANVIL_CHAIN_ID, "opens_at": None, "closes_at": None, "soft_cap": 0, "confirmations": 2}
        address = lambda n: to_checksum_address(f"0x{n:040x}")  # noqa: E731 - fresh addresses with no history
        pools_eth = [
            PoolFactory(deposit_address=address(0xE7 + i), hard_cap=10**9 * ETHER, **common)
            for i in range(POOLS_PER_ASSET)
        ]
        pools_usdc = [
            PoolFactory(deposit_address=address(0x05DC + i), raise_asset=deployment.usdc, raise_asset_decimals=6,
                        raise_asset_symbol="USDC", hard_cap=10**15 * USDC, **common)
            for i in range(POOLS_PER_ASSET)
        ]  # fmt: skip
        print(f"mining {BLOCKS} blocks of {PER_BLOCK} deposits ...", flush=True)
        started = time.perf_counter()
        first, head = make_deposits(node, pools_eth, pools_usdc)
        print(f"  mined blocks {first}..{head - 2} (+2 on top) in {time.perf_counter() - started:.1f} s", flush=True)

        rpc = JsonRpc(url=node.rpc_url, timeout=120)
        indexer = ChainIndexer(chain_id=ANVIL_CHAIN_ID, rpc=rpc)
        warmup = [(n, min(n + 49, head)) for n in range(first, head + 1, 50)]
        fetch_only(indexer, warmup)  # the node's first read of fresh blocks is slower; neither side gets it
        windows_of_last_round: list[tuple[int, int]] = []

        IndexerCursor.objects.create(chain_id=ANVIL_CHAIN_ID, last_block=first - 1, first_block=first)
        pool_ids = [p.pk for p in pools_eth + pools_usdc]
        parts: dict[str, float] = {}
        timed(ChainIndexer, "store", parts, inner="pool_recompute_credits")
        for owner, name in [
            (ChainIndexer, "fetch_window"),
            (ChainIndexer, "find_deposits"),
            (chain_indexer, "pool_recompute_credits"),
            (indexing, "_reconcile"),
            *(
                [
                    (crediting, "_write_decisions"),
                    (crediting.events, "deposits_credited"),
                    (crediting, "decide_credits"),
                    (chain_indexer, "confirm_deposits"),
                ]
                if os.environ.get("INDEXING_DETAIL") == "1"
                else []
            ),
        ]:
            timed(owner, name, parts)
        gc_pauses = GcPauses()
        rounds = []  # (indexing seconds, fetching seconds, breakdown), alternating so both see the same machine
        for number in range(ROUNDS):
            if number:
                reset_index(first=first, pool_ids=pool_ids)
            with GcPauses() as fetch_gc:
                fetch_seconds = fetch_only(indexer, windows_of_last_round or warmup)
            parts.clear()
            gc_pauses.seconds = 0.0
            profiler = cProfile.Profile() if profile and number == ROUNDS - 1 else None
            started = time.perf_counter()
            if profiler is not None:
                profiler.enable()
            with gc_pauses:
                report = index_chain(chain_id=ANVIL_CHAIN_ID, time_budget=3_600, rpc=rpc)
            index_seconds = time.perf_counter() - started
            if profiler is not None:
                profiler.disable()
                pstats.Stats(profiler).sort_stats("tottime").print_stats(40)
                pstats.Stats(profiler).sort_stats("cumulative").print_stats(60)
            fetched = parts["fetch_window"]
            breakdown = {
                "fetch": fetched,
                "decode": parts["find_deposits"] - fetched,
                "store": parts["store"],  # block hashes, and the rows not credited as stored
                "credit": parts["pool_recompute_credits"],  # with the rows credited as they are stored
                "reconcile": parts["_reconcile"],
            }
            breakdown["the rest"] = index_seconds - sum(breakdown.values())
            breakdown["(GC pauses, in the above)"] = gc_pauses.seconds
            breakdown["(GC pauses fetching alone)"] = fetch_gc.seconds
            breakdown |= {
                f"({name})": parts.get(name, 0.0)
                for name in ("_write_decisions", "deposits_credited", "decide_credits", "confirm_deposits")
                if name in parts
            }
            windows_of_last_round = report.windows
            if number == 0:  # the first fetch-only pass read the warm-up windows, not the indexer's: again
                fetch_seconds = fetch_only(indexer, report.windows)
            check_books(first=first)
            rounds.append((index_seconds, fetch_seconds, breakdown))
            print(
                f"round {number + 1}: indexing {index_seconds:.2f} s, fetching only {fetch_seconds:.2f} s: "
                f"{index_seconds / fetch_seconds:.2f}x  ("
                + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in breakdown.items())
                + ")",
                flush=True,
            )

        count = Deposit.objects.filter(chain_id=ANVIL_CHAIN_ID).count()
        index_seconds, _, breakdown = min(rounds, key=lambda r: r[0])
        fetch_seconds = min(r[1] for r in rounds)
        ratios = sorted(r[0] / r[1] for r in rounds)
        # What the indexer adds to its own fetch, against the fetch alone: steadier than the ratio on a busy machine,
        # since the two fetch times it compares do not enter it.
        processing = min(r[0] - r[2]["fetch"] for r in rounds)
        print(
            f"deposits indexed      {count} in {report.blocks} blocks, {len(report.windows)} windows "
            f"(sizes {sorted({last - first + 1 for first, last in report.windows})}), {ROUNDS} rounds"
        )
        print(f"indexing              {index_seconds:.2f} s  ({count / index_seconds:,.0f} deposits/s), best round")
        print("  of which             " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in breakdown.items()))
        print(f"fetching only         {fetch_seconds:.2f} s  (blocks + receipts + traces + logs, same windows), best")
        print(f"processing            {processing:.2f} s  (indexing less its own fetch, best round), "
              f"{processing / fetch_seconds:.2f}x the fetch alone")  # fmt: skip
        print(
            f"ratio                 {index_seconds / fetch_seconds:.2f}x  (best ÷ best; per round "
            f"{', '.join(f'{r:.2f}' for r in ratios)})"
        )
        from figures import publish, ratio

        publish(
            bench="indexing",
            what=f"index {count:,} deposits in {BLOCKS} blocks (10 pools: ETH, forwarded ETH, USDC)",
            figure=f"{count / index_seconds:,.0f} deposits/s ({index_seconds:.2f} s)",
            reference=f"{fetch_seconds:.2f} s fetching the same data alone",
            ratio=ratio(index_seconds / fetch_seconds, "≤ 1.5×"),
            detail=f"best of {ROUNDS} rounds each, alternating (per-round ratios "
            f"{min(ratios):.2f} to {max(ratios):.2f}); processing (indexing less its own fetch) {processing:.2f} s = "
            f"{processing / fetch_seconds:.2f}× the fetch alone; of the indexing: "
            + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in breakdown.items()),
        )
        if disposable_given:
            remove_bench_rows(pool_ids)
    finally:
        node.stop()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    # INDEXING_PROFILE=1: print cProfile's view of the indexing run (devstack's bench passes no arguments through).
    run(os.environ.get("DATABASE_URL"), profile=os.environ.get("INDEXING_PROFILE") == "1")


if __name__ == "__main__":
    main()
