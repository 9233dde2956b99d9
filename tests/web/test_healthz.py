"""/healthz against the real parts: PostgreSQL, Redis, anvil, the signer process and a Celery worker process."""

import pytest
from django.urls import reverse

from pools.tasks import beat_heartbeat
from tests.processes import start_celery_worker, start_signer

pytestmark = [pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db]


@pytest.fixture(scope="module")
def worker(tmp_path_factory):
    running = start_celery_worker(log_dir=tmp_path_factory.mktemp("worker"))
    yield running
    running.stop()


@pytest.fixture
def signer(anvil, tmp_path):
    running = start_signer(rpc_url=anvil.rpc_url, chain_id=31337, data_dir=tmp_path / "signer")
    yield running
    running.stop()


TOKEN = "integration-test-healthz-token"
DETAIL = {"HTTP_AUTHORIZATION": f"Bearer {TOKEN}"}


@pytest.fixture
def wired(settings, anvil, signer):
    settings.HEALTHZ_TOKEN = TOKEN
    settings.CHAIN_RPC_URL = anvil.rpc_url
    settings.CHAIN_ID = 31337
    settings.SIGNER_URL = signer.url
    settings.SIGNER_CLIENT_KEY = signer.client_key
    return settings


def test_every_part_reports_ok_when_the_stack_is_up(client, wired, worker):
    beat_heartbeat.delay().get(timeout=15)  # what beat schedules every 15 s, run through the real worker

    response = client.get(reverse("healthz"), **DETAIL)

    report = response.json()
    assert response.status_code == 200, report
    assert report["status"] == "ok"
    assert set(report["components"]) == {
        "database",
        "redis",
        "chain",
        "signer",
        "worker",
        "beat",
        "jobs",
        "indexer_traces",
        "preflight",
        "gas_account",
    }
    assert report["components"]["jobs"]["status"] == "ok"
    assert report["components"]["chain"]["detail"]["chain_id"] == 31337
    assert report["components"]["worker"]["detail"] == {"ping": "pong"}


def test_a_part_that_is_down_is_named_with_a_reason_and_the_answer_is_503(client, wired, worker, signer):
    signer.stop()

    response = client.get(reverse("healthz"), **DETAIL)
    public = client.get(reverse("healthz"))

    report = response.json()
    assert response.status_code == 503
    assert report["components"]["signer"]["status"] == "error"
    assert report["components"]["signer"]["reason"] == "signer unreachable"
    assert report["components"]["database"]["status"] == "ok"
    assert (public.status_code, public.json()) == (503, {"status": "error"})


def test_a_wrong_chain_id_is_reported_as_such(client, wired, worker):
    wired.CHAIN_ID = 1

    report = client.get(reverse("healthz"), **DETAIL).json()

    assert report["components"]["chain"]["status"] == "error"
    assert report["components"]["chain"]["reason"] == "the RPC serves chain id 31337, but CHAIN_ID is 1"
