"""Time from launch trigger to LAUNCHED, and the launch's gas, for 10 and for 10,000 depositors.

Runs the app's real launch path (allocation, Merkle tree and proofs in PostgreSQL, the signer process with its own
books, the transaction manager, anvil with the real Uniswap V2 contracts), driving the job in-process as the worker
would, so queue latency is not included.

The deposits are real transactions on anvil: each depositor (a distinct address, impersonated) sends 0.1 ETH to the
pool's deposit address, PER_BLOCK to a block, after the pool opened by the chain's clock. Their Deposit rows are
written from the receipts as the indexer would write them, confirmed (indexing is timed by bench/indexing.py), and
credited by the app's crediting (`pool_recompute_credits`); the last deposit reaches the hard cap, so the raise is
final and the pool CLOSED without waiting for its close time. The indexer's cursor is set to the head, past the last
deposit by more than the pool's one confirmation. This setup is timed apart and not part of the figure.

Timed: trigger → LAUNCHED, which includes the signer's ledger checks: before signing, `ledger_sync` hands the signer
every confirmed deposit, which it proves on chain (receipts, transactions, block headers), proves the list complete
(the address's balance at the confirmed block), and computes the credited total and the Merkle root itself; at /sign
it checks the launch's raiseAmount and merkleRoot against them. Also printed, each measured by wrapping the function
in this process (the app's code is unchanged): the time in `ledger_sync` (split into the chunks of deposits proven
and the completeness call), in the signer's /sign, and in the allocation step.

    .venv/bin/python scripts/devstack.py bench bench/launch.py
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "launchpad.settings")
os.environ["CHAIN_CHECK_ON_START"] = "false"

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.utils import timezone  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402
from figures import ms, publish  # noqa: E402 - bench/figures.py, next to this script

import pools.services.launch as launch_service  # noqa: E402
from chain.devnet import deploy_dev_fixtures, refresh_dev_price_feeds  # noqa: E402
from chain.rpc import JsonRpc  # noqa: E402
from pools.models import Agent, Deposit, IndexerCursor, Launch, Pool  # noqa: E402
from pools.services.crediting import pool_recompute_credits  # noqa: E402
from pools.services.launch import launch_advance, launch_request  # noqa: E402
from pools.services.pools import pool_schedule, pools_open_due  # noqa: E402
from pools.signer_client import SignerClient  # noqa: E402
from tests.anvil import start_anvil  # noqa: E402
from tests.processes import start_signer  # noqa: E402

ETHER = 10**18
DEPOSIT = ETHER // 10
DEPOSIT_GAS = 21_000
GWEI = 10**9
CONFIRMATIONS = 1
# Deposits per block, as in bench/indexing.py. Not full blocks (~1,400 transfers): anvil answers a receipt in time that
# grows with its block's size (~9 ms each in full blocks, ~0.4 ms at 100 a block), so the signer's proof of a chunk of
# 1,000 deposits would take about 10 s, the web tier's SIGNER_TIMEOUT, and measure anvil more than the app.
PER_BLOCK = 100
ALLOCATION, LEDGER, SIGNING = "allocation", "ledger_sync", "signing"
LEDGER_PROVE, LEDGER_COMPLETE = "· proving deposits", "· complete + root"


def address(label: str) -> str:
    return to_checksum_address(keccak(text=f"bench-{label}")[12:])


def blocks_text(count: int) -> str:
    return f"{count} block" if count == 1 else f"{count} blocks"


def chain_now(anvil) -> datetime:
    return datetime.fromtimestamp(anvil.w3.eth.get_block("latest")["timestamp"], tz=UTC)


def open_pool(anvil, *, depositors: int, label: str) -> Pool:
    """A pool for `depositors` × 0.1 ETH (its hard cap), scheduled with the signer, then OPEN by the chain's clock."""
    agent, _ = Agent.objects.get_or_create(name=f"bench agent {label}", defaults={"wallet_address": address("agent")})
    # In the future by both clocks: pool_schedule wants it ahead of ours, the deposits' blocks come after it.
    opens = max(timezone.now(), chain_now(anvil)).replace(microsecond=0) + timedelta(minutes=5)
    pool = Pool.objects.create(
        agent=agent,
        name=f"bench {label}",
        token_name=f"Bench {label}",
        token_symbol=f"B{depositors}",
        soft_cap=1,
        hard_cap=depositors * DEPOSIT,
        opens_at=opens,
        closes_at=opens + timedelta(days=1),
        confirmations=CONFIRMATIONS,
        fee_recipient=address("fee"),
        treasury_address=address("treasury"),
        chain_id=anvil.w3.eth.chain_id,
    )
    pool_schedule(pool_id=pool.pk)
    pools_open_due(now=opens)
    return Pool.objects.get(pk=pool.pk)


def send_deposits(anvil, rpc: JsonRpc, pool: Pool, *, depositors: int, label: str) -> list[dict]:
    """Each depositor sends 0.1 ETH to the pool address, from a minute after it opened, PER_BLOCK to a block."""
    senders = [address(f"{label}-depositor-{i}") for i in range(depositors)]
    rpc.batch([("anvil_setBalance", [sender, hex(ETHER)]) for sender in senders])
    anvil.rpc("anvil_autoImpersonateAccount", [True])
    anvil.rpc("evm_setAutomine", [False])
    fees = {"maxFeePerGas": hex(100 * GWEI), "maxPriorityFeePerGas": hex(GWEI)}  # above any base fee they cause
    hashes = []
    try:
        anvil.rpc("evm_setNextBlockTimestamp", [int(pool.opens_at.timestamp()) + 60])
        for start in range(0, depositors, PER_BLOCK):
            hashes += rpc.batch(
                [
                    ("eth_sendTransaction", [{"from": sender, "to": pool.deposit_address, "value": hex(DEPOSIT),
                                              "gas": hex(DEPOSIT_GAS), **fees}])
                    for sender in senders[start : start + PER_BLOCK]
                ]
            )  # fmt: skip
            anvil.rpc("evm_mine")
        anvil.rpc("anvil_mine", [hex(CONFIRMATIONS + 1)])  # the confirmations on top of the last deposit
    finally:
        anvil.rpc("evm_setAutomine", [True])
        anvil.rpc("anvil_autoImpersonateAccount", [False])
    receipts = rpc.batch([("eth_getTransactionReceipt", [tx_hash]) for tx_hash in hashes])
    if not all(receipt and int(receipt["status"], 16) == 1 for receipt in receipts):
        raise SystemExit("a deposit transaction was not mined, or reverted")
    return receipts


def record_deposits(rpc: JsonRpc, pool: Pool, receipts: list[dict]) -> None:
    """The Deposit rows as the indexer writes a plain ETH transfer's, confirmed."""
    numbers = sorted({int(receipt["blockNumber"], 16) for receipt in receipts})
    blocks = rpc.batch([("eth_getBlockByNumber", [hex(number), False]) for number in numbers])
    stamps = {int(b["number"], 16): datetime.fromtimestamp(int(b["timestamp"], 16), tz=UTC) for b in blocks}
    Deposit.objects.bulk_create(
        [
            Deposit(
                pool=pool,
                chain_id=pool.chain_id,
                tx_hash=receipt["transactionHash"].lower(),
                position="tx",
                kind=Deposit.Kind.NATIVE_TX,
                sender=to_checksum_address(receipt["from"]),
                amount=DEPOSIT,
                block_number=int(receipt["blockNumber"], 16),
                block_hash=receipt["blockHash"].lower(),
                tx_index=int(receipt["transactionIndex"], 16),
                ordinal=0,
                block_timestamp=stamps[int(receipt["blockNumber"], 16)],
                status=Deposit.Status.CONFIRMED,
            )
            for receipt in receipts
        ],
        batch_size=2000,
    )


def closed_pool_with_depositors(anvil, rpc: JsonRpc, deployment, *, depositors: int, label: str) -> Pool:
    pool = open_pool(anvil, depositors=depositors, label=label)
    receipts = send_deposits(anvil, rpc, pool, depositors=depositors, label=label)
    record_deposits(rpc, pool, receipts)
    pool = pool_recompute_credits(pool_id=pool.pk)  # the last deposit reaches the hard cap: OPEN → CLOSED
    if pool.status != Pool.Status.CLOSED or pool.raised != depositors * DEPOSIT:
        raise SystemExit(f"the pool did not close at its hard cap: {pool.status}, raised {pool.raised}")
    # The chain's clock moved past the feeds' updates: re-stamp them, as the devnet heartbeat task would.
    refresh_dev_price_feeds(anvil.w3, deployment, deployer=anvil.account(0).address)
    head = anvil.w3.eth.block_number
    IndexerCursor.objects.update_or_create(
        chain_id=pool.chain_id, defaults={"last_block": head, "head": head, "final_block": head}
    )  # every deposit up to the head is in: what the indexer would record (another bench may have left a cursor)
    return pool


def timed(function, parts: dict[str, float], part):
    """`function`, adding the time spent in it to parts[part] (`part` may name it from the keyword arguments)."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        started = time.perf_counter()
        try:
            return function(*args, **kwargs)
        finally:
            name = part(kwargs) if callable(part) else part
            parts[name] = parts.get(name, 0.0) + time.perf_counter() - started

    return wrapper


def instrument() -> dict[str, float]:
    """Wrap, in this process only, what the launch job calls; the app's code is unchanged."""
    parts: dict[str, float] = {}
    # The launch module's own name for it: `from pools.services.ledger import ledger_sync` bound it there.
    launch_service.ledger_sync = timed(launch_service.ledger_sync, parts, LEDGER)
    SignerClient.record_deposits = timed(
        SignerClient.record_deposits,
        parts,
        lambda kwargs: LEDGER_COMPLETE if kwargs.get("complete_at_block") is not None else LEDGER_PROVE,
    )
    SignerClient.sign = timed(SignerClient.sign, parts, SIGNING)
    steps = launch_service._STEPS  # noqa: SLF001 - the job's step table: the allocation step, timed
    steps[Launch.Step.REQUESTED] = timed(steps[Launch.Step.REQUESTED], parts, ALLOCATION)
    return parts


def time_launch(pool: Pool, parts: dict[str, float]) -> tuple[float, dict[str, float], int]:
    """(trigger → LAUNCHED seconds, the parts timed inside it, the launch's gas)."""
    parts.clear()
    started = time.perf_counter()
    launch_request(pool_id=pool.pk, requested_by="bench")
    for _ in range(50):
        launch = launch_advance(pool_id=pool.pk)
        if launch.step in (Launch.Step.LAUNCHED, Launch.Step.FAILED):
            break
    elapsed = time.perf_counter() - started
    if launch.step != Launch.Step.LAUNCHED:
        raise SystemExit(f"the launch failed: {launch.error}")
    return elapsed, dict(parts), launch.transaction.gas_used


def main() -> None:
    anvil = start_anvil()
    rpc = JsonRpc(url=anvil.rpc_url, timeout=120, batch_size=500, parallel_batches=1)
    work = Path(tempfile.mkdtemp(prefix="bench-launch-"))
    signer = None
    try:
        deployment = deploy_dev_fixtures(anvil.w3, deployer=anvil.account(0).address)
        deployment.write(work / "deployment.json")
        (work / "signer-contracts.json").write_text(deployment.signer_contracts_json())
        signer = start_signer(
            rpc_url=anvil.rpc_url, chain_id=anvil.w3.eth.chain_id, data_dir=work / "signer",
            contracts_file=work / "signer-contracts.json",
        )  # fmt: skip
        settings.CHAIN_RPC_URL, settings.CHAIN_ID = anvil.rpc_url, anvil.w3.eth.chain_id
        settings.CHAIN_DEPLOYMENT_FILE = work / "deployment.json"
        settings.SIGNER_URL, settings.SIGNER_CLIENT_KEY = signer.url, signer.client_key
        parts = instrument()
        rows = []
        # The chain's first launch pays once for accounts the later ones find warm (the fee recipient's and the
        # treasury's, the dead address's first LP balance): launch once first, unmeasured, as bench/gas.py does.
        time_launch(closed_pool_with_depositors(anvil, rpc, deployment, depositors=10, label="warm-up"), parts)
        for depositors in (10, 10_000):
            started = time.perf_counter()
            pool = closed_pool_with_depositors(anvil, rpc, deployment, depositors=depositors, label=str(depositors))
            setup = time.perf_counter() - started
            blocks = Deposit.objects.filter(pool=pool).values("block_number").distinct().count()
            print(f"  set up {depositors:,} real deposits in {blocks_text(blocks)} in {setup:.1f} s", flush=True)
            seconds, timed_parts, gas = time_launch(pool, parts)
            rows.append((depositors, seconds, timed_parts, gas, setup, blocks))
            print(f"  launched a pool of {depositors:,} depositors", flush=True)
        print()
        columns = ["trigger → LAUNCHED", ALLOCATION, LEDGER, LEDGER_PROVE, LEDGER_COMPLETE, SIGNING, "the rest"]
        widths = [max(len(column), 9) for column in columns]
        print(f"{'depositors':>10}  " + "  ".join(f"{c:>{w}}" for c, w in zip(columns, widths, strict=True)))
        for depositors, seconds, timed_parts, _, _, _ in rows:
            rest = seconds - timed_parts.get(ALLOCATION, 0) - timed_parts.get(LEDGER, 0) - timed_parts.get(SIGNING, 0)
            values = [seconds, *(timed_parts.get(column, 0.0) for column in columns[1:-1]), rest]
            cells = [f"{value * 1000:>{w - 3},.0f} ms" for value, w in zip(values, widths, strict=True)]
            print(f"{depositors:>10,}  " + "  ".join(cells))
        print(
            f"\n{LEDGER} includes {LEDGER_PROVE} (chunks of 1,000 citations) and {LEDGER_COMPLETE} (the balance check, "
            "the signer's own credits and Merkle root); signing is the signer's /sign, its policy and books included."
        )
        for depositors, _, _, _, setup, blocks in rows:
            print(f"setup (untimed) of {depositors:,} real deposits in {blocks_text(blocks)}: {setup:.1f} s")
        for depositors, seconds, timed_parts, gas, setup, blocks in rows:
            publish(
                bench="launch",
                what=f"trigger → LAUNCHED, {depositors:,} depositors",
                figure=ms(seconds),
                detail=f"of which the signer's ledger (ledger_sync) {ms(timed_parts.get(LEDGER, 0))}, signing "
                f"{ms(timed_parts.get(SIGNING, 0))}, allocation {ms(timed_parts.get(ALLOCATION, 0))}; launch gas "
                f"{gas:,}; {depositors:,} real deposits in {blocks_text(blocks)} (setup {setup:.1f} s, untimed)",
            )
        print(
            "\n(in-process job on anvil; includes allocation, Merkle proofs, the signer's ledger: proving every "
            "deposit on chain and the list complete, its own credits and root; signing, broadcast and the receipt)"
        )
    finally:
        if signer:
            signer.stop()
        anvil.stop()


if __name__ == "__main__":
    main()
