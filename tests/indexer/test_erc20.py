"""ERC-20 deposits: Transfer logs to a pool address from the pool's raise asset only."""

import pytest

from pools.models import Deposit
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import USDC, contract_call, fresh_address

pytestmark = [pytest.mark.chain, pytest.mark.django_db]


@pytest.fixture
def usdc(chain, dev_chain):
    from chain.artifacts import load_artifact

    return chain.w3.eth.contract(address=dev_chain.usdc, abi=load_artifact("TestUSDC").abi)


def mint(chain, usdc, holders: list[str], amount: int) -> None:
    minter = chain.anvil.account(0).address
    chain.block([contract_call(usdc, "mint", [holder, amount], sender=minter) for holder in holders])


def test_a_token_transfer_to_a_pool_is_a_deposit_from_the_token_sender(chain, cursor, usdc_pool, usdc):
    alice = fresh_address("alice")
    chain.fund([alice])
    mint(chain, usdc, [alice], 500 * USDC)
    (tx,) = chain.block([contract_call(usdc, "transfer", [usdc_pool.deposit_address, 120 * USDC], sender=alice)])

    index_chain(chain_id=ANVIL_CHAIN_ID)

    (deposit,) = Deposit.objects.all()
    log = chain.receipt(tx)["logs"][0]
    assert (deposit.tx_hash, deposit.kind, deposit.sender) == (tx, Deposit.Kind.ERC20, alice)
    assert deposit.amount == 120 * USDC
    assert deposit.position == f"log:{int(log['logIndex'], 16)}"
    assert deposit.ordinal == int(log["logIndex"], 16)


def test_transfer_from_credits_the_token_owner_not_the_spender(chain, cursor, usdc_pool, usdc):
    owner, spender = fresh_address("owner"), fresh_address("spender")
    chain.fund([owner, spender])
    mint(chain, usdc, [owner], 100 * USDC)
    chain.block([contract_call(usdc, "approve", [spender, 100 * USDC], sender=owner)])
    chain.block([contract_call(usdc, "transferFrom", [owner, usdc_pool.deposit_address, 40 * USDC], sender=spender)])

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert list(Deposit.objects.values_list("sender", "amount")) == [(owner, 40 * USDC)]


def test_a_spoofed_transfer_event_or_another_token_is_not_a_deposit(chain, cursor, usdc_pool, make_pool):
    spoof = chain.deploy("SpoofToken")
    other_token = chain.deploy("TestUSDC")
    eth_pool = make_pool("eth")
    attacker = fresh_address("attacker")
    chain.fund([attacker])
    chain.block(
        [
            contract_call(spoof, "spoof", [attacker, usdc_pool.deposit_address, 10**9 * USDC], sender=attacker),
            contract_call(spoof, "spoof", [attacker, eth_pool.deposit_address, 10**9 * USDC], sender=attacker),
            contract_call(other_token, "mint", [usdc_pool.deposit_address, 10**9 * USDC], sender=attacker),
        ]
    )

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert not Deposit.objects.exists()


def test_a_reverted_token_transfer_is_not_a_deposit(chain, cursor, usdc_pool, usdc):
    broke = fresh_address("broke")
    chain.fund([broke])
    mint(chain, usdc, [broke], 5 * USDC)
    (tx,) = chain.block([contract_call(usdc, "transfer", [usdc_pool.deposit_address, 50 * USDC], sender=broke)])

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert int(chain.receipt(tx)["status"], 16) == 0
    assert not Deposit.objects.exists()


def test_a_token_transfer_to_an_eth_pool_is_not_a_deposit(chain, cursor, make_pool, usdc):
    eth_pool = make_pool("eth")
    alice = fresh_address("alice")
    chain.fund([alice])
    mint(chain, usdc, [alice], 5 * USDC)
    chain.block([contract_call(usdc, "transfer", [eth_pool.deposit_address, 5 * USDC], sender=alice)])

    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert not Deposit.objects.exists()
