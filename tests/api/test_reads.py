from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from eth_utils import to_checksum_address
from rest_framework.test import APIClient

from pools.models import Allocation, ChainTransaction, Deposit, Launch, Pool, Refund
from tests.api.conftest import ETH, assert_error
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

DEPOSITOR = "0x" + "ab" * 20


def make_deposit(pool: Pool, n: int, **fields) -> Deposit:
    values = {
        "pool": pool,
        "chain_id": 31337,
        "tx_hash": "0x" + f"{n:064x}",
        "position": "tx",
        "kind": Deposit.Kind.NATIVE_TX,
        "sender": to_checksum_address("0x" + f"{n + 1:040x}"),
        "amount": ETH,
        "block_number": 100 + n,
        "block_hash": "0x" + "11" * 32,
        "tx_index": 0,
        "ordinal": 0,
        "block_timestamp": timezone.now(),
        "status": Deposit.Status.CONFIRMED,
        "credited_amount": ETH,
    }
    values.update(fields)
    return Deposit.objects.create(**values)


def test_public_pool_detail_shows_configuration_and_hides_drafts(db):
    pool = PoolFactory(status=Pool.Status.OPEN, hard_cap=2**200)
    draft = PoolFactory(status=Pool.Status.DRAFT)

    body = APIClient().get(reverse("api-pool-detail", args=[pool.pk])).json()

    assert body["hard_cap"] == str(2**200)
    assert body["treasury_address"] == to_checksum_address(pool.treasury_address)
    assert body["launch"] is None
    assert_error(APIClient().get(reverse("api-pool-detail", args=[draft.pk])), 404, "pool_not_found")


def test_public_allocation_gives_the_merkle_proof_for_any_address_case(db):
    pool = PoolFactory(status=Pool.Status.LAUNCHED)
    proof = ["0x" + "12" * 32, "0x" + "34" * 32]
    Allocation.objects.create(
        pool=pool, address=to_checksum_address(DEPOSITOR), contribution=3 * ETH, token_amount=10**24, proof=proof
    )
    url = reverse("api-pool-allocation", args=[pool.pk, DEPOSITOR.upper().replace("0X", "0x")])

    body = APIClient().get(url).json()

    assert body == {
        "address": to_checksum_address(DEPOSITOR),
        "contribution": str(3 * ETH),
        "token_amount": str(10**24),
        "proof": proof,
    }


def test_public_allocation_errors_say_what_is_wrong(db):
    pool = PoolFactory(status=Pool.Status.LAUNCHED)
    client = APIClient()

    missing = assert_error(
        client.get(reverse("api-pool-allocation", args=[pool.pk, DEPOSITOR])), 404, "allocation_not_found"
    )
    assert to_checksum_address(DEPOSITOR) in missing["message"]
    assert_error(client.get(reverse("api-pool-allocation", args=[pool.pk, "0x1234"])), 400, "invalid_address")
    assert_error(client.get(reverse("api-pool-allocation", args=[pool.pk + 99, DEPOSITOR])), 404, "pool_not_found")


def test_deposits_are_paginated_in_chain_order_and_filterable(alice, alice_client):
    pool = PoolFactory(agent=alice.agent)
    for n in range(7):
        make_deposit(pool, n, status=Deposit.Status.PENDING if n == 6 else Deposit.Status.CONFIRMED)
    url = reverse("api-agent-pool-deposits", args=[pool.pk])

    first = alice_client.get(url, {"limit": 3}).json()
    last = alice_client.get(url, {"limit": 3, "offset": 6}).json()
    pending = alice_client.get(url, {"status": "pending"}).json()

    assert first["count"] == 7 and len(first["results"]) == 3 and "offset=3" in first["next"]
    assert [d["block_number"] for d in first["results"]] == [100, 101, 102]
    assert last["next"] is None and len(last["results"]) == 1
    assert first["results"][0]["amount"] == str(ETH)
    assert [d["block_number"] for d in pending["results"]] == [106]
    error = assert_error(alice_client.get(url, {"status": "lost"}), 400, "invalid")
    assert "status" in error["details"]


def test_a_page_is_at_most_200_long(alice, alice_client):
    pool = PoolFactory(agent=alice.agent)
    Allocation.objects.bulk_create(
        Allocation(pool=pool, address=to_checksum_address(f"0x{n + 1:040x}"), contribution=1, token_amount=1)
        for n in range(205)
    )

    url = reverse("api-agent-pool-allocations", args=[pool.pk])
    body = alice_client.get(url, {"limit": 200}).json()

    assert body["count"] == 205 and len(body["results"]) == 200
    assert "limit" in assert_error(alice_client.get(url, {"limit": 201}), 400, "invalid")["details"]


def test_refunds_list_shows_the_paying_transaction_and_the_deposits(alice, alice_client):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.REFUNDING)
    deposit = make_deposit(pool, 1)
    tx = ChainTransaction.objects.create(
        pool=pool, purpose=ChainTransaction.Purpose.REFUND, signer_key=str(pool.pk), chain_id=31337,
        from_address=DEPOSITOR, nonce=0, to_address=DEPOSITOR, gas=21_000, max_fee_per_gas=1,
        max_priority_fee_per_gas=1, tx_hash="0x" + "cd" * 32,
    )  # fmt: skip
    refund = Refund.objects.create(pool=pool, recipient=deposit.sender, amount=ETH, transaction=tx)
    refund.deposits.add(deposit)
    Refund.objects.create(pool=pool, recipient=deposit.sender, amount=5)

    body = alice_client.get(reverse("api-agent-pool-refunds", args=[pool.pk])).json()

    assert body["count"] == 2
    assert body["results"][0] == {
        "id": refund.pk,
        "recipient": deposit.sender,
        "amount": str(ETH),
        "status": "owed",
        "tx_hash": "0x" + "cd" * 32,
        "deposits": [deposit.pk],
        "created_at": body["results"][0]["created_at"],
        "paid_at": None,
        "set_aside_at": None,
        "set_aside_note": "",
    }
    assert body["results"][1]["tx_hash"] is None


def test_a_refund_set_aside_for_manual_handling_says_so_and_why(alice, alice_client):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.REFUNDED)
    Refund.objects.create(pool=pool, recipient=DEPOSITOR, amount=ETH, status=Refund.Status.PAID)
    aside = Refund.objects.create(
        pool=pool, recipient=DEPOSITOR, amount=5, status=Refund.Status.SET_ASIDE, set_aside_at=timezone.now(),
        set_aside_by="admin", set_aside_note="The recipient contract reverts on receive; paid by hand.",
    )  # fmt: skip

    body = alice_client.get(reverse("api-agent-pool-refunds", args=[pool.pk]), {"status": "set_aside"}).json()

    assert [(r["id"], r["status"], r["tx_hash"]) for r in body["results"]] == [(aside.pk, "set_aside", None)]
    assert body["results"][0]["set_aside_note"] == "The recipient contract reverts on receive; paid by hand."
    assert body["results"][0]["set_aside_at"] is not None
    assert "set_aside_by" not in body["results"][0]  # an admin's login is not the agent's business


def test_a_pool_whose_refunds_wait_says_why_and_since_when_in_the_detail_and_the_lists(alice, alice_client):
    since = timezone.now() - timedelta(minutes=5)
    waiting = PoolFactory(
        agent=alice.agent, status=Pool.Status.REFUNDING, waiting_code="gas_account_empty",
        waiting_reason="The gas-funding account cannot pay for a top-up.", waiting_since=since,
    )  # fmt: skip
    moving = PoolFactory(agent=alice.agent, status=Pool.Status.REFUNDING)
    expected = {
        "code": "gas_account_empty",
        "reason": "The gas-funding account cannot pay for a top-up.",
        "since": since.isoformat().replace("+00:00", "Z"),
    }

    detail = APIClient().get(reverse("api-pool-detail", args=[waiting.pk])).json()
    public = {p["id"]: p for p in APIClient().get(reverse("api-pool-list")).json()["results"]}
    own = {p["id"]: p for p in alice_client.get(reverse("api-agent-pools")).json()["results"]}

    assert detail["refunds_waiting"] == expected
    assert public[waiting.pk]["refunds_waiting"] == own[waiting.pk]["refunds_waiting"] == expected
    assert public[moving.pk]["refunds_waiting"] is None and own[moving.pk]["refunds_waiting"] is None


def test_launch_status_is_404_before_a_request_then_shows_its_transactions(alice, alice_client):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.LAUNCHING)
    url = reverse("api-agent-pool-launch", args=[pool.pk])
    assert_error(alice_client.get(url), 404, "launch_not_found")
    tx = ChainTransaction.objects.create(
        pool=pool, purpose=ChainTransaction.Purpose.LAUNCH, signer_key=str(pool.pk), chain_id=31337,
        from_address=DEPOSITOR, nonce=3, to_address=DEPOSITOR, value=10 * ETH, gas=6_000_000,
        max_fee_per_gas=2 * 10**9, max_priority_fee_per_gas=10**9, tx_hash="0x" + "ef" * 32,
        status=ChainTransaction.Status.UNCONFIRMED,
    )  # fmt: skip
    Launch.objects.create(pool=pool, step=Launch.Step.SENDING, transaction=tx, raise_amount=10 * ETH)

    body = alice_client.get(url).json()

    assert body["pool_status"] == "launching" and body["step"] == "sending"
    assert body["raise_amount"] == str(10 * ETH)
    assert [(t["purpose"], t["nonce"], t["value"], t["status"]) for t in body["transactions"]] == [
        ("launch", 3, str(10 * ETH), "unconfirmed")
    ]
    assert body["transactions"][0]["from_address"] == to_checksum_address(DEPOSITOR)


def test_a_launched_pools_public_detail_gives_its_token_addresses(db):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, closes_at=timezone.now() - timedelta(days=1))
    Launch.objects.create(
        pool=pool, step=Launch.Step.LAUNCHED, token_address="0x" + "aa" * 20, claim_vault_address="0x" + "bb" * 20
    )

    launch = APIClient().get(reverse("api-pool-detail", args=[pool.pk])).json()["launch"]

    assert launch["step"] == "launched"
    assert launch["token_address"] == to_checksum_address("0x" + "aa" * 20)
    assert launch["claim_vault_address"] == to_checksum_address("0x" + "bb" * 20)
