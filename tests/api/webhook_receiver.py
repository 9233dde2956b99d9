"""A webhook receiver on 127.0.0.1 for the tests (its fixtures are in tests/api/conftest.py): it checks each
delivery's signature the way docs/api.md tells agents to."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from agent_api.models import WebhookEndpoint
from agent_api.services.webhooks import webhook_endpoint_create


class Receiver:
    """A webhook receiver on 127.0.0.1 that checks each delivery's signature the way docs/api.md tells agents to."""

    def __init__(self, *, status: int = 200):
        self.status = status
        self.secret = ""
        self.received: list[dict] = []
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                timestamp = self.headers["X-Launchpad-Timestamp"]
                expected = hmac.new(receiver.secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
                signature_ok = hmac.compare_digest(
                    self.headers["X-Launchpad-Signature"], "sha256=" + expected.hexdigest()
                )
                receiver.received.append(
                    {
                        "signature_ok": signature_ok,
                        "fresh": abs(time.time() - int(timestamp)) < 300,
                        "event": self.headers["X-Launchpad-Event"],
                        "delivery": self.headers["X-Launchpad-Delivery"],
                        "body": json.loads(body),
                    }
                )
                self.send_response(receiver.status if signature_ok else 401)
                self.end_headers()
                self.wfile.write(b"ok" if receiver.status < 300 else b"receiver is broken")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def endpoint_for(agent, server: Receiver, events=None) -> WebhookEndpoint:
    endpoint = webhook_endpoint_create(agent=agent, url=server.url, events=events)
    server.secret = endpoint.secret
    return endpoint
