import io

import pytest
from django.core.management import call_command
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from agent_api.models import ApiKey
from agent_api.services.api_keys import api_key_revoke
from pools.models import Pool
from tests.api.conftest import assert_error
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


def agent_pools_url() -> str:
    return reverse("api-agent-pools")


def test_a_valid_key_lists_the_agents_own_pools_drafts_included(alice, bob, alice_client):
    mine = PoolFactory(agent=alice.agent, status=Pool.Status.DRAFT)
    PoolFactory(agent=bob.agent)

    response = alice_client.get(agent_pools_url())

    assert response.status_code == 200
    assert [pool["id"] for pool in response.json()["results"]] == [mine.pk]
    assert response.json()["results"][0]["status"] == "draft"


def test_the_key_is_stored_only_as_a_hash(alice):
    stored = ApiKey.objects.get(pk=alice.api_key.pk)

    assert alice.key.startswith(f"lp_{stored.prefix}_")
    assert alice.key not in {stored.key_hash, stored.prefix, stored.name}
    assert len(stored.key_hash) == 64


def test_without_a_key_agent_endpoints_answer_401_with_the_error_shape(db):
    response = APIClient().get(agent_pools_url())

    assert_error(response, 401, "not_authenticated")
    assert response["WWW-Authenticate"].startswith("Bearer")


@pytest.mark.parametrize(
    "header",
    [
        "Bearer lp_000000000000_not-the-secret",
        "Bearer lp_nonsense",
        "Bearer ",
        "Bearer lp_{prefix}_wrong-secret",
    ],
)
def test_a_wrong_key_is_refused(alice, header):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=header.format(prefix=alice.api_key.prefix))

    assert_error(client.get(agent_pools_url()), 401, "invalid_api_key")


def test_a_revoked_key_is_refused(alice, alice_client):
    assert alice_client.get(agent_pools_url()).status_code == 200

    api_key_revoke(prefix=alice.api_key.prefix)

    assert_error(alice_client.get(agent_pools_url()), 401, "api_key_revoked")


def test_another_agents_pool_is_a_404_like_a_missing_one(alice, bob, alice_client):
    bobs = PoolFactory(agent=bob.agent)
    missing_id = bobs.pk + 1000

    for pool_id in (bobs.pk, missing_id):
        for name in ("api-agent-pool", "api-agent-pool-deposits", "api-agent-pool-launch", "api-agent-pool-refunds"):
            assert_error(alice_client.get(reverse(name, args=[pool_id])), 404, "pool_not_found")


def test_last_used_at_is_recorded_without_a_write_per_request(alice, alice_client, django_assert_max_num_queries):
    assert ApiKey.objects.get(pk=alice.api_key.pk).last_used_at is None

    alice_client.get(agent_pools_url())
    first = ApiKey.objects.get(pk=alice.api_key.pk).last_used_at
    # The key lookup, the count and the page: no UPDATE of last_used_at within a minute of the last one.
    with django_assert_max_num_queries(3):
        alice_client.get(agent_pools_url())

    assert first is not None and timezone.now() - first < timezone.timedelta(seconds=10)
    assert ApiKey.objects.get(pk=alice.api_key.pk).last_used_at == first


def test_public_endpoints_need_no_key(db):
    pool = PoolFactory(status=Pool.Status.OPEN)

    assert APIClient().get(reverse("api-pool-list")).status_code == 200
    assert APIClient().get(reverse("api-pool-detail", args=[pool.pk])).status_code == 200


def test_management_commands_create_a_key_once_and_revoke_it(alice):
    out, err = io.StringIO(), io.StringIO()
    call_command("create_api_key", "--agent", "alice", "--name", "ci", stdout=out, stderr=err)
    key = out.getvalue().strip()
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(agent_pools_url()).status_code == 200

    prefix = key.split("_")[1]
    call_command("revoke_api_key", prefix, stdout=io.StringIO())

    assert_error(client.get(agent_pools_url()), 401, "api_key_revoked")
    assert ApiKey.objects.get(prefix=prefix).name == "ci"


def test_admin_shows_a_new_key_once_and_can_revoke(alice, admin_client):
    response = admin_client.post(
        reverse("admin:agent_api_apikey_add"), {"agent": alice.agent.pk, "name": "from the admin"}, follow=True
    )

    shown = [str(message) for message in response.context["messages"]]
    created = ApiKey.objects.get(name="from the admin")
    assert any(f"lp_{created.prefix}_" in message for message in shown)
    key = next(word for message in shown for word in message.replace("<", " ").replace(">", " ").split() if
               word.startswith(f"lp_{created.prefix}_"))  # fmt: skip
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    assert client.get(agent_pools_url()).status_code == 200

    admin_client.post(
        reverse("admin:agent_api_apikey_changelist"), {"action": "revoke", "_selected_action": [created.pk]}
    )

    assert_error(client.get(agent_pools_url()), 401, "api_key_revoked")
    assert created.key_hash not in admin_client.get(reverse("admin:agent_api_apikey_changelist")).content.decode()
