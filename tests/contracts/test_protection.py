"""The token's launch protection: a cap on buys from the pair for the first N blocks, ending by itself."""

from __future__ import annotations

from tests.contracts.support import ETHER, TOKEN, ChainEnv, eth_launch_params, launch, reverts_with_message

MAX_BUY = 1_000_000 * TOKEN  # about 0.015 ETH at the launch price of 400M tokens : 6 ETH
WINDOW = 5


SWAP_GAS = 300_000  # explicit: the transaction is mined (and fails or not) in the block under test, not estimated


def buy_exact(env: ChainEnv, token: str, amount: int, *, buyer: str) -> dict:
    """Buy exactly `amount` tokens for ETH through the router; returns the mined receipt, successful or not."""
    swap = env.router.functions.swapETHForExactTokens(amount, [env.deployment.weth, token], buyer, env.now() + 600)
    tx_hash = swap.transact({"from": buyer, "value": ETHER, "gas": SWAP_GAS})
    return env.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)


def bought(receipt: dict) -> bool:
    return receipt["status"] == 1


def test_a_buy_over_the_cap_reverts_inside_the_window_and_succeeds_once_it_ends(env: ChainEnv):
    buyer = env.w3.eth.accounts[4]
    receipt, event = launch(env, eth_launch_params(env, protection_blocks=WINDOW, max_buy_per_tx=MAX_BUY))
    launch_block = receipt["blockNumber"]
    token = env.contract("AgentToken", event.token)
    assert token.functions.protectionEndBlock().call() == launch_block + WINDOW
    assert token.functions.maxBuyPerTx().call() == MAX_BUY

    with reverts_with_message("UniswapV2: TRANSFER_FAILED"):  # the pair's transfer hits MaxBuyExceeded
        env.router.functions.swapETHForExactTokens(
            MAX_BUY + 1, [env.deployment.weth, event.token], buyer, env.now() + 600
        ).call({"from": buyer, "value": ETHER})

    first_block = buy_exact(env, event.token, MAX_BUY + 1, buyer=buyer)
    assert first_block["blockNumber"] == launch_block + 1 and not bought(first_block)
    assert bought(buy_exact(env, event.token, MAX_BUY, buyer=buyer))  # at the cap is allowed
    assert token.functions.balanceOf(buyer).call() == MAX_BUY

    env.mine_blocks(launch_block + WINDOW - 2 - env.block_number())
    last_block = buy_exact(env, event.token, MAX_BUY + 1, buyer=buyer)
    assert last_block["blockNumber"] == launch_block + WINDOW - 1 and not bought(last_block)

    after = buy_exact(env, event.token, 10 * MAX_BUY, buyer=buyer)  # in protectionEndBlock: a plain ERC-20 now
    assert after["blockNumber"] == launch_block + WINDOW and bought(after)
    assert token.functions.protectionActive().call() is False
    assert token.functions.balanceOf(buyer).call() == 11 * MAX_BUY


def test_transfers_not_from_the_pair_are_never_capped(env: ChainEnv):
    buyer, friend = env.w3.eth.accounts[4], env.w3.eth.accounts[5]
    _, event = launch(env, eth_launch_params(env, protection_blocks=300, max_buy_per_tx=MAX_BUY))
    token = env.contract("AgentToken", event.token)
    assert bought(buy_exact(env, event.token, MAX_BUY, buyer=buyer))
    assert bought(buy_exact(env, event.token, MAX_BUY, buyer=buyer))  # two buys at the cap, two transactions

    env.transact(token.functions.transfer(friend, 2 * MAX_BUY), sender=buyer)
    env.transact(token.functions.approve(env.deployment.uniswap_v2_router, 2 * MAX_BUY), sender=friend)
    sell = env.router.functions.swapExactTokensForETH(
        2 * MAX_BUY, 0, [event.token, env.deployment.weth], friend, env.now() + 600
    )
    env.transact(sell, sender=friend)  # selling into the pair inside the window is not limited
    assert token.functions.balanceOf(friend).call() == 0
    assert token.functions.protectionActive().call() is True


def test_without_protection_the_first_buy_can_be_any_size(env: ChainEnv):
    buyer = env.w3.eth.accounts[4]
    _, event = launch(env, eth_launch_params(env))
    assert bought(buy_exact(env, event.token, 50 * MAX_BUY, buyer=buyer))
    assert env.contract("AgentToken", event.token).functions.balanceOf(buyer).call() == 50 * MAX_BUY
