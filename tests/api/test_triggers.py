"""Launch, dry run and refunds through the API, with the lead's jobs replaced by stand-ins (see conftest)."""

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.urls import reverse

from agent_api.models import IdempotencyRecord
from chain.errors import ChainUnavailable
from pools.models import Launch, Pool
from tests.api.conftest import assert_error, make_agent_with_key
from tests.factories import PoolFactory


def launch_url(pool: Pool) -> str:
    return reverse("api-agent-pool-launch", args=[pool.pk])


@pytest.mark.django_db
def test_launch_without_an_idempotency_key_is_refused(alice, alice_client, launch_job_stand_in):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.CLOSED)

    assert_error(alice_client.post(launch_url(pool)), 400, "idempotency_key_required")
    assert launch_job_stand_in.calls == []


@pytest.mark.django_db
def test_launch_is_accepted_and_a_replay_returns_the_same_response_without_running_again(
    alice, alice_client, launch_job_stand_in
):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.CLOSED)

    first = alice_client.post(launch_url(pool), HTTP_IDEMPOTENCY_KEY="launch-1")
    again = alice_client.post(launch_url(pool), HTTP_IDEMPOTENCY_KEY="launch-1")

    assert first.status_code == again.status_code == 202
    assert first.json()["step"] == "requested" and first.json()["pool_status"] == "launching"
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true" and "Idempotent-Replayed" not in first
    assert len(launch_job_stand_in.calls) == 1
    assert launch_job_stand_in.calls[0]["requested_by"] == f"agent alice (API key lp_{alice.api_key.prefix})"


@pytest.mark.django_db
def test_the_same_key_for_a_different_request_is_422(alice, alice_client, launch_job_stand_in):
    one, other = PoolFactory.create_batch(2, agent=alice.agent, status=Pool.Status.CLOSED)
    assert alice_client.post(launch_url(one), HTTP_IDEMPOTENCY_KEY="k").status_code == 202

    error = assert_error(alice_client.post(launch_url(other), HTTP_IDEMPOTENCY_KEY="k"), 422, "idempotency_key_reused")

    assert error["details"]["path"] == launch_url(one)
    assert len(launch_job_stand_in.calls) == 1


@pytest.mark.django_db
def test_the_same_key_with_a_different_body_is_422(alice, alice_client, alice_bounds):
    from tests.api.test_proposals import proposal

    url, body = reverse("api-agent-pools"), proposal()
    assert alice_client.post(url, body, format="json", HTTP_IDEMPOTENCY_KEY="p").status_code == 201

    response = alice_client.post(url, {**body, "name": "Other"}, format="json", HTTP_IDEMPOTENCY_KEY="p")

    assert_error(response, 422, "idempotency_key_reused")
    assert Pool.objects.count() == 1


@pytest.mark.django_db
def test_keys_are_per_api_key(alice, alice_client, launch_job_stand_in):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.CLOSED)
    other_pool = PoolFactory(status=Pool.Status.CLOSED)
    other = make_agent_with_key(name="carol")
    other_pool.agent = other.agent
    other_pool.save()

    assert alice_client.post(launch_url(pool), HTTP_IDEMPOTENCY_KEY="shared").status_code == 202
    assert other.client().post(launch_url(other_pool), HTTP_IDEMPOTENCY_KEY="shared").status_code == 202
    assert len(launch_job_stand_in.calls) == 2


@pytest.mark.django_db
def test_a_pool_that_cannot_launch_is_409_with_the_reason_and_the_key_stays_usable(
    alice, alice_client, launch_job_stand_in
):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.OPEN)
    launch_job_stand_in.refuse_with = "The pool is open; only a closed pool that met its soft cap launches."

    error = assert_error(alice_client.post(launch_url(pool), HTTP_IDEMPOTENCY_KEY="k"), 409, "pool_cannot_launch")
    assert "only a closed pool" in error["message"]
    assert not IdempotencyRecord.objects.exists()

    launch_job_stand_in.refuse_with = ""
    assert alice_client.post(launch_url(pool), HTTP_IDEMPOTENCY_KEY="k").status_code == 202


@pytest.mark.django_db
def test_an_idempotency_key_must_be_printable_ascii_and_not_too_long(alice, alice_client, launch_job_stand_in):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.CLOSED)

    assert_error(alice_client.post(launch_url(pool), HTTP_IDEMPOTENCY_KEY="k" * 256), 400, "idempotency_key_invalid")
    assert launch_job_stand_in.calls == []


@pytest.mark.django_db(transaction=True)
def test_twenty_concurrent_launch_requests_with_one_key_run_the_launch_once(launch_job_stand_in, caplog):
    agent = make_agent_with_key(name="racer")
    pool = PoolFactory(agent=agent.agent, status=Pool.Status.CLOSED)
    launch_job_stand_in.delay = 0.2  # the first one is still inside its transaction when the others arrive

    def request(_):
        try:
            response = agent.client().post(launch_url(pool), HTTP_IDEMPOTENCY_KEY="the-one")
            return response.status_code, response.json()
        finally:
            connection.close()

    caplog.set_level("INFO", logger="agent_api.services.idempotency")
    with ThreadPoolExecutor(max_workers=20) as pool_of_threads:
        results = list(pool_of_threads.map(request, range(20)))

    assert [status for status, _ in results] == [202] * 20, results
    assert all(body == results[0][1] for _, body in results)
    assert len(launch_job_stand_in.calls) == 1
    assert Launch.objects.filter(pool=pool).count() == 1
    assert IdempotencyRecord.objects.count() == 1
    # Some twins arrived while the first was still running, waited on the unique index, then replayed.
    assert "waited for a concurrent twin" in caplog.text


@pytest.mark.django_db
def test_dry_run_returns_the_simulation_and_503_when_the_chain_is_down(alice, alice_client, monkeypatch):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.CLOSED)
    url = reverse("api-agent-pool-launch-dry-run", args=[pool.pk])
    simulated = {"would_succeed": True, "raise_amount": "10", "gas": 4_500_000}
    monkeypatch.setattr("pools.services.launch.launch_dry_run", lambda *, pool_id: {**simulated, "pool": pool_id})

    assert alice_client.post(url).json() == {**simulated, "pool": pool.pk}

    def chain_down(*, pool_id):
        raise ChainUnavailable("connection refused")

    monkeypatch.setattr("pools.services.launch.launch_dry_run", chain_down)
    assert_error(alice_client.post(url), 503, "chain_unavailable")


@pytest.mark.django_db
def test_refunds_need_a_key_and_are_requested_once(alice, alice_client, refund_job_stand_in):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.REFUNDING)
    url = reverse("api-agent-pool-refunds", args=[pool.pk])
    assert_error(alice_client.post(url), 400, "idempotency_key_required")

    first = alice_client.post(url, HTTP_IDEMPOTENCY_KEY="refund-1")
    again = alice_client.post(url, HTTP_IDEMPOTENCY_KEY="refund-1")

    assert first.status_code == again.status_code == 202
    assert first.json() == {
        "pool_id": pool.pk,
        "pool_status": "refunding",
        "refund_count": 3,
        "refund_amount": str(0 + 1 + 10**18 + 1 + 2 * 10**18 + 1),
    }
    assert again.json() == first.json()
    assert len(refund_job_stand_in.calls) == 1
    assert alice_client.get(url).json()["count"] == 3
