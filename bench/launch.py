"""Time from launch trigger to LAUNCHED, and the launch's gas, for 10 and for 10,000 depositors.

Runs the app's real launch path (allocation, Merkle tree and proofs in PostgreSQL, the signer process, the
transaction manager, anvil with the real Uniswap V2 contracts), driving the job in-process as the worker would,
so queue latency is not included. Deposits are written as already indexed and confirmed (indexing is timed by
bench/indexing.py), and the pool address is funded to match them.

    .venv/bin/python scripts/devstack.py bench bench/launch.py
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
from datetime import timedelta
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

from chain.devnet import deploy_dev_fixtures  # noqa: E402
from pools.models import Agent, Deposit, Launch, Pool  # noqa: E402
from pools.services.launch import launch_advance, launch_request  # noqa: E402
from pools.services.pools import pool_schedule  # noqa: E402
from tests.anvil import start_anvil  # noqa: E402
from tests.processes import start_signer  # noqa: E402

ETHER = 10**18


def address(label: str) -> str:
    return to_checksum_address(keccak(text=f"bench-{label}")[12:])


def closed_pool_with_depositors(anvil, *, depositors: int, label: str) -> Pool:
    agent, _ = Agent.objects.get_or_create(name=f"bench agent {label}", defaults={"wallet_address": address("agent")})
    opens = timezone.now() + timedelta(minutes=5)
    pool = Pool.objects.create(
        agent=agent,
        name=f"bench {label}",
        token_name=f"Bench {label}",
        token_symbol=f"B{depositors}",
        soft_cap=1,
        hard_cap=depositors * ETHER // 10,
        opens_at=opens,
        closes_at=opens + timedelta(days=1),
        fee_recipient=address("fee"),
        treasury_address=address("treasury"),
        chain_id=anvil.w3.eth.chain_id,
    )
    pool = pool_schedule(pool_id=pool.pk)
    now = timezone.now()
    amount = ETHER // 10
    Deposit.objects.bulk_create(
        [
            Deposit(
                pool=pool,
                chain_id=pool.chain_id,
                tx_hash="0x" + keccak(text=f"{label}-{i}").hex(),
                position="tx",
                kind=Deposit.Kind.NATIVE_TX,
                sender=address(f"{label}-depositor-{i}"),
                amount=amount,
                block_number=1,
                block_hash="0x" + "00" * 32,
                tx_index=i,
                ordinal=0,
                block_timestamp=now,
                status=Deposit.Status.CONFIRMED,
                credited_amount=amount,
            )
            for i in range(depositors)
        ],
        batch_size=2000,
    )
    raised = amount * depositors
    # The hard cap was reached: the raise is final without waiting for confirmations.
    Pool.objects.filter(pk=pool.pk).update(status=Pool.Status.CLOSED, raised=raised, closed_at=now)
    anvil.rpc("anvil_setBalance", [pool.deposit_address, hex(raised)])
    return Pool.objects.get(pk=pool.pk)


def time_launch(pool: Pool) -> tuple[float, int]:
    started = time.perf_counter()
    launch_request(pool_id=pool.pk, requested_by="bench")
    for _ in range(50):
        launch = launch_advance(pool_id=pool.pk)
        if launch.step in (Launch.Step.LAUNCHED, Launch.Step.FAILED):
            break
    elapsed = time.perf_counter() - started
    if launch.step != Launch.Step.LAUNCHED:
        raise SystemExit(f"the launch failed: {launch.error}")
    return elapsed, launch.transaction.gas_used


def main() -> None:
    anvil = start_anvil()
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
        rows = []
        # The chain's first launch pays once for accounts the later ones find warm (the fee recipient's and the
        # treasury's, the dead address's first LP balance): launch once first, unmeasured, as bench/gas.py does.
        time_launch(closed_pool_with_depositors(anvil, depositors=10, label="warm-up"))
        for depositors in (10, 10_000):
            pool = closed_pool_with_depositors(anvil, depositors=depositors, label=str(depositors))
            seconds, gas = time_launch(pool)
            rows.append((depositors, seconds, gas))
            print(f"  launched a pool of {depositors:,} depositors", flush=True)
        print()
        print(f"{'depositors':>10}  {'trigger → LAUNCHED':>19}  {'launch gas':>11}")
        for depositors, seconds, gas in rows:
            print(f"{depositors:>10,}  {seconds * 1000:>16,.0f} ms  {gas:>11,}")
        for depositors, seconds, gas in rows:
            publish(
                bench="launch",
                what=f"trigger → LAUNCHED, {depositors:,} depositors",
                figure=ms(seconds),
                detail=f"launch gas {gas:,}; in-process job: allocation, proofs, signer, broadcast, receipt",
            )
        print("\n(in-process job on anvil; includes allocation, Merkle proofs, signing and the receipt)")
    finally:
        if signer:
            signer.stop()
        anvil.stop()


if __name__ == "__main__":
    main()
