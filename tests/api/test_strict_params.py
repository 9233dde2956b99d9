"""Query parameters are strict on every read of /api/v1/: an unknown, empty, repeated or malformed one is a 400 in the
one error shape (code `invalid`, a message per parameter), and every parameter the schema declares is accepted."""

import re

import pytest
from django.urls import reverse
from rest_framework.test import APIClient

from agent_api.models import WebhookEndpoint
from pools.models import Pool
from tests.api.conftest import TREASURY, assert_error
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

# (url name, needs a pool id, needs an address, public?)
READS = {
    "api-pool-list": ((), True),
    "api-pool-detail": (("pool",), True),
    "api-pool-deposits": (("pool",), True),
    "api-pool-allocation": (("pool", "address"), True),
    "api-agent-pools": ((), False),
    "api-agent-pool": (("pool",), False),
    "api-agent-pool-deposits": (("pool",), False),
    "api-agent-pool-refunds": (("pool",), False),
    "api-agent-pool-allocations": (("pool",), False),
    "api-agent-pool-launch": (("pool",), False),
    "api-agent-webhooks": ((), False),
}
LISTS = ["api-pool-list", "api-pool-deposits", "api-agent-pools", "api-agent-pool-deposits", "api-agent-pool-refunds",
         "api-agent-pool-allocations", "api-agent-webhooks"]  # fmt: skip


@pytest.fixture
def pool(alice) -> Pool:
    return PoolFactory(agent=alice.agent, status=Pool.Status.LAUNCHED)


def url_of(name: str, pool: Pool) -> str:
    needs, _ = READS[name]
    args = {"pool": pool.pk, "address": TREASURY}
    return reverse(name, args=[args[need] for need in needs])


def client_for(name: str, alice_client) -> APIClient:
    return APIClient() if READS[name][1] else alice_client


@pytest.mark.parametrize("name", READS)
@pytest.mark.parametrize(
    ("query", "parameter"),
    [("stauts=open", "stauts"), ("format=json", "format"), ("page=2", "page")],
)
def test_an_unknown_parameter_is_refused(alice_client, pool, name, query, parameter):
    response = client_for(name, alice_client).get(f"{url_of(name, pool)}?{query}")

    error = assert_error(response, 400, "invalid")
    assert list(error["details"]) == [parameter]
    assert "Not a query parameter of this endpoint" in error["details"][parameter][0]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize(
    ("query", "parameter", "fragment"),
    [
        ("limit=abc", "limit", "Not a whole number"),
        ("limit=-1", "limit", "Not a whole number"),
        ("limit=null", "limit", "Not a whole number"),
        ("limit=0", "limit", "Between 1 and 200"),
        ("limit=201", "limit", "Between 1 and 200"),
        ("limit=1.5", "limit", "Not a whole number"),
        ("limit=", "limit", "Empty"),
        ("offset=null", "offset", "Not a whole number"),
        ("offset=-1", "offset", "Not a whole number"),
        ("offset=", "offset", "Empty"),
        ("limit=5&limit=6", "limit", "Given 2 times"),
    ],
)
def test_a_malformed_page_is_refused(alice_client, pool, name, query, parameter, fragment):
    error = assert_error(client_for(name, alice_client).get(f"{url_of(name, pool)}?{query}"), 400, "invalid")

    assert list(error["details"]) == [parameter]
    assert fragment in error["details"][parameter][0]


@pytest.mark.parametrize("name", LISTS)
@pytest.mark.parametrize("query", ["limit=1", "limit=200", "offset=0", "limit=1&offset=3", ""])
def test_a_page_in_range_is_served(alice_client, pool, name, query):
    response = client_for(name, alice_client).get(f"{url_of(name, pool)}?{query}")

    assert response.status_code == 200, response.content
    assert "results" in response.json()


def test_every_problem_is_reported_at_once(alice_client, pool):
    url = reverse("api-agent-pool-deposits", args=[pool.pk])

    error = assert_error(alice_client.get(f"{url}?status=&limit=abc&offset=1&offset=2&sender=0x12&x=1"), 400, "invalid")

    assert set(error["details"]) == {"status", "limit", "offset", "sender", "x"}


@pytest.mark.parametrize(
    ("name", "query", "parameter"),
    [
        ("api-agent-pools", "status=", "status"),
        ("api-agent-pools", "status=lost", "status"),
        ("api-agent-pools", "status=open&status=draft", "status"),
        ("api-agent-pool-refunds", "status=", "status"),
        ("api-pool-list", "q=", "q"),
        ("api-pool-list", f"q={'m' * 101}", "q"),
    ],
)
def test_a_malformed_filter_is_refused(alice_client, pool, name, query, parameter):
    error = assert_error(client_for(name, alice_client).get(f"{url_of(name, pool)}?{query}"), 400, "invalid")

    assert list(error["details"]) == [parameter]


def test_a_caller_without_a_key_gets_401_before_any_parameter_is_judged(pool):
    response = APIClient().get(reverse("api-agent-pools") + "?limit=abc")

    assert response.status_code == 401


def test_the_filters_still_filter(alice, alice_client, pool):
    PoolFactory(agent=alice.agent, status=Pool.Status.DRAFT)

    drafts = alice_client.get(reverse("api-agent-pools"), {"status": "draft"}).json()

    assert [p["status"] for p in drafts["results"]] == ["draft"]


# --- the schema's declared parameters are accepted -----------------------------------------------------------------


def _value_for(parameter: dict) -> str:
    """A valid value for a query parameter, read from its schema."""
    schema = parameter["schema"]
    if "enum" in schema:
        return str(schema["enum"][0])
    if schema.get("type") == "integer":
        return str(schema.get("minimum", 0))
    if "pattern" in schema and "0x" in schema["pattern"]:
        return TREASURY
    if schema.get("format") == "date-time":
        return "2026-01-01T00:00:00Z"
    return "mind"


def test_every_query_parameter_the_schema_declares_is_accepted(client, alice, alice_client, pool):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()
    WebhookEndpoint.objects.create(agent=alice.agent, url="https://127.0.0.1/hook", secret="s", events=["pool.closed"])
    path_values = {"pool_id": str(pool.pk), "address": TREASURY}
    tried = []
    for path, operations in schema["paths"].items():
        if not path.startswith("/api/v1/") or "get" not in operations:
            continue
        if "text/event-stream" in str(operations["get"].get("responses", {}).get("200", {})):
            continue  # a stream never ends: the events helper's own tests judge its parameters
        parameters = [p for p in operations["get"].get("parameters", []) if p["in"] == "query"]
        # Other path parameters (ids of other things) are 1: a 404 then, but parameters are judged first.
        url = re.sub(r"\{(\w+)\}", lambda m: path_values.get(m.group(1), "1"), path)
        for parameter in parameters:
            value = _value_for(parameter)
            response = alice_client.get(url, {parameter["name"]: value}, HTTP_ACCEPT="application/json")
            tried.append(f"{path}?{parameter['name']}")
            if response.status_code == 400 and response.get("Content-Type", "").startswith("application/json"):
                assert parameter["name"] not in response.json()["error"]["details"], (path, parameter, value)

    assert "/api/v1/agent/pools/?limit" in tried and "/api/v1/pools/?q" in tried
    assert "/api/v1/agent/pools/{pool_id}/deposits/?sender" in tried


def test_the_schema_states_the_page_limits(client):
    schema = client.get(reverse("api-schema"), {"format": "json"}).json()

    parameters = {p["name"]: p["schema"] for p in schema["paths"]["/api/v1/agent/pools/"]["get"]["parameters"]}

    assert parameters["limit"] == {"type": "integer", "minimum": 1, "maximum": 200, "default": 50}
    assert parameters["offset"] == {"type": "integer", "minimum": 0, "maximum": 10**15, "default": 0}
    assert parameters["status"]["enum"]


def test_a_page_number_of_thousands_of_digits_is_a_400_not_a_server_error(alice):
    """Python refuses int() of more than 4,300 digits: the digits are counted first."""
    client = alice.client()
    for name in ("limit", "offset"):
        response = client.get(reverse("api-agent-pools"), {name: "9" * 5_000})
        assert response.status_code == 400 and name in response.json()["error"]["details"], response.content[:200]
    response = client.get(reverse("api-agent-events"), HTTP_LAST_EVENT_ID="9" * 5_000)
    assert response.status_code == 400, response.content[:200]


def test_the_dry_run_refuses_a_query_parameter_it_does_not_take(alice):
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.CLOSED)
    response = alice.client().post(reverse("api-agent-pool-launch-dry-run", args=[pool.pk]) + "?format=json")
    assert response.status_code == 400 and "format" in response.json()["error"]["details"]
