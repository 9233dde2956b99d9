"""Quotes through the API: a pool's launch at the soft cap, the hard cap and the current raise, from DRAFT on, and an
unsaved proposal's, judged as a proposal is. The unit tests stand in for the chain; the last test runs on the real one
(anvil, Uniswap V2, the signer): a CLOSED pool's quote is its dry run, and the launch makes what the quote said."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from eth_utils import to_checksum_address

from chain.artifacts import load_artifact
from chain.client import chain_deployment
from chain.errors import ChainUnavailable, DeploymentMissing
from pools.models import Allocation, Launch, Pool
from pools.services.launch import launch_request
from tests.api.conftest import ETH, assert_error, make_agent_with_key, proposal, propose
from tests.factories import PoolFactory
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    chain,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    scheduled_pool,
)

ETH_USD = 2_500 * 10**8  # $2,500 with the feed's 8 decimals


def quote(client, pool_id: int):
    return client.post(reverse("api-agent-pool-quote", args=[pool_id]), format="json")


def quote_proposal(client, body: dict):
    return client.post(reverse("api-agent-proposal-quote"), body, format="json")


@pytest.fixture
def oracle(monkeypatch):
    """The price feed's answer the quote reads (the chain is not running in these tests)."""
    answer = {"value": (ETH_USD, "")}
    monkeypatch.setattr("pools.selectors.quote.oracle_answer_now", lambda pool: answer["value"])
    return answer


def draft_of(agent, **fields) -> Pool:
    values = dict(agent=agent, status=Pool.Status.DRAFT, soft_cap=10 * ETH, hard_cap=100 * ETH, fee_bps=100)
    return PoolFactory(**{**values, **fields})


@pytest.mark.django_db
def test_a_drafts_quote_has_every_figure_but_the_addresses(alice, alice_client, oracle):
    pool = draft_of(alice.agent)

    response = quote(alice_client, pool.pk)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["token_address"], body["pair_address"]) == (None, None)
    assert "schedules" in body["addresses_note"]
    assert (body["oracle_answer"], body["oracle_error"]) == (str(ETH_USD), "")
    # 10 ETH at the pool's defaults: 80% paired, 1% fee; 50% of the 1e27 supply paired, 40% depositors, 10% agent.
    assert body["soft_cap"] == {
        "raise_amount": str(10 * ETH),
        "liquidity_funds": str(8 * ETH),
        "fee": str(ETH // 10),
        "treasury": str(19 * ETH // 10),
        "liquidity_tokens": str(5 * 10**26),
        "burned_tokens": "0",
        "depositor_tokens": str(4 * 10**26),
        "agent_tokens": str(10**26),
        "price_in_asset": str(16 * 10**9),  # 8 ETH for 5e8 tokens: 1.6e-8 ETH each
        "price_usd_e8": "4000",  # $0.00004
        "market_cap_in_asset": str(144 * ETH // 10),  # 9e8 tokens circulate (depositors' vest nothing)
        "market_cap_usd_e8": str(36_000 * 10**8),
        "fdv_in_asset": str(16 * ETH),
        "fdv_usd_e8": str(40_000 * 10**8),
        "tokens_per_unit_deposited": str(4 * 10**25),  # 4e8 tokens for 10 ETH: 4e7 tokens per ETH
    }
    assert body["hard_cap"]["raise_amount"] == str(100 * ETH)
    assert body["hard_cap"]["tokens_per_unit_deposited"] == str(4 * 10**24)
    assert body["current"]["raise_amount"] == "0"
    assert body["current"]["price_in_asset"] is None and body["current"]["tokens_per_unit_deposited"] is None
    assert body["raise_amount_basis"] == "credited_gas_unknown"


@pytest.mark.django_db
def test_without_the_oracle_the_usd_figures_are_null_and_the_rest_stands(alice, alice_client, oracle):
    oracle["value"] = (None, "unavailable (ChainUnavailable: down)")

    body = quote(alice_client, draft_of(alice.agent).pk).json()

    assert (body["oracle_answer"], body["oracle_error"]) == (None, "unavailable (ChainUnavailable: down)")
    assert body["soft_cap"]["price_in_asset"] == str(16 * 10**9)
    assert body["soft_cap"]["price_usd_e8"] is None and body["soft_cap"]["fdv_usd_e8"] is None


@pytest.mark.django_db
def test_a_usd_target_pool_without_the_oracle_has_no_liquidity_figures(alice, alice_client, oracle):
    oracle["value"] = (None, "unavailable")
    pool = draft_of(alice.agent, price_mode=Pool.PriceMode.USD_TARGET, target_price_usd_e8=10**6)

    scenario = quote(alice_client, pool.pk).json()["soft_cap"]

    assert scenario["liquidity_tokens"] is None and scenario["burned_tokens"] is None
    assert scenario["price_in_asset"] is None and scenario["market_cap_in_asset"] is None
    assert scenario["depositor_tokens"] == str(4 * 10**26)


@pytest.mark.django_db
def test_a_usd_target_burns_what_the_target_leaves_unused(alice, alice_client, oracle):
    # $0.01 a token: 8 ETH × $2,500 = $20,000 of liquidity pairs 2e6 tokens; the rest of the 5e8 share is burned.
    pool = draft_of(alice.agent, price_mode=Pool.PriceMode.USD_TARGET, target_price_usd_e8=10**6)

    scenario = quote(alice_client, pool.pk).json()["soft_cap"]

    assert scenario["liquidity_tokens"] == str(2 * 10**6 * ETH)
    assert scenario["burned_tokens"] == str(5 * 10**26 - 2 * 10**6 * ETH)
    assert scenario["price_usd_e8"] == str(10**6)


@pytest.mark.django_db
def test_another_agents_pool_is_a_404(alice_client, bob, oracle):
    assert_error(quote(alice_client, draft_of(bob.agent).pk), 404, "pool_not_found")


@pytest.mark.django_db
def test_a_caller_without_a_key_is_refused(client):
    assert_error(client.post(reverse("api-agent-proposal-quote")), 401, "not_authenticated")


@pytest.mark.django_db
def test_a_chain_that_cannot_be_read_degrades_the_quote_it_does_not_fail_it(alice, alice_client, oracle, monkeypatch):
    def down(*args, **kwargs):
        raise ChainUnavailable("the RPC did not answer")

    def missing():
        raise DeploymentMissing("no contract addresses")

    monkeypatch.setattr("pools.selectors.quote.web3_client", down)
    monkeypatch.setattr("pools.selectors.quote.chain_deployment", missing)
    pool = draft_of(
        alice.agent, status=Pool.Status.OPEN, deposit_address="0x" + "d3" * 20, raised=12 * ETH, refund_owed=0
    )

    response = quote(alice_client, pool.pk)

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["token_address"], body["pair_address"]) == (None, None)
    assert "could not be read" in body["addresses_note"]
    assert body["raise_amount_basis"] == "credited_gas_unknown"
    assert "ChainUnavailable" in body["raise_amount_note"]
    assert body["current"]["raise_amount"] == str(12 * ETH)
    assert body["current"]["tokens_per_unit_deposited"] == str(4 * 10**26 * ETH // (12 * ETH))


@pytest.mark.django_db
def test_an_erc20_raise_quotes_the_credited_raise_without_reading_the_chain(alice, alice_client, oracle, monkeypatch):
    monkeypatch.setattr("pools.selectors.quote.web3_client", lambda: pytest.fail("an ERC-20 raise reads no balance"))
    pool = draft_of(
        alice.agent, status=Pool.Status.CLOSED, raise_asset=to_checksum_address("0x" + "0c" * 20),
        raise_asset_symbol="USDC", raise_asset_decimals=6, soft_cap=10**9, hard_cap=10**10, raised=3 * 10**9,
    )  # fmt: skip

    body = quote(alice_client, pool.pk).json()

    assert body["raise_amount_basis"] == "credited"
    assert body["current"]["raise_amount"] == str(3 * 10**9)
    assert body["current"]["tokens_per_unit_deposited"] == str(4 * 10**26 * 10**6 // (3 * 10**9))


@pytest.mark.django_db
def test_a_launched_pool_quotes_its_launch(alice, alice_client, oracle):
    pool = draft_of(alice.agent, status=Pool.Status.LAUNCHED, deposit_address="0x" + "d3" * 20, raised=20 * ETH)
    token, pair = to_checksum_address("0x" + "70" * 20), to_checksum_address("0x" + "9a" * 20)
    Launch.objects.create(
        pool=pool, step=Launch.Step.LAUNCHED, raise_amount=19 * ETH, oracle_answer=3_000 * 10**8,
        token_address=token, pair_address=pair,
    )  # fmt: skip

    body = quote(alice_client, pool.pk).json()

    assert (body["token_address"], body["pair_address"]) == (token, pair)
    assert (body["raise_amount_basis"], body["current"]["raise_amount"]) == ("launch", str(19 * ETH))
    assert body["oracle_answer"] == str(3_000 * 10**8)
    assert body["current"]["tokens_per_unit_deposited"] == str(4 * 10**26 * ETH // (20 * ETH))  # credited, not sent


@pytest.mark.django_db
def test_a_failed_launch_is_not_quoted_as_the_launch(alice, alice_client, oracle):
    pool = draft_of(alice.agent, status=Pool.Status.REFUNDING, deposit_address="0x" + "d3" * 20, raised=20 * ETH)
    Launch.objects.create(pool=pool, step=Launch.Step.FAILED, raise_amount=19 * ETH, oracle_answer=3_000 * 10**8)

    body = quote(alice_client, pool.pk).json()

    assert (body["raise_amount_basis"], body["current"]["raise_amount"]) == ("credited_gas_unknown", str(20 * ETH))
    assert body["oracle_answer"] == str(ETH_USD)


# --- an unsaved proposal ---------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_proposal_is_quoted_and_saved_nowhere(alice_client, alice_bounds, oracle):
    response = quote_proposal(alice_client, proposal())

    assert response.status_code == 200, response.json()
    body = response.json()
    assert (body["token_address"], body["pair_address"]) == (None, None)
    assert "proposal" in body["addresses_note"]
    assert body["soft_cap"]["fee"] == str(10 * ETH * 150 // 10_000)  # the proposal's 1.5%
    assert body["current"]["raise_amount"] == "0"
    assert not Pool.objects.exists()


@pytest.mark.django_db
def test_a_proposal_quote_takes_no_draft(alice_client, alice_bounds, oracle):
    for _ in range(alice_bounds.max_pools_in_draft):
        assert propose(alice_client, proposal()).status_code == 201
    assert_error(propose(alice_client, proposal()), 409, "too_many_drafts")

    assert quote_proposal(alice_client, proposal()).status_code == 200


@pytest.mark.parametrize(
    "changes",
    [
        {"hard_cap": str(501 * ETH), "fee_bps": 50},  # bounds and rules: invalid_pool_proposal
        {"soft_cap": 10**19, "liquidity_supply_bps": 10_001, "treasury_address": "0x123"},  # unparsed: invalid
        {"agent_supply_bps": 5_000},
        {"colour": "blue"},
    ],
)
@pytest.mark.django_db
def test_a_proposal_with_problems_answers_what_proposing_it_answers(alice_client, alice_bounds, oracle, changes):
    body = proposal(**changes)

    quoted, proposed = quote_proposal(alice_client, body), propose(alice_client, body)

    assert quoted.status_code == proposed.status_code == 400
    assert quoted.json() == proposed.json()
    assert not Pool.objects.exists()


@pytest.mark.django_db
def test_an_agent_without_bounds_cannot_quote_a_proposal(alice_client, oracle):
    assert_error(quote_proposal(alice_client, proposal()), 403, "proposals_not_allowed")


@pytest.mark.django_db
def test_an_unknown_query_parameter_is_refused(alice, alice_client, oracle):
    url = reverse("api-agent-pool-quote", args=[draft_of(alice.agent).pk]) + "?at=hard_cap"

    assert "at" in assert_error(alice_client.post(url, format="json"), 400, "invalid")["details"]


# --- the real chain: quote = dry run = launch ------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_a_closed_pools_quote_is_its_dry_run_and_its_launch(chain):  # noqa: F811 - pytest fixture
    agent = make_agent_with_key(name="quoting agent")
    api = agent.client()
    pool = scheduled_pool(chain, agent=agent.agent)
    scheduled = quote(api, pool.pk).json()
    assert scheduled["token_address"] and scheduled["pair_address"], scheduled["addresses_note"]

    amounts = [5 * ETH, 5 * ETH, ETH]  # the last depositor puts in exactly one whole unit
    senders = deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="quoted")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    assert (pool.status, pool.raised) == (Pool.Status.CLOSED, sum(amounts))

    # Back to back, with no block between them: the same fees, balance and oracle answer.
    quoted = quote(api, pool.pk)
    dry = api.post(reverse("api-agent-pool-launch-dry-run", args=[pool.pk]), format="json")
    assert quoted.status_code == 200 and dry.status_code == 200, (quoted.json(), dry.json())
    quoted, dry = quoted.json(), dry.json()
    assert dry["would_succeed"], dry["error"]
    assert quoted["raise_amount_basis"] == "credited_less_gas"
    current = quoted["current"]
    for name in ("raise_amount", "liquidity_funds", "fee", "treasury", "liquidity_tokens", "burned_tokens",
                 "depositor_tokens", "agent_tokens", "price_in_asset", "price_usd_e8"):  # fmt: skip
        assert current[name] == dry[name], name
    assert int(current["raise_amount"]) < pool.raised  # an ETH launch pays its gas out of the raise
    assert (quoted["token_address"], quoted["oracle_answer"]) == (dry["token_address"], dry["oracle_answer"])
    assert (quoted["token_address"], quoted["pair_address"]) == (scheduled["token_address"], scheduled["pair_address"])

    launch_request(pool_id=pool.pk, requested_by="quoting agent")
    launch = run_launch(pool, chain=chain)
    assert launch.step == Launch.Step.LAUNCHED, launch.error

    deployment = chain_deployment()
    factory = chain.w3.eth.contract(address=deployment.uniswap_v2_factory, abi=load_artifact("UniswapV2Factory").abi)
    assert launch.token_address == quoted["token_address"]
    assert launch.pair_address == quoted["pair_address"]
    assert factory.functions.getPair(launch.token_address, deployment.weth).call() == quoted["pair_address"]
    allocations = Allocation.objects.filter(pool=pool)
    assert sum(a.token_amount for a in allocations) == int(current["depositor_tokens"])
    one_unit = allocations.get(address=to_checksum_address(senders[2])).token_amount
    assert one_unit - int(current["tokens_per_unit_deposited"]) in (0, 1)
