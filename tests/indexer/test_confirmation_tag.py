"""Confirmations by block tag (CHAIN_CONFIRMATION_TAG): a block is final when it has the pool's confirmations AND is
at or below the node's "safe" (or "finalized") block. On an anvil started with `--slots-in-an-epoch 1`, safe is
latest - 1 and finalized latest - 2, so the tag is the gate a test can see move."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from chain.rpc import JsonRpc
from pools.models import ChainTransaction, Deposit, IndexedBlock
from pools.services.indexing import index_chain
from pools.services.launch import confirmed_through
from pools.services.ledger import confirmed_block
from pools.services.transactions import REBROADCAST_AFTER, advance
from tests.anvil import ANVIL_CHAIN_ID, start_anvil
from tests.indexer.support import ETHER, ChainDriver, eth_transfer, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

Status = ChainTransaction.Status


@pytest.fixture(scope="module")
def epoch_anvil():
    """An anvil whose safe block is one behind the head and finalized two behind (one slot per epoch)."""
    node = start_anvil(extra_args=("--slots-in-an-epoch", "1"))
    yield node
    node.stop()


@pytest.fixture
def chain(settings, epoch_anvil) -> ChainDriver:
    """Overrides the indexer tests' chain: this module's anvil, the app pointed at it, confirmations by "safe"."""
    settings.CHAIN_RPC_URL = epoch_anvil.rpc_url
    settings.CHAIN_ID = ANVIL_CHAIN_ID
    settings.CHAIN_CONFIRMATION_TAG = "safe"
    return ChainDriver(anvil=epoch_anvil, rpc=JsonRpc(url=epoch_anvil.rpc_url, timeout=30))


def _deposit(chain: ChainDriver, pool, label: str) -> int:
    sender = fresh_address(label)
    chain.fund([sender])
    chain.block([eth_transfer(sender, pool.deposit_address, ETHER)])
    return chain.head()


def test_the_anvil_moves_its_safe_and_finalized_blocks_one_and_two_behind(chain):
    chain.mine(3)
    head = chain.head()
    assert chain.w3.eth.get_block("safe")["number"] == head - 1
    assert chain.w3.eth.get_block("finalized")["number"] == head - 2


def test_a_deposit_is_credited_only_once_the_safe_block_passes_it(chain, cursor, make_pool):
    pool = make_pool("safe", confirmations=0)  # the tag is the only gate
    block = _deposit(chain, pool, "safe-depositor")

    index_chain(chain_id=ANVIL_CHAIN_ID)
    pool.refresh_from_db()
    assert chain.w3.eth.get_block("safe")["number"] < block
    assert Deposit.objects.get().status == Deposit.Status.PENDING
    assert pool.raised == 0

    chain.mine()  # safe = the deposit's block
    index_chain(chain_id=ANVIL_CHAIN_ID)
    pool.refresh_from_db()
    assert Deposit.objects.get().status == Deposit.Status.CONFIRMED
    assert pool.raised == ETHER
    assert pool.balance_checked_at is not None and pool.balance_difference == 0  # reconciled at the final height


def test_both_the_confirmations_and_the_tag_must_be_passed(settings, chain, cursor, make_pool):
    """Three confirmations under "finalized" (two behind): the count is the later gate; under "latest" with none,
    the deposit counts in its own block, as it always did."""
    settings.CHAIN_CONFIRMATION_TAG = "finalized"
    slow = make_pool("count", confirmations=3)
    _deposit(chain, slow, "count-depositor")
    for _ in range(3):
        index_chain(chain_id=ANVIL_CHAIN_ID)
        assert Deposit.objects.get(pool=slow).status == Deposit.Status.PENDING
        chain.mine()
    index_chain(chain_id=ANVIL_CHAIN_ID)
    assert Deposit.objects.get(pool=slow).status == Deposit.Status.CONFIRMED

    settings.CHAIN_CONFIRMATION_TAG = "latest"
    quick = make_pool("latest", confirmations=0)
    _deposit(chain, quick, "latest-depositor")
    index_chain(chain_id=ANVIL_CHAIN_ID)
    assert Deposit.objects.get(pool=quick).status == Deposit.Status.CONFIRMED


def test_the_close_and_the_signers_ledger_count_only_blocks_at_or_below_the_tag(chain, cursor, make_pool):
    """'Every deposit up to here is in' (the close's confirmed_through, the ledger's confirmed_block) must not pass a
    deposit still pending under the tag: a pool would settle, or prove its ledger, without it."""
    pool = make_pool("complete", confirmations=0)
    block = _deposit(chain, pool, "complete-depositor")

    index_chain(chain_id=ANVIL_CHAIN_ID)
    cursor.refresh_from_db()
    assert Deposit.objects.get().status == Deposit.Status.PENDING  # above the safe block
    assert cursor.final_block == chain.w3.eth.get_block("safe")["number"] < block <= cursor.last_block
    assert confirmed_block(pool) == cursor.complete_through(confirmations=0) == cursor.final_block < block
    below_the_tag = IndexedBlock.objects.filter(chain_id=ANVIL_CHAIN_ID, number__lte=cursor.final_block).first()
    assert confirmed_through(chain_id=ANVIL_CHAIN_ID, confirmations=0) == getattr(below_the_tag, "timestamp", None)

    chain.mine()
    index_chain(chain_id=ANVIL_CHAIN_ID)
    assert Deposit.objects.get().status == Deposit.Status.CONFIRMED
    assert confirmed_block(pool) >= block


def _our_transaction(chain: ChainDriver, *, broadcast_ago: timedelta) -> ChainTransaction:
    """A transfer signed with a development key (derived at run time), broadcast and recorded as the transaction
    manager records one it sent: UNCONFIRMED with its signed bytes, so `advance` can follow and rebroadcast it."""
    account = chain.anvil.account(3)
    fees = {"maxFeePerGas": 100 * 10**9, "maxPriorityFeePerGas": 10**9}
    to = fresh_address("tag-recipient")
    tx = {"to": to, "value": 1, "gas": 21_000, "nonce": chain.w3.eth.get_transaction_count(account.address)}
    tx.update(chainId=ANVIL_CHAIN_ID, **fees)
    signed = account.sign_transaction(tx)
    chain.w3.eth.send_raw_transaction(signed.raw_transaction)
    then = timezone.now() - broadcast_ago
    return ChainTransaction.objects.create(
        purpose=ChainTransaction.Purpose.GAS_TOPUP,
        signer_key="gas",
        chain_id=ANVIL_CHAIN_ID,
        from_address=account.address,
        nonce=tx["nonce"],
        to_address=to,
        value=1,
        gas=21_000,
        max_fee_per_gas=fees["maxFeePerGas"],
        max_priority_fee_per_gas=fees["maxPriorityFeePerGas"],
        raw_tx="0x" + signed.raw_transaction.hex(),
        tx_hash="0x" + signed.hash.hex(),
        status=Status.UNCONFIRMED,
        broadcast_count=1,
        first_broadcast_at=then,
        last_broadcast_at=then,
    )


def test_a_mined_transaction_above_the_safe_block_stays_unconfirmed_and_is_not_replaced(chain):
    """Mined long after it was first sent (it would count as stuck): nothing is replaced or signed while its block
    waits for the tag; then it is confirmed with its receipt's figures."""
    tx = _our_transaction(chain, broadcast_ago=timedelta(minutes=10))
    mined_in = chain.w3.eth.get_transaction_receipt(tx.tx_hash)["blockNumber"]

    waiting = advance(tx, w3=chain.w3)
    tx.refresh_from_db()
    assert (waiting.pk, tx.status, tx.block_number) == (tx.pk, Status.UNCONFIRMED, mined_in)
    assert ChainTransaction.objects.count() == 1  # no replacement

    chain.mine()
    settled = advance(tx, w3=chain.w3)
    assert settled.status == Status.CONFIRMED
    assert (settled.block_number, settled.gas_used) == (mined_in, 21_000)


def test_a_receipt_that_a_reorganisation_takes_away_is_followed_as_before(chain):
    """Mined above the tag, then its block is reorganised away: the noted block is forgotten, the same bytes are
    rebroadcast, and it is confirmed where it lands once the safe block passes that."""
    before = chain.anvil.rpc("evm_snapshot")
    tx = _our_transaction(chain, broadcast_ago=REBROADCAST_AFTER + timedelta(seconds=1))
    tx.first_broadcast_at = timezone.now()  # not stuck: rebroadcast, not replaced
    tx.save(update_fields=["first_broadcast_at"])
    advance(tx, w3=chain.w3)
    tx.refresh_from_db()
    assert tx.block_number is not None and tx.status == Status.UNCONFIRMED

    chain.anvil.rpc("evm_revert", [before])  # the block that held it is gone, and the transaction with it
    assert chain.w3.eth.get_transaction_count(tx.from_address) == tx.nonce

    advance(tx, w3=chain.w3)  # no receipt: forgotten, rebroadcast (anvil mines it at once)
    tx.refresh_from_db()
    assert tx.status == Status.UNCONFIRMED and tx.broadcast_count == 2
    landed = chain.w3.eth.get_transaction_receipt(tx.tx_hash)["blockNumber"]

    chain.mine()
    settled = advance(tx, w3=chain.w3)
    assert settled.status == Status.CONFIRMED and settled.block_number == landed
