"""What must hold after every fault: no deposit lost or counted twice, never a second launch, every refund paid
once, and the funds conserved to the wei, checked against the chain (logs and balances), not only the books."""

from __future__ import annotations

from collections import Counter

from django.db.models import Sum
from web3 import Web3

from chain.artifacts import load_artifact
from chain.client import chain_deployment
from chain.contracts import LAUNCHED_TOPIC, REFUNDED_TOPIC, LaunchedEvent, decode_launched, decode_refunded
from pools.models import Allocation, ChainTransaction, Deposit, Launch, Pool, Refund
from tests.faults.support import FaultStack, Raise, SentDeposit
from tests.indexer.support import ChainDriver

TxStatus = ChainTransaction.Status


def _topic(address: str) -> str:
    return "0x" + "00" * 12 + address[2:].lower()


def _logs(chain: ChainDriver, *, address: str, topics: list) -> list[dict]:
    return chain.w3.eth.get_logs({"fromBlock": 0, "toBlock": "latest", "address": address, "topics": topics})


def assert_deposits_exact(pool: Pool, sent: list[SentDeposit]) -> None:
    """Each deposit sent is recorded once, confirmed, with its sender and amount; nothing else is recorded."""
    recorded = list(Deposit.objects.filter(pool=pool).values_list("tx_hash", "position", "sender", "amount", "status"))
    keys = Counter((tx_hash, position) for tx_hash, position, *_ in recorded)
    assert all(n == 1 for n in keys.values()), f"a deposit recorded twice: {keys.most_common(3)}"
    by_hash = {tx_hash: (sender, int(amount), status) for tx_hash, _, sender, amount, status in recorded}
    expected = {d.tx_hash: (Web3.to_checksum_address(d.sender), d.amount, Deposit.Status.CONFIRMED) for d in sent}
    missing = set(expected) - set(by_hash)
    extra = set(by_hash) - set(expected)
    assert not missing, f"{len(missing)} deposits lost, e.g. {sorted(missing)[:3]}"
    assert not extra, f"{len(extra)} deposits recorded that were not sent, e.g. {sorted(extra)[:3]}"
    wrong = {h: (by_hash[h], expected[h]) for h in expected if by_hash[h] != expected[h]}
    assert not wrong, f"{len(wrong)} deposits recorded wrongly, e.g. {list(wrong.items())[:2]}"


def assert_credited(pool: Pool, *, raised: int, owed: int) -> None:
    """The books: what is credited and what is owed back, over the confirmed deposits, from the rows."""
    pool.refresh_from_db()
    totals = Deposit.objects.filter(pool=pool, status=Deposit.Status.CONFIRMED).aggregate(
        credited=Sum("credited_amount"), owed=Sum("refund_amount"), amount=Sum("amount")
    )
    reasons = Counter(Deposit.objects.filter(pool=pool).values_list("refund_reason", flat=True))
    assert (pool.raised, pool.refund_owed) == (raised, owed), f"{pool.status}, refund reasons {dict(reasons)}"
    assert (int(totals["credited"] or 0), int(totals["owed"] or 0)) == (raised, owed)
    assert int(totals["amount"] or 0) == raised + owed, "every confirmed wei is either credited or owed back"


def assert_one_launch(chain: ChainDriver, pool: Pool) -> LaunchedEvent | None:
    """At most one Launch row, one confirmed launch transaction, one Launched event on chain from the pool address."""
    launches = list(Launch.objects.filter(pool=pool))
    assert len(launches) <= 1
    events = _logs(chain, address=chain_deployment().launcher, topics=[LAUNCHED_TOPIC, _topic(pool.deposit_address)])
    confirmed = ChainTransaction.objects.filter(pool=pool, purpose=ChainTransaction.Purpose.LAUNCH, status="confirmed")
    if not launches or launches[0].step != Launch.Step.LAUNCHED:
        assert not events, "a launch on chain that the books do not know"
        return None
    assert len(events) == 1, f"{len(events)} Launched events for one pool"
    assert confirmed.count() == 1
    (tx,) = confirmed
    assert tx.tx_hash == events[0]["transactionHash"].to_0x_hex() == launches[0].transaction.tx_hash
    # Only one transaction at each nonce ever left the pool address: its nonce moved once per recorded transaction.
    mined = ChainTransaction.objects.filter(
        from_address=pool.deposit_address, status__in=[TxStatus.CONFIRMED, TxStatus.FAILED]
    )
    assert chain.w3.eth.get_transaction_count(pool.deposit_address) == mined.count()
    return decode_launched(events, launcher=chain_deployment().launcher)


def assert_refunds_paid_once(chain: ChainDriver, pool: Pool, *, owed: int) -> int:
    """Every refund paid on chain exactly once, to its recipient, and nothing paid that is not in the books."""
    logs = _logs(chain, address=chain_deployment().refunder, topics=[REFUNDED_TOPIC, _topic(pool.deposit_address)])
    paid_on_chain: Counter = Counter()
    for event in decode_refunded(logs, refunder=chain_deployment().refunder):
        paid_on_chain[Web3.to_checksum_address(event.recipient)] += event.amount
    in_books: Counter = Counter()
    for refund in Refund.objects.filter(pool=pool):
        assert refund.status == Refund.Status.PAID, f"refund {refund} not paid"
        in_books[Web3.to_checksum_address(refund.recipient)] += int(refund.amount)
    assert paid_on_chain == in_books
    assert sum(in_books.values()) == owed
    return owed


def _gas_paid(pool: Pool) -> int:
    return sum(tx.fee_paid for tx in ChainTransaction.objects.filter(from_address=pool.deposit_address))


def _topped_up(pool: Pool) -> int:
    return sum(
        tx.value
        for tx in ChainTransaction.objects.filter(
            pool=pool, purpose=ChainTransaction.Purpose.GAS_TOPUP, status=TxStatus.CONFIRMED
        )
    )


def assert_funds_conserved(
    chain: ChainDriver, pool: Pool, *, deposited: int, event: LaunchedEvent | None, since_block: int
) -> None:
    """deposits (+ gas top-ups) = liquidity + fee + treasury + refunds + gas + held at the pool address, to the wei;
    and every depositor's tokens are in the claim vault (no claims yet).

    For an ERC-20 raise the two currencies balance separately: the token (deposits = launch + refunds + held) and
    the native currency that paid for gas (top-ups = gas + held).
    """
    pool.refresh_from_db()
    launched = event.asset_to_liquidity + event.fee + event.treasury_amount if event else 0
    refunded = sum(int(r.amount) for r in Refund.objects.filter(pool=pool, status=Refund.Status.PAID))
    native_held = chain.w3.eth.get_balance(pool.deposit_address)
    # Every gas top-up on chain is in the books: the gas-funding account sent exactly the recorded transactions.
    topups_on_chain = _native_transfers_to(chain, pool.deposit_address, since_block=since_block)
    assert topups_on_chain == _topped_up(pool), (topups_on_chain, _topped_up(pool))
    if pool.is_native:
        assert deposited + _topped_up(pool) == launched + refunded + _gas_paid(pool) + native_held
    else:
        token = chain.w3.eth.contract(address=pool.raise_asset, abi=load_artifact("TestUSDC").abi)
        token_held = token.functions.balanceOf(pool.deposit_address).call()
        assert deposited == launched + refunded + token_held
        assert _topped_up(pool) == _gas_paid(pool) + native_held
    if event is not None:
        agent_token = chain.w3.eth.contract(address=event.token, abi=load_artifact("AgentToken").abi)
        allocated = Allocation.objects.filter(pool=pool).aggregate(total=Sum("token_amount"))["total"]
        vault = agent_token.functions.balanceOf(event.claim_vault).call()
        assert vault == int(allocated) == event.depositor_tokens


def _native_transfers_to(chain: ChainDriver, address: str, *, since_block: int) -> int:
    """ETH the gas-funding account (the signer's gas key) sent to `address` since `since_block`, from the blocks."""
    from pools.services.gas import gas_account_address

    gas_account, address = gas_account_address(), Web3.to_checksum_address(address)
    blocks = chain.rpc.batch([("eth_getBlockByNumber", [hex(n), True]) for n in range(since_block, chain.head() + 1)])
    total = 0
    for block in blocks:
        for tx in block["transactions"]:
            if not tx.get("to") or Web3.to_checksum_address(tx["to"]) != address:
                continue
            if Web3.to_checksum_address(tx["from"]) == gas_account and int(chain.receipt(tx["hash"])["status"], 16):
                total += int(tx["value"], 16)
    return total


def assert_all(stack: FaultStack, raised: Raise) -> None:
    """The whole list, for a pool that launched and paid what it owed back."""
    pool = Pool.objects.get(pk=raised.pool.pk)
    assert_deposits_exact(pool, raised.sent)
    assert_credited(pool, raised=raised.deposited - raised.owed, owed=raised.owed)
    event = assert_one_launch(stack.chain, pool)
    assert event is not None, "the pool launched"
    assert pool.status == Pool.Status.LAUNCHED
    assert_refunds_paid_once(stack.chain, pool, owed=raised.owed)
    assert_funds_conserved(stack.chain, pool, deposited=raised.deposited, event=event, since_block=stack.first_block)
