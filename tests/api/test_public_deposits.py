"""GET /api/v1/pools/{id}/deposits/: every deposit of a public pool, cited as the enclave signer's evidence cites it."""

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from enclave_signer.evidence import parse_citation
from pools.models import Deposit, Pool
from tests.api.conftest import ETH, assert_error
from tests.api.test_reads import make_deposit
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


def test_anyone_can_list_a_public_pools_deposits_with_their_citations():
    pool = PoolFactory(status=Pool.Status.OPEN)
    make_deposit(pool, 1, credited_amount=5 * ETH - 1, refund_amount=1, amount=5 * ETH, refund_reason="above_maximum")
    make_deposit(pool, 2, position="trace:0.3", kind=Deposit.Kind.NATIVE_INTERNAL)
    make_deposit(pool, 3, position="log:7", kind=Deposit.Kind.ERC20, status=Deposit.Status.PENDING, credited_amount=0)

    response = APIClient().get(reverse("api-pool-deposits", args=[pool.pk]))

    assert response.status_code == 200, response.content
    body = response.json()
    assert body["count"] == 3
    first, internal, pending = body["results"]
    assert first["citation"] == {"tx_hash": "0x" + f"{1:064x}"}
    assert internal["citation"] == {"tx_hash": "0x" + f"{2:064x}", "trace_address": [0, 3]}
    assert pending["citation"] == {"tx_hash": "0x" + f"{3:064x}", "log_index": 7}
    assert (first["amount"], first["credited_amount"], first["refund_amount"]) == (str(5 * ETH), str(5 * ETH - 1), "1")
    assert first["refund_reason"] == "above_maximum" and first["block_number"] == 101
    assert first["sender"] == "0x" + f"{2:040x}" and first["status"] == "confirmed"
    assert pending["status"] == "pending"
    for deposit in body["results"]:  # exactly what the signer's evidence parser takes
        parse_citation(deposit["citation"])


def test_the_list_is_paginated_in_chain_order():
    pool = PoolFactory(status=Pool.Status.LAUNCHED)
    for n in (5, 3, 4, 1, 2):
        make_deposit(pool, n)
    url = reverse("api-pool-deposits", args=[pool.pk])

    first = APIClient().get(url, {"limit": 2}).json()
    rest = APIClient().get(first["next"]).json()

    assert first["count"] == 5 and "offset=2" in first["next"]
    assert [d["block_number"] for d in first["results"] + rest["results"]] == [101, 102, 103, 104]


def test_a_draft_or_missing_pool_is_a_404():
    draft = PoolFactory(status=Pool.Status.DRAFT)
    make_deposit(draft, 1)

    assert_error(APIClient().get(reverse("api-pool-deposits", args=[draft.pk])), 404, "pool_not_found")
    assert_error(APIClient().get(reverse("api-pool-deposits", args=[draft.pk + 1000])), 404, "pool_not_found")
