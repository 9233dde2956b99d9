"""The Python SDK drives whole lifecycles over real HTTP (pytest-django's live server) on the real parts: PostgreSQL,
anvil with the real Uniswap V2 contracts, the signer process and a Celery worker; an admin schedules in the admin and
depositors send from anvil accounts, as in tests/launch/test_agent_lifecycle.py, whose helpers these tests reuse."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.core.cache import cache
from launchpad_sdk import ConflictError, Launchpad, NotFoundError, amount

from agent_api.services.api_keys import api_key_create
from chain.artifacts import load_artifact
from chain.client import chain_deployment
from chain.contracts import decode_launched
from pools.models import IndexerCursor, Launch, Pool
from pools.services.pools import pool_settle, pools_open_due
from tests.anvil import ANVIL_CHAIN_ID
from tests.factories import AgentFactory
from tests.indexer.support import ETHER, fresh_address
from tests.launch.test_agent_lifecycle import admin_approves, allow_eth_raises
from tests.launch.test_crash_recovery import worker_env
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    chain,
    chain_now,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_refunds,
)
from tests.processes import start_celery_worker

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

# The dry run's figures, which the quote's current scenario must give to the unit for a CLOSED pool.
DRY_RUN_FIGURES = (
    "raise_amount",
    "liquidity_funds",
    "fee",
    "treasury",
    "liquidity_tokens",
    "burned_tokens",
    "depositor_tokens",
    "agent_tokens",
    "price_in_asset",
    "price_usd_e8",
)


@pytest.fixture
def sdk_agent(chain, live_server, settings):  # noqa: F811 - pytest fixture
    """An agent with ETH bounds and a key, and an SDK client for it on the live server; short event streams, so
    the SDK's reconnection is exercised."""
    settings.AGENT_EVENTS_STREAM_SECONDS = 2
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    cache.clear()  # throttle counts
    agent = AgentFactory(wallet_address=fresh_address(f"sdk-agent-{uuid.uuid4()}"))
    allow_eth_raises(agent)
    key = api_key_create(agent=agent, name="sdk").key
    with Launchpad(live_server.url, api_key=key, timeout=60) as client:
        yield client
    cache.clear()


def proposal(chain, label: str, *, soft_cap: int) -> dict:  # noqa: F811 - the chain fixture's value
    opens = max(datetime.now(tz=UTC), chain_now(chain)) + timedelta(minutes=1)
    return {
        "name": f"SDK {label}",
        "token_name": f"SDK {label}",
        "token_symbol": "SDK",
        "soft_cap": soft_cap,  # an int: the SDK sends the decimal string
        "hard_cap": 200 * ETHER,
        "max_contribution": 5 * ETHER,
        "opens_at": opens,
        "closes_at": opens + timedelta(days=1),
        "treasury_address": fresh_address(f"sdk-treasury-{label}"),
        "fee_bps": 100,
        "agent_supply_bps": 1_000,
        "agent_cliff_seconds": 0,
        "agent_vesting_seconds": 86_400,
    }


def scheduled_through_the_admin(chain, pool_id: int) -> Pool:  # noqa: F811 - the chain fixture's value
    admin_approves(pool_id)
    head = chain.head()  # the indexer starts from the current head: only what the test mines is indexed
    IndexerCursor.objects.get_or_create(chain_id=ANVIL_CHAIN_ID, defaults={"last_block": head, "first_block": head + 1})
    pool = Pool.objects.get(pk=pool_id)
    assert pools_open_due(now=pool.opens_at) == [pool_id]
    return Pool.objects.get(pk=pool_id)


def events_until(lp: Launchpad, *, pool_id: int, kind: str, after: int = 0) -> list:
    """The pool's events from the stream, resumed after `after`, up to the first of `kind` (the server ends each
    stream after 2 s here: the SDK reconnects with Last-Event-ID)."""
    seen = []
    for event in lp.events(last_event_id=after, max_seconds=30):
        if event.pool_id == pool_id:
            seen.append(event)
            if event.event == kind:
                return seen
    raise AssertionError(f"no {kind} for pool {pool_id} in 30 s; saw {[e.event for e in seen]}")


def test_the_sdk_proposes_quotes_launches_and_claims_with_the_quote_equal_to_dry_run_and_launch(
    chain,  # noqa: F811 - pytest fixture
    sdk_agent,
    tmp_path,
):
    lp = sdk_agent
    assert lp.bounds()["raise_assets"][0]["symbol"] == "ETH"
    body = proposal(chain, "launch", soft_cap=10 * ETHER)

    unsaved = lp.quote_proposal(body)
    assert unsaved["token_address"] is None and unsaved["addresses_note"]
    pool = lp.propose(body)
    pool_id = pool["id"]
    assert pool["status"] == "draft" and pool["soft_cap"] == str(10 * ETHER)
    assert lp.update_draft(pool_id, name="SDK launch, renamed")["name"] == "SDK launch, renamed"
    assert [p["id"] for p in lp.pools(status="draft")] == [pool_id]
    draft_quote = lp.quote(pool_id)
    assert draft_quote["token_address"] is None  # no deposit address before an admin schedules it
    assert draft_quote["soft_cap"] == unsaved["soft_cap"]

    db_pool = scheduled_through_the_admin(chain, pool_id)
    predicted = lp.quote(pool_id)
    assert predicted["token_address"] and predicted["pair_address"]

    amounts = [3 * ETHER, 4 * ETHER, 5 * ETHER, ETHER // 2, 7 * ETHER]  # the last is 2 ETH over the maximum
    senders = deposit_from(chain, db_pool, amounts, at=db_pool.opens_at + timedelta(minutes=1), label="sdk-launch")
    index_until_confirmed(chain)
    assert close_raise(chain, db_pool).status == Pool.Status.CLOSED
    deposits = list(lp.deposits(pool_id, status="confirmed"))
    assert sorted(amount(d["amount"]) for d in deposits) == sorted(amounts)
    assert sum(amount(d["refund_amount"]) for d in deposits) == 2 * ETHER

    quote = lp.quote(pool_id)
    dry = lp.dry_run(pool_id)
    assert dry["would_succeed"], dry["error"]
    assert quote["token_address"] == dry["token_address"] == predicted["token_address"]
    assert {name: quote["current"][name] for name in DRY_RUN_FIGURES} == {name: dry[name] for name in DRY_RUN_FIGURES}
    assert quote["oracle_answer"] == dry["oracle_answer"]

    worker = start_celery_worker(log_dir=tmp_path, env=worker_env(tmp_path / "never", crash_at=""), pool="prefork")
    try:
        key = str(uuid.uuid4())
        requested = lp.launch(pool_id, idempotency_key=key)
        assert lp.launch(pool_id, idempotency_key=key) == requested  # replayed, not launched twice
        launched = lp.wait_for_launch(pool_id, timeout=120, poll_seconds=0.5)
    finally:
        worker.stop()
    assert launched["step"] == "launched", f"{launched}\n{worker.log()}"

    launch = Launch.objects.get(pool_id=pool_id)
    event = decode_launched(
        chain.w3.eth.get_transaction_receipt(launch.transaction.tx_hash), launcher=chain_deployment().launcher
    )
    current = quote["current"]
    assert launched["token_address"] == event.token == quote["token_address"]
    assert launched["pair_address"] == quote["pair_address"]
    assert launched["raise_amount"] == current["raise_amount"]
    assert (event.asset_to_liquidity, event.fee, event.treasury_amount) == (
        amount(current["liquidity_funds"]),
        amount(current["fee"]),
        amount(current["treasury"]),
    )
    assert (event.tokens_to_liquidity, event.depositor_tokens) == (
        amount(current["liquidity_tokens"]),
        amount(current["depositor_tokens"]),
    )
    allocations = list(lp.allocations(pool_id))
    assert len(allocations) == len(amounts)
    assert sum(amount(a["token_amount"]) for a in allocations) == amount(current["depositor_tokens"])

    # A depositor claims by sending the SDK's claim transaction from its own account.
    claimer = senders[1]
    claim = lp.claim(pool_id, claimer)
    assert claim["to"] == launched["claim_vault_address"] and claim["value"] == "0"
    assert amount(claim["claimable_now"]) == amount(claim["allocation"]) > 0  # no vesting by default
    chain.anvil.rpc("anvil_impersonateAccount", [claimer])
    sent = chain.w3.eth.send_transaction(
        {"from": claimer, "to": claim["to"], "value": int(claim["value"]), "data": claim["calldata"], "gas": 300_000}
    )
    assert chain.w3.eth.wait_for_transaction_receipt(sent)["status"] == 1
    token = chain.w3.eth.contract(address=event.token, abi=load_artifact("AgentToken").abi)
    assert token.functions.balanceOf(claimer).call() == amount(claim["allocation"])
    after = lp.claim(pool_id, claimer)
    assert (amount(after["claimed"]), amount(after["claimable_now"])) == (amount(claim["allocation"]), 0)
    with pytest.raises(NotFoundError) as missing:
        lp.claim(pool_id, fresh_address("sdk-never-deposited"))
    assert missing.value.code == "allocation_not_found"

    # Every step was an event on the stream, in order, each once.
    seen = events_until(lp, pool_id=pool_id, kind="pool.launched")
    kinds = [e.event for e in seen]
    assert kinds.count("deposit.credited") == len(amounts)
    assert kinds.index("pool.closed") < kinds.index("pool.launched")
    assert [int(e.id) for e in seen] == sorted({int(e.id) for e in seen})
    resumed = events_until(lp, pool_id=pool_id, kind="pool.launched", after=int(seen[-2].id))
    assert [e.id for e in resumed] == [seen[-1].id]


def test_the_sdk_follows_a_failed_raise_to_its_refunds(chain, sdk_agent):  # noqa: F811 - pytest fixture
    lp = sdk_agent
    pool_id = lp.propose(proposal(chain, "refund", soft_cap=50 * ETHER))["id"]
    db_pool = scheduled_through_the_admin(chain, pool_id)
    amounts = [ETHER, 2 * ETHER, 3 * ETHER]
    senders = deposit_from(chain, db_pool, amounts, at=db_pool.opens_at + timedelta(minutes=1), label="sdk-refund")
    index_until_confirmed(chain)
    db_pool = close_raise(chain, db_pool)
    balances_before = [chain.w3.eth.get_balance(sender) for sender in senders]

    assert pool_settle(pool_id=pool_id, confirmed_through=chain_now(chain)).status == Pool.Status.REFUNDING
    with pytest.raises(ConflictError) as refused:
        lp.launch(pool_id)
    assert refused.value.code == "pool_cannot_launch" and refused.value.request_id
    owed = lp.pool(pool_id)["refunds"]
    assert (amount(owed["owed"]), amount(owed["paid"]), amount(owed["still_owed"])) == (6 * ETHER, 0, 6 * ETHER)

    accepted = lp.request_refunds(pool_id)
    assert accepted["pool_id"] == pool_id
    run_refunds(db_pool)

    pool = lp.pool(pool_id)
    assert pool["status"] == "refunded"
    assert (amount(pool["refunds"]["owed"]), amount(pool["refunds"]["paid"])) == (6 * ETHER, 6 * ETHER)
    assert amount(pool["refunds"]["still_owed"]) == amount(pool["refund_owed"]) == 0
    refunds = list(lp.refunds(pool_id))
    assert sorted(amount(r["amount"]) for r in refunds) == amounts
    assert {r["status"] for r in refunds} == {"paid"} and all(r["tx_hash"] for r in refunds)
    for deposit in lp.deposits(pool_id):
        assert amount(deposit["refund_paid"]) == amount(deposit["amount"])
        assert amount(deposit["refund_still_owed"]) == 0
    for sender, paid, before in zip(senders, amounts, balances_before, strict=True):
        assert chain.w3.eth.get_balance(sender) - before == paid
        [entry] = [e for e in lp.depositor(sender) if e["pool"]["id"] == pool_id]
        assert amount(entry["totals"]["refund_paid"]) == paid and amount(entry["totals"]["refund_still_owed"]) == 0

    kinds = [e.event for e in events_until(lp, pool_id=pool_id, kind="pool.refunded")]
    assert "refund_batch.paid" in kinds and "pool.closed" in kinds
