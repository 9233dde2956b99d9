"""Depositor claims from the ClaimVault: Merkle proofs from the Python builder, cliff and linear vesting."""

from __future__ import annotations

from web3.logs import DISCARD

from chain.contracts import encode_claim
from enclave_signer.allocation import split_supply
from enclave_signer.merkle import AllocationTree
from tests.contracts.support import (
    DAY,
    TOKEN,
    ChainEnv,
    eth_launch_params,
    launch,
    make_depositors,
    reverts_with,
)

CLAIM_GAS = 200_000  # explicit, so a claim is mined at the timestamp set for its block rather than estimated earlier
DEPOSITOR_TOKENS = split_supply(total_supply=1_000_000_000 * TOKEN, liquidity_bps=4_000, depositor_bps=4_000).depositors


def launch_with(env: ChainEnv, count: int):
    depositors = make_depositors(count=count, depositor_tokens=DEPOSITOR_TOKENS)
    _, event = launch(env, eth_launch_params(env, depositors=depositors))
    return depositors, event, env.contract("ClaimVault", event.claim_vault)


def claim_at(env: ChainEnv, vault, tree: AllocationTree, depositor: str, *, timestamp: int) -> dict:
    """Have `depositor` claim its whole allocation in a block with exactly `timestamp`."""
    env.impersonate(depositor)
    env.anvil.rpc("evm_setNextBlockTimestamp", [timestamp])
    data = encode_claim(amount=tree.amount(depositor), proof=tree.proof(depositor))
    return env.send(sender=depositor, to=vault.address, data=data, gas=CLAIM_GAS)


def test_nothing_before_the_cliff_half_midway_everything_at_the_end(env: ChainEnv):
    depositors, event, vault = launch_with(env, 5)
    tree = depositors.tree
    depositor = next(iter(depositors.allocations))
    allocation = depositors.allocations[depositor]
    start = vault.functions.vestingStart().call()
    end = vault.functions.vestingEnd().call()
    assert (start - vault.functions.launchedAt().call(), end - start) == (7 * DAY, 90 * DAY)

    env.impersonate(depositor)
    env.mine_at(start - 1)
    with reverts_with("NothingToClaim()"):
        vault.functions.claim(allocation, tree.proof(depositor)).transact({"from": depositor})
    assert vault.functions.claimable(depositor, allocation).call() == 0

    midway = start + 45 * DAY
    receipt = claim_at(env, vault, tree, depositor, timestamp=midway)
    half = allocation * (45 * DAY) // (90 * DAY)
    assert env.token_balance(event.token, depositor) == half
    assert vault.functions.claimed(depositor).call() == half
    (claimed,) = vault.events.Claimed().process_receipt(receipt, errors=DISCARD)
    assert (claimed.args.account, claimed.args.amount, claimed.args.totalClaimed) == (depositor, half, half)

    claim_at(env, vault, tree, depositor, timestamp=end + 1)
    assert env.token_balance(event.token, depositor) == allocation
    assert vault.functions.claimed(depositor).call() == allocation

    with reverts_with("NothingToClaim()"):
        vault.functions.claim(allocation, tree.proof(depositor)).transact({"from": depositor})


def test_a_linear_claim_at_any_time_releases_exactly_the_vested_part(env: ChainEnv):
    depositors, event, vault = launch_with(env, 3)
    start = vault.functions.vestingStart().call()
    depositor = list(depositors.allocations)[1]
    allocation = depositors.allocations[depositor]
    at = start + 12_345
    claim_at(env, vault, depositors.tree, depositor, timestamp=at)
    assert env.token_balance(event.token, depositor) == allocation * 12_345 // (90 * DAY)
    assert vault.functions.vestedAmount(allocation, at).call() == allocation * 12_345 // (90 * DAY)


def test_a_wrong_proof_a_wrong_amount_or_someone_elses_leaf_is_refused(env: ChainEnv):
    depositors, _, vault = launch_with(env, 5)
    tree = depositors.tree
    alice, bob = list(depositors.allocations)[:2]
    env.impersonate(alice)
    env.mine_at(vault.functions.vestingEnd().call())
    claim = vault.functions.claim

    with reverts_with("InvalidProof()"):
        claim(depositors.allocations[alice], tree.proof(bob)).transact({"from": alice})
    with reverts_with("InvalidProof()"):
        claim(depositors.allocations[alice] + 1, tree.proof(alice)).transact({"from": alice})
    with reverts_with("InvalidProof()"):  # bob's leaf and proof, sent by alice
        claim(depositors.allocations[bob], tree.proof(bob)).transact({"from": alice})
    with reverts_with("InvalidProof()"):
        claim(depositors.allocations[alice], []).transact({"from": alice})


def test_the_vault_has_no_way_to_move_tokens_except_claim(env: ChainEnv):
    _, _, vault = launch_with(env, 2)
    state_changing = {
        item["name"]
        for item in vault.abi
        if item["type"] == "function" and item["stateMutability"] not in ("view", "pure")
    }
    assert state_changing == {"claim"}


def test_a_thousand_depositors_each_claim_exactly_their_allocation(env: ChainEnv):
    depositors, event, vault = launch_with(env, 1_000)
    tree = depositors.tree
    assert sum(depositors.allocations.values()) == DEPOSITOR_TOKENS == event.depositor_tokens
    env.mine_at(vault.functions.vestingEnd().call())

    addresses = list(depositors.allocations)
    env.rpc_batch(
        [("anvil_impersonateAccount", [a]) for a in addresses]
        + [("anvil_setBalance", [a, hex(10**17)]) for a in addresses]
    )
    claims = [
        {
            "from": a,
            "to": vault.address,
            "gas": hex(CLAIM_GAS),
            "data": "0x" + encode_claim(amount=tree.amount(a), proof=tree.proof(a)).hex(),
        }
        for a in addresses
    ]
    env.anvil.rpc("evm_setAutomine", [False])
    try:
        tx_hashes = env.rpc_batch([("eth_sendTransaction", [tx]) for tx in claims])
        for _ in range(20):  # a few blocks: about 350 claims fit under the block gas limit
            if int(env.anvil.rpc("txpool_status")["pending"], 16) == 0:
                break
            env.anvil.rpc("evm_mine")
    finally:
        env.anvil.rpc("evm_setAutomine", [True])

    receipts = env.rpc_batch([("eth_getTransactionReceipt", [h]) for h in tx_hashes])
    assert all(r is not None and int(r["status"], 16) == 1 for r in receipts)
    balance_calls = [
        ("eth_call", [{"to": event.token, "data": "0x70a08231" + "00" * 12 + a[2:].lower()}, "latest"])
        for a in addresses
    ]
    balances = [int(result, 16) for result in env.rpc_batch(balance_calls)]
    assert balances == [depositors.allocations[a] for a in addresses]
    assert env.token_balance(event.token, vault.address) == 0  # allocations summed exactly to the vault's funding
