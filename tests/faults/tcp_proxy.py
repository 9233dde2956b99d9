"""A TCP proxy on loopback that can drop or stall the connections between the app and the chain's RPC.

    proxy = TcpProxy(upstream_port=8545).start()      # the app's CHAIN_RPC_URL becomes proxy.url
    proxy.drop(seconds=3)                             # every connection reset, new ones too, for 3 s
    proxy.stall(seconds=3)                            # nothing flows either way for 3 s; then those connections close
    proxy.stall(seconds=120, after="eth_sendRawTransaction", until=felt)
        # the first request naming it reaches the node; its answer (and everything else) is held until `felt()`
        # says the app has shown it waited (120 s is only the bound that fails the test)

A fault armed with `after=` waits for a client request containing that text, so it hits a chosen step exactly
(a broadcast, a trace request in the middle of an indexing window). A fault with `until=` lasts until the code under
test has shown it felt the fault, not for a length of time: what the proxy itself sees (`log.abandoned`: held
connections the app's clients gave up on after their configured timeout, `log.refused`: connections it tried while
dropped, `log.trigger_abandoned`: the client that sent the triggering request gave up on it) or anything the test
can observe. `log.released` says what ended each fault. Only threads and sockets of the standard library.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

CHUNK = 65536
PASS, DROP, STALL = "pass", "drop", "stall"
# How often a fault's `until` is asked whether the app has shown it felt the fault.
EVIDENCE_EVERY_SECONDS = 0.2
RELEASED_ON_EVIDENCE = "evidence"


def _reset(sock: socket.socket) -> None:
    """Cut a connection now, as when a node or a balancer dies: a peer mid-request sees it aborted.

    shutdown() first: close() alone would wait for the pump thread blocked in recv() on this socket, and an idle
    client would only learn of the drop when it reused the connection.
    """
    with contextlib.suppress(OSError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
    with contextlib.suppress(OSError):
        sock.shutdown(socket.SHUT_RDWR)
    with contextlib.suppress(OSError):
        sock.close()


@dataclass(eq=False)  # each link is itself: hashed by identity
class _Link:
    client: socket.socket
    upstream: socket.socket | None = None
    closed: bool = False
    trigger: bool = False  # this link's request armed the current fault

    def close(self) -> None:
        self.closed = True
        _reset(self.client)
        if self.upstream is not None:
            _reset(self.upstream)


@dataclass
class FaultLog:
    """What the proxy did, for the test's assertions and its failure messages."""

    connections: int = 0
    dropped: int = 0
    stalled: int = 0
    refused: int = 0  # new connections reset on arrival during a drop: the app tried again
    abandoned: int = 0  # held connections the app's client closed during a stall: it waited, then gave up
    trigger_abandoned: bool = False  # the client whose request armed the fault gave up on its answer
    triggered: list[str] = field(default_factory=list)
    released: list[str] = field(default_factory=list)  # what ended each fault: "evidence", "time bound", "heal"


class TcpProxy:
    """Forwards 127.0.0.1:<port> to 127.0.0.1:<upstream_port>, with faults switched on and off by the test."""

    def __init__(self, *, upstream_port: int, upstream_host: str = "127.0.0.1") -> None:
        self.upstream = (upstream_host, upstream_port)
        self.listener = socket.create_server(("127.0.0.1", 0), backlog=128)
        self.port = self.listener.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = FaultLog()
        self._lock = threading.Lock()
        self._links: set[_Link] = set()
        self._mode = PASS
        self._until = 0.0
        self._armed: tuple[str, str, float, Callable | None] | None = None  # (mode, trigger text, seconds, until)
        self._until_felt: Callable[[], object] | None = None
        self._flowing = threading.Event()
        self._flowing.set()
        self._stopped = threading.Event()

    # --- the test's controls ---------------------------------------------------------------------------------

    def start(self) -> TcpProxy:
        threading.Thread(target=self._accept_loop, name="tcp-proxy", daemon=True).start()
        threading.Thread(target=self._clock_loop, name="tcp-proxy-clock", daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopped.set()
        self._flowing.set()
        with contextlib.suppress(OSError):
            self.listener.close()
        for link in self._snapshot():
            link.close()

    def drop(self, *, seconds: float, after: str = "", until: Callable[[], object] | None = None) -> None:
        """Reset every connection (from now, or from the first request containing `after`) until `until()` is true,
        or for `seconds` (without `until`, the fault's length; with it, only a bound the test then fails on)."""
        self._arm(DROP, seconds, after, until)

    def stall(self, *, seconds: float, after: str = "", until: Callable[[], object] | None = None) -> None:
        """Hold every byte, both ways (from now, or from the first request containing `after`) until `until()` is
        true, or for `seconds`; then close the held connections."""
        self._arm(STALL, seconds, after, until)

    def heal(self) -> None:
        with self._lock:
            self._armed = None
        self._end_fault("heal")

    @property
    def released_on_evidence(self) -> bool:
        """Every fault that ended so far ended because the app had shown it felt it."""
        return bool(self.log.released) and all(r == RELEASED_ON_EVIDENCE for r in self.log.released)

    @property
    def faulty(self) -> bool:
        return self._mode != PASS

    @property
    def armed(self) -> bool:
        return self._armed is not None

    def wait_healed(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while (self.faulty or self.armed) and time.monotonic() < deadline:
            time.sleep(0.1)
        if self.faulty or self.armed:
            raise AssertionError(f"the proxy's fault did not end within {timeout:.0f} s ({self.log})")

    # --- internals -------------------------------------------------------------------------------------------

    def _arm(self, mode: str, seconds: float, after: str, until: Callable[[], object] | None) -> None:
        if after:
            with self._lock:
                self._armed = (mode, after, seconds, until)
        else:
            self._begin(mode, seconds, until, reason="now")

    def _begin(
        self, mode: str, seconds: float, until: Callable[[], object] | None, *, reason: str, drop_now: bool = True
    ) -> None:
        # Nothing is forwarded from here on (a drop also closes every connection; new ones are reset on accept).
        self._flowing.clear()
        with self._lock:
            self._mode, self._until, self._until_felt = mode, time.monotonic() + seconds, until
            bound = f"until felt, at most {seconds:.0f} s" if until else f"{seconds:.0f} s"
            self.log.triggered.append(f"{mode} {bound} ({reason})")
        if mode == DROP and drop_now:
            self._drop_all()

    def _drop_all(self) -> None:
        for link in self._snapshot():
            link.close()
            self.log.dropped += 1

    def _end_fault(self, why: str) -> None:
        with self._lock:
            was, self._mode, self._until_felt = self._mode, PASS, None
            if was != PASS:
                self.log.released.append(why)
        if was == STALL:
            # What was held is never delivered (its clients gave up on it): close it, then let traffic flow.
            for link in self._snapshot():
                link.close()
        self._flowing.set()

    def _clock_loop(self) -> None:
        asked = 0.0
        while not self._stopped.wait(0.05):
            if self._mode == PASS:
                continue
            until_felt = self._until_felt
            if until_felt is not None and time.monotonic() - asked >= EVIDENCE_EVERY_SECONDS:
                asked = time.monotonic()
                try:
                    felt = until_felt()
                except Exception:  # noqa: BLE001 - evidence not readable yet (a log not written): not felt
                    felt = False
                if felt:
                    self._end_fault(RELEASED_ON_EVIDENCE)
                    continue
            if time.monotonic() >= self._until:
                self._end_fault("time bound" if until_felt is not None else "time")

    def _snapshot(self) -> list[_Link]:
        with self._lock:
            return list(self._links)

    def _accept_loop(self) -> None:
        while not self._stopped.is_set():
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            self.log.connections += 1
            if self._mode == DROP:
                self.log.dropped += 1
                self.log.refused += 1
                _reset(client)
                continue
            link = _Link(client=client)
            with self._lock:
                self._links.add(link)
            threading.Thread(target=self._serve, args=(link,), daemon=True).start()

    def _serve(self, link: _Link) -> None:
        if self._mode == STALL:
            self.log.stalled += 1
        try:
            link.upstream = socket.create_connection(self.upstream, timeout=10)
            link.upstream.settimeout(None)
        except OSError:
            link.close()
            self._forget(link)
            return
        threading.Thread(target=self._pump, args=(link, link.upstream, link.client, False), daemon=True).start()
        self._pump(link, link.client, link.upstream, True)

    def _pump(self, link: _Link, source: socket.socket, target: socket.socket, from_client: bool) -> None:
        try:
            while not link.closed:
                try:
                    data = source.recv(CHUNK)
                except OSError:
                    data = b""
                if not data:
                    if from_client:
                        self._client_left(link)
                    break
                if from_client and self._armed is not None and self._trigger(data):
                    # The request that armed the fault reaches the node, which acts on it; its answer meets the fault.
                    link.trigger = True
                    target.sendall(data)
                    continue
                if not from_client and link.trigger and self._mode == DROP:
                    # The node acted on the triggering request and answered: the answer is lost with every connection.
                    self._drop_all()
                    break
                if from_client and self._mode == STALL:
                    # Held, never delivered (the connection is closed when the stall ends); go on reading, to see
                    # the client give up on it.
                    continue
                self._flowing.wait()
                if link.closed:
                    break
                target.sendall(data)
        except OSError:
            pass
        finally:
            link.close()
            self._forget(link)

    def _client_left(self, link: _Link) -> None:
        """The app closed a connection we did not: during a stall, it stopped waiting for an answer held from it."""
        if link.closed or self._mode != STALL:
            return
        with self._lock:
            self.log.abandoned += 1
            if link.trigger:
                self.log.trigger_abandoned = True

    def _trigger(self, data: bytes) -> bool:
        with self._lock:
            armed = self._armed
            if armed is None or armed[1].encode() not in data:
                return False
            self._armed = None
        mode, text, seconds, until = armed
        self._begin(mode, seconds, until, reason=f"after {text}", drop_now=False)
        return True

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)
