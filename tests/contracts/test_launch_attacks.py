"""Attacks on and misuse of the launch: pre-created pairs, donations, stale or moved prices, deadlines, bad input."""

from __future__ import annotations

import pytest
from web3.exceptions import ContractLogicError

from chain.contracts import decode_launched, encode_launch, predict_token_address
from chain.devnet import DEV_ETH_USD_ANSWER
from tests.contracts.support import (
    ETHER,
    TREASURY,
    USDC,
    ChainEnv,
    attempt_launch,
    eth_launch_params,
    launch,
    reverts_with,
    usdc_launch_params,
)
from tests.contracts.test_launch import check_token_distribution, pair_reserves


def pre_create_pair(env: ChainEnv, *, attacker: str, pool_id: bytes, asset: str) -> str:
    """What a griefer can do before the launch: create the pair of the predicted token at its predicted address."""
    predicted = predict_token_address(launcher=env.deployment.launcher, pool=env.pool, pool_id=pool_id)
    env.transact(env.factory.functions.createPair(predicted, asset), sender=attacker)
    return env.factory.functions.getPair(predicted, asset).call()


def test_a_pre_created_pair_with_a_weth_donation_neither_blocks_the_launch_nor_skews_its_price(env: ChainEnv):
    attacker = env.w3.eth.accounts[3]
    params = eth_launch_params(env)
    pair_address = pre_create_pair(env, attacker=attacker, pool_id=params.pool_id, asset=env.deployment.weth)
    env.transact(env.weth.functions.deposit(), sender=attacker, value=ETHER)
    env.transact(env.weth.functions.transfer(pair_address, ETHER), sender=attacker)

    _, event = launch(env, params)

    assert event.pair == pair_address
    # The first reserves are exactly the paired shares: the donation was skimmed, not priced in.
    assert pair_reserves(env, event.pair, event.token) == (event.tokens_to_liquidity, event.asset_to_liquidity)
    assert event.donation_skimmed == ETHER
    assert env.eth_balance(TREASURY) == event.treasury_amount + ETHER  # the gift ends up with the pool's treasury
    pair = env.contract("UniswapV2Pair", pair_address)
    assert pair.functions.balanceOf(event.lp_holder).call() == event.liquidity
    assert env.weth.functions.balanceOf(env.deployment.launcher).call() == 0
    assert env.eth_balance(env.deployment.launcher) == 0
    check_token_distribution(env, params, event)


def test_a_donation_can_be_neither_synced_nor_skimmed_back_before_the_token_exists(env: ChainEnv):
    """`sync`, `mint` and `skim` all read the token's balanceOf, and the pair's high-level call to an address without
    code reverts (`swap` stops earlier, at the empty reserves): the donation stays in the pair, unpriced and out of
    the donor's reach, until the launch skims it to the treasury."""
    attacker = env.w3.eth.accounts[3]
    params = eth_launch_params(env)
    pair_address = pre_create_pair(env, attacker=attacker, pool_id=params.pool_id, asset=env.deployment.weth)
    pair = env.contract("UniswapV2Pair", pair_address)
    env.transact(env.weth.functions.deposit(), sender=attacker, value=2 * ETHER)
    env.transact(env.weth.functions.transfer(pair_address, 2 * ETHER), sender=attacker)

    calls = pair.functions
    for attempt in (calls.sync(), calls.mint(attacker), calls.skim(attacker), calls.swap(0, ETHER, attacker, b"")):
        with pytest.raises(ContractLogicError):
            env.transact(attempt, sender=attacker)
    assert pair.functions.getReserves().call()[:2] == [0, 0]
    assert pair.functions.totalSupply().call() == 0
    assert env.weth.functions.balanceOf(pair_address).call() == 2 * ETHER

    _, event = launch(env, params)
    assert pair_reserves(env, event.pair, event.token) == (event.tokens_to_liquidity, event.asset_to_liquidity)
    assert event.donation_skimmed == 2 * ETHER


def test_a_pre_created_usdc_pair_with_a_donation_launches_at_the_intended_price(env: ChainEnv):
    attacker = env.w3.eth.accounts[3]
    params = usdc_launch_params(env)
    pair_address = pre_create_pair(env, attacker=attacker, pool_id=params.pool_id, asset=env.deployment.usdc)
    env.transact(env.usdc.functions.mint(pair_address, 5_000 * USDC), sender=attacker)

    _, event = launch(env, params)

    assert pair_reserves(env, event.pair, event.token) == (event.tokens_to_liquidity, 60_000 * USDC)
    assert event.donation_skimmed == 5_000 * USDC
    assert env.usdc.functions.balanceOf(TREASURY).call() == event.treasury_amount + 5_000 * USDC
    assert env.usdc.functions.balanceOf(env.deployment.launcher).call() == 0


def test_value_sent_to_the_predicted_token_address_does_not_block_the_launch(env: ChainEnv):
    params = eth_launch_params(env)
    predicted = predict_token_address(launcher=env.deployment.launcher, pool=env.pool, pool_id=params.pool_id)
    attacker = env.w3.eth.accounts[3]
    env.send(sender=attacker, to=predicted, value=ETHER)
    env.transact(env.weth.functions.deposit(), sender=attacker, value=ETHER)
    env.transact(env.weth.functions.transfer(predicted, ETHER), sender=attacker)

    _, event = launch(env, params)

    assert event.token == predicted
    assert pair_reserves(env, event.pair, event.token) == (event.tokens_to_liquidity, event.asset_to_liquidity)


def test_a_stale_feed_reverts_with_its_own_error_and_the_launch_works_once_it_is_fresh(env: ChainEnv):
    params = eth_launch_params(env, max_oracle_age=3_600)
    feed = env.eth_usd_feed.functions
    env.transact(feed.setAnswerAt(DEV_ETH_USD_ANSWER, env.now() - 3_601), sender=env.deployer)

    with reverts_with("OracleStale(uint256,uint256)"):
        attempt_launch(env, params)

    env.transact(feed.setAnswer(DEV_ETH_USD_ANSWER), sender=env.deployer)
    _, event = launch(env, params)
    assert event.oracle_answer == DEV_ETH_USD_ANSWER


def test_a_feed_update_stamped_after_the_block_reverts_and_is_accepted_once_the_chain_reaches_it(env: ChainEnv):
    """A future `updatedAt` would pass the age check for as long as it stays ahead: refused by its own error."""
    params = eth_launch_params(env, max_oracle_age=3_600)
    stamped = env.now() + 600
    env.transact(env.eth_usd_feed.functions.setAnswerAt(DEV_ETH_USD_ANSWER, stamped), sender=env.deployer)

    with reverts_with("OracleUpdateInFuture(uint256,uint256)"):
        attempt_launch(env, params)

    # The launch's block stamped exactly at the update (sent with fixed gas: an estimate would run at another time).
    env.anvil.rpc("evm_setNextBlockTimestamp", [stamped])
    receipt = env.send(
        sender=env.pool, to=env.deployment.launcher, data=encode_launch(params), value=params.value, gas=8_000_000
    )
    assert env.w3.eth.get_block(receipt["blockNumber"])["timestamp"] == stamped
    assert decode_launched(receipt, launcher=env.deployment.launcher).oracle_answer == DEV_ETH_USD_ANSWER


def test_an_answer_carried_over_from_an_earlier_round_reverts_with_its_own_error(env: ChainEnv):
    params = eth_launch_params(env)
    feed = env.eth_usd_feed.functions
    env.transact(feed.setRoundData(7, DEV_ETH_USD_ANSWER, env.now(), 6), sender=env.deployer)

    with reverts_with("OracleRoundStale(uint80,uint80)"):
        attempt_launch(env, params)

    env.transact(feed.setRoundData(8, DEV_ETH_USD_ANSWER, env.now(), 8), sender=env.deployer)
    _, event = launch(env, params)
    assert event.oracle_answer == DEV_ETH_USD_ANSWER


def test_a_price_moved_beyond_the_tolerance_reverts_with_its_own_error(env: ChainEnv):
    params = eth_launch_params(env, tolerance_bps=200)
    feed = env.eth_usd_feed.functions
    for moved in (DEV_ETH_USD_ANSWER * 10_201 // 10_000, DEV_ETH_USD_ANSWER * 9_799 // 10_000):
        env.transact(feed.setAnswer(moved), sender=env.deployer)
        with reverts_with("OraclePriceMoved(int256,int256,uint16)"):
            attempt_launch(env, params)

    at_the_bound = DEV_ETH_USD_ANSWER * 10_200 // 10_000  # |answer - expected| == expected * 2%: still accepted
    env.transact(feed.setAnswer(at_the_bound), sender=env.deployer)
    _, event = launch(env, params)
    assert event.oracle_answer == at_the_bound


@pytest.mark.parametrize("answer", [0, -1])
def test_a_non_positive_feed_answer_reverts(env: ChainEnv, answer: int):
    env.transact(env.eth_usd_feed.functions.setAnswer(answer), sender=env.deployer)
    with reverts_with("OracleAnswerInvalid(int256)"):
        attempt_launch(env, eth_launch_params(env))


def test_a_passed_deadline_reverts_with_its_own_error(env: ChainEnv):
    deadline = env.now() + 600
    params = eth_launch_params(env, deadline=deadline)
    env.mine_at(deadline + 1)

    with reverts_with("DeadlinePassed(uint256,uint256)"):
        attempt_launch(env, params)


@pytest.mark.parametrize(
    ("overrides", "error"),
    [
        ({"protection_blocks": 301, "max_buy_per_tx": 1}, "ProtectionTooLong(uint32,uint32)"),
        ({"protection_blocks": 10, "max_buy_per_tx": 0}, "InvalidParameter(string)"),
        ({"liquidity_supply_bps": 6_000, "depositor_supply_bps": 4_001}, "InvalidSplit()"),
        ({"liquidity_raise_bps": 9_800, "fee_bps": 201}, "InvalidSplit()"),
        ({"treasury": "0x" + "00" * 20}, "InvalidParameter(string)"),
        ({"merkle_root": b"\x00" * 32}, "InvalidParameter(string)"),
        ({"liquidity_raise_bps": 0}, "NoLiquidity()"),
        ({"lp_lock_until": 1}, "InvalidParameter(string)"),
    ],
)
def test_invalid_launch_parameters_revert(env: ChainEnv, overrides: dict, error: str):
    with reverts_with(error):
        attempt_launch(env, eth_launch_params(env, **overrides))


def test_an_eth_launch_must_carry_exactly_the_raise_and_an_erc20_launch_none(env: ChainEnv):
    params = eth_launch_params(env)

    with reverts_with("ValueMismatch(uint256,uint256)"):
        env.w3.eth.send_transaction(
            {"from": env.pool, "to": env.deployment.launcher, "data": encode_launch(params), "value": ETHER}
        )
    erc20 = usdc_launch_params(env)
    with reverts_with("ValueMismatch(uint256,uint256)"):
        env.w3.eth.send_transaction(
            {"from": env.pool, "to": env.deployment.launcher, "data": encode_launch(erc20), "value": 1}
        )


def test_an_erc20_launch_without_enough_allowance_reverts_and_leaves_nothing_behind(env: ChainEnv):
    params = usdc_launch_params(env)
    with reverts_with("ERC20InsufficientAllowance(address,uint256,uint256)"):
        attempt_launch(env, params)
    predicted = env.launcher.functions.predictToken(env.pool, params.pool_id).call()
    assert env.w3.eth.get_code(predicted) == b""
    assert env.factory.functions.getPair(predicted, env.deployment.usdc).call() == "0x" + "00" * 20
