"""Batch refunds through the Refunder: exact totals, one event per recipient, recipients that cannot be paid, each
recipient named once (in ascending order)."""

from __future__ import annotations

import pytest
from eth_abi import encode
from eth_utils import to_checksum_address
from web3.exceptions import ContractCustomError, ContractLogicError

from chain.contracts import (
    NATIVE_ASSET,
    ascending_batch,
    decode_refunded,
    encode_approve,
    encode_refund_erc20,
    encode_refund_eth,
    encode_withdraw,
    selector,
)
from tests.contracts.support import ETHER, USDC, ChainEnv, fresh_address, reverts_with


def recipients_and_amounts(count: int, *, unit: int, seed: str) -> tuple[list[str], list[int]]:
    """`count` fresh recipients in ascending order (as the Refunder takes them) with varied amounts."""
    recipients = sorted((fresh_address(f"{seed}-{i}") for i in range(count)), key=lambda address: int(address, 16))
    amounts = [unit * (i % 9 + 1) + i for i in range(count)]
    return recipients, amounts


def test_an_eth_batch_of_500_pays_everyone_exactly_with_one_event_each(env: ChainEnv):
    recipients, amounts = recipients_and_amounts(500, unit=ETHER // 1_000, seed="eth-refund")

    receipt = env.send(
        sender=env.pool,
        to=env.deployment.refunder,
        data=encode_refund_eth(recipients=recipients, amounts=amounts),
        value=sum(amounts),
    )

    assert [env.eth_balance(r) for r in recipients] == amounts
    events = decode_refunded(receipt, refunder=env.deployment.refunder)
    assert [(e.pool, e.recipient, e.token, e.amount, e.paid) for e in events] == [
        (env.pool, r, NATIVE_ASSET, a, True) for r, a in zip(recipients, amounts, strict=True)
    ]
    assert env.eth_balance(env.deployment.refunder) == 0


def test_an_erc20_batch_pulls_the_approved_total_and_pays_everyone(env: ChainEnv):
    recipients, amounts = recipients_and_amounts(500, unit=10 * USDC, seed="usdc-refund")
    total = sum(amounts)
    env.transact(env.usdc.functions.mint(env.pool, total), sender=env.deployer)
    env.send(
        sender=env.pool, to=env.deployment.usdc, data=encode_approve(spender=env.deployment.refunder, amount=total)
    )

    receipt = env.send(
        sender=env.pool,
        to=env.deployment.refunder,
        data=encode_refund_erc20(token=env.deployment.usdc, recipients=recipients, amounts=amounts),
    )

    assert [env.usdc.functions.balanceOf(r).call() for r in recipients] == amounts
    assert env.usdc.functions.balanceOf(env.pool).call() == 0
    assert env.usdc.functions.balanceOf(env.deployment.refunder).call() == 0
    events = decode_refunded(receipt, refunder=env.deployment.refunder)
    assert len(events) == 500 and all(e.paid and e.token == env.deployment.usdc for e in events)


def test_recipients_that_reject_ether_or_burn_gas_do_not_block_the_others_and_withdraw_later(env: ChainEnv):
    rejecting = env.deploy("RejectingRecipient")
    burner = env.deploy("GasBurningRecipient")
    alice, bob, elsewhere = fresh_address("alice"), fresh_address("bob"), fresh_address("elsewhere")
    recipients = [alice, rejecting.address, burner.address, bob]
    amounts = [1 * ETHER, 2 * ETHER, 3 * ETHER, 4 * ETHER]

    receipt = env.send(
        sender=env.pool,
        to=env.deployment.refunder,
        data=encode_refund_eth(recipients=recipients, amounts=amounts),  # sorts them
        value=sum(amounts),
    )

    assert (env.eth_balance(alice), env.eth_balance(bob)) == (1 * ETHER, 4 * ETHER)
    events = decode_refunded(receipt, refunder=env.deployment.refunder)
    paid = {e.recipient: e.paid for e in events}
    assert paid == {alice: True, rejecting.address: False, burner.address: False, bob: True}
    owed = env.refunder.functions.owed
    assert owed(NATIVE_ASSET, rejecting.address).call() == 2 * ETHER
    assert owed(NATIVE_ASSET, burner.address).call() == 3 * ETHER
    assert env.eth_balance(env.deployment.refunder) == 5 * ETHER

    # The rejecting contract cannot take ether itself, but it can have its credit paid to another address.
    with reverts_with("EtherTransferFailed(address)"):
        env.transact(rejecting.functions.withdrawFrom(env.deployment.refunder, NATIVE_ASSET), sender=env.deployer)
    env.transact(
        rejecting.functions.withdrawFromTo(env.deployment.refunder, NATIVE_ASSET, elsewhere), sender=env.deployer
    )
    assert env.eth_balance(elsewhere) == 2 * ETHER
    assert owed(NATIVE_ASSET, rejecting.address).call() == 0

    env.impersonate(burner.address)
    env.send(
        sender=burner.address,
        to=env.deployment.refunder,
        data=env.refunder.encode_abi("withdrawTo", args=[NATIVE_ASSET, elsewhere]),
    )
    assert env.eth_balance(elsewhere) == 5 * ETHER
    assert env.eth_balance(env.deployment.refunder) == 0

    with reverts_with("NothingOwed()"):
        env.send(sender=burner.address, to=env.deployment.refunder, data=encode_withdraw(token=NATIVE_ASSET))


def test_totals_and_lengths_must_match_exactly(env: ChainEnv):
    recipients, amounts = recipients_and_amounts(3, unit=ETHER, seed="mismatch")
    refunder = env.refunder.functions
    with reverts_with("TotalMismatch(uint256,uint256)"):
        refunder.refundETH(recipients, amounts).transact({"from": env.pool, "value": sum(amounts) + 1})
    with reverts_with("TotalMismatch(uint256,uint256)"):
        refunder.refundETH(recipients, amounts).transact({"from": env.pool, "value": sum(amounts) - 1})
    with reverts_with("LengthMismatch(uint256,uint256)"):
        refunder.refundETH(recipients, amounts[:2]).transact({"from": env.pool, "value": sum(amounts[:2])})
    with reverts_with("ZeroRecipient(uint256)"):
        refunder.refundETH([recipients[0], NATIVE_ASSET], amounts[:2]).transact(
            {"from": env.pool, "value": sum(amounts[:2])}
        )
    with reverts_with("ERC20InsufficientAllowance(address,uint256,uint256)"):
        refunder.refundERC20(env.deployment.usdc, recipients, amounts).transact({"from": env.pool})


def test_the_encoders_sort_a_batch_and_refuse_a_recipient_named_twice():
    low, high = to_checksum_address("0x" + "0a" * 20), to_checksum_address("0x" + "B0" * 20)
    assert ascending_batch(recipients=[high, low.lower()], amounts=[2, 1]) == ([low, high], [1, 2])
    with pytest.raises(ValueError, match="named twice"):
        encode_refund_eth(recipients=[high, low, high.lower()], amounts=[1, 2, 3])


@pytest.mark.parametrize("erc20", [False, True])
def test_a_batch_naming_a_recipient_twice_reverts_and_pays_nobody(env: ChainEnv, erc20: bool):
    (first, second), _ = recipients_and_amounts(2, unit=ETHER, seed=f"twice-{erc20}")
    recipients, amounts = [first, second, second], [1 * ETHER, 2 * ETHER, 3 * ETHER]
    refunder = env.refunder.functions
    if erc20:
        env.transact(env.usdc.functions.mint(env.pool, sum(amounts)), sender=env.deployer)
        env.transact(env.usdc.functions.approve(env.deployment.refunder, sum(amounts)), sender=env.pool)
        call, value = refunder.refundERC20(env.deployment.usdc, recipients, amounts), 0
    else:
        call, value = refunder.refundETH(recipients, amounts), sum(amounts)

    with reverts_with("RecipientsNotAscending(uint256)"):
        call.call({"from": env.pool, "value": value})
    # Mined anyway (fixed gas, no estimate): the transaction fails and nothing moves.
    tx_hash = call.transact({"from": env.pool, "value": value, "gas": 1_000_000})
    receipt = env.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 0
    assert decode_refunded(receipt, refunder=env.deployment.refunder) == []
    if erc20:
        assert [env.usdc.functions.balanceOf(r).call() for r in (first, second)] == [0, 0]
        assert env.usdc.functions.balanceOf(env.pool).call() == sum(amounts)
        assert env.usdc.functions.balanceOf(env.deployment.refunder).call() == 0
    else:
        assert [env.eth_balance(r) for r in (first, second)] == [0, 0]
        assert env.eth_balance(env.deployment.refunder) == 0


def test_a_batch_out_of_order_reverts_with_the_index_of_the_first_misplaced_recipient(env: ChainEnv):
    recipients, amounts = recipients_and_amounts(3, unit=ETHER, seed="order")
    shuffled = [recipients[0], recipients[2], recipients[1]]
    with pytest.raises((ContractCustomError, ContractLogicError)) as caught:
        env.refunder.functions.refundETH(shuffled, amounts).call({"from": env.pool, "value": sum(amounts)})
    expected = selector("RecipientsNotAscending(uint256)") + encode(["uint256"], [2])
    assert caught.value.data == "0x" + expected.hex()
