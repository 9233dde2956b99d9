"""Sign-In with Ethereum (EIP-4361), signed the way a dapp on the reference libraries signs: the npm `siwe` package
writes the message and ethers signs it (tests/web/siwe_sign.mjs, run with node). Each field wrong in turn is refused
with its own code; the right message works once; a nonce belongs to the browser session that asked for it."""

from __future__ import annotations

import json
import shutil
import subprocess
import threading
from datetime import UTC, timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from eth_account import Account

from web.siwe import SIWE_NONCE_TTL, SiweError, siwe_login_verify, siwe_message_prepare

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
SIGN_SCRIPT = Path(__file__).with_name("siwe_sign.mjs")
KEY = "0x" + "42" * 32
OTHER_KEY = "0x" + "43" * 32
WALLET = Account.from_key(KEY)
OTHER = Account.from_key(OTHER_KEY)
MINUTE = timedelta(minutes=1)


@pytest.fixture(autouse=True)
def _fresh_redis():
    """Nonces and rate-limit buckets live in the (real) Redis: each test starts from none."""
    cache.clear()
    yield
    cache.clear()


def js_sign(requests: list[dict]) -> list[dict]:
    """Messages written by npm `siwe` and signed by ethers, one per request (see siwe_sign.mjs for the fields)."""
    node = shutil.which("node")
    if node is None or not (ROOT / "node_modules" / "siwe").is_dir():
        pytest.fail("node and node_modules/siwe are needed: `make bootstrap` installs them (npm, package.json)")
    done = subprocess.run(  # noqa: S603 - our own script, JSON on stdin
        [node, str(SIGN_SCRIPT)], input=json.dumps(requests), capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


def sign(message: str | None = None, *, key: str = KEY, **changes) -> dict:
    return js_sign([{"privateKey": key, "message": message, **changes}])[0]


def iso(delta: timedelta) -> str:
    return (timezone.now() + delta).astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def ask(client, address: str = WALLET.address) -> str:
    response = client.post(reverse("siwe-message"), {"address": address})
    assert response.status_code == 200, response.content
    return response.json()["message"]


def verify(client, signed: dict):
    return client.post(reverse("siwe-verify"), {"message": signed["message"], "signature": signed["signature"]})


def refused(response, code: str, status: int = 400) -> str:
    body = response.json()
    assert response.status_code == status, body
    assert body["code"] == code, body
    assert body["error"]
    return body["error"]


def test_the_servers_message_signed_by_the_wallet_signs_the_session_in_once_and_a_replay_is_refused(client):
    message = ask(client, WALLET.address.lower())
    signed = sign(message)

    first = verify(client, signed)
    replay = verify(client, signed)

    assert first.status_code == 200, first.content
    assert first.json()["address"] == WALLET.address
    assert message.startswith("testserver wants you to sign in with your Ethereum account:\n" + WALLET.address)
    assert "\nURI: http://testserver/\n" in message
    assert f"\nChain ID: {settings.CHAIN_ID}\n" in message
    assert "already used" in refused(replay, "nonce_used")
    page = client.get(reverse("account")).content.decode()
    assert f'Signed in as <code class="hex">{WALLET.address}</code>' in page


def _message_variants():
    """(id, what the dapp changes in the server's message, the code it is refused with)."""
    return [
        ("scheme", lambda: {"set": {"scheme": "https"}}, "wrong_scheme"),
        ("domain", lambda: {"set": {"domain": "evil.example"}}, "wrong_domain"),
        ("uri-other-site", lambda: {"set": {"uri": "https://evil.example/"}}, "wrong_uri"),
        ("uri-other-port", lambda: {"set": {"uri": "http://testserver:8080/account/"}}, "wrong_uri"),
        ("uri-other-scheme", lambda: {"set": {"uri": "https://testserver/"}}, "wrong_uri"),
        ("chain-id", lambda: {"set": {"chainId": 1}}, "wrong_chain"),
        ("version", lambda: {"replace": [["\nVersion: 1\n", "\nVersion: 2\n"]]}, "unsupported_version"),
        ("issued-in-the-future", lambda: {"set": {"issuedAt": iso(timedelta(minutes=5))}}, "issued_in_future"),
        (
            "issued-long-ago",
            lambda: {"set": {"issuedAt": iso(-SIWE_NONCE_TTL - timedelta(minutes=1))}},
            "message_too_old",
        ),
        ("expired", lambda: {"set": {"expirationTime": iso(timedelta(seconds=-1))}}, "expired"),
        ("not-before", lambda: {"set": {"notBefore": iso(timedelta(hours=1))}}, "not_yet_valid"),
        ("nonce-never-issued", lambda: {"set": {"nonce": "f" * 32}}, "nonce_unknown"),
        ("address", lambda: {"privateKey": OTHER_KEY, "set": {"address": OTHER.address}}, "wrong_address"),
        ("signature", lambda: {"privateKey": OTHER_KEY}, "bad_signature"),
    ]


@pytest.mark.parametrize(("change", "code"), [pytest.param(c, code, id=i) for i, c, code in _message_variants()])
def test_each_field_wrong_in_turn_is_refused_with_its_own_code_and_the_nonce_survives(client, change, code):
    message = ask(client)
    as_asked = {"privateKey": KEY, "message": message}
    wrong, right = js_sign([{**as_asked, **change()}, as_asked])

    response = verify(client, wrong)

    refused(response, code)
    assert verify(client, right).status_code == 200  # a refused attempt does not use the nonce up


def test_every_refusal_has_a_code_of_its_own():
    codes = [code for name, _, code in _message_variants() if not name.startswith("uri-other-")]

    assert len(codes) == len(set(codes))


def test_the_statement_is_optional(client):
    signed = sign(ask(client), drop=["statement"])

    assert verify(client, signed).status_code == 200


def test_a_nonce_asked_for_in_one_session_cannot_be_used_in_another(client):
    other_browser = Client()
    signed = sign(ask(client))

    stolen = verify(other_browser, signed)

    assert "another browser session" in refused(stolen, "nonce_other_session")
    assert verify(client, signed).status_code == 200  # the attempt did not use it up for its owner


def test_two_verifies_at_once_with_one_message_let_exactly_one_through():
    site = {"domain": "testserver", "origin": "http://testserver"}
    challenge = siwe_message_prepare(address=WALLET.address, binding="", **site)
    signed = sign(challenge.message)
    attempts = 8
    start = threading.Barrier(attempts)
    outcomes: list[str] = []

    def attempt():
        start.wait()
        try:
            outcomes.append(
                siwe_login_verify(
                    message=signed["message"], signature=signed["signature"], binding=challenge.binding, **site
                )
            )
        except SiweError as exc:
            outcomes.append(exc.code)

    threads = [threading.Thread(target=attempt) for _ in range(attempts)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)

    assert sorted(outcomes) == sorted([WALLET.address] + ["nonce_used"] * (attempts - 1))


def test_asking_for_a_message_writes_no_database_row_and_its_nonce_expires_from_redis(
    client, django_assert_num_queries
):
    with django_assert_num_queries(0):
        message = ask(client)

    nonce = message.split("\nNonce: ", 1)[1].split("\n", 1)[0]
    ttl = redis.Redis.from_url(settings.REDIS_URL).ttl(cache.make_key(f"siwe:nonce:{nonce}"))
    assert 0 < ttl <= SIWE_NONCE_TTL.total_seconds()
    cookie = client.cookies["siwe_challenge"]
    assert cookie["httponly"] and cookie["path"] == "/account/siwe/" and cookie["samesite"] == "Strict"


def test_over_https_the_binding_is_a_host_only_cookie_a_sibling_subdomain_cannot_plant(client, settings):
    settings.SESSION_COOKIE_SECURE = True

    ask(client)

    cookie = client.cookies["__Host-siwe_challenge"]
    assert cookie["secure"] and cookie["path"] == "/" and not cookie["domain"] and cookie["httponly"]
    assert "siwe_challenge" not in client.cookies


def test_sign_in_requests_are_rate_limited_per_client_address_with_retry_after(client, settings):
    settings.SIWE_RATE = "3/minute"
    message = ask(client)
    verify(client, sign(message, key=OTHER_KEY))  # refused, but counted like any attempt
    ask(client)

    limited = client.post(reverse("siwe-message"), {"address": WALLET.address})

    assert "Too many sign-in requests" in refused(limited, "rate_limited", status=429)
    assert int(limited["Retry-After"]) > 0
    assert limited["RateLimit-Remaining"] == "0"
    assert client.post(reverse("siwe-verify"), {"message": message, "signature": "0x"}).status_code == 429
    assert client.post(reverse("siwe-message"), {"address": WALLET.address}, REMOTE_ADDR="10.9.8.7").status_code == 200


def test_garbage_and_a_non_address_are_refused_politely(client):
    refused(client.post(reverse("siwe-verify"), {"message": "hello", "signature": "0x00"}), "malformed_message")
    long_one = ask(client) + "\nResources:" + "\n- https://example.com/" * 5000
    refused(client.post(reverse("siwe-verify"), {"message": long_one, "signature": "0x00"}), "malformed_message")
    refused(client.post(reverse("siwe-message"), {"address": "0x1234"}), "invalid_address")


def test_without_redis_sign_in_says_it_is_unavailable(client, monkeypatch):
    def down(*args, **kwargs):
        raise redis.ConnectionError("connection refused")

    monkeypatch.setattr(cache, "set", down)

    refused(client.post(reverse("siwe-message"), {"address": WALLET.address}), "unavailable", status=503)


def test_signing_in_needs_the_csrf_token():
    strict = Client(enforce_csrf_checks=True)

    assert strict.post(reverse("siwe-message"), {"address": WALLET.address}).status_code == 403


def test_signing_out_forgets_the_address(client):
    assert verify(client, sign(ask(client))).status_code == 200

    client.post(reverse("sign-out"))

    assert "Signed in as" not in client.get(reverse("account")).content.decode()
