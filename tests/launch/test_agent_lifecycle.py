"""The whole lifecycle as an agent drives it: through the REST API with its key, an admin approving in the admin,
depositors on anvil, a real Celery worker running the launch job, and the depositor claiming with the API's proof."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.urls import reverse
from rest_framework.test import APIClient

from agent_api.models import AgentBounds, AllowedRaiseAsset, WebhookDelivery, WebhookEndpoint
from agent_api.services.api_keys import api_key_create
from chain.artifacts import load_artifact
from chain.client import chain_deployment
from chain.contracts import decode_launched, encode_claim
from pools.models import Launch, Pool, Refund
from tests.factories import AgentFactory
from tests.indexer.support import ETHER, fresh_address
from tests.launch.test_crash_recovery import worker_env
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    WEBHOOK_EVENTS,
    assert_books_match_chain,
    chain,
    chain_now,
    close_raise,
    deposit_from,
    gas_paid_by,
    index_until_confirmed,
    run_refunds,
    topped_up,
)
from tests.processes import start_celery_worker

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]


def agent_client(agent) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {api_key_create(agent=agent, name='lifecycle').key}")
    return client


def allow_eth_raises(agent) -> None:
    bounds = AgentBounds.objects.create(
        agent=agent,
        min_fee_bps=100,
        max_agent_supply_bps=1_000,
        min_agent_vesting_seconds=0,
        max_raise_seconds=7 * 86_400,
    )
    AllowedRaiseAsset.objects.create(bounds=bounds, address="", symbol="ETH", decimals=18, max_hard_cap=500 * ETHER)


def admin_approves(pool_id: int) -> None:
    """A staff member sets the fee recipient and schedules the pool from the admin, as the admin would (the
    confirmation page is tested in tests/raise/test_admin_pages.py: this posts the confirmed form)."""
    Pool.objects.filter(pk=pool_id).update(fee_recipient=fresh_address("platform-fee"))
    staff = Client()
    staff.force_login(User.objects.create_superuser("admin", "admin@example.org", "pw"))
    response = staff.post(
        reverse("admin:pools_pool_changelist"),
        {"action": "schedule", "_selected_action": [pool_id], "confirmed": "yes"},
        follow=True,
    )
    assert response.status_code == 200
    assert Pool.objects.get(pk=pool_id).status == Pool.Status.SCHEDULED, response.content.decode()[-2000:]


def test_an_agent_raises_and_launches_through_the_api(chain, tmp_path):  # noqa: F811 - pytest fixture
    agent = AgentFactory(wallet_address=fresh_address("api-agent"))
    allow_eth_raises(agent)
    api = agent_client(agent)
    hook = WebhookEndpoint.objects.create(
        agent=agent, url="http://127.0.0.1:9/hook", secret="s", events=list(WEBHOOK_EVENTS)
    )
    opens = max(datetime.now(tz=UTC), chain_now(chain)) + timedelta(minutes=1)

    proposed = api.post(
        reverse("api-agent-pools"),
        {
            "name": "Agent Mind",
            "token_name": "Agent Mind",
            "token_symbol": "AMIND",
            "soft_cap": str(10 * ETHER),
            "hard_cap": str(200 * ETHER),
            "max_contribution": str(5 * ETHER),
            "opens_at": opens.isoformat(),
            "closes_at": (opens + timedelta(days=1)).isoformat(),
            "treasury_address": fresh_address("agent-treasury"),
            "fee_bps": 100,
            "agent_supply_bps": 1_000,
            "agent_cliff_seconds": 0,
            "agent_vesting_seconds": 86_400,
        },
        format="json",
    )
    assert proposed.status_code == 201, proposed.json()
    pool_id = proposed.json()["id"]

    admin_approves(pool_id)
    pool = Pool.objects.get(pk=pool_id)
    from pools.models import IndexerCursor
    from pools.services.pools import pools_open_due

    head = chain.head()
    IndexerCursor.objects.get_or_create(chain_id=31337, defaults={"last_block": head, "first_block": head + 1})
    assert pools_open_due(now=pool.opens_at) == [pool_id]

    amounts = [(i % 7 + 1) * ETHER // 2 for i in range(50)]  # 50 depositors, 0.5 to 3.5 ETH
    amounts[0] = 7 * ETHER  # 2 ETH over the 5 ETH maximum: owed back
    senders = deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="api-depositor")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    assert pool.status == Pool.Status.CLOSED
    assert (pool.raised, pool.refund_owed) == (sum(amounts) - 2 * ETHER, 2 * ETHER)

    dry = api.post(reverse("api-agent-pool-launch-dry-run", args=[pool_id]), format="json")
    assert dry.status_code == 200, dry.json()
    dry = dry.json()
    assert dry["would_succeed"], dry["error"]

    worker = start_celery_worker(log_dir=tmp_path, env=worker_env(tmp_path / "never", crash_at=""), pool="prefork")
    try:
        started = time.monotonic()
        key = str(uuid.uuid4())
        triggered = api.post(reverse("api-agent-pool-launch", args=[pool_id]), format="json", HTTP_IDEMPOTENCY_KEY=key)
        again = api.post(reverse("api-agent-pool-launch", args=[pool_id]), format="json", HTTP_IDEMPOTENCY_KEY=key)
        assert triggered.status_code == 202, triggered.json()
        assert again.json() == triggered.json()
        status = {}
        while time.monotonic() - started < 90:
            status = api.get(reverse("api-agent-pool-launch", args=[pool_id])).json()
            if status.get("step") in ("launched", "failed"):
                break
            time.sleep(0.1)
        trigger_to_launched = time.monotonic() - started
    finally:
        worker.stop()
    assert status.get("step") == "launched", f"{status}\n{worker.log()}"
    print(f"\ntrigger → LAUNCHED through the API and a real worker: {trigger_to_launched:.2f} s")

    launch = Launch.objects.get(pool_id=pool_id)
    receipt = chain.w3.eth.get_transaction_receipt(launch.transaction.tx_hash)
    event = decode_launched(receipt, launcher=chain_deployment().launcher)
    assert dry["token_address"] == event.token == launch.token_address
    assert (int(dry["liquidity_funds"]), int(dry["fee"]), int(dry["treasury"])) == (
        event.asset_to_liquidity,
        event.fee,
        event.treasury_amount,
    )
    assert (int(dry["liquidity_tokens"]), int(dry["depositor_tokens"])) == (
        event.tokens_to_liquidity,
        event.depositor_tokens,
    )
    assert dry["merkle_root"] == launch.merkle_root

    # A depositor claims on chain with the proof the public API gives.
    claimer = senders[1]
    allocation = APIClient().get(reverse("api-pool-allocation", args=[pool_id, claimer])).json()
    chain.anvil.rpc("anvil_impersonateAccount", [claimer])
    proof = [bytes.fromhex(node[2:]) for node in allocation["proof"]]
    claim = chain.w3.eth.send_transaction(
        {
            "from": claimer,
            "to": launch.claim_vault_address,
            "data": "0x" + encode_claim(amount=int(allocation["token_amount"]), proof=proof).hex(),
            "gas": 300_000,
        }
    )
    assert chain.w3.eth.wait_for_transaction_receipt(claim)["status"] == 1
    token = chain.w3.eth.contract(address=launch.token_address, abi=load_artifact("AgentToken").abi)
    assert token.functions.balanceOf(claimer).call() == int(allocation["token_amount"])

    # The new pool trades through the real Uniswap V2 router.
    buyer = chain.anvil.account(5).address
    router = chain.w3.eth.contract(
        address=chain_deployment().uniswap_v2_router, abi=load_artifact("UniswapV2Router02").abi
    )
    router.functions.swapExactETHForTokens(
        0, [chain_deployment().weth, launch.token_address], buyer, chain.timestamp() + 600
    ).transact({"from": buyer, "value": ETHER // 10})
    assert token.functions.balanceOf(buyer).call() > 0

    # Refunds of the over-cap part, asked for through the API; then every wei is accounted for.
    refunds = api.post(
        reverse("api-agent-pool-refunds", args=[pool_id]), format="json", HTTP_IDEMPOTENCY_KEY=str(uuid.uuid4())
    )
    assert refunds.status_code == 202, refunds.json()
    run_refunds(pool)
    refunded = sum(r.amount for r in Refund.objects.filter(pool=pool, status=Refund.Status.PAID))
    assert refunded == 2 * ETHER
    held = chain.w3.eth.get_balance(pool.deposit_address)
    assert sum(amounts) + topped_up(pool) == (
        event.asset_to_liquidity
        + event.fee
        + event.treasury_amount
        + refunded
        + gas_paid_by(pool.deposit_address)
        + held
    )
    assert_books_match_chain(chain, pool)
    told = list(WebhookDelivery.objects.filter(endpoint=hook).values_list("event", flat=True))
    assert told.count("deposit.credited") == 50
    assert {"pool.closed", "pool.launched"} <= set(told)
