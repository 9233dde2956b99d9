"""A real launched pool for the website's chain tests: anvil, the signer process, the indexer and the launch job.

Reuses the lifecycle helpers of tests/launch; the one depositor whose key we hold is an anvil development account,
so a test can sign in with it (SIWE) and claim from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from pools.models import Launch, Pool
from pools.services.launch import launch_request
from tests.indexer.support import ETHER, ChainDriver
from tests.launch.test_lifecycle import (
    NATIVE_GAS,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    scheduled_pool,
)


@dataclass
class LaunchedPool:
    pool: Pool
    launch: Launch
    depositor: object  # eth-account LocalAccount: anvil's development account, funded
    deposit: int


def deposit_from_account(chain: ChainDriver, pool: Pool, account, amount: int, *, at) -> str:
    (tx_hash,) = chain.block(
        [{"from": account.address, "to": pool.deposit_address, "value": amount, "gas": NATIVE_GAS,
          "gasPrice": 10 * 10**9}],
        timestamp=int(at.timestamp()),
    )  # fmt: skip
    return tx_hash


def launch_a_pool(chain: ChainDriver, *, depositor_index: int = 3, **pool_fields) -> LaunchedPool:
    """Schedule, fund (5 ETH from the anvil account, 5 ETH from another), close and launch a pool."""
    # The soft cap sits below the 10 ETH raised: a native launch spends part of the raise on its own gas.
    pool = scheduled_pool(chain, **{"soft_cap": 5 * ETHER, **pool_fields})
    depositor = chain.anvil.account(depositor_index)
    at = pool.opens_at + timedelta(minutes=1)
    deposit_from_account(chain, pool, depositor, 5 * ETHER, at=at)
    deposit_from(chain, pool, [5 * ETHER], at=at + timedelta(seconds=12), label=f"web-{pool.pk}")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    launch_request(pool_id=pool.pk, requested_by="test")
    launch = run_launch(pool)
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    pool.refresh_from_db()
    return LaunchedPool(pool=pool, launch=launch, depositor=depositor, deposit=5 * ETHER)
