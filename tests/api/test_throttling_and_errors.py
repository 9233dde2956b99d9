import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from tests.api.conftest import assert_error, make_agent_with_key
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def tight_rates(settings):
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"agent": "3/minute", "agent_trigger": "1/minute", "anon": "2/minute"},
    }


def test_a_key_over_its_rate_gets_429_with_the_error_shape_and_retry_after(alice, alice_client, bob, tight_rates):
    url = reverse("api-agent-pools")
    for _ in range(3):
        assert alice_client.get(url).status_code == 200

    response = alice_client.get(url)

    assert_error(response, 429, "throttled")
    assert 0 < int(response["Retry-After"]) <= 60
    assert bob.client().get(url).status_code == 200  # counted per key


def test_launch_requests_have_their_own_tighter_rate(alice, alice_client, tight_rates, launch_job_stand_in):
    pool = PoolFactory(agent=alice.agent, status="closed")
    url = reverse("api-agent-pool-launch", args=[pool.pk])

    assert alice_client.post(url, HTTP_IDEMPOTENCY_KEY="a").status_code == 202
    assert_error(alice_client.post(url, HTTP_IDEMPOTENCY_KEY="b"), 429, "throttled")
    assert alice_client.get(url).status_code == 200  # reads count against the agent rate only


def test_anonymous_callers_are_throttled_by_address(tight_rates):
    client = APIClient()
    for _ in range(2):
        assert client.get(reverse("api-pool-list")).status_code == 200

    assert_error(client.get(reverse("api-pool-list")), 429, "throttled")
    assert make_agent_with_key(name="dave").client().get(reverse("api-pool-list")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "status", "code"),
    [
        ("get", "/api/v1/agent/pools/999999/", 404, "pool_not_found"),
        ("get", "/api/v1/agent/nowhere/", 404, "not_found"),
        ("post", "/api/v1/agent/pools", 404, "not_found"),  # no trailing slash: no redirect that loses the body
        ("delete", "/api/v1/agent/pools/", 405, "method_not_allowed"),
        ("get", "/api/v1/agent/pools/?limit=abc", 400, "invalid"),  # strict: not the default page
    ],
)
def test_errors_have_one_shape(alice_client, method, path, status, code):
    response = getattr(alice_client, method)(path)

    assert response.status_code == status
    if code:
        assert_error(response, status, code)


def test_a_body_that_is_not_json_is_refused_with_the_error_shape(alice_client, alice_bounds):
    response = alice_client.post(reverse("api-agent-pools"), "name=x", content_type="application/x-www-form-urlencoded")

    assert_error(response, 415, "unsupported_media_type")


def test_broken_json_is_a_400_with_the_error_shape(alice_client, alice_bounds):
    response = alice_client.post(reverse("api-agent-pools"), "{not json", content_type="application/json")

    assert_error(response, 400, "parse_error")
