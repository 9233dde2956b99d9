"""A TCP proxy on loopback that can drop or stall the connections between the app and the chain's RPC.

    proxy = TcpProxy(upstream_port=8545).start()      # the app's CHAIN_RPC_URL becomes proxy.url
    proxy.drop(seconds=60)                            # every connection reset, new ones too, for 60 s
    proxy.stall(seconds=60)                           # nothing flows either way for 60 s; then those connections close
    proxy.stall(seconds=60, after="eth_sendRawTransaction")   # the first request naming it reaches the node, and
                                                              # its answer (and everything else) is held for 60 s

A fault armed with `after=` waits for a client request containing that text, so it hits a chosen step exactly
(a broadcast, a trace request in the middle of an indexing window). Only threads and sockets of the standard library.
"""

from __future__ import annotations

import contextlib
import socket
import struct
import threading
import time
from dataclasses import dataclass, field

CHUNK = 65536
PASS, DROP, STALL = "pass", "drop", "stall"
# A dropped request that armed the fault gets this long to reach the node before its connection is reset.
TRIGGER_GRACE_SECONDS = 0.5


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
    triggered: list[str] = field(default_factory=list)


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
        self._armed: tuple[str, str, float] | None = None  # (mode, trigger text, seconds)
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

    def drop(self, *, seconds: float, after: str = "") -> None:
        """Reset every connection for `seconds` (from now, or from the first request containing `after`)."""
        self._arm(DROP, seconds, after)

    def stall(self, *, seconds: float, after: str = "") -> None:
        """Hold every byte, both ways, for `seconds` (from now, or from the first request containing `after`)."""
        self._arm(STALL, seconds, after)

    def heal(self) -> None:
        with self._lock:
            self._armed = None
        self._end_fault()

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

    def _arm(self, mode: str, seconds: float, after: str) -> None:
        if after:
            with self._lock:
                self._armed = (mode, after, seconds)
        else:
            self._begin(mode, seconds, reason="now")

    def _begin(self, mode: str, seconds: float, *, reason: str, drop_now: bool = True) -> None:
        # Nothing is forwarded from here on (a drop also closes every connection; new ones are reset on accept).
        self._flowing.clear()
        with self._lock:
            self._mode, self._until = mode, time.monotonic() + seconds
            self.log.triggered.append(f"{mode} {seconds:.0f} s ({reason})")
        if mode == DROP and drop_now:
            self._drop_all()

    def _drop_all(self) -> None:
        for link in self._snapshot():
            link.close()
            self.log.dropped += 1

    def _end_fault(self) -> None:
        with self._lock:
            was, self._mode = self._mode, PASS
        if was == STALL:
            # The clients gave up long ago (their own timeouts): close what was held, then let traffic flow.
            for link in self._snapshot():
                link.close()
        self._flowing.set()

    def _clock_loop(self) -> None:
        while not self._stopped.wait(0.05):
            if self._mode != PASS and time.monotonic() >= self._until:
                self._end_fault()

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
                data = source.recv(CHUNK)
                if not data:
                    break
                if from_client and self._armed is not None and self._trigger(data):
                    # The request that armed the fault reaches the node, which acts on it; its answer meets the fault.
                    target.sendall(data)
                    if self._mode == DROP:
                        time.sleep(TRIGGER_GRACE_SECONDS)
                        self._drop_all()
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

    def _trigger(self, data: bytes) -> bool:
        with self._lock:
            armed = self._armed
            if armed is None or armed[1].encode() not in data:
                return False
            self._armed = None
        mode, text, seconds = armed
        self._begin(mode, seconds, reason=f"after {text}", drop_now=False)
        return True

    def _forget(self, link: _Link) -> None:
        with self._lock:
            self._links.discard(link)
