"""GET /api/v1/pools/{id}/claims/{address}/ and GET /api/v1/depositors/{address}/ (no key).

The unit tests cover the refusals and the shape; the last test claims on anvil with exactly the calldata the API gave,
through the real ClaimVault, and checks the tokens received are the `claimable_now` it announced.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address
from rest_framework.test import APIClient

from chain.artifacts import load_artifact
from chain.contracts import encode_claim
from chain.errors import ChainUnavailable
from pools.models import Allocation, Deposit, Launch, Pool, Refund
from pools.services.launch import launch_request
from tests.api.conftest import ETH, assert_error
from tests.api.test_reads import make_deposit
from tests.factories import PoolFactory
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    chain,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    scheduled_pool,
)

VAULT = to_checksum_address("0x" + "c1" * 20)
TOKEN = to_checksum_address("0x" + "70" * 20)
DEPOSITOR = to_checksum_address("0x" + f"{2:040x}")  # make_deposit(pool, 1)'s sender
PROOF = ["0x" + "ab" * 32, "0x" + "cd" * 32]


def launched_pool(**fields) -> Pool:
    pool = PoolFactory(status=Pool.Status.LAUNCHED, **fields)
    Launch.objects.create(
        pool=pool,
        step=Launch.Step.LAUNCHED,
        token_address=TOKEN,
        claim_vault_address=VAULT,
        launched_at=timezone.now(),
    )
    return pool


def claim_url(pool_id: int, address: str) -> str:
    return reverse("api-pool-claim", args=[pool_id, address])


def depositor_url(address: str) -> str:
    return reverse("api-depositor", args=[address])


# --- claims: refusals ----------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_claim_in_a_pool_that_is_not_public_is_a_404():
    draft = PoolFactory(status=Pool.Status.DRAFT)

    assert_error(APIClient().get(claim_url(draft.pk, DEPOSITOR)), 404, "pool_not_found")
    assert_error(APIClient().get(claim_url(draft.pk + 1000, DEPOSITOR)), 404, "pool_not_found")


@pytest.mark.django_db
def test_a_claim_for_something_that_is_not_an_address_is_a_400_naming_it():
    pool = launched_pool()

    error = assert_error(APIClient().get(claim_url(pool.pk, "0x1234")), 400, "invalid_address")

    assert "'0x1234'" in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("status", [Pool.Status.OPEN, Pool.Status.CLOSED, Pool.Status.LAUNCHING, Pool.Status.REFUNDED])
def test_a_claim_before_the_launch_is_a_409(status):
    pool = PoolFactory(status=status)
    # Allocation rows are written while launching, before the token exists: they do not make a claim possible.
    Allocation.objects.create(pool=pool, address=DEPOSITOR, contribution=ETH, token_amount=10 * ETH, proof=PROOF)

    error = assert_error(APIClient().get(claim_url(pool.pk, DEPOSITOR)), 409, "pool_not_launched")

    assert error["details"] == {"status": status}


@pytest.mark.django_db
def test_a_claim_by_an_address_without_an_allocation_is_a_404():
    pool = launched_pool()
    Allocation.objects.create(pool=pool, address=DEPOSITOR, contribution=ETH, token_amount=10 * ETH, proof=PROOF)
    stranger = to_checksum_address("0x" + "99" * 20)

    assert_error(APIClient().get(claim_url(pool.pk, stranger)), 404, "allocation_not_found")


@pytest.mark.django_db
def test_a_claim_refuses_an_unknown_query_parameter():
    pool = launched_pool()

    error = assert_error(APIClient().get(claim_url(pool.pk, DEPOSITOR), {"at": "1"}), 400, "invalid")

    assert set(error["details"]) == {"at"}


@pytest.mark.django_db
def test_when_the_chain_does_not_answer_the_claim_still_gives_the_calldata_and_says_why_the_amount_is_unknown(
    monkeypatch,
):
    pool = launched_pool()
    Allocation.objects.create(pool=pool, address=DEPOSITOR, contribution=ETH, token_amount=10 * ETH, proof=PROOF)

    def unreachable(**kwargs):
        raise ChainUnavailable("could not read the claim vault: connection refused")

    monkeypatch.setattr("pools.selectors.depositors.claim_status", unreachable)

    response = APIClient().get(claim_url(pool.pk, DEPOSITOR.lower()))

    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["claimable_now"], body["claimed"], body["vested"], body["vesting_start"]) == (None, None, None, None)
    assert "connection refused" in body["claimable_unavailable"]
    assert (body["address"], body["to"], body["claim_vault_address"], body["value"]) == (DEPOSITOR, VAULT, VAULT, "0")
    assert body["allocation"] == str(10 * ETH) and body["token_address"] == TOKEN
    proof = [bytes.fromhex(node[2:]) for node in PROOF]
    assert body["calldata"] == "0x" + encode_claim(amount=10 * ETH, proof=proof).hex()


# --- depositors ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_depositor_lookup_of_something_that_is_not_an_address_is_a_400_naming_it():
    error = assert_error(APIClient().get(depositor_url("alice")), 400, "invalid_address")

    assert "'alice'" in error["message"]


@pytest.mark.django_db
@pytest.mark.parametrize("query", [{"status": "open"}, {"limit": "abc"}, {"offset": "-1"}])
def test_a_depositor_lookup_refuses_unknown_or_malformed_parameters(query):
    error = assert_error(APIClient().get(depositor_url(DEPOSITOR), query), 400, "invalid")

    assert set(error["details"]) == set(query)


@pytest.mark.django_db
def test_a_depositor_sees_each_public_pool_newest_first_with_its_deposits_refunds_allocation_and_totals():
    older = launched_pool(name="Older")
    make_deposit(older, 1, amount=3 * ETH, credited_amount=2 * ETH, refund_amount=ETH, refund_reason="above_maximum")
    make_deposit(older, 2, credited_amount=ETH)  # someone else's
    over_cap = Refund.objects.create(pool=older, recipient=DEPOSITOR, amount=ETH, status=Refund.Status.PAID)
    over_cap.deposits.set(Deposit.objects.filter(pool=older, sender=DEPOSITOR))
    Allocation.objects.create(pool=older, address=DEPOSITOR, contribution=2 * ETH, token_amount=7 * ETH, proof=PROOF)
    newer = PoolFactory(status=Pool.Status.OPEN, name="Newer")
    make_deposit(newer, 21, sender=DEPOSITOR, credited_amount=ETH)
    make_deposit(newer, 51, sender=DEPOSITOR, status=Deposit.Status.PENDING, credited_amount=0, amount=2 * ETH)
    draft = PoolFactory(status=Pool.Status.DRAFT)
    make_deposit(draft, 41, sender=DEPOSITOR)  # a draft is nobody's business but its agent's

    response = APIClient().get(depositor_url(DEPOSITOR.lower()))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 2
    first, second = body["results"]
    assert (first["pool"]["name"], second["pool"]["name"]) == ("Newer", "Older")
    assert first["pool"]["raise_asset_symbol"] == "ETH" and first["pool"]["status"] == "open"
    assert [d["status"] for d in first["deposits"]] == ["confirmed", "pending"]
    assert (first["refunds"], first["allocation"]) == ([], None)
    assert first["totals"] == {
        "deposited": str(3 * ETH),
        "pending": str(2 * ETH),
        "credited": str(ETH),
        "refund_owed": "0",
        "refund_paid": "0",
        "refund_still_owed": "0",
    }
    assert [d["sender"] for d in second["deposits"]] == [DEPOSITOR]
    assert (second["deposits"][0]["refund_paid"], second["deposits"][0]["refund_still_owed"]) == (str(ETH), "0")
    assert [(r["amount"], r["status"]) for r in second["refunds"]] == [(str(ETH), "paid")]
    assert second["allocation"] == {
        "token_amount": str(7 * ETH),
        "contribution": str(2 * ETH),
        "claim_url": claim_url(older.pk, DEPOSITOR),
    }
    assert second["totals"]["credited"] == str(2 * ETH)
    assert (second["totals"]["refund_owed"], second["totals"]["refund_paid"]) == (str(ETH), str(ETH))


@pytest.mark.django_db
def test_in_a_failed_pool_a_depositor_has_nothing_credited_and_everything_owed_until_paid():
    pool = PoolFactory(status=Pool.Status.REFUNDING, closes_at=timezone.now() - timedelta(hours=1))
    first = make_deposit(
        pool, 1, amount=3 * ETH, credited_amount=2 * ETH, refund_amount=ETH, refund_reason="above_maximum"
    )
    second = make_deposit(pool, 11, sender=DEPOSITOR, amount=ETH, credited_amount=ETH)
    # An allocation left over by a launch that failed is not shown: there is no token to claim.
    Allocation.objects.create(pool=pool, address=DEPOSITOR, contribution=3 * ETH, token_amount=7 * ETH, proof=PROOF)
    refund = Refund.objects.create(pool=pool, recipient=DEPOSITOR, amount=4 * ETH, status=Refund.Status.SENDING)
    refund.deposits.set([first, second])

    sending = APIClient().get(depositor_url(DEPOSITOR)).json()["results"][0]
    Refund.objects.filter(pk=refund.pk).update(status=Refund.Status.PAID)
    paid = APIClient().get(depositor_url(DEPOSITOR)).json()["results"][0]

    assert sending["allocation"] is None
    assert [(d["credited_amount"], d["refund_amount"], d["refund_reason"]) for d in sending["deposits"]] == [
        ("0", str(3 * ETH), "pool_failed"),
        ("0", str(ETH), "pool_failed"),
    ]
    assert [d["refund_still_owed"] for d in sending["deposits"]] == [str(3 * ETH), str(ETH)]
    assert sending["totals"]["credited"] == "0"
    assert (sending["totals"]["refund_owed"], sending["totals"]["refund_still_owed"]) == (str(4 * ETH), str(4 * ETH))
    assert [(d["refund_paid"], d["refund_still_owed"]) for d in paid["deposits"]] == [
        (str(3 * ETH), "0"),
        (str(ETH), "0"),
    ]
    assert (paid["totals"]["refund_paid"], paid["totals"]["refund_still_owed"]) == (str(4 * ETH), "0")


@pytest.mark.django_db
def test_an_address_with_nothing_anywhere_gets_an_empty_page():
    body = APIClient().get(depositor_url("0x" + "42" * 20)).json()

    assert (body["count"], body["results"]) == (0, [])


@pytest.mark.django_db
def test_the_depositor_pages_are_limited_and_offset():
    for n in range(3):
        make_deposit(PoolFactory(status=Pool.Status.OPEN, name=f"P{n}"), 31 + n, sender=DEPOSITOR)

    first = APIClient().get(depositor_url(DEPOSITOR), {"limit": 2}).json()
    rest = APIClient().get(first["next"]).json()

    assert first["count"] == 3
    assert [e["pool"]["name"] for e in first["results"] + rest["results"]] == ["P2", "P1", "P0"]


@pytest.mark.django_db
def test_the_depositor_lookup_and_the_deposit_list_read_as_many_queries_for_many_pools_and_refunds_as_for_few():
    def add_pool(n: int) -> Pool:
        pool = launched_pool(name=f"Q{n}")
        deposit = make_deposit(
            pool, 100 + n, sender=DEPOSITOR, amount=2 * ETH, refund_amount=ETH, refund_reason="hard_cap"
        )
        Refund.objects.create(pool=pool, recipient=DEPOSITOR, amount=ETH, status=Refund.Status.PAID).deposits.set(
            [deposit]
        )
        Allocation.objects.create(pool=pool, address=DEPOSITOR, contribution=ETH, token_amount=ETH, proof=PROOF)
        return pool

    def queries(url: str) -> int:
        with CaptureQueriesContext(connection) as captured:
            assert APIClient().get(url).status_code == 200
        return len(captured)

    pool = add_pool(0)
    few = (queries(depositor_url(DEPOSITOR)), queries(reverse("api-pool-deposits", args=[pool.pk])))
    for n in range(1, 6):
        add_pool(n)
        make_deposit(pool, 200 + n, amount=ETH, refund_amount=ETH, refund_reason="closed")

    many = (queries(depositor_url(DEPOSITOR)), queries(reverse("api-pool-deposits", args=[pool.pk])))

    assert many == few


# --- on the real chain ---------------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_the_calldata_sent_by_the_depositor_claims_exactly_claimable_now(chain):  # noqa: F811
    pool = scheduled_pool(chain, soft_cap=5 * ETH, depositor_cliff_seconds=0, depositor_vesting_seconds=0)
    depositors = deposit_from(chain, pool, [3 * ETH, 4 * ETH], at=pool.opens_at + timedelta(minutes=1), label="claim")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    launch_request(pool_id=pool.pk, requested_by="agent")
    assert run_launch(pool, chain=chain).step == Launch.Step.LAUNCHED
    claimer = depositors[1]

    body = APIClient().get(claim_url(pool.pk, claimer)).json()
    assert body["claimable_unavailable"] is None, body
    allocation = Allocation.objects.get(pool=pool, address=claimer)
    assert body["allocation"] == body["claimable_now"] == str(allocation.token_amount)  # no vesting: all of it now
    assert body["claimed"] == "0"
    token = chain.w3.eth.contract(address=body["token_address"], abi=load_artifact("AgentToken").abi)
    chain.anvil.rpc("anvil_impersonateAccount", [claimer])
    tx = chain.w3.eth.send_transaction(
        {"from": claimer, "to": body["to"], "value": int(body["value"]), "data": body["calldata"], "gas": 300_000}
    )
    assert chain.w3.eth.wait_for_transaction_receipt(tx)["status"] == 1

    assert token.functions.balanceOf(claimer).call() == int(body["claimable_now"])
    after = APIClient().get(claim_url(pool.pk, claimer)).json()
    assert (after["claimed"], after["claimable_now"]) == (body["claimable_now"], "0")
    entry = APIClient().get(depositor_url(claimer)).json()["results"][0]
    assert entry["allocation"]["claim_url"] == claim_url(pool.pk, claimer)
