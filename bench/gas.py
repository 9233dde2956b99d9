"""Gas of the on-chain operations: a launch (for 10 and 10,000 depositors), a claim, a refund per recipient.

Run: `.venv/bin/python bench/gas.py` (starts its own anvil, deploys the dev fixtures, prints a table).
The launch stores one Merkle root whatever the number of depositors, so its gas must not grow with them.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from figures import publish  # noqa: E402 - bench/figures.py, next to this script

from chain.contracts import encode_approve, encode_claim, encode_refund_erc20, encode_refund_eth  # noqa: E402
from chain.devnet import deploy_dev_fixtures  # noqa: E402
from enclave_signer.allocation import split_supply  # noqa: E402
from tests.anvil import start_anvil  # noqa: E402
from tests.contracts.support import (  # noqa: E402
    DAY,
    ETHER,
    TOKEN,
    USDC,
    ChainEnv,
    eth_launch_params,
    fresh_address,
    launch,
    make_depositors,
    usdc_launch_params,
)

REFUND_BATCH = 100
DEPOSITOR_TOKENS = split_supply(total_supply=1_000_000_000 * TOKEN, liquidity_bps=4_000, depositor_bps=4_000).depositors


def measure_launch(env: ChainEnv, *, depositors: int, pool_pk: int, **overrides) -> tuple[int, object, object]:
    group = make_depositors(count=depositors, depositor_tokens=DEPOSITOR_TOKENS, seed=f"bench-{pool_pk}")
    params = eth_launch_params(env, depositors=group, pool_id=pool_pk.to_bytes(32, "big"), **overrides)
    receipt, event = launch(env, params)
    return receipt["gasUsed"], event, group


def measure_claims(env: ChainEnv, event, group) -> tuple[int, int, int]:
    """Gas of a first claim midway through vesting, and of a second claim at the end, with the proof length."""
    vault = env.contract("ClaimVault", event.claim_vault)
    depositor = next(iter(group.allocations))
    env.impersonate(depositor)
    data = encode_claim(amount=group.tree.amount(depositor), proof=group.tree.proof(depositor))
    env.anvil.rpc("evm_setNextBlockTimestamp", [vault.functions.vestingStart().call() + 45 * DAY])
    first = env.send(sender=depositor, to=vault.address, data=data, gas=300_000)["gasUsed"]
    env.anvil.rpc("evm_setNextBlockTimestamp", [vault.functions.vestingEnd().call() + 1])
    second = env.send(sender=depositor, to=vault.address, data=data, gas=300_000)["gasUsed"]
    return first, second, len(group.tree.proof(depositor))


def measure_refunds(env: ChainEnv) -> tuple[int, int]:
    """Gas per recipient of an ETH and of a USDC refund batch to fresh addresses (the worst case: new accounts)."""
    recipients = [fresh_address(f"bench-eth-refund-{i}") for i in range(REFUND_BATCH)]
    amounts = [ETHER // 100 + i for i in range(REFUND_BATCH)]
    eth = env.send(
        sender=env.pool,
        to=env.deployment.refunder,
        data=encode_refund_eth(recipients=recipients, amounts=amounts),
        value=sum(amounts),
    )["gasUsed"]

    recipients = [fresh_address(f"bench-usdc-refund-{i}") for i in range(REFUND_BATCH)]
    amounts = [100 * USDC + i for i in range(REFUND_BATCH)]
    env.transact(env.usdc.functions.mint(env.pool, sum(amounts)), sender=env.deployer)
    env.send(
        sender=env.pool,
        to=env.deployment.usdc,
        data=encode_approve(spender=env.deployment.refunder, amount=sum(amounts)),
    )
    usdc = env.send(
        sender=env.pool,
        to=env.deployment.refunder,
        data=encode_refund_erc20(token=env.deployment.usdc, recipients=recipients, amounts=amounts),
    )["gasUsed"]
    return eth // REFUND_BATCH, usdc // REFUND_BATCH


def main() -> int:
    started = time.monotonic()
    node = start_anvil()
    try:
        deployment = deploy_dev_fixtures(node.w3, deployer=node.account(0).address)
        env = ChainEnv(
            anvil=node, deployment=deployment, deployer=node.account(0).address, pool=node.account(1).address
        )
        # A first launch pays once for accounts and slots that later launches find warm: the fee recipient's and
        # treasury's new accounts and the dead address's first LP balance. Measure steady-state launches.
        first_ever, _, _ = measure_launch(env, depositors=10, pool_pk=100)
        small, _, _ = measure_launch(env, depositors=10, pool_pk=1)
        large, large_event, large_group = measure_launch(env, depositors=10_000, pool_pk=2)
        locked, _, _ = measure_launch(env, depositors=10, pool_pk=3, lp_lock_until=env.now() + 365 * DAY)
        protected, _, _ = measure_launch(env, depositors=10, pool_pk=4, protection_blocks=30, max_buy_per_tx=TOKEN)
        usdc_receipt, _ = launch(env, usdc_launch_params(env, pool_id=(5).to_bytes(32, "big"), target_price_usd=20_000))
        first_claim, second_claim, proof_length = measure_claims(env, large_event, large_group)
        eth_refund, usdc_refund = measure_refunds(env)
    finally:
        node.stop()

    rows = [
        ("launch, ETH raise, LP burned, first launch on the chain", first_ever),
        ("launch, ETH raise, LP burned, 10 depositors", small),
        ("launch, ETH raise, LP burned, 10,000 depositors", large),
        ("launch, ETH raise, LP locked, 10 depositors", locked),
        ("launch, ETH raise, launch protection on", protected),
        ("launch, USDC raise, USD price target (part burned)", usdc_receipt["gasUsed"]),
        (f"claim, 10,000-depositor tree (proof of {proof_length}), first", first_claim),
        ("claim, same depositor, second (rest of vesting)", second_claim),
        (f"refund ETH, per recipient (batch of {REFUND_BATCH}, new accounts)", eth_refund),
        (f"refund USDC, per recipient (batch of {REFUND_BATCH}, new holders)", usdc_refund),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'operation':<{width}}  {'gas':>10}")
    print(f"{'-' * width}  {'-' * 10}")
    for label, gas in rows:
        print(f"{label:<{width}}  {gas:>10,}")
    print()
    print(f"launch gas, 10,000 vs 10 depositors: {large - small:+,} (only the root's calldata bytes can differ)")
    for asset, gas in [("ETH", eth_refund), ("USDC", usdc_refund)]:
        publish(
            bench="refunds",
            what=f"refund gas per recipient, {asset}",
            figure=f"{gas:,} gas",
            detail=f"a batch of {REFUND_BATCH} to new accounts, divided by {REFUND_BATCH} (bench/gas.py)",
        )
    print(f"measured in {time.monotonic() - started:.1f} s")
    return 0 if abs(large - small) < 1_000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
