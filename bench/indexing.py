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
import os
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
    from pools.indexer.base import BlockWindow, WatchedPools

    pools = WatchedPools.load(chain_id=indexer.chain_id)
    started = time.perf_counter()
    for first, last in windows:
        indexer.fetch_window(window=BlockWindow(first, last), pools=pools)
    return time.perf_counter() - started


def timed(owner, name: str, totals: dict[str, float]) -> None:
    """Wrap owner.name so the time spent in it adds up in totals[name] (the breakdown of the indexing time)."""
    original = getattr(owner, name)

    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return original(*args, **kwargs)
        finally:
            totals[name] = totals.get(name, 0.0) + time.perf_counter() - started

    setattr(owner, name, wrapper)


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


def run(database_url: str | None) -> None:
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
        from django.db.models import Sum
        from eth_utils import to_checksum_address

        from chain.devnet import deploy_dev_fixtures
        from chain.rpc import JsonRpc
        from pools.indexer import chain as chain_indexer
        from pools.indexer.chain import ChainIndexer
        from pools.models import Deposit, IndexerCursor, Pool
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

        IndexerCursor.objects.create(chain_id=ANVIL_CHAIN_ID, last_block=first - 1, first_block=first)
        parts: dict[str, float] = {}
        for owner, name in [
            (ChainIndexer, "fetch_window"),
            (ChainIndexer, "find_deposits"),
            (ChainIndexer, "store"),
            (chain_indexer, "pool_recompute_credits"),
        ]:
            timed(owner, name, parts)
        started = time.perf_counter()
        report = index_chain(chain_id=ANVIL_CHAIN_ID, time_budget=3_600, rpc=rpc)
        index_seconds = time.perf_counter() - started
        fetched = parts["fetch_window"]
        parts = {  # a copy: the wrappers go on counting during the fetch-only runs below
            "fetch": fetched,
            "decode": parts["find_deposits"] - fetched,
            "store": parts["store"],
            "credit recompute": parts["pool_recompute_credits"],
        }
        fetch_seconds = min(fetch_only(indexer, report.windows) for _ in range(2))

        deposits = Deposit.objects.filter(chain_id=ANVIL_CHAIN_ID)
        count = deposits.count()
        confirmed = deposits.filter(status=Deposit.Status.CONFIRMED).count()
        credited = deposits.aggregate(total=Sum("credited_amount"))["total"]
        assert count == confirmed == BLOCKS * PER_BLOCK, (count, confirmed)
        assert credited == deposits.aggregate(total=Sum("amount"))["total"], "everything fits: all of it credited"
        assert not Pool.objects.exclude(balance_difference=0).exists(), "every pool reconciles"

        print(
            f"deposits indexed      {count} in {report.blocks} blocks, {len(report.windows)} windows "
            f"(sizes {sorted({last - first + 1 for first, last in report.windows})})"
        )
        print(f"indexing              {index_seconds:.2f} s  ({count / index_seconds:,.0f} deposits/s)")
        print("  of which             " + ", ".join(f"{name} {seconds:.2f} s" for name, seconds in parts.items())
              + f", the rest {index_seconds - sum(parts.values()):.2f} s")  # fmt: skip
        print(f"fetching only         {fetch_seconds:.2f} s  (blocks + receipts + traces + logs, same windows)")
        print(f"ratio                 {index_seconds / fetch_seconds:.2f}x  (indexing / fetching)")
        from figures import publish

        publish(
            bench="indexing",
            what=f"index {count:,} deposits in {BLOCKS} blocks (10 pools: ETH, forwarded ETH, USDC)",
            figure=f"{count / index_seconds:,.0f} deposits/s",
            detail=f"{index_seconds:.2f} s; fetching the same data alone {fetch_seconds:.2f} s: "
            f"{index_seconds / fetch_seconds:.2f}× (indexing ÷ fetching)",
        )
        if disposable_given:
            remove_bench_rows([p.pk for p in pools_eth + pools_usdc])
    finally:
        node.stop()
        stack.stop()
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.parse_args()
    run(os.environ.get("DATABASE_URL"))


if __name__ == "__main__":
    main()
