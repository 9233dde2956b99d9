"""The one-transaction launch: pairing, LP burn or lock, vesting contracts, payouts, the event, every wei accounted."""

from __future__ import annotations

from math import isqrt

from chain.contracts import DEAD_ADDRESS, LaunchParams, predict_pair_address, predict_token_address
from chain.devnet import DEV_ETH_USD_ANSWER, DEV_USDC_USD_ANSWER
from enclave_signer.allocation import liquidity_tokens, split_raise, split_supply
from tests.contracts.support import (
    AGENT,
    DAY,
    ETHER,
    FEE_RECIPIENT,
    TOKEN,
    TREASURY,
    USDC,
    ChainEnv,
    attempt_launch,
    eth_launch_params,
    launch,
    reverts_with,
    usdc_launch_params,
)

UNISWAP_MINIMUM_LIQUIDITY = 1_000


def pair_reserves(env: ChainEnv, pair_address: str, token: str) -> tuple[int, int]:
    """(token reserve, raise asset reserve) of a pair."""
    pair = env.contract("UniswapV2Pair", pair_address)
    reserve0, reserve1, _ = pair.functions.getReserves().call()
    return (reserve0, reserve1) if pair.functions.token0().call() == token else (reserve1, reserve0)


def check_token_distribution(env: ChainEnv, params: LaunchParams, event) -> None:
    """Every token minted is in the pair, the claim vault or the vesting wallet, or burned; none left behind."""
    token = env.contract("AgentToken", event.token)
    split = split_supply(
        total_supply=params.total_supply,
        liquidity_bps=params.liquidity_supply_bps,
        depositor_bps=params.depositor_supply_bps,
    )
    assert event.tokens_to_liquidity + event.tokens_burned == split.liquidity
    assert event.depositor_tokens == split.depositors
    assert event.agent_tokens == split.agent
    assert env.token_balance(event.token, event.pair) == event.tokens_to_liquidity
    assert env.token_balance(event.token, event.claim_vault) == split.depositors
    assert env.token_balance(event.token, event.vesting_wallet) == split.agent
    assert env.token_balance(event.token, env.deployment.launcher) == 0
    assert token.functions.totalSupply().call() == params.total_supply - event.tokens_burned
    assert (
        event.tokens_to_liquidity + event.depositor_tokens + event.agent_tokens + event.tokens_burned
        == params.total_supply
    )


def check_vesting_contracts(env: ChainEnv, params: LaunchParams, event, launched_at: int) -> None:
    vault = env.contract("ClaimVault", event.claim_vault)
    assert vault.functions.token().call() == event.token
    assert vault.functions.merkleRoot().call() == params.merkle_root
    assert vault.functions.launchedAt().call() == launched_at
    assert vault.functions.vestingStart().call() == launched_at + params.depositor_cliff
    assert vault.functions.vestingEnd().call() == launched_at + params.depositor_cliff + params.depositor_duration
    wallet = env.contract("VestingWallet", event.vesting_wallet)
    assert wallet.functions.owner().call() == params.agent
    assert wallet.functions.start().call() == launched_at + params.agent_cliff
    assert wallet.functions.duration().call() == params.agent_duration


def test_eth_launch_pairs_the_split_burns_lp_funds_vesting_and_pays_every_wei(env: ChainEnv):
    params = eth_launch_params(env)
    predicted = predict_token_address(launcher=env.deployment.launcher, pool=env.pool, pool_id=params.pool_id)
    assert env.launcher.functions.predictToken(env.pool, params.pool_id).call() == predicted
    pool_before = env.eth_balance(env.pool)

    receipt, event = launch(env, params)

    launched_at = env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    raise_split = split_raise(raise_amount=params.raise_amount, liquidity_bps=6_000, fee_bps=250)
    assert event.token == predicted
    assert event.pool == env.pool and event.pool_id == params.pool_id
    assert event.pair == env.factory.functions.getPair(predicted, env.deployment.weth).call()
    assert event.pair == predict_pair_address(
        factory=env.deployment.uniswap_v2_factory, token_a=predicted, token_b=env.deployment.weth
    )
    assert event.raise_asset == params.raise_asset and event.raise_amount == 10 * ETHER
    assert (event.asset_to_liquidity, event.fee, event.treasury_amount) == (
        raise_split.liquidity,
        raise_split.fee,
        raise_split.treasury,
    )
    assert (event.fee_recipient, event.treasury) == (FEE_RECIPIENT, TREASURY)
    assert event.tokens_burned == 0 and event.donation_skimmed == 0
    assert event.oracle_answer == DEV_ETH_USD_ANSWER
    assert event.log_head == params.log_head

    # The pool holds exactly the liquidity shares, at the price the split implies.
    assert pair_reserves(env, event.pair, event.token) == (400_000_000 * TOKEN, 6 * ETHER)
    # LP burned: all of it at the dead address (Uniswap keeps its minimum liquidity at address(0)).
    pair = env.contract("UniswapV2Pair", event.pair)
    assert event.lp_burned and event.lp_holder == DEAD_ADDRESS and event.lp_lock_until == 0
    assert event.liquidity == isqrt(400_000_000 * TOKEN * 6 * ETHER) - UNISWAP_MINIMUM_LIQUIDITY
    assert pair.functions.balanceOf(DEAD_ADDRESS).call() == event.liquidity
    assert pair.functions.totalSupply().call() == event.liquidity + UNISWAP_MINIMUM_LIQUIDITY

    check_token_distribution(env, params, event)
    check_vesting_contracts(env, params, event, launched_at)

    # Every wei the pool sent is in the pair (as WETH), with the fee recipient or with the treasury.
    assert env.eth_balance(env.pool) == pool_before - params.raise_amount - env.gas_cost(receipt)
    assert env.weth.functions.balanceOf(event.pair).call() == event.asset_to_liquidity
    assert env.eth_balance(FEE_RECIPIENT) == event.fee == 25 * ETHER // 100
    assert env.eth_balance(TREASURY) == event.treasury_amount == 375 * ETHER // 100
    assert event.asset_to_liquidity + event.fee + event.treasury_amount == params.raise_amount
    assert env.eth_balance(env.deployment.launcher) == 0
    assert env.weth.functions.balanceOf(env.deployment.launcher).call() == 0

    token = env.contract("AgentToken", event.token)
    assert token.functions.name().call() == "Agent Token"
    assert token.functions.symbol().call() == "AGNT"
    assert token.functions.decimals().call() == 18
    assert token.functions.pair().call() == event.pair
    assert token.functions.protectionActive().call() is False


def test_usdc_launch_pairs_the_split_and_pays_every_unit(env: ChainEnv):
    params = usdc_launch_params(env)

    receipt, event = launch(env, params)

    launched_at = env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    assert event.pair == env.factory.functions.getPair(event.token, env.deployment.usdc).call()
    assert pair_reserves(env, event.pair, event.token) == (400_000_000 * TOKEN, 60_000 * USDC)
    assert event.oracle_answer == DEV_USDC_USD_ANSWER
    check_token_distribution(env, params, event)
    check_vesting_contracts(env, params, event, launched_at)

    usdc = env.usdc.functions
    assert usdc.balanceOf(env.pool).call() == 0  # minted exactly the raise, all of it went out
    assert usdc.balanceOf(event.pair).call() == event.asset_to_liquidity == 60_000 * USDC
    assert usdc.balanceOf(FEE_RECIPIENT).call() == event.fee == 2_500 * USDC
    assert usdc.balanceOf(TREASURY).call() == event.treasury_amount == 37_500 * USDC
    assert usdc.balanceOf(env.deployment.launcher).call() == 0
    assert env.eth_balance(FEE_RECIPIENT) == env.eth_balance(TREASURY) == 0


def implied_price_usd(*, token_reserve: int, asset_reserve: int, answer: int, asset_decimals: int) -> float:
    """USD per whole token at the pair's reserves, in the feed's decimals (for comparing, not for money)."""
    return asset_reserve * answer * 10**18 / (10**asset_decimals * token_reserve)


def test_eth_launch_with_a_usd_target_pairs_fewer_tokens_and_burns_the_rest(env: ChainEnv):
    target = 5 * 10**3  # $0.00005 per token, in the feed's 8 decimals
    params = eth_launch_params(env, target_price_usd=target)

    _, event = launch(env, params)

    # 6 ETH * $3,000 = $18,000 of ETH at $0.00005 pairs with 360M tokens, below the 400M share: 40M are burned.
    expected = liquidity_tokens(
        liquidity_share=400_000_000 * TOKEN,
        asset_to_liquidity=6 * ETHER,
        oracle_answer=DEV_ETH_USD_ANSWER,
        target_price_usd=target,
        asset_decimals=18,
    )
    assert expected.paired == 360_000_000 * TOKEN
    assert (event.tokens_to_liquidity, event.tokens_burned) == (expected.paired, expected.burned)
    token_reserve, asset_reserve = pair_reserves(env, event.pair, event.token)
    assert (token_reserve, asset_reserve) == (360_000_000 * TOKEN, 6 * ETHER)
    price = implied_price_usd(
        token_reserve=token_reserve, asset_reserve=asset_reserve, answer=DEV_ETH_USD_ANSWER, asset_decimals=18
    )
    assert abs(price - target) / target < 1e-9
    check_token_distribution(env, params, event)


def test_usdc_launch_with_a_usd_target_accounts_for_six_decimals(env: ChainEnv):
    target = 12 * 10**3  # $0.00012 per token
    params = usdc_launch_params(env, target_price_usd=target)

    _, event = launch(env, params)

    # $60,000 at $0.00012 = 500M tokens > the 400M share: capped at the share, nothing burned, price above target.
    assert event.tokens_to_liquidity == 400_000_000 * TOKEN and event.tokens_burned == 0
    params = usdc_launch_params(env, target_price_usd=20 * 10**3, pool_id=(2).to_bytes(32, "big"))
    _, event = launch(env, params)
    # $60,000 at $0.0002 = 300M tokens, 100M of the share burned.
    assert (event.tokens_to_liquidity, event.tokens_burned) == (300_000_000 * TOKEN, 100_000_000 * TOKEN)
    token_reserve, asset_reserve = pair_reserves(env, event.pair, event.token)
    assert asset_reserve == 60_000 * USDC
    price = implied_price_usd(
        token_reserve=token_reserve, asset_reserve=asset_reserve, answer=DEV_USDC_USD_ANSWER, asset_decimals=6
    )
    assert abs(price - 20 * 10**3) / (20 * 10**3) < 1e-9
    check_token_distribution(env, params, event)


def test_lp_locked_until_a_time_is_released_to_the_treasury_only_after_it(env: ChainEnv):
    unlock = env.now() + 30 * DAY
    _, event = launch(env, eth_launch_params(env, lp_lock_until=unlock))

    assert not event.lp_burned and event.lp_lock_until == unlock
    lock = env.contract("LPLock", event.lp_holder)
    pair = env.contract("UniswapV2Pair", event.pair)
    assert (lock.functions.lpToken().call(), lock.functions.treasury().call()) == (event.pair, TREASURY)
    assert pair.functions.balanceOf(event.lp_holder).call() == event.liquidity
    with reverts_with("StillLocked(uint256)"):
        env.transact(lock.functions.release(), sender=env.deployer)

    env.mine_at(unlock)
    env.transact(lock.functions.release(), sender=env.deployer)  # anyone may trigger it; only the treasury gains

    assert pair.functions.balanceOf(TREASURY).call() == event.liquidity
    assert pair.functions.balanceOf(event.lp_holder).call() == 0
    with reverts_with("NothingToRelease()"):
        env.transact(lock.functions.release(), sender=env.deployer)


def test_a_pool_id_launches_once_and_the_token_address_depends_on_pool_and_id(env: ChainEnv):
    params = eth_launch_params(env)
    _, first = launch(env, params)

    with reverts_with("AlreadyLaunched(address)"):
        attempt_launch(env, params)

    other_id = eth_launch_params(env, pool_id=(2).to_bytes(32, "big"))
    _, second = launch(env, other_id)
    other_pool = env.w3.eth.accounts[2]
    _, third = launch(env, params, sender=other_pool)
    assert len({first.token, second.token, third.token}) == 3
    assert third.token == env.launcher.functions.predictToken(other_pool, params.pool_id).call()


def test_a_fee_recipient_that_rejects_ether_is_paid_in_weth_instead_of_blocking_the_launch(env: ChainEnv):
    rejecting = env.deploy("RejectingRecipient")
    params = eth_launch_params(env, fee_recipient=rejecting.address)

    _, event = launch(env, params)

    assert env.eth_balance(rejecting.address) == 0
    assert env.weth.functions.balanceOf(rejecting.address).call() == event.fee == params.raise_amount * 250 // 10_000
    assert env.eth_balance(TREASURY) == event.treasury_amount


def test_a_launch_without_agent_share_or_fee_deploys_no_vesting_wallet(env: ChainEnv):
    params = eth_launch_params(env, liquidity_supply_bps=5_000, depositor_supply_bps=5_000, fee_bps=0)

    _, event = launch(env, params)

    assert event.agent_tokens == 0 and event.vesting_wallet == "0x" + "00" * 20
    assert event.fee == 0 and env.eth_balance(FEE_RECIPIENT) == 0
    assert event.treasury_amount == 4 * ETHER and env.eth_balance(TREASURY) == 4 * ETHER
    assert env.token_balance(event.token, event.pair) == event.tokens_to_liquidity == params.total_supply // 2
    assert env.token_balance(event.token, event.claim_vault) == event.depositor_tokens == params.total_supply // 2


def test_the_launcher_refuses_stray_ether(env: ChainEnv):
    with reverts_with("UnexpectedEther()"):
        env.send(sender=env.pool, to=env.deployment.launcher, value=1)


def test_the_agent_vesting_wallet_releases_nothing_before_its_cliff_and_all_after(env: ChainEnv):
    receipt, event = launch(env, eth_launch_params(env))
    launched_at = env.w3.eth.get_block(receipt["blockNumber"])["timestamp"]
    wallet = env.contract("VestingWallet", event.vesting_wallet)
    release = wallet.functions.release(event.token)

    env.mine_at(launched_at + 30 * DAY - 1)
    assert wallet.functions.releasable(event.token).call() == 0
    env.mine_at(launched_at + 30 * DAY + 365 * DAY)
    env.transact(release, sender=env.deployer)  # anyone may trigger a release; the tokens go to the agent
    assert env.token_balance(event.token, AGENT) == event.agent_tokens
