"""Bad input to every endpoint under /api/v1/, never a 5xx: each answer is a 4xx in the error shape, or a 2xx where the
input is legitimately accepted.

The endpoints are read from agent_api.urls (so a new one is swept without touching this file) and checked against the
OpenAPI schema, which names each operation's query parameters and body fields. Each request runs in a savepoint that
is rolled back, so one accepted proposal or webhook does not turn the next request into a 409.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.core.exceptions import BadRequest, PermissionDenied, SuspiciousOperation
from django.db import transaction
from django.test.client import BOUNDARY, MULTIPART_CONTENT, encode_multipart
from django.urls import URLPattern, reverse
from django.utils import timezone
from drf_spectacular.generators import SchemaGenerator
from eth_utils import to_checksum_address
from rest_framework.test import APIClient

from agent_api import urls as api_urls
from agent_api.models import WebhookDelivery, WebhookEndpoint
from agent_api.views.public import NoSuchEndpointApi
from pools.models import Allocation, Launch, Pool, Refund
from tests.api.conftest import ETH, assert_error
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

API_PREFIX = "/api/v1/"
JSON = "application/json"
ADDRESS = to_checksum_address("0x" + "ab" * 20)
BAD_CHECKSUM = "0x" + re.sub("[a-fA-F]", lambda letter: letter[0].swapcase(), ADDRESS[2:], count=1)  # one letter off


def _openapi_path(pattern: URLPattern) -> str:
    return API_PREFIX + re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", str(pattern.pattern))


def _route_operations() -> list[tuple[str, str]]:
    """(METHOD, /api/v1/path/{param}/) for every route in agent_api.urls but the catch-all 404."""
    operations = []
    for pattern in api_urls.urlpatterns:
        assert isinstance(pattern, URLPattern), "the sweep reads flat routes; teach it include()"
        view_class = pattern.callback.view_class
        if view_class is NoSuchEndpointApi:
            continue
        for method in view_class.http_method_names:
            if method not in ("options", "head") and hasattr(view_class, method):
                operations.append((method.upper(), _openapi_path(pattern)))
    return operations


def _path_converters(template: str) -> list[tuple[str, str]]:
    """(name, converter) of each path parameter of the route, as agent_api.urls declares it."""
    pattern = next(pattern for pattern in api_urls.urlpatterns if _openapi_path(pattern) == template)
    return [(name, converter or "str") for converter, name in re.findall(r"<(?:(\w+):)?(\w+)>", str(pattern.pattern))]


OPERATIONS = _route_operations()
SCHEMA = SchemaGenerator().get_schema(request=None, public=True)


def _schema_operation(method: str, path: str) -> dict:
    return SCHEMA["paths"].get(path, {}).get(method.lower(), {})


def _body_fields(operation: dict) -> dict[str, dict]:
    """The JSON body's fields and their schemas."""
    reference = operation.get("requestBody", {}).get("content", {}).get(JSON, {}).get("schema", {}).get("$ref", "")
    if not reference:
        return {}
    return SCHEMA["components"]["schemas"][reference.rsplit("/", 1)[1]].get("properties", {})


def _requires_idempotency_key(operation: dict) -> bool:
    return any(p["name"] == "Idempotency-Key" and p.get("required") for p in operation.get("parameters", []))


# --- what is sent -------------------------------------------------------------------------------------------------

HUGE = 5 * 1024 * 1024

# (label, body, content type) sent to every operation that is not a GET.
RAW_BODIES = [
    ("deep arrays", b"[" * 100_000, JSON),
    ("deep objects", b'{"a":' * 50_000, JSON),
    ("deep and balanced", b"[" * 1_000 + b"]" * 1_000, JSON),
    ("5 MB", b'{"name": "' + b"x" * HUGE + b'"}', JSON),
    ("empty", b"", JSON),
    ("whitespace", b"  \n", JSON),
    ("null", b"null", JSON),
    ("array", b"[]", JSON),
    ("array of objects", b"[{}]", JSON),
    ("string", b'"pool"', JSON),
    ("number", b"1", JSON),
    ("true", b"true", JSON),
    ("not UTF-8", b'{"name": "\xff\xfe"}', JSON),
    ("BOM", b'\xef\xbb\xbf{"name": "x"}', JSON),
    ("broken", b'{"name": ', JSON),
    ("NaN", b'{"fee_bps": NaN}', JSON),
    ("Infinity", b'{"fee_bps": -Infinity}', JSON),
    ("1e400", b'{"fee_bps": 1e400}', JSON),
    ("5,000-digit integer", b'{"fee_bps": ' + b"9" * 5_000 + b"}", JSON),
    ("NUL", b'{"name": "a\\u0000b"}', JSON),
    ("lone surrogate", b'{"name": "\\ud800"}', JSON),
    ("lone surrogate as a key", b'{"\\udc00": 1}', JSON),
    ("form", b"name=x&fee_bps=1", "application/x-www-form-urlencoded"),
    ("text/plain", b'{"name": "x"}', "text/plain"),
    ("multipart", encode_multipart(BOUNDARY, {"name": "x", "fee_bps": "1"}), MULTIPART_CONTENT),
    ("no content type", b'{"name": "x"}', ""),
    ("unknown charset", b'{"name": "x"}', "application/json; charset=no-such-charset"),
    ("latin-1", b'{"name": "\xe9"}', "application/json; charset=latin-1"),
    ("idna", b'{"name": ".xn--zz"}', "application/json; charset=idna"),
]

# (label, JSON text) put in place of one body field at a time, the others valid: any field gets these, and the
# values of its kind (read from the schema) below.
FIELD_VALUES = [
    ("2**256", str(2**256)),
    ("-1", "-1"),
    ("1.5", "1.5"),
    ("10,000 characters", '"' + "a" * 10_000 + '"'),
    ("10,000 non-ASCII characters", '"' + "é" * 10_000 + '"'),
    ("surrogate pair", '"\\ud83d\\ude00"'),
    ("empty string", '""'),
    ("null", "null"),
    ("true", "true"),
    ("list", '["a"]'),
    ("object", '{"a": 1}'),
]
NUMBER_STRINGS = [
    ("2**256 as a string", f'"{2**256}"'),
    ("-1 as a string", '"-1"'),
    ("1.5 as a string", '"1.5"'),
    ("1e400 as a string", '"1e400"'),
    ("0", "0"),
]
FIELD_VALUES_OF_KIND = {
    "integer": NUMBER_STRINGS,
    "amount": NUMBER_STRINGS,
    "address": [
        ("bad checksum", f'"{BAD_CHECKSUM}"'),
        ("lower case", f'"{ADDRESS.lower()}"'),
        ("not an address", '"0x' + "zz" * 20 + '"'),
    ],
    "date-time": [
        ("far future", '"9999-12-31T23:59:59Z"'),
        ("before year 1 in UTC", '"0001-01-01T00:00:00+01:00"'),
        ("after year 9999 in UTC", '"9999-12-31T23:59:59-10:00"'),
        ("30 February", '"2030-02-30T00:00:00Z"'),
    ],
    "uri": [
        ("port out of range", '"https://example.com:99999/"'),
        ("broken IPv6 host", '"https://[::1/"'),
        ("metadata address", '"http://169.254.169.254/latest/"'),
        ("non-ASCII host", '"https://\u00e9xample.com/"'),
        ("another scheme", '"javascript:alert(1)"'),
    ],
    "array": [
        ("empty", "[]"),
        ("null item", "[null]"),
        ("number item", "[1]"),
        ("1,000 items", json.dumps(["x"] * 1_000)),
        ("NUL item", '["a\\u0000b"]'),
        ("lone surrogate item", '["\\ud800"]'),
    ],
}
# Refused by the parser whichever field they are in: sent once, in every field at the same time.
PARSER_REFUSED_VALUES = [
    ("1e400", "1e400"),
    ("NUL", '"a\\u0000b"'),
    ("lone surrogate", '"\\ud800"'),
    ("nested 40 deep", "[" * 40 + "]" * 40),
    ("5,000-digit integer", "9" * 5_000),
]


def _field_kind(field_schema: dict) -> str:
    pattern = field_schema.get("pattern", "")
    if field_schema.get("type") in ("integer", "array"):
        return field_schema["type"]
    if field_schema.get("format") in ("date-time", "uri"):
        return field_schema["format"]
    return "address" if "0x" in pattern else "amount" if pattern.startswith("^[0-9]") else ""


# Path parameters: (label, raw text for the URL).
PATH_VALUES = {
    "int": [
        ("0", "0"),
        ("2**256", str(2**256)),
        ("5,000 digits", "9" * 5_000),
        ("-1", "-1"),
        ("1.5", "1.5"),
        ("NUL", "%00"),
        ("not a number", "abc"),
    ],
    "str": [
        ("lower case", ADDRESS.lower()),
        ("bad checksum", BAD_CHECKSUM),
        ("not an address", "0x" + "zz" * 20),
        ("10,000 characters", "a" * 10_000),
        ("NUL", "%00"),
        ("lone surrogate", "%ED%A0%80"),
        ("not UTF-8", "%FF%FE"),
        ("encoded slash", "0x%2F"),
    ],
}

# Query parameters: (label, raw text for the query string).
QUERY_VALUES = [
    ("2**256", str(2**256)),
    ("-1", "-1"),
    ("1.5", "1.5"),
    ("1e400", "1e400"),
    ("empty", ""),
    ("10,000 characters", "a" * 10_000),
    ("NUL", "%00"),
    ("lone surrogate", "%ED%A0%80"),
    ("not UTF-8", "%FF%FE"),
    ("bad checksum", BAD_CHECKSUM),
]

# (label, Authorization header)
AUTHORIZATIONS = [
    ("no key", None),
    ("another scheme", "Basic YWxpY2U6c2VjcmV0"),
    ("empty bearer", "Bearer "),
    ("10,000-character key", "Bearer " + "x" * 10_000),
    ("NUL prefix", "Bearer lp_" + "\x00" * 12 + "_secret"),
    ("non-ASCII prefix", "Bearer lp_" + "é" * 12 + "_secret"),
    ("right shape, unknown key", "Bearer lp_0123456789ab_" + "s" * 43),
    ("10,000-character secret", "Bearer lp_0123456789ab_" + "s" * 10_000),
]

IDEMPOTENCY_KEYS = [
    ("10,000 characters", "k" * 10_000),
    ("NUL", "a\x00b"),
    ("non-ASCII", "clé"),
    ("empty", ""),
]


# --- the world the requests land in -------------------------------------------------------------------------------


def _launch_dry_run_stand_in(*, pool_id: int) -> dict:
    """Stands in for pools.services.launch.launch_dry_run (it would call the chain)."""
    return {
        "would_succeed": True, "error": "", "token_address": "0x" + "aa" * 20, "raise_amount": "1",
        "liquidity_funds": "1", "fee": "0", "treasury": "0", "liquidity_tokens": "1", "burned_tokens": "0",
        "depositor_tokens": "1", "agent_tokens": "1", "price_in_asset": None, "price_usd_e8": None,
        "oracle_answer": "1", "merkle_root": "0x", "gas": 1, "simulated_in_ms": 1,
    }  # fmt: skip


@dataclass
class World:
    """Alice's key, a launched pool of hers (launch, allocation, refund), a webhook endpoint, and valid bodies."""

    client: APIClient
    anonymous: APIClient
    path_values: dict[str, str]
    bodies: dict[tuple[str, str], dict]
    failures: list[str] = field(default_factory=list)
    idempotency_key_required: bool = False  # then each request gets a fresh one, unless it brings its own

    def path(self, template: str, **override: str) -> str:
        return re.sub(r"\{(\w+)\}", lambda m: override.get(m[1], self.path_values[m[1]]), template)

    def send(
        self, method: str, path: str, label: str, *, body: bytes = b"", content_type: str = JSON, client=None, **headers
    ):
        """Send one request in a savepoint rolled back afterwards, and note what is wrong with its answer."""
        if self.idempotency_key_required:
            headers.setdefault("HTTP_IDEMPOTENCY_KEY", uuid.uuid4().hex)
        with transaction.atomic():
            response = (client or self.client).generic(method, path, body, content_type=content_type, **headers)
            if response.streaming:  # the event stream: read it whole (it ends at once, see the fixture)
                response.streamed = b"".join(response.streaming_content)
            transaction.set_rollback(True)
        problem = _problem(response)
        if problem:
            self.failures.append(f"{method} {path[:120]} [{label}]: {problem}")
        return response


def _problem(response) -> str:
    """What is wrong with an answer to bad input, or ""."""
    status = response.status_code
    if "X-Request-ID" not in response:
        return f"{status} without X-Request-ID"
    if status >= 500:
        return f"{status} {response.content[:300]!r}"
    if status >= 400:
        try:
            body = response.json()
            error = body["error"]
            assert set(body) == {"error"} and set(error) == {"code", "message", "details"}
            assert isinstance(error["code"], str) and error["code"] and error["message"]
        except Exception:  # noqa: BLE001 - any way of not being the error shape is the finding
            return f"{status} not in the error shape: {response.content[:300]!r}"
    elif response.streaming:
        if not response["Content-Type"].startswith("text/event-stream") or not response.streamed.startswith(b"retry:"):
            return f"{status} a stream that is not server-sent events: {response.streamed[:300]!r}"
    elif status != 204:
        try:
            response.json()
        except ValueError:
            return f"{status} not JSON: {response.content[:300]!r}"
    return ""


@pytest.fixture
def world(alice, alice_bounds, settings, monkeypatch, launch_job_stand_in, refund_job_stand_in) -> World:
    settings.REST_FRAMEWORK = {
        **settings.REST_FRAMEWORK,
        "DEFAULT_THROTTLE_RATES": {"anon": "100000/minute", "agent": "100000/minute", "agent_trigger": "100000/minute"},
    }
    cache.clear()
    monkeypatch.setattr("pools.services.launch.launch_dry_run", _launch_dry_run_stand_in)
    pool = PoolFactory(agent=alice.agent, status=Pool.Status.LAUNCHED)
    Launch.objects.create(pool=pool, step=Launch.Step.LAUNCHED, token_address="0x" + "aa" * 20)
    Allocation.objects.create(pool=pool, address=ADDRESS, contribution=ETH, token_amount=10**21, proof=[])
    Refund.objects.create(pool=pool, recipient=ADDRESS, amount=1)
    webhook = WebhookEndpoint.objects.create(
        agent=alice.agent, url="https://example.com/hook", events=["pool.launched"], secret="whsec_test"
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=webhook, event="pool.launched", payload={"pool_id": pool.pk}, next_attempt_at=timezone.now()
    )
    settings.AGENT_EVENTS_STREAM_SECONDS = 0  # the event stream ends at once: each answer is read whole
    opens_at = timezone.now() + timedelta(days=1)
    closes_at = opens_at + timedelta(days=3)
    proposal = {
        "name": "Bad Input", "token_name": "Bad Input", "token_symbol": "BAD", "soft_cap": str(10 * ETH),
        "hard_cap": str(100 * ETH), "opens_at": opens_at.isoformat(), "closes_at": closes_at.isoformat(),
        "fee_bps": 100, "treasury_address": "0x" + "11" * 20,
    }  # fmt: skip
    client, anonymous = alice.client(), APIClient()
    for each in (client, anonymous):
        each.raise_request_exception = False  # a 500 is a finding to list, not an exception to stop at
    return World(
        client=client,
        anonymous=anonymous,
        path_values={
            "pool_id": str(pool.pk),
            "address": ADDRESS,
            "webhook_id": str(webhook.pk),
            "delivery_id": str(delivery.pk),
        },
        bodies={
            ("POST", reverse("api-agent-pools")): proposal,
            ("POST", reverse("api-agent-webhooks")): {"url": "https://example.com/other", "events": ["pool.launched"]},
        },
    )


# --- the sweep ----------------------------------------------------------------------------------------------------


def test_the_sweep_covers_every_operation_the_schema_documents():
    documented = {(method.upper(), path) for path, item in SCHEMA["paths"].items() for method in item}

    assert documented == set(OPERATIONS)


def test_the_valid_bodies_are_accepted(world):
    """The field sweep starts from these: they must get past validation, or the sweep tests nothing deeper."""
    for (method, path), body in world.bodies.items():
        response = world.client.generic(method, path, json.dumps(body), content_type=JSON)
        assert response.status_code == 201, response.content


def _operation_id(operation: tuple[str, str]) -> str:
    return f"{operation[0]} {operation[1]}"


@pytest.mark.parametrize("operation", OPERATIONS, ids=_operation_id)
def test_bad_input_is_never_a_server_error(world, operation):
    method, template = operation
    schema_operation = _schema_operation(method, template)
    world.idempotency_key_required = _requires_idempotency_key(schema_operation)
    valid_body = json.dumps(world.bodies.get(operation, {})).encode()

    for name, converter in _path_converters(template):
        for label, raw in PATH_VALUES[converter]:
            world.send(method, world.path(template, **{name: raw}), f"path {name}={label}", body=valid_body)

    path = world.path(template)
    world.send(method, path, "as documented", body=valid_body)
    allowed = {other for other, other_template in OPERATIONS if other_template == template}
    for other in sorted({"GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"} - allowed):
        world.send(other, path, "another method", body=valid_body)
    query_names = [p["name"] for p in schema_operation.get("parameters", []) if p["in"] == "query"]
    for name in query_names:
        for label, raw in QUERY_VALUES:
            world.send(method, f"{path}?{name}={raw}", f"query {name}={label}")

    for label, authorization in AUTHORIZATIONS:
        headers = {"HTTP_AUTHORIZATION": authorization} if authorization is not None else {}
        world.send(method, path, f"authorization: {label}", body=valid_body, client=world.anonymous, **headers)

    if method != "GET":
        for label, key in IDEMPOTENCY_KEYS:
            world.send(method, path, f"Idempotency-Key: {label}", body=valid_body, HTTP_IDEMPOTENCY_KEY=key)
        for label, body, content_type in RAW_BODIES:
            world.send(method, path, f"body: {label}", body=body, content_type=content_type)
        fields = _body_fields(schema_operation)
        base = world.bodies.get(operation, {})
        for label, text in PARSER_REFUSED_VALUES if fields else []:
            body = json.dumps({**base, **dict.fromkeys(fields, "__BAD__")}).replace('"__BAD__"', text).encode()
            world.send(method, path, f"every field={label}", body=body)
        for name, field_schema in fields.items():
            without = {key: value for key, value in base.items() if key != name}
            world.send(method, path, f"field {name} left out", body=json.dumps(without).encode())
            for label, text in FIELD_VALUES + FIELD_VALUES_OF_KIND.get(_field_kind(field_schema), []):
                body = json.dumps({**base, name: "__BAD__"}).replace('"__BAD__"', text).encode()
                world.send(method, path, f"field {name}={label}", body=body)

    assert not world.failures, "\n".join(world.failures)


# --- each 500 the sweep found, fixed ------------------------------------------------------------------------------


def _post_json(client, url: str, body: bytes, **headers):
    return client.post(url, body, content_type=JSON, **headers)


@pytest.mark.parametrize("body", [b"[" * 100_000, b"[" * 1_000 + b"]" * 1_000, b'{"name": ' * 20_000])
def test_deeply_nested_json_is_a_400_too_deep_not_a_recursion_error(alice_client, alice_bounds, body):
    error = assert_error(_post_json(alice_client, reverse("api-agent-pools"), body), 400, "too_deep")

    assert "32 levels" in error["message"]


def test_a_5_mb_body_is_a_413_too_large(alice_client, alice_bounds, settings):
    body = b'{"name": "' + b"x" * HUGE + b'"}'

    error = assert_error(_post_json(alice_client, reverse("api-agent-pools"), body), 413, "too_large")

    assert f"{settings.API_MAX_PROPOSAL_BODY_BYTES} bytes" in error["message"]


@pytest.mark.parametrize(
    ("url_name", "limit_setting"),
    [("api-agent-pools", "API_MAX_PROPOSAL_BODY_BYTES"), ("api-agent-webhooks", "API_MAX_BODY_BYTES")],
    ids=["a proposal, which may carry an image", "any other body"],
)
def test_a_body_one_byte_over_the_limit_is_a_413_and_one_at_the_limit_is_read(
    alice_client, alice_bounds, settings, url_name, limit_setting
):
    url = reverse(url_name)
    limit = getattr(settings, limit_setting)
    at_limit = b'{"name": "' + b"x" * (limit - 12) + b'"}'
    assert len(at_limit) == limit

    assert_error(_post_json(alice_client, url, at_limit + b" "), 413, "too_large")
    assert_error(_post_json(alice_client, url, at_limit), 400, "invalid")  # a name far too long, or no url


def test_a_lone_surrogate_as_a_proposal_key_is_a_400_not_an_unrenderable_error(alice_client, alice_bounds):
    # It used to come back as the key of the "Not a field a proposal can set" message, which cannot be encoded.
    response = _post_json(alice_client, reverse("api-agent-pools"), b'{"\\udc00": 1}')

    assert_error(response, 400, "parse_error")


def test_a_lone_surrogate_among_webhook_events_is_a_400_not_an_unrenderable_error(alice_client):
    # It used to be quoted back in "is not a valid choice", which cannot be encoded.
    body = b'{"url": "https://example.com/hook", "events": ["\\ud800"]}'

    assert_error(_post_json(alice_client, reverse("api-agent-webhooks"), body), 400, "parse_error")


@pytest.mark.parametrize("text", ["\\u0000", "\\ud800", "\\udfff"])
def test_nul_and_lone_surrogates_in_a_proposal_are_refused_before_the_database(alice_client, alice_bounds, text):
    body = b'{"name": "a' + text.encode() + b'b"}'

    assert_error(_post_json(alice_client, reverse("api-agent-pools"), body), 400, "parse_error")


@pytest.mark.parametrize("literal", [b"NaN", b"Infinity", b"-Infinity", b"1e400"])
def test_nan_infinity_and_overflowing_numbers_are_parse_errors(alice_client, alice_bounds, literal):
    body = b'{"fee_bps": ' + literal + b"}"

    assert_error(_post_json(alice_client, reverse("api-agent-pools"), body), 400, "parse_error")


def test_an_api_key_with_a_nul_in_its_prefix_is_a_401_not_a_database_error(alice):
    # The prefix went to PostgreSQL as it came, and PostgreSQL refuses a NUL in text.
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION="Bearer lp_" + "\x00" * 12 + "_" + "s" * 43)

    assert_error(client.get(reverse("api-agent-pools")), 401, "invalid_api_key")


# --- whatever else goes wrong in a view ---------------------------------------------------------------------------


class ExplodingStandIn:
    """A test double for a selector or service with a bug: raises an error nobody handles, with a secret in it."""

    secret = "db-password=hunter2"

    def __call__(self, **kwargs):
        raise RuntimeError(f"unexpected state ({self.secret})")


@pytest.mark.parametrize(
    ("method", "url_name", "of_a_pool", "target"),
    [
        ("get", "api-pool-list", False, "agent_api.views.public.pool_list_public"),  # public, a selector
        (
            "post",
            "api-agent-pool-launch-dry-run",
            True,
            "pools.services.launch.launch_dry_run",
        ),  # an agent's, a service
    ],
)
def test_an_unhandled_error_in_an_api_view_is_a_500_in_the_error_shape_with_a_request_id_and_no_trace(
    alice, alice_client, monkeypatch, caplog, method, url_name, of_a_pool, target
):
    monkeypatch.setattr(target, ExplodingStandIn())
    url = reverse(url_name, args=[PoolFactory(agent=alice.agent).pk] if of_a_pool else [])

    response = getattr(alice_client, method)(url)

    error = assert_error(response, 500, "server_error")
    request_id = response["X-Request-ID"]
    assert error["details"] == {"request_id": request_id}
    assert request_id in error["message"]
    for leak in ("Traceback", "RuntimeError", "unexpected state", ExplodingStandIn.secret, ".py"):
        assert leak not in response.content.decode()
    logged = [record for record in caplog.records if record.exc_info and record.exc_info[0] is RuntimeError]
    assert logged, "the trace goes to the log"


def test_a_500_quotes_the_caller_s_own_request_id(alice_client, monkeypatch):
    monkeypatch.setattr("agent_api.views.public.pool_list_public", ExplodingStandIn())

    response = alice_client.get(reverse("api-pool-list"), HTTP_X_REQUEST_ID="client-trace-0001")

    assert assert_error(response, 500, "server_error")["details"] == {"request_id": "client-trace-0001"}
    assert response["X-Request-ID"] == "client-trace-0001"


@pytest.mark.parametrize(
    ("error", "status", "code"),
    [
        (SuspiciousOperation("a forged header"), 400, "bad_request"),
        (BadRequest("bad"), 400, "bad_request"),
        (PermissionDenied(), 403, "permission_denied"),
    ],
)
def test_what_django_answers_with_a_4xx_keeps_its_status_in_the_error_shape(
    alice_client, monkeypatch, error, status, code
):
    def raising(**kwargs):  # a test double: a selector meeting what Django itself treats as the client's fault
        raise error

    monkeypatch.setattr("agent_api.views.public.pool_list_public", raising)

    response = alice_client.get(reverse("api-pool-list"))

    assert_error(response, status, code)
    assert response["X-Request-ID"]
