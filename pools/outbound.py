"""Outbound HTTP to a URL that someone outside gave us: resolve the host once, check every address, connect to those.

Checking a name and then letting `requests` resolve it again is open to DNS rebinding: a name that answers a public
address for the check and 127.0.0.1 a moment later reaches loopback. Here the name is resolved exactly once, every
address it resolved to must be public (`address_problem`), and the connection goes to those checked addresses and to
nothing else, while the Host header, TLS SNI and the certificate check keep the name. No redirect is followed (a
redirect would be a new, unchecked URL) and no proxy is taken from the environment (a proxy resolves the name itself).

The only such URL the app fetches today is a webhook endpoint (agent_api/services/webhooks.py). Everything else it
fetches is configured by the operator, not supplied by a user: the chain RPC, the signer, Intel's PCCS; there are no
token images or other user-supplied links that the server downloads. A new fetch of a user's URL belongs here.

It lives in pools, the lowest room that both web and agent_api can import; nothing in it is about pools.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError
from urllib3.poolmanager import PoolManager
from urllib3.util import connection as urllib3_connection

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DEFAULT_PORTS = {"http": 80, "https": 443}
# A name may resolve to dozens of addresses; each unreachable one costs a whole connect timeout, while the delivery
# holds its row. A few are enough to get past one address that is down.
MAX_ADDRESSES_TRIED = 4
INTERNAL_NAME_SUFFIXES = (".localhost", ".internal", ".local")
# Well-known NAT64 prefix (RFC 6052): a NAT64 gateway forwards 64:ff9b::a.b.c.d to the IPv4 address a.b.c.d.
NAT64_PREFIX = ipaddress.IPv6Network("64:ff9b::/96")


class OutboundRefused(Exception):
    """The URL, or an address its host resolved to, is not one we send to; the message says why."""


# --- the rules -------------------------------------------------------------------------------------------------


def _forbidden_kind(address: IPAddress) -> str:
    # Order matters only for the message: 127.0.0.1 is both loopback and private, and "loopback" says more.
    checks = (
        (address.is_unspecified, "the unspecified address"),  # connecting to 0.0.0.0 or :: reaches this host
        (address.is_loopback, "a loopback address"),
        (address.is_link_local, "a link-local address"),  # 169.254.169.254: the cloud's metadata service
        (address.is_multicast, "a multicast address"),
        (address.is_reserved, "a reserved address"),
        (address.is_private, "a private address"),
        (getattr(address, "is_site_local", False), "a site-local address"),
        (not address.is_global, "not a public address"),  # 100.64.0.0/10 (carrier NAT) and the like
    )
    return next((kind for flagged, kind in checks if flagged), "")


def _embedded_ipv4(address: IPAddress) -> tuple[ipaddress.IPv4Address | None, bool]:
    """The IPv4 address an IPv6 address carries, and whether a connection to it reaches exactly that IPv4 address."""
    if not isinstance(address, ipaddress.IPv6Address):
        return None, False
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d: the kernel connects to a.b.c.d
        return address.ipv4_mapped, True
    if address in NAT64_PREFIX:
        return ipaddress.IPv4Address(int(address) & 0xFFFFFFFF), True
    if address.sixtofour is not None:  # 2002:AABB:CCDD::/48 is routed through a relay towards a.b.c.d's network
        return address.sixtofour, False
    return None, False


def address_problem(address: IPAddress) -> str:
    """Why we do not connect to `address`, or "" for a public unicast address."""
    embedded, same_destination = _embedded_ipv4(address)
    if embedded is not None:
        kind = _forbidden_kind(embedded)
        if kind:
            return f"{address} stands for {embedded}, {kind}."
        if same_destination:
            # ::ffff:0:0/96 and 64:ff9b::/96 count as reserved themselves; what is reached is the IPv4 address.
            return ""
    kind = _forbidden_kind(address)
    return f"{address} is {kind}." if kind else ""


def url_problem(url: str, *, allow_private: bool) -> str:
    """Why `url` may not be fetched, or "", without resolving its host: http(s) only, and unless private addresses
    are allowed, https to a host that is not an internal name or a non-public address literal."""
    parts = urlsplit(url)
    if parts.scheme not in DEFAULT_PORTS or not parts.hostname:
        return "Use an http(s) URL."
    try:
        parts.port  # noqa: B018 - only to see whether it parses
    except ValueError:
        return "The URL's port is not valid."
    if allow_private:
        return ""
    if parts.scheme != "https":
        return "Use an https URL."
    host = parts.hostname
    if host == "localhost" or host.endswith(INTERNAL_NAME_SUFFIXES):
        return "Internal hosts are not allowed."
    try:
        literal = ipaddress.ip_address(host)
    except ValueError:
        return ""
    problem = address_problem(literal)
    return f"Internal and private addresses are not allowed: {problem}" if problem else ""


def resolve_checked(*, host: str, port: int, allow_private: bool) -> tuple[str, ...]:
    """Resolve `host` once and return its addresses, each of them checked; raises OutboundRefused when it does not
    resolve or when any address is not public (unless private addresses are allowed)."""
    try:
        answers = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError) as error:
        raise OutboundRefused(f"{host} does not resolve.") from error
    addresses = tuple(dict.fromkeys(str(answer[4][0]) for answer in answers))
    if not addresses:
        raise OutboundRefused(f"{host} does not resolve.")
    if not allow_private:
        # Every address, not just the first: the connection may try each of them in turn.
        for address in addresses:
            problem = address_problem(ipaddress.ip_address(address))
            if problem:
                raise OutboundRefused(
                    f"Internal and private addresses are not allowed: {host} resolves to {address}; {problem}"
                )
    return addresses


# --- connecting to the checked addresses only -------------------------------------------------------------------


class _PinnedConnectionMixin:
    """A urllib3 connection that opens its socket to the checked addresses instead of resolving `host` again; `host`
    (the name) still gives the Host header and, for https, SNI and the name the certificate must match."""

    host: str
    port: int
    timeout: Any
    source_address: Any
    socket_options: Any

    def __init__(self, *args: Any, pinned_addresses: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.pinned_addresses = pinned_addresses

    def _new_conn(self) -> socket.socket:
        # Replaces urllib3's HTTPConnection._new_conn, which resolves self.host: the one place a second answer from
        # DNS could slip in. Each address is an IP literal, so create_connection does no DNS lookup.
        failure: Exception | None = None
        for address in self.pinned_addresses[:MAX_ADDRESSES_TRIED]:
            try:
                sock = urllib3_connection.create_connection(
                    (address, self.port),
                    self.timeout,
                    source_address=self.source_address,
                    socket_options=self.socket_options,
                )
            except TimeoutError as error:
                failure = ConnectTimeoutError(
                    self, f"Connection to {self.host} at {address} timed out. (connect timeout={self.timeout})"
                )
                failure.__cause__ = error
            except OSError as error:
                failure = NewConnectionError(self, f"Failed to establish a new connection to {address}: {error}")
                failure.__cause__ = error
            else:
                sys.audit("http.client.connect", self, self.host, self.port)
                return sock
        assert failure is not None  # resolve_checked never returns an empty tuple
        raise failure


class PinnedHTTPConnection(_PinnedConnectionMixin, HTTPConnection):
    pass


class PinnedHTTPSConnection(_PinnedConnectionMixin, HTTPSConnection):
    pass


class _PinnedHTTPConnectionPool(HTTPConnectionPool):
    ConnectionCls = PinnedHTTPConnection


class _PinnedHTTPSConnectionPool(HTTPSConnectionPool):
    ConnectionCls = PinnedHTTPSConnection


class _PinnedPoolManager(PoolManager):
    """Hands out pools for the one host that was checked, whose connections go to its checked addresses."""

    def __init__(self, *, host: str, addresses: tuple[str, ...], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.pool_classes_by_scheme = {"http": _PinnedHTTPConnectionPool, "https": _PinnedHTTPSConnectionPool}
        self.pinned_host = host
        self.pinned_addresses = addresses

    def _new_pool(
        self, scheme: str, host: str, port: int, request_context: dict[str, Any] | None = None
    ) -> HTTPConnectionPool:
        if host.strip("[]") != self.pinned_host.strip("[]"):  # urllib3 keeps an IPv6 literal's brackets
            raise OutboundRefused(f"{host} is not the host that was checked ({self.pinned_host}).")
        context = dict(self.connection_pool_kw if request_context is None else request_context)
        context["pinned_addresses"] = self.pinned_addresses  # not part of the pool key: one manager, one host
        return super()._new_pool(scheme, host, port, context)


class PinnedAdapter(HTTPAdapter):
    """A requests adapter whose connections go to `addresses` (already checked) for requests to `host`."""

    def __init__(self, *, host: str, addresses: tuple[str, ...]) -> None:
        self.pinned_host = host
        self.pinned_addresses = addresses
        super().__init__(max_retries=0)

    def init_poolmanager(self, connections: int, maxsize: int, block: bool = False, **pool_kwargs: Any) -> None:
        self._pool_connections, self._pool_maxsize, self._pool_block = connections, maxsize, block
        self.poolmanager = _PinnedPoolManager(
            host=self.pinned_host,
            addresses=self.pinned_addresses,
            num_pools=connections,
            maxsize=maxsize,
            block=block,
            **pool_kwargs,
        )

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        raise OutboundRefused("Outbound requests to users' URLs do not go through a proxy.")


def post(
    url: str, *, body: bytes, headers: Mapping[str, str], timeout: tuple[float, float], allow_private: bool
) -> requests.Response:
    """POST `body` to `url`, connecting only to addresses that passed the check, following no redirect.

    Raises OutboundRefused when the URL or its addresses are not allowed, and requests' exceptions for the rest.
    """
    problem = url_problem(url, allow_private=allow_private)
    if problem:
        raise OutboundRefused(problem)
    with requests.Session() as session:
        session.trust_env = False  # no proxy, netrc or CA bundle from the environment
        # Prepared first, so the host that is resolved and checked is the one requests connects to (IDNA-encoded).
        request = session.prepare_request(requests.Request("POST", url, data=body, headers=dict(headers)))
        parts = urlsplit(request.url)
        host = parts.hostname or ""
        addresses = resolve_checked(
            host=host, port=parts.port or DEFAULT_PORTS[parts.scheme], allow_private=allow_private
        )
        adapter = PinnedAdapter(host=host, addresses=addresses)
        session.mount("http://", adapter)
        session.mount("https://", adapter)
        return session.send(request, timeout=timeout, allow_redirects=False, verify=True, proxies={})
