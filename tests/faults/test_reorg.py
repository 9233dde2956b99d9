"""A reorganisation of more than ten blocks after deposits were confirmed and credited: some come back in other
blocks, some are gone, one exists only on the new chain. The books follow the chain, then the pool launches."""

from __future__ import annotations

from datetime import timedelta

import pytest
from eth_account import Account
from eth_utils import keccak

from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.faults.invariants import assert_all, assert_credited, assert_deposits_exact
from tests.faults.support import Raise, SentDeposit
from tests.indexer.support import ETHER
from tests.launch.test_lifecycle import CONFIRMATIONS, close_raise, scheduled_pool

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

REORG_DEPTH_AT_LEAST = 10


def _depositor(label: str):
    return Account.from_key(keccak(text=f"fault-reorg-{label}"))


def _signed_deposit(account, *, to: str, value: int) -> tuple[str, SentDeposit]:
    """A deposit signed by a real key, so the very same transaction can be mined again on the new chain."""
    signed = account.sign_transaction(
        {"to": to, "value": value, "gas": 21_000, "nonce": 0, "chainId": ANVIL_CHAIN_ID, "type": 2,
         "maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 10**9}
    )  # fmt: skip
    raw = "0x" + signed.raw_transaction.hex()
    return raw, SentDeposit(tx_hash="0x" + signed.hash.hex(), sender=account.address, amount=value)


def test_a_twelve_block_reorg_after_deposits_were_credited(stack):
    chain = stack.chain
    stack.start_worker()  # boots while the deposits are sent and reorganised
    pool = scheduled_pool(chain)
    survivors = [_depositor(f"kept-{i}") for i in range(4)]
    doomed = [_depositor(f"gone-{i}") for i in range(2)]
    newcomer = _depositor("new")
    chain.fund([a.address for a in survivors + doomed + [newcomer]], wei=100 * ETHER)
    chain.mine(timestamp=int((pool.opens_at + timedelta(minutes=1)).timestamp()))  # the fork's parent: already open

    kept = [_signed_deposit(a, to=pool.deposit_address, value=4 * ETHER) for a in survivors]
    gone = [_signed_deposit(a, to=pool.deposit_address, value=3 * ETHER) for a in doomed]
    first_deposit_block = chain.head() + 1
    with chain.manual_mining():
        chain.rpc.batch([("eth_sendRawTransaction", [raw]) for raw, _ in kept])
        chain.mine()
        chain.rpc.batch([("eth_sendRawTransaction", [raw]) for raw, _ in gone])
        chain.mine()
    chain.mine(REORG_DEPTH_AT_LEAST)
    stack.index()
    assert_deposits_exact(pool, [d for _, d in kept + gone])
    assert_credited(pool, raised=22 * ETHER, owed=0)

    depth = chain.head() - first_deposit_block + 1
    assert depth >= REORG_DEPTH_AT_LEAST + 2
    late_raw, late = _signed_deposit(newcomer, to=pool.deposit_address, value=7 * ETHER)  # 2 ETH over the maximum
    chain.anvil.rpc("anvil_reorg", [depth, [[raw, 3] for raw, _ in kept] + [[late_raw, 5]]])
    report = index_chain(chain_id=ANVIL_CHAIN_ID)
    assert report.reorgs == [first_deposit_block]
    chain.mine(CONFIRMATIONS + 1)
    stack.index()

    sent = [d for _, d in kept] + [late]
    assert_deposits_exact(pool, sent)
    assert_credited(pool, raised=21 * ETHER, owed=2 * ETHER)
    moved = {d.tx_hash: d.block_number for d in pool.deposits.all()}
    assert all(number == first_deposit_block + 3 for h, number in moved.items() if h != late.tx_hash)

    pool = close_raise(chain, pool)
    raised = Raise(pool=pool, sent=sent, deposited=23 * ETHER, owed=2 * ETHER)
    stack.launch(pool)
    stack.refund(pool)
    assert_all(stack, raised)
