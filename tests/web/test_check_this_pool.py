"""The pool page tells anyone how to check the pool themselves, with the exact command and a link to what it does."""

import pytest
from django.urls import reverse

from pools.models import Pool
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


def test_the_pool_page_shows_the_verify_pool_command_for_this_pool_and_site(client):
    pool = PoolFactory(status=Pool.Status.LAUNCHED, deposit_address="0x70997970C51812dc3A010C7d01b50e0d17dc79C8")

    body = client.get(reverse("pool-detail", args=[pool.pk])).content.decode()

    assert "Check this pool yourself" in body
    command = f"python -m enclave_signer verify-pool {pool.pk} --rpc YOUR-RPC-URL --site http://testserver"
    assert f"<code>{command}</code>" in body
    assert f'href="{reverse("verify-pool-doc")}"' in body


def test_a_pool_without_an_address_yet_has_nothing_to_check(client):
    pool = PoolFactory(status=Pool.Status.SCHEDULED, deposit_address="")

    assert "Check this pool yourself" not in client.get(reverse("pool-detail", args=[pool.pk])).content.decode()


def test_the_linked_doc_explains_the_checks(client):
    response = client.get(reverse("verify-pool-doc"))

    assert response.status_code == 200 and response["Content-Type"] == "text/plain; charset=utf-8"
    text = response.content.decode()
    assert text.startswith("# Check a pool yourself: `verify-pool`")
    assert "every wei accounted for" in text
