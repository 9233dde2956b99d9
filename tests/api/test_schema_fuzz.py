"""schemathesis over the whole of /api/schema/, in-process (WSGI), with a real API key: every phase (examples,
coverage, fuzzing, then stateful sequences along the links schemathesis infers) and every check it has, in positive
and negative mode. No answer may be a server error, disagree with the schema (status, content type, headers, body,
error code), accept what the schema forbids or refuse what it allows.

Each generated case is sent as generated (mostly ids that do not exist), and again with its ids replaced by real
ones (the agent's pools in every status, its webhook endpoint, a delivery, a depositor), so the success paths are
fuzzed too. The launch and refund jobs are stand-ins (named as such below): their own tests drive the real ones.

Webhook URLs never leave the machine: every `url` a case sends is replaced, before the call, by the test's own
loopback receiver, and the teardown checks that every endpoint the run created points there.

    API_FUZZ_EXAMPLES=300 scripts/devstack.py test tests/api/test_schema_fuzz.py -s   # a deeper run, with counts
"""

from __future__ import annotations

import base64
import http.server
import io
import os
import re
import uuid
import zlib
from collections import Counter

import PIL.Image
import pytest
import schemathesis
from django.core.cache import cache
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from eth_utils import to_checksum_address
from hypothesis import HealthCheck, settings
from hypothesis.stateful import run_state_machine_as_test
from schemathesis.checks import CHECKS, load_all_checks
from schemathesis.specs.openapi.checks import positive_data_acceptance

from agent_api.models import AgentBounds, AllowedRaiseAsset, WebhookDelivery, WebhookEndpoint
from launchpad.wsgi import application
from pools.models import Allocation, Launch, Pool, Refund
from pools.services.launch import PoolCannotLaunch
from pools.services.refunds import PoolCannotRefund
from tests.api.conftest import ETH, make_agent_with_key
from tests.factories import PoolFactory
from tests.loopback import serving

MAX_EXAMPLES = int(os.environ.get("API_FUZZ_EXAMPLES", "10"))  # per operation and phase; e.g. 300 for a deeper run
STATEFUL_EXAMPLES = int(os.environ.get("API_FUZZ_STATEFUL_EXAMPLES", str(max(5, MAX_EXAMPLES))))
PHASES = ["examples", "coverage", "fuzzing", "stateful"]

# Loaded at collection (pytest-django has set Django up by then; the schema view needs no database).
schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
schema.config.phases.update(phases=PHASES)
# The key is the fixture's (FixtureKey below): generated Authorization values would only replace it.
schema.config.generation.update(with_security_parameters=False)
# Strings as JSON can carry them to this server: no NUL and no lone surrogate, which the parser refuses (400
# parse_error, docs/api.md) for every string, a rule no JSON Schema states.
schema.config.generation.update(codec="utf-8", allow_x00=False)

load_all_checks()
ALL_CHECKS = CHECKS.get_all()

# Bodies the server also judges by rules no JSON Schema states (times in the future, the shares adding up to 10,000
# bps, the agent's bounds): a schema-valid proposal may be refused, with 400 `invalid_pool_proposal` and the reasons
# per field. Any other refusal of a schema-valid request is still a failure.
RULE_JUDGED_OPERATIONS = {"agent_pools_create", "agent_pools_partial_update", "agent_pools_quote_proposal"}


def positive_data_acceptance_but_proposal_rules(ctx, response, case):
    if response.status_code == 400 and response.json().get("error", {}).get("code") == "invalid_pool_proposal":
        return None
    return positive_data_acceptance(ctx, response, case)


def checks_for(case) -> list:
    if schema.get_operation_id(case.operation) not in RULE_JUDGED_OPERATIONS:
        return ALL_CHECKS
    return [
        positive_data_acceptance_but_proposal_rules if check is positive_data_acceptance else check
        for check in ALL_CHECKS
    ]


# What the run did, printed by the module's last test.
COUNTS: Counter = Counter()
# The receiver's URL while a fuzzing test runs (the before_call hook below acts only then).
RUNNING: dict[str, str] = {}

_ADDRESS = re.compile(r"^0x[0-9a-fA-F]{40}$")
_IDEMPOTENCY_KEY = re.compile(r"^[!-~]([ -~]*[!-~])?$")


def _tiny_png_data_url() -> str:
    image, encoded = PIL.Image.new("RGB", (1, 1), (255, 0, 0)), io.BytesIO()
    image.save(encoded, format="PNG")
    return "data:image/png;base64," + base64.b64encode(encoded.getvalue()).decode()


TINY_PNG = _tiny_png_data_url()


@schema.auth(refresh_interval=None)
class FixtureKey:
    """The fuzzed agent's API key, as schemathesis' auth: its ignored_auth check then knows it for a real key, and
    probes each operation without it and with a spoiled one."""

    def get(self, case, context):
        return RUNNING.get("key", "")

    def set(self, case, data, context):
        if data:
            case.headers = case.headers or {}
            case.headers["Authorization"] = f"Bearer {data}"


@schemathesis.hook
def before_call(context, case, kwargs):
    """What the schema cannot say, made true of the values it allows (schemathesis re-judges each case afterwards,
    so a case it generated as invalid stays judged by what is really sent):

    - a webhook URL is the loopback receiver, never a generated host;
    - an image data URL holds a real image (the schema's pattern only says `data:image/png;base64,`);
    - an address is in lower case (a mixed-case one must carry an EIP-55 checksum, which no pattern states);
    - each Idempotency-Key is new: a key replayed with another request is a 422 by design, not a finding.
    """
    if not RUNNING:
        return
    if isinstance(case.body, dict):
        if isinstance(case.body.get("url"), str) and "://" in case.body["url"]:
            case.body["url"] = RUNNING["receiver_url"]
        if isinstance(case.body.get("image"), str) and case.body["image"].startswith("data:image/"):
            case.body["image"] = TINY_PNG
        for name, value in case.body.items():
            if isinstance(value, str) and _ADDRESS.match(value):
                case.body[name] = value.lower()
    for parameters in (case.path_parameters, case.query):
        for name, value in (parameters or {}).items():
            if isinstance(value, str) and _ADDRESS.match(value):
                parameters[name] = value.lower()
    key = (case.headers or {}).get("Idempotency-Key")
    if isinstance(key, str) and _IDEMPOTENCY_KEY.match(key) and len(key) <= 255:
        case.headers["Idempotency-Key"] = uuid.uuid4().hex


class Receiver(http.server.BaseHTTPRequestHandler):
    """The webhook receiver: records each delivery; a delivery anywhere else would be a test failure."""

    received: list[str] = []

    def do_POST(self):  # noqa: N802 - http.server's naming
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        Receiver.received.append(self.headers.get("X-Launchpad-Event", ""))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture(scope="module")
def receiver_url():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    with serving(server):
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks"


@pytest.fixture
def keep_test_connection():
    """A raw WSGI call ends with Django closing "old" connections, the test's own among them; Django's test client
    avoids that the same way: by not listening to the request signals for the test's duration."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def fuzz_settings(settings):
    """Fuzzing sends thousands of requests a minute: rates it does not meet, an event stream that ends at once, and
    webhook URLs on loopback allowed (the receiver)."""
    rates = {"anon": "1000000/minute", "agent": "1000000/minute", "agent_trigger": "1000000/minute"}
    settings.REST_FRAMEWORK = {**settings.REST_FRAMEWORK, "DEFAULT_THROTTLE_RATES": rates}
    settings.AGENT_EVENTS_STREAM_SECONDS = 0.05
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    cache.clear()


@pytest.fixture
def fuzzed_world(db, keep_test_connection, fuzz_settings, receiver_url, monkeypatch):
    """An agent with a key and bounds, its pools in every status (the refunding one waiting), a refund owed and one set
    aside, a webhook endpoint with a delivery, and stand-ins for the launch and refund jobs."""
    agent = make_agent_with_key(name="fuzzer")
    bounds = AgentBounds.objects.create(agent=agent.agent, max_pools_in_draft=1000)
    AllowedRaiseAsset.objects.create(bounds=bounds, address="", symbol="ETH", decimals=18, max_hard_cap=10**30)
    pools = [PoolFactory(agent=agent.agent, status=status) for status in Pool.Status.values]
    launched = next(pool for pool in pools if pool.status == Pool.Status.LAUNCHED)
    Launch.objects.create(pool=launched, step=Launch.Step.LAUNCHED, token_address="0x" + "aa" * 20)
    address = to_checksum_address("0x" + "ab" * 20)
    Allocation.objects.create(pool=launched, address=address, contribution=ETH, token_amount=10**21, proof=[])
    Refund.objects.create(pool=launched, recipient=address, amount=1)
    Refund.objects.create(
        pool=launched, recipient=address, amount=2, status=Refund.Status.SET_ASIDE, set_aside_at=timezone.now(),
        set_aside_by="admin", set_aside_note="Paid by hand.",
    )  # fmt: skip
    Pool.objects.filter(status=Pool.Status.REFUNDING, agent=agent.agent).update(
        waiting_code="fees_above_cap", waiting_reason="Network fees are above the cap.", waiting_since=timezone.now()
    )
    endpoint = WebhookEndpoint.objects.create(
        agent=agent.agent, url=receiver_url, events=["pool.closed"], secret="whsec_" + "5e" * 32
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event="pool.closed", payload={"pool_id": pools[0].pk}, status=WebhookDelivery.Status.FAILED
    )

    def launch_request(*, pool_id, requested_by):  # stand-in for the launch job
        pool = Pool.objects.get(pk=pool_id)
        if pool.status != Pool.Status.CLOSED:
            raise PoolCannotLaunch("Only a closed pool launches.")
        return Launch.objects.get_or_create(pool=pool)[0]

    def launch_dry_run(*, pool_id):  # stand-in for the launch job's simulation
        return {"would_succeed": True, "error": "", "token_address": "0x" + "aa" * 20, "raise_amount": "1",
                "liquidity_funds": "1", "fee": "0", "treasury": "0", "liquidity_tokens": "1", "burned_tokens": "0",
                "depositor_tokens": "1", "agent_tokens": "1", "price_in_asset": None, "price_usd_e8": None,
                "oracle_answer": "-1", "merkle_root": "0x", "gas": 1, "simulated_in_ms": 1}  # fmt: skip

    def refund_request(*, pool_id, requested_by):  # stand-in for the refund job
        if Pool.objects.get(pk=pool_id).status not in (Pool.Status.REFUNDING, Pool.Status.LAUNCHED):
            raise PoolCannotRefund("Nothing to refund.")
        return list(Refund.objects.filter(pool_id=pool_id))

    monkeypatch.setattr("pools.services.launch.launch_request", launch_request)
    monkeypatch.setattr("pools.services.launch.launch_dry_run", launch_dry_run)
    monkeypatch.setattr("pools.services.refunds.refund_request", refund_request)
    real_ids = {
        "pool_id": [pool.pk for pool in pools],
        "webhook_id": [endpoint.pk],
        "delivery_id": [delivery.pk],
        "address": [address],
    }
    RUNNING.update(receiver_url=receiver_url, key=agent.key)
    yield {"real_ids": real_ids}
    RUNNING.clear()
    urls = set(WebhookEndpoint.objects.values_list("url", flat=True))
    assert urls <= {receiver_url}, f"a webhook URL that is not the test's receiver: {urls - {receiver_url}}"


def with_real_ids(case, real_ids: dict) -> bool:
    """Replace the case's path ids by real ones (chosen by the generated values, so shrinking stays stable)."""
    path_parameters = case.path_parameters or {}
    known = [name for name in path_parameters if name in real_ids]
    if not known:
        return False
    seed = zlib.crc32(repr(sorted(path_parameters.items(), key=str)).encode())
    for name in known:
        case.path_parameters[name] = real_ids[name][seed % len(real_ids[name])]
    return True


def count(case, response) -> None:
    phase = case.meta.phase.name.value if case.meta else "stateful"
    mode = case.meta.generation.mode.value if case.meta else "?"
    COUNTS[f"cases {phase}/{mode}"] += 1
    COUNTS[f"status {response.status_code // 100}xx"] += 1
    COUNTS["checks run"] += len(ALL_CHECKS)
    COUNTS[f"operation {case.operation.label}"] += 1


@schema.parametrize()
@settings(
    max_examples=MAX_EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
)
def test_every_operation_in_every_phase_passes_every_check(case, fuzzed_world):
    response = case.call_and_validate(checks=checks_for(case))
    count(case, response)
    if with_real_ids(case, fuzzed_world["real_ids"]):
        response = case.call_and_validate(checks=checks_for(case))
        count(case, response)


def test_stateful_sequences_pass_every_check(fuzzed_world):
    """Sequences along the links schemathesis infers from the schema (a created pool's id into its reads, its
    quote, its launch; a created webhook's id into its test, deliveries and delete)."""
    state_machine = schema.as_state_machine()

    class Sequences(state_machine):
        def validate_response(self, response, case, additional_checks=None, **kwargs):
            count(case, response)
            COUNTS["stateful steps"] += 1
            case.validate_response(
                response, checks=checks_for(case), transport_kwargs=kwargs or None, recorder=self.recorder
            )

    run_state_machine_as_test(
        Sequences,
        settings=settings(
            max_examples=STATEFUL_EXAMPLES,
            stateful_step_count=6,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    assert COUNTS["stateful steps"] > 0


def test_the_schema_documents_every_operation_and_the_run_covered_them(capsys):
    """Runs last in this module: every operation was exercised, and the counts are printed for the record."""
    operations = {op.ok().label for op in schema.get_all_operations()}
    covered = {key.removeprefix("operation ") for key in COUNTS if key.startswith("operation ")}
    schema.as_state_machine()  # infers the links between operations, which the statistic then counts
    summary = [
        f"schemathesis: {len(operations)} operations, {schema.statistic.transitions.total} inferred links, "
        f"phases {', '.join(PHASES)}, {len(ALL_CHECKS)} checks: {', '.join(check.__name__ for check in ALL_CHECKS)}"
    ]
    summary += [f"  {key}: {value}" for key, value in sorted(COUNTS.items()) if not key.startswith("operation ")]
    summary.append("  failures: 0 (any failure fails its test above)")
    with capsys.disabled():
        print("\n" + "\n".join(summary))
    if COUNTS:  # when run on its own, nothing was counted
        assert operations <= covered, f"never exercised: {sorted(operations - covered)}"
    assert ("POST", "/api/v1/agent/pools/{pool_id}/launch/") in {
        (op.ok().method.upper(), op.ok().path) for op in schema.get_all_operations()
    }
