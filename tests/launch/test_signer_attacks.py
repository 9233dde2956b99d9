"""The signer's books against an attacker who controls the web tier and holds the signer's HMAC key.

Each test plays one attack that used to be signed: the attacker calls the signer directly (signer_client() holds the
key) with hand-built transactions, on the real stack (anvil with the Uniswap V2 + Launcher/Refunder deployment, the
signer process, PostgreSQL). Each attack must be refused with a stable code, and the honest path next to it must still
be signed and work.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta

import pytest
from web3 import Web3

from chain.client import chain_deployment
from chain.contracts import encode_launch, encode_refund_eth
from chain.transactions import Fees, current_fees
from enclave_signer.allocation import split_supply
from enclave_signer.config import (
    DEFAULT_GAS_TOPUP_MAX_WEI,
    DEFAULT_GAS_TOPUP_POOL_MAX_WEI,
    DEFAULT_MAX_TX_FEE_WEI,
    DEFAULT_POOL_FEE_BUDGET_BPS,
    DEFAULT_POOL_FEE_BUDGET_MIN_WEI,
)
from enclave_signer.merkle import AllocationTree
from enclave_signer.policy import TOPUP_GAS, refund_gas_range
from pools.models import Allocation, ChainTransaction, Deposit, Launch, Pool
from pools.services.launch import LAUNCH_GAS_LIMIT, build_launch_params, launch_raise_amount, launch_request
from pools.services.ledger import citation_of, ledger_sync
from pools.services.pools import pool_settle
from pools.signer import signer_client
from pools.signer_client import SignedTransaction, SignerRefused
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, ChainDriver
from tests.launch import test_lifecycle
from tests.launch.test_lifecycle import (
    assert_conserved,
    chain_now,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    run_refunds,
    scheduled_pool,
)

pytestmark = [pytest.mark.integration, pytest.mark.chain]
chain = test_lifecycle.chain  # the fixture: anvil with the deployment, the signer process

PRIORITY_FEE = 10**9


# --- the attacker's tools -------------------------------------------------------------------------------------


def refusal(pool_key: int | str, tx: dict, evidence: dict | None = None) -> str:
    """The code the signer refuses `tx` with (it must refuse)."""
    with pytest.raises(SignerRefused) as refused:
        signer_client().sign(pool_id=pool_key, tx=tx, evidence=evidence)
    return refused.value.code


def signed(pool_key: int | str, tx: dict, evidence: dict | None = None) -> SignedTransaction:
    return signer_client().sign(pool_id=pool_key, tx=tx, evidence=evidence)


def mine(chain: ChainDriver, transaction: SignedTransaction) -> dict:
    """Broadcast signed bytes (anvil mines them at once) and return the successful receipt."""
    tx_hash = chain.w3.eth.send_raw_transaction(transaction.raw_tx)
    receipt = chain.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=30)
    assert receipt["status"] == 1, receipt
    return receipt


def next_nonce(chain: ChainDriver, address: str) -> int:
    return chain.w3.eth.get_transaction_count(Web3.to_checksum_address(address))


def envelope(*, to: str, data: bytes, value: int, nonce: int, gas: int, fees: Fees) -> dict:
    return {
        "to": to,
        "data": data,
        "value": value,
        "nonce": nonce,
        "gas": gas,
        "maxFeePerGas": fees.max_fee_per_gas,
        "maxPriorityFeePerGas": fees.max_priority_fee_per_gas,
        "chainId": ANVIL_CHAIN_ID,
    }


def launch_tx(chain: ChainDriver, pool: Pool, **tampered) -> dict:
    """The launch the web tier would send now, built the web tier's way after bringing the signer's ledger up to date;
    `tampered` replaces LaunchParams fields (raise_amount, merkle_root, ...) with the attacker's."""
    pool = Pool.objects.select_related("agent").get(pk=pool.pk)
    summary = ledger_sync(pool=pool)
    fees = current_fees(w3=chain.w3)
    params = build_launch_params(
        pool=pool,
        launch=Launch(pool=pool, merkle_root=summary["merkle_root"]),
        raise_amount=launch_raise_amount(pool=pool, fees=fees, w3=chain.w3),
        log_head=signer_client().log_head()["hash"],  # after the sync, which logs
        w3=chain.w3,
    )
    params = dataclasses.replace(params, **tampered)
    return envelope(
        to=chain_deployment().launcher,
        data=encode_launch(params),
        value=params.value,
        nonce=next_nonce(chain, pool.deposit_address),
        gas=LAUNCH_GAS_LIMIT,
        fees=fees,
    )


def launch_gas_budget(launch: Launch) -> int:
    """What the web tier's launch transaction set aside for its gas (a native launch pays it out of the raise)."""
    return launch.transaction.gas * launch.transaction.max_fee_per_gas


def refund_tx(
    chain: ChainDriver, pool: Pool, payments: dict[str, int], *, nonce: int, gas: int | None = None, fees=None
) -> dict:
    """refundETH(payments) from the pool's key at `nonce`; by default with the least gas the signer allows."""
    recipients, amounts = list(payments), list(payments.values())
    return envelope(
        to=chain_deployment().refunder,
        data=encode_refund_eth(recipients=recipients, amounts=amounts),
        value=sum(amounts),
        nonce=nonce,
        gas=gas or refund_gas_range(len(recipients), native=True)[0],
        fees=fees or current_fees(w3=chain.w3),
    )


def evidence_of(pool: Pool, *, cited_for: dict[str, str]) -> dict:
    """{recipient: the deposits of `sender`} for each recipient -> sender pair (honestly the same address)."""
    return {
        Web3.to_checksum_address(recipient): [
            citation_of(d) for d in Deposit.objects.filter(pool=pool, sender__iexact=sender).order_by("block_number")
        ]
        for recipient, sender in cited_for.items()
    }


def own_evidence(pool: Pool, *recipients: str) -> dict:
    return evidence_of(pool, cited_for={r: r for r in recipients})


def gas_address() -> str:
    return Web3.to_checksum_address(signer_client().addresses()["gas"]["address"])


def topup_tx(chain: ChainDriver, pool: Pool, value: int, *, nonce: int) -> dict:
    return envelope(
        to=Web3.to_checksum_address(pool.deposit_address),
        data=b"",
        value=value,
        nonce=nonce,
        gas=TOPUP_GAS[0],
        fees=current_fees(w3=chain.w3),
    )


def mine_topup(chain: ChainDriver, pool: Pool, tx: dict, transaction: SignedTransaction) -> None:
    """Broadcast a signed top-up, recorded the way ensure_gas records one (so the indexer never takes it for a
    deposit, and the conservation and reconciliation checks count it)."""
    receipt = mine(chain, transaction)
    ChainTransaction.objects.create(
        pool=pool,
        purpose=ChainTransaction.Purpose.GAS_TOPUP,
        signer_key="gas",
        chain_id=ANVIL_CHAIN_ID,
        from_address=gas_address(),
        nonce=tx["nonce"],
        to_address=tx["to"],
        data="0x",
        value=tx["value"],
        gas=tx["gas"],
        max_fee_per_gas=tx["maxFeePerGas"],
        max_priority_fee_per_gas=tx["maxPriorityFeePerGas"],
        raw_tx=transaction.raw_tx,
        tx_hash=transaction.tx_hash,
        status=ChainTransaction.Status.CONFIRMED,
        block_number=receipt["blockNumber"],
        gas_used=receipt["gasUsed"],
        effective_gas_price=receipt["effectiveGasPrice"],
    )


def top_up(chain: ChainDriver, pool: Pool, value: int = DEFAULT_GAS_TOPUP_MAX_WEI) -> None:
    """An honest gas top-up of the pool address from the gas key."""
    source = gas_address()
    chain.fund([source], wei=100 * ETHER)
    tx = topup_tx(chain, pool, value, nonce=next_nonce(chain, source))
    mine_topup(chain, pool, tx, signed("gas", tx))


def failed_raise(chain: ChainDriver, amounts: list[int], **fields) -> tuple[Pool, list[str]]:
    """A raise that missed its soft cap, settled to REFUNDING, the signer's ledger complete and in refund-all."""
    pool = scheduled_pool(chain, soft_cap=50 * ETHER, **fields)
    senders = deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="failed")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    pool = pool_settle(pool_id=pool.pk, confirmed_through=chain_now(chain))
    assert pool.status == Pool.Status.REFUNDING
    ledger_sync(pool=pool)
    assert signer_client().refund_all(pool_id=pool.pk)["phase"] == "refund_all"
    return pool, senders


# --- the attacks ------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_launch_must_carry_the_allocation_the_signer_computed(chain):
    """Any allocation: a depositor of 1 ETH of 10 puts a root giving it every depositor token -> bad_merkle_root."""
    pool = scheduled_pool(chain, soft_cap=10 * ETHER)
    thief, *_ = deposit_from(
        chain, pool, [ETHER, 4 * ETHER, 5 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="alloc"
    )
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    everything = split_supply(
        total_supply=pool.total_supply,
        liquidity_bps=pool.liquidity_supply_bps,
        depositor_bps=pool.depositor_supply_bps,
    ).depositors
    stolen_root = AllocationTree.build({thief: everything}).root_hex

    assert refusal(pool.pk, launch_tx(chain, pool, merkle_root=stolen_root)) == "bad_merkle_root"
    assert refusal(pool.pk, launch_tx(chain, pool, merkle_root="0x" + "00" * 32)) == "bad_merkle_root"

    # The very same launch with the signer's own root is signed; the web tier's launch goes through.
    assert signed(pool.pk, launch_tx(chain, pool)).intent["kind"] == "launch"
    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(pool, chain=chain)
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    assert abs(Allocation.objects.get(pool=pool, address=thief).token_amount - everything // 10) <= 1
    assert_conserved(chain, pool, deposited=10 * ETHER)
    # Once launched, never again (its owed-back money is not a second raise).
    assert refusal(pool.pk, launch_tx(chain, pool, raise_amount=ETHER)) == "pool_launched"


@pytest.mark.parametrize(
    ("hard_cap", "early", "in_raise", "late", "credited"),
    [
        # Before the opening, above a wallet's maximum, after the close: 8 ETH owed back beside 15 credited.
        pytest.param(200 * ETHER, [3 * ETHER], [5 * ETHER, 5 * ETHER, 8 * ETHER], [2 * ETHER], 15 * ETHER, id="owed"),
        # Past the hard cap: 20 credited, 5 owed back (3 above a maximum, 2 after the cap was reached).
        pytest.param(20 * ETHER, [], [5 * ETHER, 5 * ETHER, 8 * ETHER, 5 * ETHER, 2 * ETHER], [], 20 * ETHER, id="cap"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_a_launch_cannot_sweep_owed_back_money_into_the_raise(chain, hard_cap, early, in_raise, late, credited):
    """Any raise amount: a raiseAmount within [soft cap, min(hard cap, value cap)] but above what the books credited
    (less the launch's gas) takes depositors' owed-back money -> bad_amount."""
    pool = scheduled_pool(chain, soft_cap=10 * ETHER, hard_cap=hard_cap)
    if early:
        deposit_from(chain, pool, early, at=pool.opens_at - timedelta(seconds=30), label="early")
    deposit_from(chain, pool, in_raise, at=pool.opens_at + timedelta(minutes=1), label="sweep")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    if late:
        deposit_from(chain, pool, late, at=chain_now(chain) + timedelta(seconds=1), label="late")
        index_until_confirmed(chain)
        pool.refresh_from_db()
    deposited = sum(early + in_raise + late)
    assert pool.raised == credited and pool.refund_owed == deposited - credited

    honest = launch_tx(chain, pool)
    gas_budget = honest["gas"] * honest["maxFeePerGas"]
    assert honest["value"] == credited - gas_budget
    everything = min(hard_cap, deposited - gas_budget)  # all the address can bring within the old bounds
    assert refusal(pool.pk, launch_tx(chain, pool, raise_amount=everything)) == "bad_amount"
    assert refusal(pool.pk, launch_tx(chain, pool, raise_amount=credited - gas_budget + 1)) == "bad_amount"

    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(pool, chain=chain)
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    assert launch.raise_amount == credited - launch_gas_budget(launch)
    run_refunds(pool)  # the owed-back money is still there, and paid back
    assert_conserved(chain, pool, deposited=deposited)


@pytest.mark.django_db(transaction=True)
def test_owed_back_money_cannot_lift_a_raise_over_its_soft_cap(chain):
    """8 ETH credited, 5 ETH sent before the opening: the address holds 13 ETH, over the 10 ETH soft cap, but the
    raise missed it -> soft_cap_missed; the honest path refunds everyone in full."""
    pool = scheduled_pool(chain, soft_cap=10 * ETHER)
    (early,) = deposit_from(chain, pool, [5 * ETHER], at=pool.opens_at - timedelta(seconds=30), label="early")
    senders = deposit_from(chain, pool, [4 * ETHER, 4 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="few")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    assert pool.raised == 8 * ETHER and chain.w3.eth.get_balance(pool.deposit_address) == 13 * ETHER

    assert refusal(pool.pk, launch_tx(chain, pool, raise_amount=pool.soft_cap)) == "soft_cap_missed"
    assert refusal(pool.pk, launch_tx(chain, pool, raise_amount=8 * ETHER)) == "soft_cap_missed"

    balances = {s: chain.w3.eth.get_balance(s) for s in [early, *senders]}
    pool = pool_settle(pool_id=pool.pk, confirmed_through=chain_now(chain))
    assert pool.status == Pool.Status.REFUNDING
    run_refunds(pool)
    for sender, amount in zip([early, *senders], [5 * ETHER, 4 * ETHER, 4 * ETHER], strict=True):
        assert chain.w3.eth.get_balance(sender) - balances[sender] == amount
    # Refunded in full, it can never launch.
    assert refusal(pool.pk, launch_tx(chain, pool, raise_amount=pool.soft_cap)) == "pool_refunding"
    assert_conserved(chain, pool, deposited=13 * ETHER)


@pytest.mark.django_db(transaction=True)
def test_after_a_launch_only_owed_back_parts_are_refunded(chain):
    """Refunds of credited money: after the launch, B's fully credited deposit would be paid out of C's owed-back
    2 ETH -> not_evidenced; C gets its 2 ETH, and not a wei more -> already_refunded."""
    pool = scheduled_pool(chain, soft_cap=10 * ETHER)
    a, b, c = deposit_from(
        chain, pool, [5 * ETHER, 5 * ETHER, 7 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="credited"
    )
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    ledger_sync(pool=pool)
    nonce = next_nonce(chain, pool.deposit_address)
    # Before the launch nothing is refunded at all.
    early = refund_tx(chain, pool, {c: 2 * ETHER}, nonce=nonce)
    assert refusal(pool.pk, early, own_evidence(pool, c)) == "not_refundable"

    launch_request(pool_id=pool.pk, requested_by="agent")
    assert run_launch(pool, chain=chain).step == Launch.Step.LAUNCHED
    index_until_confirmed(chain)
    ledger_sync(pool=pool)
    nonce = next_nonce(chain, pool.deposit_address)

    assert refusal(pool.pk, refund_tx(chain, pool, {b: ETHER}, nonce=nonce), own_evidence(pool, b)) == "not_evidenced"
    assert refusal(pool.pk, refund_tx(chain, pool, {a: 1}, nonce=nonce), own_evidence(pool, a)) == "not_evidenced"
    over = refund_tx(chain, pool, {c: 2 * ETHER + 1}, nonce=nonce)
    assert refusal(pool.pk, over, own_evidence(pool, c)) == "not_evidenced"
    # Citing C's deposit for B does not help either.
    stolen = evidence_of(pool, cited_for={b: c})
    assert refusal(pool.pk, refund_tx(chain, pool, {b: ETHER}, nonce=nonce), stolen) == "not_a_deposit"

    before = chain.w3.eth.get_balance(c)
    run_refunds(pool)
    assert chain.w3.eth.get_balance(c) - before == 2 * ETHER
    again = refund_tx(chain, pool, {c: 1}, nonce=next_nonce(chain, pool.deposit_address))
    assert refusal(pool.pk, again, own_evidence(pool, c)) == "already_refunded"
    assert_conserved(chain, pool, deposited=17 * ETHER)


@pytest.mark.django_db(transaction=True)
def test_a_refund_replaced_at_its_nonce_can_be_signed_again_at_a_later_one(chain):
    """Refunds locked for ever: A's full refund at nonce n, then a 1-wei refund to B at n, only the second mined. While
    n is open, A's refund elsewhere is already_refunded; once B's is mined there, A's is signed at n + 1."""
    pool, (a, b) = failed_raise(chain, [ETHER, 2 * ETHER])
    balances = {s: chain.w3.eth.get_balance(s) for s in (a, b)}
    n = next_nonce(chain, pool.deposit_address)
    signed(pool.pk, refund_tx(chain, pool, {a: ETHER}, nonce=n), own_evidence(pool, a))
    decoy = signed(pool.pk, refund_tx(chain, pool, {b: 1}, nonce=n), own_evidence(pool, b))
    retry = refund_tx(chain, pool, {a: ETHER}, nonce=n + 1)
    assert refusal(pool.pk, retry, own_evidence(pool, a)) == "already_refunded"  # n may still pay A

    mine(chain, decoy)
    mine(chain, signed(pool.pk, retry, own_evidence(pool, a)))
    assert chain.w3.eth.get_balance(a) - balances[a] == ETHER

    # B is owed the rest, and no more; A nothing more.
    top_up(chain, pool)
    rest = refund_tx(chain, pool, {b: 2 * ETHER}, nonce=n + 2)
    assert refusal(pool.pk, rest, own_evidence(pool, b)) == "already_refunded"
    mine(chain, signed(pool.pk, refund_tx(chain, pool, {b: 2 * ETHER - 1}, nonce=n + 2), own_evidence(pool, b)))
    assert chain.w3.eth.get_balance(b) - balances[b] == 2 * ETHER
    more = refund_tx(chain, pool, {a: 1}, nonce=n + 3)
    assert refusal(pool.pk, more, own_evidence(pool, a)) == "already_refunded"


@pytest.mark.django_db(transaction=True)
def test_refund_gas_must_fit_and_a_pool_key_has_a_fee_budget(chain):
    """Fees without limit: out-of-gas or oversized refunds -> bad_gas; 1-wei refunds at the fee cap each, signed at
    open nonces, stop at the pool key's lifetime budget -> fee_budget. Once mined, only what they really paid counts."""
    hard_cap = 60 * ETHER
    pool, (a, b) = failed_raise(chain, [3 * ETHER, 3 * ETHER], hard_cap=hard_cap)
    balances = {s: chain.w3.eth.get_balance(s) for s in (a, b)}
    n = next_nonce(chain, pool.deposit_address)
    least, most = refund_gas_range(1, native=True)

    for gas in (50_000, least - 1, most + 1):
        assert refusal(pool.pk, refund_tx(chain, pool, {a: 1}, nonce=n, gas=gas), own_evidence(pool, a)) == "bad_gas"

    budget = max(DEFAULT_POOL_FEE_BUDGET_MIN_WEI, hard_cap * DEFAULT_POOL_FEE_BUDGET_BPS // 10_000)
    costly = Fees(max_fee_per_gas=DEFAULT_MAX_TX_FEE_WEI // most, max_priority_fee_per_gas=PRIORITY_FEE)
    fits = budget // (most * costly.max_fee_per_gas)
    assert fits >= 2
    burners = [
        signed(pool.pk, refund_tx(chain, pool, {a: 1}, nonce=n + i, gas=most, fees=costly), own_evidence(pool, a))
        for i in range(fits)
    ]
    one_more = refund_tx(chain, pool, {a: 1}, nonce=n + fits, gas=most, fees=costly)
    assert refusal(pool.pk, one_more, own_evidence(pool, a)) == "fee_budget"
    honest_now = refund_tx(chain, pool, {b: 3 * ETHER}, nonce=n + fits)
    assert refusal(pool.pk, honest_now, own_evidence(pool, b)) == "fee_budget"
    # A replacement at an open nonce is counted instead of, not beside, what it replaces.
    signed(pool.pk, refund_tx(chain, pool, {a: 2}, nonce=n + fits - 1, gas=most, fees=costly), own_evidence(pool, a))

    # Mined, they cost what they really paid; the honest refund of the rest is signed and pays everyone in full.
    for burner in burners:
        mine(chain, burner)
    top_up(chain, pool)
    rest = refund_tx(chain, pool, {a: 3 * ETHER - fits, b: 3 * ETHER}, nonce=n + fits)
    mine(chain, signed(pool.pk, rest, own_evidence(pool, a, b)))
    assert chain.w3.eth.get_balance(a) - balances[a] == 3 * ETHER
    assert chain.w3.eth.get_balance(b) - balances[b] == 3 * ETHER


@pytest.mark.django_db(transaction=True)
def test_gas_top_ups_stop_at_the_pool_cap_and_cannot_be_launched(chain):
    """Gas key drained: 0.01 ETH then 1 wei signed at one nonce, the first broadcast, repeated. The mined top-ups count
    and the cap binds (topup_cap); every top-up signed at an open nonce counts too. The launch cannot carry them
    (bad_amount); the honest launch leaves them at the pool address."""
    pool = scheduled_pool(chain, soft_cap=10 * ETHER)
    deposit_from(chain, pool, [5 * ETHER, 5 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="gas")
    source = gas_address()
    chain.fund([source], wei=100 * ETHER)
    rounds = DEFAULT_GAS_TOPUP_POOL_MAX_WEI // DEFAULT_GAS_TOPUP_MAX_WEI
    for i in range(rounds):
        k = next_nonce(chain, source)
        full = topup_tx(chain, pool, DEFAULT_GAS_TOPUP_MAX_WEI, nonce=k)
        first = signed("gas", full)
        signed("gas", topup_tx(chain, pool, 1, nonce=k))  # the replacement that used to overwrite the record
        if i == rounds - 1:
            # The cap is full with what was mined and what is signed at the open nonce k: nothing at k + 1.
            assert refusal("gas", topup_tx(chain, pool, DEFAULT_GAS_TOPUP_MAX_WEI, nonce=k + 1)) == "topup_cap"
        mine_topup(chain, pool, full, first)
    assert chain.w3.eth.get_balance(pool.deposit_address) == 10 * ETHER + DEFAULT_GAS_TOPUP_POOL_MAX_WEI
    assert refusal("gas", topup_tx(chain, pool, 1, nonce=next_nonce(chain, source))) == "topup_cap"

    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    honest = launch_tx(chain, pool)
    with_topups = honest["value"] + DEFAULT_GAS_TOPUP_POOL_MAX_WEI
    assert refusal(pool.pk, launch_tx(chain, pool, raise_amount=with_topups)) == "bad_amount"

    launch_request(pool_id=pool.pk, requested_by="agent")
    launch = run_launch(pool, chain=chain)
    assert launch.step == Launch.Step.LAUNCHED, launch.error
    assert launch.raise_amount == 10 * ETHER - launch_gas_budget(launch)
    assert chain.w3.eth.get_balance(pool.deposit_address) >= DEFAULT_GAS_TOPUP_POOL_MAX_WEI
    assert_conserved(chain, pool, deposited=10 * ETHER)


@pytest.mark.django_db(transaction=True)
def test_one_wei_top_ups_at_the_fee_cap_cannot_drain_the_gas_key(chain):
    """Gas key drained through fees: 1-wei top-ups, each paying the per-transaction fee cap, all priority fee. The
    fees the gas key has paid or may pay for one pool's top-ups stay within that pool's fee budget (fee_budget)."""
    pool = scheduled_pool(chain)
    source = gas_address()
    max_fee = DEFAULT_MAX_TX_FEE_WEI // TOPUP_GAS[0]
    costly = Fees(max_fee_per_gas=max_fee, max_priority_fee_per_gas=max_fee)
    start = next_nonce(chain, source)
    budget = max(DEFAULT_POOL_FEE_BUDGET_MIN_WEI, pool.hard_cap * DEFAULT_POOL_FEE_BUDGET_BPS // 10_000)
    allowed = budget // (TOPUP_GAS[0] * max_fee)
    assert allowed >= 5, "the budget pays for several top-ups, not for a run of them at the fee cap"
    for k in range(allowed):
        tx = envelope(to=pool.deposit_address, data=b"", value=1, nonce=start + k, gas=TOPUP_GAS[0], fees=costly)
        signed("gas", tx)
    tx = envelope(to=pool.deposit_address, data=b"", value=1, nonce=start + allowed, gas=TOPUP_GAS[0], fees=costly)
    assert refusal("gas", tx) == "fee_budget"
    # A top-up at ordinary fees is refused as well, until the signed ones are mined (or replaced) at real cost.
    assert refusal("gas", topup_tx(chain, pool, 1, nonce=start + allowed)) == "fee_budget"
