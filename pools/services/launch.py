"""The launch: a CLOSED pool that met its soft cap → LAUNCHING → one Launcher.launch transaction → LAUNCHED.

The job is crash-safe: its state lives in the Launch row and the ChainTransaction rows; each run of the Celery task
advances it as far as it can under a row lock, and the receipt is the truth. Running it twice, or after a crash
between any two steps, never sends a second launch with a different effect: a launch transaction, once created,
keeps its nonce, and the signer returns the same bytes for the same request at the same nonce.

    REQUESTED ──allocate──▶ ALLOCATED ──(ERC-20: gas top-up, approve)──▶ APPROVING ──▶ SENDING ──receipt──▶ LAUNCHED
                                 ▲                                                        │ reverted
                                 └──────────────── retry with a fresh price (≤ 3) ◀───────┘ → FAILED

A refusal for what the signer is configured to allow (not our Launcher, say) fails nothing: the approve or launch
keeps its step and nonce, the launch's error says how to fix the signer, and the next run asks again.
"""

from __future__ import annotations

import json
import logging
import random
import time
from datetime import datetime

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Sum, TextField
from django.db.models.functions import Cast
from django.utils import timezone
from web3 import Web3
from web3.exceptions import ContractCustomError

from chain.client import chain_deployment, web3_client
from chain.contracts import (
    LaunchParams,
    decode_launched,
    describe_revert,
    encode_approve,
    encode_launch,
    pool_id_bytes32,
    predict_token_address,
)
from chain.errors import FeesTooHigh
from chain.l1fees import incompressible
from chain.oracle import read_price_feed
from chain.transactions import Fees, current_fees
from enclave_signer.allocation import allocate_pro_rata, split_supply
from enclave_signer.merkle import AllocationTree, abi_leaf_hash, abi_process_proof
from pools.errors import ApplicationError
from pools.faults import crash_point
from pools.locks import advisory_lock
from pools.models import Allocation, ChainTransaction, Deposit, IndexedBlock, IndexerCursor, Launch, Pool
from pools.services import events
from pools.services.gas import ensure_gas
from pools.services.ledger import check_books_agree, ledger_sync
from pools.services.pool_state import touch_pool
from pools.services.pools import transition_pool
from pools.services.transactions import abandon, advance, create_transaction, latest_in_family
from pools.signer_client import SignerRefused

logger = logging.getLogger(__name__)

Step = Launch.Step
TxStatus = ChainTransaction.Status
LAUNCH_GAS_LIMIT = 6_000_000  # a launch measures ~4.5M (bench/gas.py); the rest is headroom
APPROVE_GAS_LIMIT = 100_000
# The most a launch's calldata takes (28 words, a 50-character name and an 11-character symbol, UTF-8 at worst):
# an OP-stack chain's L1 data fee is budgeted for it before the calldata is built.
LAUNCH_CALLDATA_MAX_BYTES = 1_300
LAUNCH_DEADLINE_SECONDS = 30 * 60  # within the signer's SIGNER_LAUNCH_DEADLINE_WINDOW_SECONDS (default 1 h)
MAX_LAUNCH_ATTEMPTS = 3
# Refusals that fresh arguments at the same nonce can pass: the log moved, the deadline aged, fees moved.
# raise_not_final: the ledger was proven at a block before the close; a later sync proves it past the close.
# fee_budget: at today's fees the launch would pass the pool key's fee budget; it waits for fees to come down.
RETRYABLE_REFUSALS = {"stale_log_head", "bad_deadline", "fee_cap", "bad_fees", "raise_not_final", "fee_budget"}
ZERO_ADDRESS = "0x0000000000000000000000000000000000000000"


class PoolCannotLaunch(ApplicationError):
    status_code = 409
    code = "pool_cannot_launch"


# --- is the raise final? --------------------------------------------------------------------------------------


def confirmed_through(*, chain_id: int, confirmations: int) -> datetime | None:
    """The timestamp of the newest block the indexer has seen with `confirmations` blocks on top of it."""
    cursor = IndexerCursor.objects.filter(chain_id=chain_id).first()
    if cursor is None or (through := cursor.complete_through(confirmations=confirmations)) < 0:
        return None
    block = IndexedBlock.objects.filter(chain_id=chain_id, number__lte=through).first()
    return block.timestamp if block else None


def _effective_close(pool: Pool) -> datetime | None:
    return min(filter(None, [pool.closes_at, pool.closed_early_at]), default=None)


def cannot_launch_reason(*, pool: Pool) -> str:
    """Why this pool cannot launch now, or "" when it can."""
    if pool.status != Pool.Status.CLOSED:
        return f"The pool is {pool.get_status_display().lower()}; only a closed pool that met its soft cap launches."
    if pool.raised < pool.soft_cap:
        return "The raise missed its soft cap: the pool is refunded instead."
    hard_cap_reached = pool.hard_cap and pool.raised >= pool.hard_cap
    close = _effective_close(pool)
    if not hard_cap_reached:
        through = confirmed_through(chain_id=pool.chain_id, confirmations=pool.confirmations)
        if close is None or through is None or through < close:
            return "Deposits sent before the close are still waiting for confirmations; try again shortly."
    pending = Deposit.objects.filter(pool=pool, status=Deposit.Status.PENDING)
    if close is not None and pending.filter(block_timestamp__lt=close).exists():
        return "Some deposits are still waiting for confirmations; try again shortly."
    if not pool.agent.wallet_address:
        return "The agent has no wallet address for its vesting wallet."
    return ""


# --- requesting ------------------------------------------------------------------------------------------------


def launch_request(*, pool_id: int, requested_by: str) -> Launch:
    """Ask for the pool's launch: idempotent (the same Launch comes back), PoolCannotLaunch with the reason otherwise.

    Moves the pool CLOSED → LAUNCHING and enqueues the launch job after the transaction commits.
    """
    from pools.tasks import advance_launch

    with transaction.atomic():
        pool = Pool.objects.select_for_update().select_related("agent").get(pk=pool_id)
        existing = Launch.objects.filter(pool=pool).first()
        if existing is not None:
            return existing
        reason = cannot_launch_reason(pool=pool)
        if reason:
            raise PoolCannotLaunch(reason, details={"status": pool.status})
        transition_pool(pool, Pool.Status.LAUNCHING, reason=f"Launch requested by {requested_by}.")
        pool.save(update_fields=["status", "status_reason", "updated_at"])
        events.pool_launching(pool=pool, requested_by=requested_by)
        launch = Launch.objects.create(pool=pool, requested_by=requested_by[:100])
        touch_pool(pool_id=pool.pk)
        # Best effort, like every enqueue: with the broker down the launch is still recorded, and resume_jobs starts it.
        transaction.on_commit(lambda: advance_launch.delay(pool_id), robust=True)
        return launch


# --- the job ---------------------------------------------------------------------------------------------------


def launch_advance(*, pool_id: int) -> Launch | None:
    """Advance the pool's launch as far as it can go now; None when another worker is advancing it.

    Each step commits on its own before the next one's side effects: a transaction row (with its nonce) is saved
    before it is signed, and signed bytes before they are broadcast, so a crash anywhere resumes safely.
    """
    with advisory_lock(f"launch:{pool_id}") as taken:
        if not taken:
            return None
        launch = None
        for _ in range(8):  # one step per pass; a step that must wait leaves the step unchanged
            with transaction.atomic():
                launch = Launch.objects.select_for_update().filter(pool_id=pool_id).first()
                if launch is None:
                    return None
                before = launch.step
                pool = Pool.objects.select_related("agent").get(pk=pool_id)
                try:
                    _STEPS[launch.step](launch, pool)
                except FeesTooHigh as waiting:  # nothing sent; the step runs again on the next pass
                    launch.error, launch.waiting = str(waiting), True
                launch.save()
                touch_pool(pool_id=pool_id)  # the step's launch, allocations, transactions and pool, at its commit
            crash_point(f"launch:{launch.step}")  # the step committed, the next one not begun
            if launch.step == before or launch.step in (Step.LAUNCHED, Step.FAILED):
                break
        return launch


# Depositors whose stored proof the allocation step checks against the root (plus the first and last leaf): the
# proofs are built level by level without hashing, so a sample checked through eth_abi's encoding catches a broken
# builder or encoding in O(64 log n) instead of verifying 100,000 proofs.
ALLOCATION_PROOF_SAMPLE = 64
_ALLOCATION_COLUMNS = ("pool", "address", "contribution", "token_amount", "proof")


class AllocationNotProven(Exception):
    """A sampled depositor's stored proof does not lead to the launch's Merkle root: a bug; nothing may launch."""


def _allocate(launch: Launch, pool: Pool) -> None:
    """Each depositor's tokens pro rata to the credited contribution, the Merkle tree, and every proof, written with
    COPY once a sample of the proofs led to the root (100,000 depositors in a few seconds: bench/allocation.py)."""
    by_lower: dict[str, tuple[str, int]] = {}  # one contribution per address, whatever the case it was stored in
    credited = (
        Deposit.objects.filter(pool=pool, status=Deposit.Status.CONFIRMED, credited_amount__gt=0)
        .values("sender")
        # As text: int() of a string costs a fraction of psycopg's Decimal and the field's converter, per row.
        .annotate(total=Cast(Sum("credited_amount"), output_field=TextField()))
        .order_by()
        .values_list("sender", "total")
    )
    for sender, total in credited:
        key = sender.lower()
        address, earlier = by_lower.get(key, (sender, 0))
        by_lower[key] = (address, earlier + int(total))
    contributions = dict(by_lower.values())
    supply = split_supply(
        total_supply=pool.total_supply,
        liquidity_bps=pool.liquidity_supply_bps,
        depositor_bps=pool.depositor_supply_bps,
    )
    tokens = allocate_pro_rata(total=supply.depositors, contributions=contributions)  # keys checksummed, same order
    contribution_of = dict(zip(tokens, contributions.values(), strict=True))
    tree = AllocationTree.build(tokens)
    rows = _allocation_rows(tree, contribution_of)
    _check_proof_sample(rows, root_hex=tree.root_hex)
    Allocation.objects.filter(pool=pool).delete()
    _copy_allocations(pool_id=pool.pk, rows=rows)
    launch.merkle_root = tree.root_hex
    launch.step = Step.ALLOCATED


def _allocation_rows(tree: AllocationTree, contribution_of: dict[str, int]) -> list[tuple[str, int, int, str]]:
    """(address, contribution, tokens, proof JSON) of every depositor, in the tree's order (ascending addresses).

    All proofs come from one level-by-level pass (not verified one by one: `_check_proof_sample` checks a sample);
    the proof column's JSON, a list of 0x-hex strings that need no escaping, is joined rather than json.dumps'd.
    """
    return [
        (address, contribution_of[address], amount, '["' + '","'.join(proof) + '"]' if proof else "[]")
        for (address, amount), proof in zip(tree.tree.values, tree.tree.proofs_hex(), strict=True)
    ]


def _check_proof_sample(rows: list[tuple[str, int, int, str]], *, root_hex: str) -> None:
    """Raise AllocationNotProven unless the stored proofs of the first, the last and a random sample of depositors
    lead from their leaf to the root, hashed through eth_abi and eth_hash (not the tree's fast encoding and keccak)."""
    root = bytes.fromhex(root_hex[2:])
    drawn = random.SystemRandom().sample(range(len(rows)), min(len(rows), ALLOCATION_PROOF_SAMPLE))
    sample = {0, len(rows) - 1, *drawn}
    for index in sorted(sample):
        address, _, amount, proof_json = rows[index]
        proof = [bytes.fromhex(node[2:]) for node in json.loads(proof_json)]
        if abi_process_proof(abi_leaf_hash((address, amount)), proof) != root:
            raise AllocationNotProven(f"the proof of {address} ({amount} tokens) does not lead to the root {root_hex}")


def _copy_allocations(*, pool_id: int, rows: list[tuple[str, int, int, str]]) -> None:
    """Insert the Allocation rows with PostgreSQL COPY, in the caller's transaction: the columns bulk_create wrote
    (the id from its sequence); about 5× faster than bulk_create for 100,000 rows with their proofs."""
    quote = connection.ops.quote_name
    columns = ", ".join(quote(Allocation._meta.get_field(name).column) for name in _ALLOCATION_COLUMNS)
    statement = f"COPY {quote(Allocation._meta.db_table)} ({columns}) FROM STDIN"
    with connection.cursor() as cursor, cursor.copy(statement) as copy:
        for address, contribution, amount, proof_json in rows:
            copy.write_row((pool_id, address, contribution, amount, proof_json))


def _price_feed(pool: Pool) -> str:
    deployment = chain_deployment()
    return deployment.eth_usd_feed if pool.is_native else deployment.usdc_usd_feed


def build_launch_params(*, pool: Pool, launch: Launch, raise_amount: int, log_head: str, w3: Web3) -> LaunchParams:
    """The Launcher's arguments from the pool's registered parameters, the allocation, the oracle and the log head."""
    feed = read_price_feed(address=_price_feed(pool), w3=w3)
    now = w3.eth.get_block("latest")["timestamp"]
    lock_until = int(pool.lp_lock_until.timestamp()) if pool.lp_policy == Pool.LpPolicy.LOCK else 0
    return LaunchParams(
        pool_id=pool_id_bytes32(pool.pk),
        name=pool.token_name,
        symbol=pool.token_symbol,
        total_supply=pool.total_supply,
        liquidity_supply_bps=pool.liquidity_supply_bps,
        depositor_supply_bps=pool.depositor_supply_bps,
        raise_asset=pool.raise_asset or ZERO_ADDRESS,
        raise_amount=raise_amount,
        liquidity_raise_bps=pool.liquidity_raise_bps,
        fee_bps=pool.fee_bps,
        fee_recipient=pool.fee_recipient,
        treasury=pool.treasury_address,
        agent=pool.agent.wallet_address,
        agent_cliff=pool.agent_cliff_seconds,
        agent_duration=pool.agent_vesting_seconds,
        merkle_root=launch.merkle_root,
        depositor_cliff=pool.depositor_cliff_seconds,
        depositor_duration=pool.depositor_vesting_seconds,
        lp_lock_until=lock_until,
        protection_blocks=pool.protection_blocks,
        max_buy_per_tx=pool.max_buy_per_tx,
        price_feed=_price_feed(pool),
        expected_answer=feed.answer,
        tolerance_bps=pool.oracle_tolerance_bps,
        max_oracle_age=pool.oracle_max_age_seconds,
        target_price_usd=pool.target_price_usd_e8 if pool.price_mode == Pool.PriceMode.USD_TARGET else 0,
        deadline=now + LAUNCH_DEADLINE_SECONDS,
        log_head=log_head,
    )


def launch_raise_amount(*, pool: Pool, fees: Fees, w3: Web3) -> int:
    """What the launch brings: the credited raise; for ETH less the launch's gas budget, which the pool pays.

    For ETH it is also bounded by what the address holds beyond what it owes back: after a reverted attempt, the
    gas that attempt burned comes out of the raise, never out of depositors' refunds.
    """
    if not pool.is_native:
        return pool.raised
    balance = w3.eth.get_balance(Web3.to_checksum_address(pool.deposit_address))
    return min(pool.raised, balance - pool.refund_owed) - LAUNCH_GAS_LIMIT * fees.max_fee_per_gas


def _params_json(params: LaunchParams) -> dict:
    def plain(value):
        if isinstance(value, bytes):
            return "0x" + value.hex()
        return str(value) if isinstance(value, int) else value

    return {name: plain(value) for name, value in params.__dict__.items()}


def _fresh_launch_arguments(launch: Launch, pool: Pool) -> tuple[Fees, LaunchParams]:
    """Current fees, and the launch's arguments with the oracle's answer, a deadline and the signer's log head now."""
    from pools.signer import signer_client

    # The signer signs only the credited total and root of its own ledger: bring it up to date and compare first.
    check_books_agree(pool=pool, summary=ledger_sync(pool=pool), merkle_root=launch.merkle_root)
    w3 = web3_client()
    fees = current_fees(w3=w3)
    params = build_launch_params(
        pool=pool,
        launch=launch,
        raise_amount=launch_raise_amount(pool=pool, fees=fees, w3=w3),
        log_head=signer_client().log_head()["hash"],
        w3=w3,
    )
    return fees, params


def _create_launch_transaction(launch: Launch, pool: Pool) -> None:
    fees, params = _fresh_launch_arguments(launch, pool)
    tx = create_transaction(
        pool=pool,
        purpose=ChainTransaction.Purpose.LAUNCH,
        signer_key=str(pool.pk),
        from_address=pool.deposit_address,
        to_address=chain_deployment().launcher,
        data=encode_launch(params),
        value=params.value,
        gas=LAUNCH_GAS_LIMIT,
        fees=fees,
    )
    launch.transaction = tx
    launch.params = _params_json(params)
    launch.raise_amount = params.raise_amount
    launch.oracle_answer = params.expected_answer
    launch.step = Step.SENDING


def _launch_l1_fee_at_hand(pool: Pool) -> bool:
    """OP-stack, ETH raise: a node wants value + gas x maxFeePerGas + the L1 data fee at the address, and the launch's
    value leaves only gas x maxFeePerGas beside what is owed back; a gas top-up brings the L1 fee (False while it is
    on its way). What the top-up does not spend stays at the address, as every top-up does."""
    w3 = web3_client()
    value = launch_raise_amount(pool=pool, fees=current_fees(w3=w3), w3=w3)
    launch_data = incompressible(LAUNCH_CALLDATA_MAX_BYTES)
    return ensure_gas(pool=pool, gas=LAUNCH_GAS_LIMIT, value=value, to=chain_deployment().launcher, data=launch_data)


def _after_allocation(launch: Launch, pool: Pool) -> None:
    if pool.is_native:
        if settings.CHAIN_OP_STACK and not _launch_l1_fee_at_hand(pool):
            return  # a gas top-up is on its way
        _create_launch_transaction(launch, pool)
        return
    # The OP-stack L1 data fee of both, as of one transaction carrying both calldatas (one envelope fewer than two:
    # LAUNCH_CALLDATA_MAX_BYTES's margin covers it).
    launcher = chain_deployment().launcher
    l1_data = encode_approve(spender=launcher, amount=pool.raised) + incompressible(LAUNCH_CALLDATA_MAX_BYTES)
    if not ensure_gas(pool=pool, gas=APPROVE_GAS_LIMIT + LAUNCH_GAS_LIMIT, to=launcher, data=l1_data):
        return  # a gas top-up is on its way
    approve = ChainTransaction.objects.filter(pool=pool, purpose=ChainTransaction.Purpose.APPROVE).last()
    if approve is None:
        create_transaction(
            pool=pool,
            purpose=ChainTransaction.Purpose.APPROVE,
            signer_key=str(pool.pk),
            from_address=pool.deposit_address,
            to_address=pool.raise_asset,
            data=encode_approve(spender=chain_deployment().launcher, amount=pool.raised),
            value=0,
            gas=APPROVE_GAS_LIMIT,
        )
    launch.step = Step.APPROVING


def _approving(launch: Launch, pool: Pool) -> None:
    approve = ChainTransaction.objects.filter(pool=pool, purpose=ChainTransaction.Purpose.APPROVE).last()
    try:
        approve = advance(latest_in_family(approve))
    except SignerRefused as refused:
        if not refused.by_configuration:
            raise
        _waiting_for_configuration(launch, refused)
        return
    if approve.status == TxStatus.CONFIRMED:
        _create_launch_transaction(launch, pool)
    elif approve.status == TxStatus.FAILED:
        launch.step, launch.error = Step.FAILED, f"The approve transaction {approve.tx_hash} reverted."


def _sending(launch: Launch, pool: Pool) -> None:
    tx = latest_in_family(launch.transaction)
    try:
        tx = advance(tx)
    except SignerRefused as refused:
        if tx.status != TxStatus.UNSTARTED:
            raise
        if refused.code in RETRYABLE_REFUSALS:
            # The log moved, fees spiked or the deadline aged while waiting: the same launch at the same nonce, with
            # fresh arguments, on the next run.
            launch.error = f"The signer refused ({refused.code}: {refused.reason}); retrying with fresh arguments."
            _rebuild_unsigned_launch(launch, pool, tx)
            return
        if refused.by_configuration:
            # The signer does not allow our Launcher (yet): nothing is wrong with the launch, so it keeps its nonce
            # and waits, instead of failing and refunding a pool that could launch once the signer is fixed.
            _waiting_for_configuration(launch, refused)
            return
        abandon(tx, reason=f"{refused.code}: {refused.reason}")
        launch.step, launch.error = Step.FAILED, f"The signer refused the launch: {refused.code}: {refused.reason}"
        return
    if tx.status == TxStatus.CONFIRMED:
        _record_launched(launch, pool, tx)
    elif tx.status == TxStatus.FAILED:
        launch.attempts += 1
        launch.error = f"The launch transaction {tx.tx_hash} reverted (attempt {launch.attempts})."
        # Nothing happened on chain: try again with a fresh price and deadline, at a new nonce.
        # (For ERC-20 the approval still stands; ALLOCATED re-checks the pool's gas before the next attempt.)
        launch.step = Step.ALLOCATED if launch.attempts < MAX_LAUNCH_ATTEMPTS else Step.FAILED


def _waiting_for_configuration(launch: Launch, refused: SignerRefused) -> None:
    """The launch's error while the signer's allowed contracts are wrong; a later run asks the signer again (not every
    2 s: each refusal is an entry in the signer's log)."""
    launch.error, launch.waiting = f"{refused.configuration_error()} The launch waits and is retried until then.", True


def _rebuild_unsigned_launch(launch: Launch, pool: Pool, tx: ChainTransaction) -> None:
    """Fresh fees, price, deadline, log head and amount for a launch transaction not yet signed; same nonce."""
    fees, params = _fresh_launch_arguments(launch, pool)
    tx.data, tx.value = "0x" + encode_launch(params).hex(), params.value
    tx.max_fee_per_gas, tx.max_priority_fee_per_gas = fees.max_fee_per_gas, fees.max_priority_fee_per_gas
    tx.save(update_fields=["data", "value", "max_fee_per_gas", "max_priority_fee_per_gas", "updated_at"])
    launch.params = _params_json(params)
    launch.raise_amount, launch.oracle_answer = params.raise_amount, params.expected_answer


def _record_launched(launch: Launch, pool: Pool, tx: ChainTransaction) -> None:
    receipt = web3_client().eth.get_transaction_receipt(tx.tx_hash)
    event = decode_launched(receipt, launcher=chain_deployment().launcher)
    launch.transaction = tx
    launch.token_address, launch.pair_address = event.token, event.pair
    launch.claim_vault_address, launch.vesting_wallet_address = event.claim_vault, event.vesting_wallet
    launch.lp_destination = event.lp_holder
    launch.event = _params_json(event)
    launch.launched_at = timezone.now()
    launch.step = Step.LAUNCHED
    locked = Pool.objects.select_for_update().get(pk=pool.pk)
    transition_pool(locked, Pool.Status.LAUNCHED, reason=f"Launched in transaction {tx.tx_hash}.")
    locked.save(update_fields=["status", "status_reason", "updated_at"])
    events.pool_launched(
        pool=locked, token=event.token, pair=event.pair, claim_vault=event.claim_vault, tx_hash=tx.tx_hash
    )


def _nothing(launch: Launch, pool: Pool) -> None:
    return None


_STEPS = {
    Step.REQUESTED: _allocate,
    Step.ALLOCATED: _after_allocation,
    Step.APPROVING: _approving,
    Step.SENDING: _sending,
    Step.LAUNCHED: _nothing,
    Step.FAILED: _nothing,
}


def launch_give_up(*, pool_id: int, reason: str = "The launch failed; every deposit is refunded in full.") -> Pool:
    """A FAILED launch with nothing of it still in flight: the pool goes LAUNCHING → REFUNDING (full refunds)."""
    with transaction.atomic():
        pool = Pool.objects.select_for_update().get(pk=pool_id)
        launch = Launch.objects.filter(pool=pool).first()
        if launch is None or launch.step != Step.FAILED:
            raise PoolCannotLaunch(
                "Only a failed launch can be given up.", details={"step": getattr(launch, "step", None)}
            )
        in_flight = ChainTransaction.objects.filter(
            pool=pool,
            purpose=ChainTransaction.Purpose.LAUNCH,
            status__in=[TxStatus.IN_PROGRESS, TxStatus.UNCONFIRMED],
        )
        if in_flight.exists():
            raise PoolCannotLaunch("A launch transaction is still in flight: wait for its receipt.")
        transition_pool(pool, Pool.Status.REFUNDING, reason=reason)
        pool.save(update_fields=["status", "status_reason", "updated_at"])
        touch_pool(pool_id=pool.pk)
        events.pool_launch_failed(pool=pool, error=launch.error)
        events.pool_refunding(pool=pool, previous_status=Pool.Status.LAUNCHING)
        return pool


def launch_is_settled(*, pool_id: int) -> bool:
    launch = Launch.objects.filter(pool_id=pool_id).only("step").first()
    return launch is not None and launch.step in (Step.LAUNCHED, Step.FAILED)


# --- the dry run -----------------------------------------------------------------------------------------------


def launch_dry_run(*, pool_id: int) -> dict:
    """Simulate the launch with eth_call against the current chain: token address, amounts, price, gas. Sends nothing.

    Returns a JSON-ready dict (amounts as decimal strings). PoolCannotLaunch when the pool could not launch now.
    """
    from pools.signer import signer_client

    pool = Pool.objects.select_related("agent").get(pk=pool_id)
    reason = cannot_launch_reason(pool=pool)
    if reason:
        raise PoolCannotLaunch(reason, details={"status": pool.status})
    w3 = web3_client()
    try:
        fees = current_fees(w3=w3)
    except FeesTooHigh as waiting:
        raise PoolCannotLaunch(str(waiting), details={"waiting": waiting.code}) from waiting
    preview = Launch(pool=pool)
    with transaction.atomic():
        _allocate(preview, pool)  # writes Allocation rows only to read the root: rolled back below
        transaction.set_rollback(True)
    params = build_launch_params(
        pool=pool,
        launch=preview,
        raise_amount=launch_raise_amount(pool=pool, fees=fees, w3=w3),
        log_head=signer_client().log_head()["hash"],
        w3=w3,
    )
    deployment = chain_deployment()
    call = {
        "from": Web3.to_checksum_address(pool.deposit_address),
        "to": deployment.launcher,
        "data": "0x" + encode_launch(params).hex(),
        "value": params.value,
    }
    started = time.monotonic()
    try:
        gas = w3.eth.estimate_gas(call)
        w3.eth.call(call)
        ok, error = True, ""
    except ContractCustomError as exc:
        gas, ok, error = None, False, describe_revert(exc.data if isinstance(exc.data, str) else exc.args[0])
    except Exception as exc:  # noqa: BLE001 - a dry run reports why the launch would fail
        gas, ok, error = None, False, str(exc)
    from pools.selectors.launch_preview import launch_preview

    preview_numbers = launch_preview(pool=pool, raised=params.raise_amount, oracle_answer=params.expected_answer)
    return {
        "would_succeed": ok,
        "error": error,
        "token_address": predict_token_address(
            launcher=deployment.launcher, pool=pool.deposit_address, pool_id=params.pool_id
        ),
        "raise_amount": str(params.raise_amount),
        "liquidity_funds": str(preview_numbers.liquidity_funds),
        "fee": str(preview_numbers.fee),
        "treasury": str(preview_numbers.treasury),
        "liquidity_tokens": str(preview_numbers.liquidity_tokens),
        "burned_tokens": str(preview_numbers.burned_tokens),
        "depositor_tokens": str(preview_numbers.depositor_tokens),
        "agent_tokens": str(preview_numbers.agent_tokens),
        "price_in_asset": str(preview_numbers.price_in_asset) if preview_numbers.price_in_asset else None,
        "price_usd_e8": str(preview_numbers.price_usd_e8) if preview_numbers.price_usd_e8 else None,
        "oracle_answer": str(params.expected_answer),
        "merkle_root": preview.merkle_root,
        "gas": gas,
        "simulated_in_ms": int((time.monotonic() - started) * 1000),
    }
