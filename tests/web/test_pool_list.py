import pytest
from django.urls import reverse

from pools.models import Pool
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


def test_home_page_without_pools_shows_the_empty_state(client):
    response = client.get(reverse("pool-list"))

    assert response.status_code == 200
    assert "No pools yet" in response.content.decode()


def test_home_page_lists_public_pools_but_not_drafts(client):
    PoolFactory(name="Visible Pool", status=Pool.Status.OPEN)
    PoolFactory(name="Secret Draft", status=Pool.Status.DRAFT)

    body = client.get(reverse("pool-list")).content.decode()

    assert "Visible Pool" in body
    assert "Secret Draft" not in body


def test_search_matches_name_or_symbol_and_says_when_nothing_matches(client):
    PoolFactory(name="Alpha Mind", token_symbol="ALPHA")
    PoolFactory(name="Beta Brain", token_symbol="BETA")

    by_name = client.get(reverse("pool-list"), {"q": "alpha"}).content.decode()
    by_symbol = client.get(reverse("pool-list"), {"q": "beta"}).content.decode()
    nothing = client.get(reverse("pool-list"), {"q": "gamma"}).content.decode()

    assert "Alpha Mind" in by_name and "Beta Brain" not in by_name
    assert "Beta Brain" in by_symbol
    assert "No pool matches" in nothing


def test_pool_list_is_paginated_with_a_constant_number_of_queries(client, django_assert_max_num_queries):
    PoolFactory.create_batch(30)

    with django_assert_max_num_queries(3):  # count, page, and the USD feeds (one query for all pools)
        first = client.get(reverse("pool-list"))
    second = client.get(reverse("pool-list"), {"page": 2})

    assert first.context["page"].paginator.num_pages == 2
    assert len(second.context["page"].object_list) == 6


def test_api_lists_pools_with_amounts_as_decimal_strings(client):
    PoolFactory(name="Big", hard_cap=2**256 - 1, soft_cap=10**18)

    response = client.get(reverse("api-pool-list"))

    assert response.status_code == 200
    pool = response.json()["results"][0]
    assert pool["hard_cap"] == str(2**256 - 1)
    assert pool["soft_cap"] == "1000000000000000000"


def test_api_errors_have_a_stable_code_and_a_message(client):
    response = client.post(reverse("api-pool-list"), {})

    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.json()["error"]["message"]


def test_api_schema_and_docs_are_served(client):
    assert client.get(reverse("api-schema")).status_code == 200
    assert client.get(reverse("api-docs")).status_code == 200
