"""Gas of the on-chain operations: a launch (for 10 and 10,000 depositors), a claim, a refund per recipient.

Run: `.venv/bin/python bench/gas.py` (starts its own anvil, deploys the dev fixtures, prints a table).
The launch stores one Merkle root whatever the number of depositors, so its gas must not grow with them.

Two figures stand beside an anchor:
- a claim from our ClaimVault beside a claim from Uniswap's MerkleDistributor (`@uniswap/merkle-distributor` 1.0.1,
  its own compiled artifact, loaded from node_modules), on the same anvil, for the same token, the same 10,000
  depositors and amounts, the same claimers and the same proof length. Each side runs from the same chain state
  (an anvil snapshot, reverted between them), so the claimers' and the token's storage starts equal;
- a refund per recipient to recipients that already exist and hold a balance (the real case: refunds go to
  depositors) beside the same batch to new accounts.
"""

from __future__ import annotations

import json
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from eth_abi import encode  # noqa: E402
from eth_utils import keccak, to_checksum_address  # noqa: E402
from figures import publish, ratio  # noqa: E402 - bench/figures.py, next to this script
from web3.exceptions import ContractLogicError  # noqa: E402

from chain.contracts import (  # noqa: E402
    encode_approve,
    encode_claim,
    encode_refund_erc20,
    encode_refund_eth,
    selector,
)
from chain.devnet import deploy_dev_fixtures  # noqa: E402
from enclave_signer.allocation import split_supply  # noqa: E402
from enclave_signer.merkle import hash_pair, process_proof  # noqa: E402
from tests.anvil import start_anvil  # noqa: E402
from tests.contracts.support import (  # noqa: E402
    DAY,
    ETHER,
    TOKEN,
    USDC,
    ChainEnv,
    Depositors,
    eth_launch_params,
    fresh_address,
    launch,
    make_depositors,
    usdc_launch_params,
)

REFUND_BATCH = 100
DEPOSITOR_TOKENS = split_supply(total_supply=1_000_000_000 * TOKEN, liquidity_bps=4_000, depositor_bps=4_000).depositors
CLAIM_GAS_LIMIT = 300_000

# Uniswap's MerkleDistributor as published on npm (solc 0.6.11, optimizer 200 runs): its bytecode stays in node_modules.
UNISWAP_DISTRIBUTOR_ARTIFACT = ROOT / "node_modules/@uniswap/merkle-distributor/build/MerkleDistributor.json"
UNISWAP_CLAIM_SIGNATURE = "claim(uint256,address,uint256,bytes32[])"
# Claimers compared per group: the same accounts claim from both contracts, in the same order.
CLAIMERS_PER_GROUP = 8
# Tokens each claimer of the second group holds before claiming (bought on the launch's Uniswap pair).
HELD_BEFORE = 1_000 * TOKEN


def measure_launch(env: ChainEnv, *, depositors: int, pool_pk: int, **overrides) -> tuple[int, object, object]:
    group = make_depositors(count=depositors, depositor_tokens=DEPOSITOR_TOKENS, seed=f"bench-{pool_pk}")
    params = eth_launch_params(env, depositors=group, pool_id=pool_pk.to_bytes(32, "big"), **overrides)
    receipt, event = launch(env, params)
    return receipt["gasUsed"], event, group


def measure_claims(env: ChainEnv, event, group) -> tuple[int, int, int]:
    """Gas of a first claim midway through vesting, and of a second claim at the end, with the proof length."""
    vault = env.contract("ClaimVault", event.claim_vault)
    depositor = next(iter(group.allocations))
    env.impersonate(depositor)
    data = encode_claim(amount=group.tree.amount(depositor), proof=group.tree.proof(depositor))
    env.anvil.rpc("evm_setNextBlockTimestamp", [vault.functions.vestingStart().call() + 45 * DAY])
    first = env.send(sender=depositor, to=vault.address, data=data, gas=CLAIM_GAS_LIMIT)["gasUsed"]
    env.anvil.rpc("evm_setNextBlockTimestamp", [vault.functions.vestingEnd().call() + 1])
    second = env.send(sender=depositor, to=vault.address, data=data, gas=CLAIM_GAS_LIMIT)["gasUsed"]
    return first, second, len(group.tree.proof(depositor))


class UniswapBalanceTree:
    """The tree of Uniswap's merkle-distributor (its src/balance-tree.ts and src/merkle-tree.ts), in Python.

    Leaf: keccak256(abi.encodePacked(uint256 index, address account, uint256 amount)). Leaves sorted by value and
    deduplicated; each layer hashes neighbours two by two (sorted-pair keccak256, as OpenZeppelin 3's MerkleProof
    checks it), and an odd last node moves up unhashed, so its proof is one element shorter. The index is the
    account's position in ascending address order (the distributor keeps one claimed bit per index)."""

    def __init__(self, allocations: dict[str, int]) -> None:
        accounts = sorted((to_checksum_address(a) for a in allocations), key=lambda a: int(a, 16))
        self.entries = {account: (index, allocations[account]) for index, account in enumerate(accounts)}
        leaves = sorted({self.leaf(index, account, amount) for account, (index, amount) in self.entries.items()})
        self.layers = [leaves]
        while len(self.layers[-1]) > 1:
            layer = self.layers[-1]
            self.layers.append(
                [hash_pair(layer[i], layer[i + 1]) if i + 1 < len(layer) else layer[i] for i in range(0, len(layer), 2)]
            )
        self.position = {leaf: i for i, leaf in enumerate(leaves)}

    @staticmethod
    def leaf(index: int, account: str, amount: int) -> bytes:
        return keccak(index.to_bytes(32, "big") + bytes.fromhex(account[2:]) + amount.to_bytes(32, "big"))

    @property
    def root(self) -> bytes:
        return self.layers[-1][0]

    def proof(self, account: str) -> list[bytes]:
        index, amount = self.entries[account]
        position = self.position[self.leaf(index, account, amount)]
        proof = []
        for layer in self.layers[:-1]:
            sibling = position + 1 if position % 2 == 0 else position - 1
            if sibling < len(layer):
                proof.append(layer[sibling])
            position //= 2
        return proof


def deploy_uniswap_distributor(env: ChainEnv, *, token: str, root: bytes):
    artifact = json.loads(UNISWAP_DISTRIBUTOR_ARTIFACT.read_text())
    factory = env.w3.eth.contract(abi=artifact["abi"], bytecode=artifact["evm"]["bytecode"]["object"])
    receipt = env.transact(factory.constructor(to_checksum_address(token), root), sender=env.deployer)
    return env.w3.eth.contract(address=receipt["contractAddress"], abi=artifact["abi"])


def encode_uniswap_claim(*, index: int, account: str, amount: int, proof: list[bytes]) -> bytes:
    return selector(UNISWAP_CLAIM_SIGNATURE) + encode(
        ["uint256", "address", "uint256", "bytes32[]"], [index, account, amount, proof]
    )


@dataclass(frozen=True)
class ClaimGas:
    """One contract's claims by the same claimers: the first in the contract, the typical one (median of the rest of
    the group), and the typical one by claimers who already held the token."""

    first: int
    typical: int
    typical_holding: int


@dataclass(frozen=True)
class ClaimComparison:
    ours: ClaimGas
    uniswap: ClaimGas
    proof_length: int
    ours_mean_proof: float
    uniswap_mean_proof: float


def summarize(gas: list[int]) -> ClaimGas:
    fresh, holding = gas[:CLAIMERS_PER_GROUP], gas[CLAIMERS_PER_GROUP:]
    return ClaimGas(
        first=fresh[0], typical=int(statistics.median(fresh[1:])), typical_holding=int(statistics.median(holding))
    )


def buy_tokens(env: ChainEnv, *, token: str, value: int) -> int:
    """Buy the launch's token on its Uniswap pair for `value` wei, for the deployer; returns the tokens bought."""
    agent_token = env.contract("AgentToken", token)
    before = agent_token.functions.balanceOf(env.deployer).call()
    path = [env.deployment.weth, to_checksum_address(token)]
    swap = env.router.functions.swapExactETHForTokens(0, path, env.deployer, env.now() + 600)
    env.transact(swap, sender=env.deployer, value=value)
    return agent_token.functions.balanceOf(env.deployer).call() - before


def measure_claims_against_uniswap(env: ChainEnv, event, group: Depositors, *, skip: str) -> ClaimComparison:
    """Claims of whole allocations (after the end of vesting) from our ClaimVault and from Uniswap's
    MerkleDistributor over the same 10,000 depositors, by the same claimers, from the same chain state.

    Claimers: existing accounts (with ETH), all in one 256-index word of the distributor's claimed bitmap, each with a
    proof of the same length in both trees. The first group holds none of the token before its claim (a depositor's
    usual state); the second holds some. The first claim of the first group is also the first claim from Uniswap's
    distributor in that bitmap word (a zero word becomes nonzero: 1 claim in 256); the others set a bit in a word
    already nonzero. Our vault stores each claimer's claimed amount (vesting needs it), so its claims have no such
    first/typical split; its vault balance, like the distributor's, is nonzero before and after every claim."""
    uniswap_tree = UniswapBalanceTree(group.allocations)
    ours_lengths = {account: len(group.tree.proof(account)) for account in group.allocations}
    uniswap_lengths = {account: len(uniswap_tree.proof(account)) for account in group.allocations}
    proof_length = max(uniswap_lengths.values())
    word = 0
    claimers = [
        account
        for account, (index, _) in sorted(uniswap_tree.entries.items(), key=lambda item: item[1][0])
        if index // 256 == word
        and account != to_checksum_address(skip)
        and ours_lengths[account] == uniswap_lengths[account] == proof_length
    ][: 2 * CLAIMERS_PER_GROUP]
    assert len(claimers) == 2 * CLAIMERS_PER_GROUP, "not enough claimers with equal proof lengths in one bitmap word"

    token = env.contract("AgentToken", event.token)
    vault = env.contract("ClaimVault", event.claim_vault)
    distributor = deploy_uniswap_distributor(env, token=event.token, root=uniswap_tree.root)
    assert distributor.functions.merkleRoot().call() == uniswap_tree.root
    assert distributor.functions.token().call() == to_checksum_address(event.token)

    # Fund the distributor with the same token, bought on the launch's pair (more than the claims take, so its balance
    # stays nonzero as the vault's does), and give the second group its holding.
    needed = sum(group.allocations[a] for a in claimers) + HELD_BEFORE * CLAIMERS_PER_GROUP
    bought = buy_tokens(env, token=event.token, value=ETHER // 2)
    assert bought > needed, (bought, needed)
    env.transact(
        token.functions.transfer(distributor.address, bought - HELD_BEFORE * CLAIMERS_PER_GROUP), sender=env.deployer
    )
    for account in claimers[CLAIMERS_PER_GROUP:]:
        env.transact(token.functions.transfer(account, HELD_BEFORE), sender=env.deployer)
    for account in claimers:
        env.impersonate(account)  # an existing account: 10 ETH, as a depositor has some
    if env.now() < vault.functions.vestingEnd().call():
        env.mine_at(vault.functions.vestingEnd().call() + 1)

    def claim_all(send_claim) -> list[int]:
        gas = []
        for account in claimers:
            before = token.functions.balanceOf(account).call()
            gas.append(send_claim(account)["gasUsed"])
            assert token.functions.balanceOf(account).call() - before == group.allocations[account]
        return gas

    snapshot = env.anvil.rpc("evm_snapshot")
    ours = claim_all(
        lambda account: env.send(
            sender=account,
            to=vault.address,
            data=encode_claim(amount=group.allocations[account], proof=group.tree.proof(account)),
            gas=CLAIM_GAS_LIMIT,
        )
    )
    assert env.anvil.rpc("evm_revert", [snapshot]) is True
    assert all(token.functions.balanceOf(a).call() == 0 for a in claimers[:CLAIMERS_PER_GROUP])

    def uniswap_data(account: str, amount: int) -> bytes:
        index, _ = uniswap_tree.entries[account]
        return encode_uniswap_claim(index=index, account=account, amount=amount, proof=uniswap_tree.proof(account))

    # The Python tree is Uniswap's: its proofs lead to its root, and the distributor checks them (a wrong amount fails).
    probe = claimers[0]
    leaf = uniswap_tree.leaf(uniswap_tree.entries[probe][0], probe, group.allocations[probe])
    assert process_proof(leaf, uniswap_tree.proof(probe)) == uniswap_tree.root
    try:
        env.w3.eth.call(
            {"from": probe, "to": distributor.address, "data": uniswap_data(probe, group.allocations[probe] + 1)}
        )
    except ContractLogicError as refused:
        assert "Invalid proof" in str(refused), refused
    else:
        raise AssertionError("Uniswap's distributor accepted a wrong amount")
    uniswap = claim_all(
        lambda account: env.send(
            sender=account,
            to=distributor.address,
            data=uniswap_data(account, group.allocations[account]),
            gas=CLAIM_GAS_LIMIT,
        )
    )
    assert all(distributor.functions.isClaimed(uniswap_tree.entries[a][0]).call() for a in claimers)
    return ClaimComparison(
        ours=summarize(ours),
        uniswap=summarize(uniswap),
        proof_length=proof_length,
        ours_mean_proof=statistics.fmean(ours_lengths.values()),
        uniswap_mean_proof=statistics.fmean(uniswap_lengths.values()),
    )


def refund_eth(env: ChainEnv, recipients: list[str], amounts: list[int]) -> int:
    """Gas per recipient of one ETH refund batch."""
    data = encode_refund_eth(recipients=recipients, amounts=amounts)
    receipt = env.send(sender=env.pool, to=env.deployment.refunder, data=data, value=sum(amounts))
    return receipt["gasUsed"] // len(recipients)


def refund_usdc(env: ChainEnv, recipients: list[str], amounts: list[int]) -> int:
    """Gas per recipient of one USDC refund batch (minted to the pool and approved first, as a pool holds it)."""
    env.transact(env.usdc.functions.mint(env.pool, sum(amounts)), sender=env.deployer)
    env.send(
        sender=env.pool,
        to=env.deployment.usdc,
        data=encode_approve(spender=env.deployment.refunder, amount=sum(amounts)),
    )
    data = encode_refund_erc20(token=env.deployment.usdc, recipients=recipients, amounts=amounts)
    return env.send(sender=env.pool, to=env.deployment.refunder, data=data)["gasUsed"] // len(recipients)


@dataclass(frozen=True)
class RefundGas:
    """Gas per recipient of the same batch to new accounts (first) and again to the same, now existing, accounts."""

    new: int
    existing: int


def measure_refunds(env: ChainEnv) -> tuple[RefundGas, RefundGas]:
    """ETH and USDC refunds per recipient: a batch to fresh addresses (new accounts, the worst case), then the same
    batch again to the same recipients, who now exist and hold what the first batch paid them (and, for USDC, some
    ETH), as depositors always do. The pool's side (its balance, allowance, the Refunder's) starts equal both times."""
    recipients = [fresh_address(f"bench-eth-refund-{i}") for i in range(REFUND_BATCH)]
    amounts = [ETHER // 100 + i for i in range(REFUND_BATCH)]
    eth_new = refund_eth(env, recipients, amounts)
    assert all(env.eth_balance(r) > 0 for r in recipients)
    eth = RefundGas(new=eth_new, existing=refund_eth(env, recipients, amounts))

    recipients = [fresh_address(f"bench-usdc-refund-{i}") for i in range(REFUND_BATCH)]
    amounts = [100 * USDC + i for i in range(REFUND_BATCH)]
    usdc_new = refund_usdc(env, recipients, amounts)
    env.rpc_batch([("anvil_setBalance", [r, hex(ETHER // 10)]) for r in recipients])
    assert all(env.usdc.functions.balanceOf(r).call() > 0 and env.eth_balance(r) > 0 for r in recipients)
    usdc = RefundGas(new=usdc_new, existing=refund_usdc(env, recipients, amounts))
    return eth, usdc


def main() -> int:
    started = time.monotonic()
    node = start_anvil()
    try:
        deployment = deploy_dev_fixtures(node.w3, deployer=node.account(0).address)
        env = ChainEnv(
            anvil=node, deployment=deployment, deployer=node.account(0).address, pool=node.account(1).address
        )
        # A first launch pays once for accounts and slots that later launches find warm: the fee recipient's and
        # treasury's new accounts and the dead address's first LP balance. Measure steady-state launches.
        first_ever, _, _ = measure_launch(env, depositors=10, pool_pk=100)
        small, _, _ = measure_launch(env, depositors=10, pool_pk=1)
        large, large_event, large_group = measure_launch(env, depositors=10_000, pool_pk=2)
        locked, _, _ = measure_launch(env, depositors=10, pool_pk=3, lp_lock_until=env.now() + 365 * DAY)
        protected, _, _ = measure_launch(env, depositors=10, pool_pk=4, protection_blocks=30, max_buy_per_tx=TOKEN)
        usdc_receipt, _ = launch(env, usdc_launch_params(env, pool_id=(5).to_bytes(32, "big"), target_price_usd=20_000))
        first_claim, second_claim, proof_length = measure_claims(env, large_event, large_group)
        versus = measure_claims_against_uniswap(env, large_event, large_group, skip=next(iter(large_group.allocations)))
        eth_refund, usdc_refund = measure_refunds(env)
    finally:
        node.stop()

    ours, uniswap, depth = versus.ours, versus.uniswap, versus.proof_length
    rows = [
        ("launch, ETH raise, LP burned, first launch on the chain", first_ever),
        ("launch, ETH raise, LP burned, 10 depositors", small),
        ("launch, ETH raise, LP burned, 10,000 depositors", large),
        ("launch, ETH raise, LP locked, 10 depositors", locked),
        ("launch, ETH raise, launch protection on", protected),
        ("launch, USDC raise, USD price target (part burned)", usdc_receipt["gasUsed"]),
        (f"claim, 10,000-depositor tree (proof of {proof_length}), first, mid-vesting", first_claim),
        ("claim, same depositor, second (rest of vesting)", second_claim),
        (f"claim, whole allocation (proof of {depth}), first from the vault", ours.first),
        (f"claim, whole allocation (proof of {depth}), typical", ours.typical),
        (f"claim, whole allocation (proof of {depth}), typical, claimer holds the token", ours.typical_holding),
        (f"Uniswap MerkleDistributor claim (proof of {depth}), first in its bitmap word", uniswap.first),
        (f"Uniswap MerkleDistributor claim (proof of {depth}), typical", uniswap.typical),
        (
            f"Uniswap MerkleDistributor claim (proof of {depth}), typical, claimer holds the token",
            uniswap.typical_holding,
        ),
        (f"refund ETH, per recipient (batch of {REFUND_BATCH}, new accounts)", eth_refund.new),
        (f"refund ETH, per recipient (batch of {REFUND_BATCH}, existing accounts holding ETH)", eth_refund.existing),
        (f"refund USDC, per recipient (batch of {REFUND_BATCH}, new holders)", usdc_refund.new),
        (f"refund USDC, per recipient (batch of {REFUND_BATCH}, holders of USDC and ETH)", usdc_refund.existing),
    ]
    width = max(len(label) for label, _ in rows)
    print(f"{'operation':<{width}}  {'gas':>10}")
    print(f"{'-' * width}  {'-' * 10}")
    for label, gas in rows:
        print(f"{label:<{width}}  {gas:>10,}")
    print()
    print(f"launch gas, 10,000 vs 10 depositors: {large - small:+,} (only the root's calldata bytes can differ)")
    print(
        f"mean proof length over the 10,000 leaves: ours {versus.ours_mean_proof:.2f}, "
        f"Uniswap's {versus.uniswap_mean_proof:.2f}"
    )

    same = (
        f"same token, same 10,000 depositors and amounts, the same {CLAIMERS_PER_GROUP} claimers (existing accounts "
        f"with ETH, none of the token before), proof of {depth} in both, each side from the same chain state; ours "
        f"claims the whole allocation after vesting"
    )
    publish(
        bench="claims",
        what="claim gas, typical claim of a whole allocation",
        figure=f"{ours.typical:,} gas",
        reference=f"{uniswap.typical:,} gas Uniswap MerkleDistributor 1.0.1",
        ratio=ratio(ours.typical / uniswap.typical),
        detail=(
            f"{same}; median of {CLAIMERS_PER_GROUP - 1}. Uniswap's sets one bit in a bitmap word that is already "
            f"nonzero, ours stores the claimed amount in a fresh slot (vesting needs it). A claimer already holding "
            f"the token: {ours.typical_holding:,} against {uniswap.typical_holding:,} (bench/gas.py)"
        ),
    )
    publish(
        bench="claims",
        what="claim gas, first claim of a whole allocation",
        figure=f"{ours.first:,} gas",
        reference=f"{uniswap.first:,} gas Uniswap MerkleDistributor 1.0.1",
        ratio=ratio(ours.first / uniswap.first),
        detail=(
            f"{same}; Uniswap's first claim in a 256-index bitmap word (1 claim in 256) turns the word nonzero. "
            f"Mean proof length over all leaves: ours {versus.ours_mean_proof:.2f}, Uniswap's "
            f"{versus.uniswap_mean_proof:.2f}. Ours mid-vesting: first claim {first_claim:,}, second {second_claim:,} "
            f"(bench/gas.py)"
        ),
    )
    for asset, gas, holding in [("ETH", eth_refund, "ETH"), ("USDC", usdc_refund, "USDC and ETH")]:
        publish(
            bench="refunds",
            what=f"refund gas per recipient, {asset}",
            figure=f"{gas.existing:,} gas",
            reference=f"{gas.new:,} gas to new accounts",
            ratio=ratio(gas.existing / gas.new),
            detail=(
                f"a batch of {REFUND_BATCH} to recipients that exist and hold {holding} (as depositors do), divided "
                f"by {REFUND_BATCH}; the reference is the same batch to new accounts (bench/gas.py)"
            ),
        )
    print(f"measured in {time.monotonic() - started:.1f} s")
    return 0 if abs(large - small) < 1_000 else 1


if __name__ == "__main__":
    raise SystemExit(main())
