"""Webhook delivery cannot be steered to internal addresses: the host is resolved once, every address is checked, and
the connection goes to the checked address (pools/outbound.py), so a DNS name that rebinds to 127.0.0.1 after the
check reaches nothing; TLS still checks the certificate against the name."""

from __future__ import annotations

import errno
import ipaddress
import socket
import ssl
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import requests
import requests.adapters
import urllib3.util.connection
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from agent_api.models import WebhookDelivery
from agent_api.services.webhooks import MAX_ATTEMPTS, webhook_deliver, webhook_emit, webhook_endpoint_create
from pools import outbound
from tests.loopback import serving

pytestmark = pytest.mark.django_db

PUBLIC_ADDRESS = "93.184.215.14"  # public, and never reached: `connections` below keeps tests off the internet
HOOK_NAME = "hooks.agent.test"


# --- test doubles and servers -----------------------------------------------------------------------------------


class RebindingResolver:
    """Stands in for a rebinding DNS server (none can run here): patched over socket.getaddrinfo for one test, it
    answers `name` with the first answer at the first lookup, the next at the next, and the last one from then on.
    Every other name, and every IP literal, goes to the real resolver."""

    def __init__(self, name: str, *answers: list[str]):
        self.name = name
        self.answers = answers
        self.lookups = 0
        self.real = socket.getaddrinfo

    def __call__(self, host, port, family=0, type=0, proto=0, flags=0):
        if host != self.name:
            return self.real(host, port, family, type, proto, flags)
        answer = self.answers[min(self.lookups, len(self.answers) - 1)]
        self.lookups += 1
        port = int(port or 0)
        return [
            (socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port, 0, 0))
            if ":" in address
            else (socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP, "", (address, port))
            for address in answer
        ]


@pytest.fixture
def resolver(monkeypatch):
    """Install a RebindingResolver for this test: resolver(name, first_answer, later_answer, ...)."""

    def install(name: str, *answers: list[str]) -> RebindingResolver:
        stand_in = RebindingResolver(name, *answers)
        monkeypatch.setattr(socket, "getaddrinfo", stand_in)
        return stand_in

    return install


@pytest.fixture
def connections(monkeypatch) -> list[tuple[str, int]]:
    """Every TCP connection urllib3 opens, as (host, port). Stands in for the internet, which tests do not reach: a
    connection to a non-loopback IP fails at once. Loopback connections, and names, go to the real connect."""
    real_connect = urllib3.util.connection.create_connection
    opened: list[tuple[str, int]] = []

    def connect(address, *args, **kwargs):
        opened.append((address[0], address[1]))
        try:
            internet = not ipaddress.ip_address(address[0]).is_loopback
        except ValueError:
            internet = False  # a name: resolved inside the real connect, by whichever resolver is in place
        if internet:
            raise OSError(errno.ENETUNREACH, "tests do not reach the internet")
        return real_connect(address, *args, **kwargs)

    monkeypatch.setattr(urllib3.util.connection, "create_connection", connect)
    return opened


class _Handler(BaseHTTPRequestHandler):
    server: LoopbackReceiver

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.server.requests.append({"host": self.headers["Host"], "path": self.path, "body": body})
        self.send_response(self.server.status)
        for header, value in self.server.extra_headers.items():
            self.send_header(header, value)
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


class LoopbackReceiver(ThreadingHTTPServer):
    """A real HTTP (or, with `tls`, HTTPS) server on 127.0.0.1 that records every TCP connection it accepts, before
    any TLS handshake, so "nothing reached loopback" means no connection at all, not just no well-formed request."""

    def __init__(self, *, tls: ssl.SSLContext | None = None, status: int = 200, extra_headers: dict | None = None):
        self.tls = tls
        self.status = status
        self.extra_headers = extra_headers or {}
        self.connections: list[tuple[str, int]] = []
        self.requests: list[dict] = []
        self.server_names: list[str | None] = []
        if tls is not None:
            tls.sni_callback = lambda _socket, name, _context: self.server_names.append(name)
        super().__init__(("127.0.0.1", 0), _Handler)
        self.port = self.server_address[1]

    def get_request(self):
        sock, peer = super().get_request()
        self.connections.append(peer)
        if self.tls is None:
            return sock, peer
        sock.settimeout(5)
        try:
            return self.tls.wrap_socket(sock, server_side=True), peer
        except OSError:
            sock.close()
            raise  # socketserver drops the connection: the client saw a failed handshake


def _certificate(*, subject: str, issuer: x509.Name, public_key, signing_key, ca: bool) -> x509.Certificate:
    now = datetime.now(UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(signing_key.public_key()), critical=False)
    )
    if not ca:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(subject)]), critical=False)
        builder = builder.add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    return builder.sign(signing_key, hashes.SHA256())


@pytest.fixture
def test_ca(tmp_path, monkeypatch):
    """A CA of this test's own, trusted by requests in place of the public CAs; issue(name) gives a server context
    whose certificate names only `name` (no IP address), so a verified handshake proves the name was checked."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "launchpad tests CA")])
    ca_cert = _certificate(
        subject="launchpad tests CA", issuer=ca_name, public_key=ca_key.public_key(), signing_key=ca_key, ca=True
    )
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    monkeypatch.setattr(requests.adapters, "DEFAULT_CA_BUNDLE_PATH", str(ca_file))

    def issue(name: str) -> ssl.SSLContext:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(subject=name, issuer=ca_name, public_key=key.public_key(), signing_key=ca_key, ca=False)
        cert_file, key_file = Path(tmp_path / f"{name}.pem"), Path(tmp_path / f"{name}.key")
        cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_file.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
            )
        )
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert_file, key_file)
        return context

    return issue


def deliver_once(agent, url: str) -> WebhookDelivery:
    webhook_endpoint_create(agent=agent, url=url, events=["pool.closed"])
    webhook_emit(agent_id=agent.pk, event="pool.closed", payload={"pool_id": 1})
    return webhook_deliver(delivery_id=WebhookDelivery.objects.get().pk)


# --- DNS rebinding ----------------------------------------------------------------------------------------------


def test_a_name_that_rebinds_to_loopback_after_the_check_never_reaches_it(alice, settings, resolver, connections):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    with serving(LoopbackReceiver()) as receiver:
        rebinding = resolver("rebind.test", [PUBLIC_ADDRESS], ["127.0.0.1"])

        first = deliver_once(alice.agent, f"https://rebind.test:{receiver.port}/hooks")

        # One lookup, whose public answer is both what was checked and where the connection went.
        assert rebinding.lookups == 1
        assert connections == [(PUBLIC_ADDRESS, receiver.port)]
        assert (first.status, first.attempts, first.response_status) == ("pending", 1, None)
        assert first.last_error.startswith("ConnectionError") and PUBLIC_ADDRESS in first.last_error

        # Every later attempt looks the name up once more, gets 127.0.0.1, and refuses it before connecting.
        delivery = first
        while delivery.status == "pending":
            delivery = webhook_deliver(delivery_id=delivery.pk, now=delivery.next_attempt_at)

        assert rebinding.lookups == MAX_ATTEMPTS
        assert connections == [(PUBLIC_ADDRESS, receiver.port)]
        assert (delivery.status, delivery.attempts) == ("failed", MAX_ATTEMPTS)
        assert delivery.last_error == (
            "refused: Internal and private addresses are not allowed: rebind.test resolves to 127.0.0.1; "
            "127.0.0.1 is a loopback address."
        )
        assert receiver.connections == [] and receiver.requests == []


def test_control_the_rebinding_stand_in_does_reach_loopback_when_the_name_is_looked_up_twice(resolver, connections):
    """What delivery did before: check the name, then let requests look it up again. The doubles above are the same,
    so the test above would see this connection if delivery still resolved twice."""
    with serving(LoopbackReceiver()) as receiver:
        resolver("rebind.test", [PUBLIC_ADDRESS], ["127.0.0.1"])

        assert outbound.resolve_checked(host="rebind.test", port=receiver.port, allow_private=False) == (
            PUBLIC_ADDRESS,
        )
        requests.post(f"http://rebind.test:{receiver.port}/hooks", data=b"{}", timeout=5)

        assert len(receiver.connections) == 1 and len(receiver.requests) == 1


def test_a_name_with_one_internal_address_among_public_ones_is_refused_before_any_connection(
    alice, settings, resolver, connections
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = False
    resolver("mixed.test", [PUBLIC_ADDRESS, "10.0.0.5"])

    delivery = deliver_once(alice.agent, "https://mixed.test/hooks")

    assert connections == []
    assert delivery.last_error == (
        "refused: Internal and private addresses are not allowed: mixed.test resolves to 10.0.0.5; "
        "10.0.0.5 is a private address."
    )


# --- the pinned connection keeps the name -----------------------------------------------------------------------


def test_with_private_urls_allowed_a_name_reaches_loopback_through_the_pinned_address_with_its_name_as_host(
    alice, settings, resolver, connections
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with serving(LoopbackReceiver()) as receiver:
        lookups = resolver(HOOK_NAME, ["127.0.0.1"])

        delivery = deliver_once(alice.agent, f"http://{HOOK_NAME}:{receiver.port}/hooks")

        assert (delivery.status, delivery.response_status, delivery.last_error) == ("delivered", 200, "")
        assert lookups.lookups == 1
        assert connections == [("127.0.0.1", receiver.port)]  # the pinned IP, not the name again
        [request] = receiver.requests
        assert (request["host"], request["path"]) == (f"{HOOK_NAME}:{receiver.port}", "/hooks")
        assert str(delivery.delivery_id).encode() in request["body"]


def test_https_to_the_pinned_address_sends_the_name_as_sni_and_checks_the_certificate_against_it(
    alice, settings, resolver, connections, test_ca
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with serving(LoopbackReceiver(tls=test_ca(HOOK_NAME))) as receiver:
        resolver(HOOK_NAME, ["127.0.0.1"])

        delivery = deliver_once(alice.agent, f"https://{HOOK_NAME}:{receiver.port}/hooks")

        assert (delivery.status, delivery.response_status, delivery.last_error) == ("delivered", 200, "")
        assert connections == [("127.0.0.1", receiver.port)]
        assert receiver.server_names == [HOOK_NAME]
        assert [request["host"] for request in receiver.requests] == [f"{HOOK_NAME}:{receiver.port}"]


def test_https_refuses_a_certificate_for_another_name_at_the_pinned_address(
    alice, settings, resolver, connections, test_ca
):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with serving(LoopbackReceiver(tls=test_ca("someone-else.test"))) as receiver:
        resolver(HOOK_NAME, ["127.0.0.1"])

        delivery = deliver_once(alice.agent, f"https://{HOOK_NAME}:{receiver.port}/hooks")

        assert delivery.status == "pending" and delivery.response_status is None
        assert delivery.last_error.startswith("SSLError") and "certificate" in delivery.last_error
        assert receiver.server_names == [HOOK_NAME] and receiver.requests == []


def test_a_redirect_is_answered_as_a_failed_attempt_not_followed(alice, settings, resolver, connections):
    settings.WEBHOOK_ALLOW_PRIVATE_URLS = True
    with serving(LoopbackReceiver(status=307, extra_headers={"Location": "http://127.0.0.1:9/elsewhere"})) as receiver:
        resolver(HOOK_NAME, ["127.0.0.1"])

        delivery = deliver_once(alice.agent, f"http://{HOOK_NAME}:{receiver.port}/hooks")

        assert delivery.response_status == 307 and delivery.last_error.startswith("HTTP 307")
        assert connections == [("127.0.0.1", receiver.port)] and len(receiver.requests) == 1


def test_the_pinned_adapter_connects_only_for_the_host_it_checked():
    adapter = outbound.PinnedAdapter(host=HOOK_NAME, addresses=("127.0.0.1",))

    pool = adapter.poolmanager.connection_from_host(HOOK_NAME, 443, scheme="https")
    connection = pool._new_conn()

    assert isinstance(connection, outbound.PinnedHTTPSConnection)
    assert (connection.host, connection.pinned_addresses) == (HOOK_NAME, ("127.0.0.1",))
    assert connection.server_hostname is None and connection.assert_hostname is None  # both fall back to the name
    with pytest.raises(outbound.OutboundRefused, match="not the host that was checked"):
        adapter.poolmanager.connection_from_host("elsewhere.test", 443, scheme="https")


def test_an_ipv6_literal_host_is_the_host_it_checked_with_or_without_brackets():
    adapter = outbound.PinnedAdapter(host="2606:4700::1111", addresses=("2606:4700::1111",))

    pool = adapter.poolmanager.connection_from_host("[2606:4700::1111]", 443, scheme="https")  # as urllib3 passes it

    assert pool._new_conn().pinned_addresses == ("2606:4700::1111",)


def test_at_most_a_few_addresses_are_tried_however_many_the_name_resolved_to(monkeypatch):
    tried = []

    def refuse(address, *args, **kwargs):  # a test double for the network: every address is unreachable
        tried.append(address[0])
        raise ConnectionRefusedError

    monkeypatch.setattr(outbound.urllib3_connection, "create_connection", refuse)
    addresses = tuple(f"93.184.215.{i}" for i in range(1, 31))
    adapter = outbound.PinnedAdapter(host=HOOK_NAME, addresses=addresses)
    connection = adapter.poolmanager.connection_from_host(HOOK_NAME, 443, scheme="https")._new_conn()

    with pytest.raises(outbound.NewConnectionError):
        connection._new_conn()
    assert tried == list(addresses[: outbound.MAX_ADDRESSES_TRIED])


# --- the address rules ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("address", "kind"),
    [
        ("0.0.0.0", "the unspecified address"),
        ("127.0.0.1", "a loopback address"),
        ("127.8.9.10", "a loopback address"),
        ("10.1.2.3", "a private address"),
        ("172.16.5.4", "a private address"),
        ("192.168.1.1", "a private address"),
        ("169.254.169.254", "a link-local address"),  # the cloud metadata service
        ("224.0.0.1", "a multicast address"),
        ("239.255.255.250", "a multicast address"),
        ("240.0.0.1", "a reserved address"),
        ("255.255.255.255", "a reserved address"),
        ("100.64.0.1", "not a public address"),  # carrier-grade NAT
        ("192.0.2.1", "a private address"),  # documentation
        ("198.18.0.1", "a private address"),  # benchmarking
        ("::", "the unspecified address"),
        ("::1", "a loopback address"),
        ("fe80::1", "a link-local address"),
        ("fc00::1", "a private address"),
        ("fd12:3456::1", "a private address"),
        ("fec0::1", "a site-local address"),
        ("ff02::1", "a multicast address"),
        ("2001:db8::1", "a private address"),  # documentation
        ("::127.0.0.1", "a reserved address"),  # IPv4-compatible, deprecated
        ("64:ff9b:1::a00:1", "a reserved address"),  # local-use NAT64
    ],
)
def test_an_address_of_each_internal_kind_is_refused(address, kind):
    parsed = ipaddress.ip_address(address)

    assert outbound.address_problem(parsed) == f"{parsed} is {kind}."


@pytest.mark.parametrize(
    ("address", "embedded", "kind"),
    [
        ("::ffff:127.0.0.1", "127.0.0.1", "a loopback address"),
        ("::ffff:10.0.0.1", "10.0.0.1", "a private address"),
        ("::ffff:169.254.169.254", "169.254.169.254", "a link-local address"),
        ("::ffff:0.0.0.0", "0.0.0.0", "the unspecified address"),
        ("64:ff9b::7f00:1", "127.0.0.1", "a loopback address"),  # NAT64 of 127.0.0.1
        ("64:ff9b::a9fe:a9fe", "169.254.169.254", "a link-local address"),
        ("2002:7f00:1::1", "127.0.0.1", "a loopback address"),  # 6to4
        ("2002:c0a8:101::1", "192.168.1.1", "a private address"),
    ],
)
def test_an_ipv6_form_of_an_internal_ipv4_address_is_refused(address, embedded, kind):
    parsed = ipaddress.ip_address(address)

    assert outbound.address_problem(parsed) == f"{parsed} stands for {embedded}, {kind}."


@pytest.mark.parametrize(
    "address", [PUBLIC_ADDRESS, "8.8.8.8", "2606:4700:4700::1111", "::ffff:8.8.8.8", "64:ff9b::808:808"]
)
def test_a_public_address_or_an_ipv6_form_of_one_is_allowed(address):
    assert outbound.address_problem(ipaddress.ip_address(address)) == ""


@pytest.mark.parametrize(
    "url",
    [
        "https://[::1]/hooks",
        "https://[::ffff:127.0.0.1]/hooks",
        "https://[64:ff9b::a9fe:a9fe]/hooks",
        "https://169.254.169.254/latest/meta-data",
        "https://0.0.0.0/hooks",
    ],
)
def test_an_internal_address_literal_in_the_url_is_refused_without_a_lookup(url, resolver):
    lookups = resolver("never.test", ["127.0.0.1"])

    assert outbound.url_problem(url, allow_private=False).startswith("Internal and private addresses are not allowed")
    with pytest.raises(outbound.OutboundRefused):
        outbound.post(url, body=b"{}", headers={}, timeout=(1, 1), allow_private=False)
    assert lookups.lookups == 0
