"""Native deposits made from inside contract calls (contract wallets, bundlers): internal transfers."""

import pytest

from pools.indexer.internal import successful_inner_frames
from pools.models import Deposit
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, contract_call, eth_transfer, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


@pytest.fixture
def wallets(chain):
    return chain.deploy("ForwardingWallet"), chain.deploy("ForwardingWallet")


def test_eth_forwarded_by_a_contract_wallet_is_a_deposit_from_the_wallet(chain, cursor, eth_pool, wallets):
    wallet, inner = wallets
    owner = fresh_address("owner")
    chain.fund([owner])
    pool = eth_pool.deposit_address
    forwarded, nested = chain.block(
        [
            contract_call(wallet, "forward", [pool], sender=owner, value=2 * ETHER),
            contract_call(wallet, "forwardVia", [inner.address, pool], sender=owner, value=ETHER),
        ]
    )

    index_chain(chain_id=ANVIL_CHAIN_ID)

    deposits = {d.tx_hash: d for d in Deposit.objects.all()}
    assert set(deposits) == {forwarded, nested}
    assert (deposits[forwarded].kind, deposits[forwarded].position) == (Deposit.Kind.NATIVE_INTERNAL, "trace:0")
    assert (deposits[forwarded].sender, deposits[forwarded].amount) == (wallet.address, 2 * ETHER)
    # owner → wallet.forwardVia → inner.forward → pool: the frame that paid the pool is the inner wallet's.
    assert (deposits[nested].position, deposits[nested].sender) == ("trace:0.0", inner.address)
    assert deposits[nested].ordinal == 2


def test_several_transfers_in_one_transaction_are_several_deposits(chain, cursor, eth_pool, make_pool, wallets):
    wallet, _ = wallets
    other = make_pool("other")
    owner = fresh_address("owner")
    chain.fund([owner])
    pool = eth_pool.deposit_address
    (tx,) = chain.block(
        [
            contract_call(
                wallet,
                "forwardMany",
                [[pool, other.deposit_address, pool], [ETHER, 2 * ETHER, 3 * ETHER]],
                sender=owner,
                value=6 * ETHER,
            )
        ]
    )

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert sorted(Deposit.objects.values_list("tx_hash", "position", "pool_id", "amount", "ordinal")) == [
        (tx, "trace:0", eth_pool.id, ETHER, 1),
        (tx, "trace:1", other.id, 2 * ETHER, 2),
        (tx, "trace:2", eth_pool.id, 3 * ETHER, 3),
    ]


def test_a_forward_that_reverted_is_not_a_deposit(chain, cursor, eth_pool, wallets):
    wallet, _ = wallets
    owner = fresh_address("owner")
    chain.fund([owner])
    pool = eth_pool.deposit_address
    reverted, caught = chain.block(
        [
            contract_call(wallet, "forwardThenRevert", [pool], sender=owner, value=ETHER),
            contract_call(wallet, "forwardInFailedSubcall", [pool], sender=owner, value=ETHER),
        ]
    )

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert int(chain.receipt(reverted)["status"], 16) == 0
    assert int(chain.receipt(caught)["status"], 16) == 1, "the transaction succeeded; only its sub-call reverted"
    assert chain.w3.eth.get_balance(pool) == 0
    assert not Deposit.objects.exists()


def test_a_direct_transfer_is_recorded_once_not_again_as_an_internal_one(chain, cursor, eth_pool, wallets):
    alice = fresh_address("alice")
    chain.fund([alice])
    (tx,) = chain.block([eth_transfer(alice, eth_pool.deposit_address, ETHER)])

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert list(Deposit.objects.values_list("tx_hash", "position")) == [(tx, "tx")]


def test_a_failed_frame_is_skipped_with_everything_beneath_it():
    top = {
        "type": "CALL",
        "calls": [
            {"type": "CALL", "to": "0xa", "calls": [{"type": "CALL", "to": "0xb"}]},
            {"type": "CALL", "to": "0xc", "error": "execution reverted", "calls": [{"type": "CALL", "to": "0xd"}]},
            {"type": "DELEGATECALL", "to": "0xe", "calls": [{"type": "CALL", "to": "0xf"}]},
        ],
    }

    frames = [(f.frame["to"], f.trace_address, f.ordinal) for f in successful_inner_frames(top)]

    assert frames == [("0xa", (0,), 1), ("0xb", (0, 0), 2), ("0xe", (2,), 4), ("0xf", (2, 0), 5)]
    assert list(successful_inner_frames({**top, "error": "out of gas"})) == []
