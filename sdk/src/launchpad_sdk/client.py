"""`Launchpad`: one method per operation of /api/v1/ (docs/api.md "Endpoints"), on one httpx.Client.

What every call gets without asking:
- the API key as `Authorization: Bearer …` (agent endpoints; the public ones work without a key);
- an `Idempotency-Key` (a UUID) on every request the API takes one for (proposal, draft change, launch, refund
  request, webhook creation), the SAME on each retry of that call, so a retried one runs once and the retry gets the
  first answer; pass `idempotency_key=` to choose it yourself (e.g. to retry across restarts of your agent);
- retries with `Retry-After` respected (launchpad_sdk.retries says which answers are retried);
- lists as iterators that fetch the next page when needed;
- errors as `LaunchpadError` subclasses carrying the API's stable `code`.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator, Mapping
from datetime import date, datetime
from typing import Any, cast

import httpx

from launchpad_sdk.errors import APIConnectionError, LaunchpadError, error_for
from launchpad_sdk.retries import RETRIED_WHEN_SAFE, RetryPolicy, parse_retry_after
from launchpad_sdk.sse import Event, SSEParser
from launchpad_sdk.types import (
    Allocation,
    Bounds,
    Claim,
    Deposit,
    DepositorPool,
    DryRun,
    Launch,
    Pool,
    PoolSummary,
    Quote,
    Refund,
    RefundRequestAccepted,
    Webhook,
    WebhookDelivery,
    WebhookWithSecret,
)

__version__ = "0.1.0"
API_PREFIX = "/api/v1"
PAGE_SIZE = 100  # the server takes 1 to 200
# A proposal's amounts: an int given for one of them is sent as the API's decimal string.
AMOUNT_FIELDS = frozenset(
    {
        "soft_cap",
        "hard_cap",
        "min_contribution",
        "max_contribution",
        "total_supply",
        "max_buy_per_tx",
        "target_price_usd_e8",
    }
)
LAUNCH_DONE_STEPS = frozenset({"launched", "failed"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
STREAM_READ_TIMEOUT = 60.0  # the event stream sends a heartbeat every ~15 s


def _json_ready(value: Any, *, name: str = "") -> Any:
    """A request body as the API wants it: no floats anywhere (money is never a float), amounts given as int turned
    into decimal strings, datetimes as ISO 8601."""
    if isinstance(value, float):
        raise TypeError(f"{name or 'a value'} is a float: give amounts as int or a string of digits")
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, int) and name in AMOUNT_FIELDS:
        return str(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, Mapping):
        return {key: _json_ready(item, name=str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_json_ready(item, name=name) for item in value]
    return value


def _params(**params: Any) -> dict[str, Any]:
    """Query parameters without the ones left out: the API refuses an empty value rather than ignoring it."""
    return {name: value for name, value in params.items() if value is not None}


class Launchpad:
    """A client for one launchpad site.

    >>> with Launchpad("http://127.0.0.1:8000", api_key="lp_…") as lp:
    ...     for pool in lp.pools(status="open"):
    ...         print(pool["id"], pool["raised"])

    `base_url` is the site's root (`/api/v1` is added unless it is already there). `timeout` is per request, in
    seconds. `max_retries` bounds the retries of one call. `transport` replaces httpx's (tests, proxies).
    """

    def __init__(
        self,
        base_url: str,
        api_key: str | None = None,
        *,
        timeout: float = 30.0,
        max_retries: int = 3,
        max_retry_wait: float = 60.0,
        transport: httpx.BaseTransport | None = None,
        headers: Mapping[str, str] | None = None,
    ):
        root = base_url.rstrip("/")
        if not root.endswith(API_PREFIX):
            root += API_PREFIX
        default_headers = {"Accept": "application/json", "User-Agent": f"launchpad-sdk/{__version__}"}
        if api_key:
            default_headers["Authorization"] = f"Bearer {api_key}"
        default_headers.update(headers or {})
        self.retry_policy = RetryPolicy(max_retries=max_retries, max_wait=max_retry_wait)
        self._timeout = timeout
        self._http = httpx.Client(
            base_url=root + "/", timeout=timeout, transport=transport, headers=default_headers, follow_redirects=False
        )

    # --- plumbing ------------------------------------------------------------------------------------------------

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> Launchpad:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        body: Any = None,
        keyed: bool = False,
        idempotency_key: str | None = None,
        read_only: bool = False,
    ) -> Any:
        """Send one call (with its retries) and return the decoded JSON (None for 204). `path` is relative to
        /api/v1/. `keyed` sends an Idempotency-Key, generated once for all attempts; `read_only` marks a POST that
        changes nothing (quotes, dry runs), which may be retried like a GET."""
        headers: dict[str, str] = {}
        if keyed or idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key or str(uuid.uuid4())
        method = method.upper()
        safe = read_only or method in IDEMPOTENT_METHODS or "Idempotency-Key" in headers
        content = None if body is None else _json_ready(body)
        attempt = 0
        maybe_done = False  # an earlier attempt may have done the work without our hearing of it
        while True:
            try:
                response = self._http.request(method, path, params=params, json=content, headers=headers)
            except httpx.TransportError as exc:
                maybe_done = True
                if self.retry_policy.should_retry(attempt=attempt, status=None, safe=safe):
                    time.sleep(cast(float, self.retry_policy.wait(attempt=attempt, retry_after=None)))
                    attempt += 1
                    continue
                message = f"{method} {path}: {type(exc).__name__}: {exc}"
                raise APIConnectionError(message, code="connection_error") from exc
            if response.status_code < 400:
                return None if response.status_code == 204 or not response.content else response.json()
            if method == "DELETE" and maybe_done and response.status_code == 404:
                return None  # an earlier attempt that got no answer (or a 5xx) did delete it
            maybe_done = maybe_done or response.status_code in RETRIED_WHEN_SAFE
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            if self.retry_policy.should_retry(attempt=attempt, status=response.status_code, safe=safe):
                wait = self.retry_policy.wait(attempt=attempt, retry_after=retry_after)
                if wait is not None:
                    time.sleep(wait)
                    attempt += 1
                    continue
            raise self._error(response, retry_after=retry_after)

    @staticmethod
    def _error(response: httpx.Response, *, retry_after: float | None) -> LaunchpadError:
        try:
            body = response.json()
        except ValueError:
            body = response.text[:500]
        return error_for(
            response.status_code, body, request_id=response.headers.get("X-Request-ID"), retry_after=retry_after
        )

    def paginate(
        self, path: str, *, params: Mapping[str, Any] | None = None, page_size: int = PAGE_SIZE
    ) -> Iterator[Any]:
        """Every item of a paginated list, fetching `page_size` at a time (by offset, so a proxy's host in the
        server's `next` links does not matter)."""
        offset = 0
        while True:
            page = self.request("GET", path, params={**(params or {}), "limit": page_size, "offset": offset})
            results = page["results"]
            yield from results
            offset += len(results)
            if not results or not page.get("next"):
                return

    # --- public: no key needed -----------------------------------------------------------------------------------

    def public_pools(self, *, q: str | None = None) -> Iterator[PoolSummary]:
        """Public pools, newest first (`q`: part of the name, or the exact symbol)."""
        return self.paginate("pools/", params=_params(q=q))

    def public_pool(self, pool_id: int) -> Pool:
        return cast(Pool, self.request("GET", f"pools/{pool_id}/"))

    def public_deposits(self, pool_id: int) -> Iterator[Deposit]:
        """Every recorded deposit of a public pool in chain order, each with its `citation`."""
        return self.paginate(f"pools/{pool_id}/deposits/")

    def public_allocation(self, pool_id: int, address: str) -> Allocation:
        """A depositor's allocation and Merkle proof in a launched pool."""
        return cast(Allocation, self.request("GET", f"pools/{pool_id}/allocations/{address}/"))

    def claim(self, pool_id: int, address: str) -> Claim:
        """What `address` can claim now, with the exact transaction to send: `to`, `value`, `calldata`."""
        return cast(Claim, self.request("GET", f"pools/{pool_id}/claims/{address}/"))

    def depositor(self, address: str) -> Iterator[DepositorPool]:
        """One address across public pools, newest pool first: its deposits, refunds, allocation and totals."""
        return self.paginate(f"depositors/{address}/")

    # --- your pools ----------------------------------------------------------------------------------------------

    def pools(self, *, status: str | None = None) -> Iterator[PoolSummary]:
        """Your pools, drafts included, newest first."""
        return self.paginate("agent/pools/", params=_params(status=status))

    def pool(self, pool_id: int) -> Pool:
        return cast(Pool, self.request("GET", f"agent/pools/{pool_id}/"))

    def bounds(self) -> Bounds:
        """Your bounds (what you may propose) and the default of every optional proposal field."""
        return cast(Bounds, self.request("GET", "agent/bounds/"))

    def propose(
        self, proposal: Mapping[str, Any] | None = None, /, *, idempotency_key: str | None = None, **fields: Any
    ) -> Pool:
        """Propose a pool: it is created as a DRAFT for an admin to schedule. Amounts as int or digit strings."""
        body = {**(proposal or {}), **fields}
        return cast(Pool, self.request("POST", "agent/pools/", body=body, keyed=True, idempotency_key=idempotency_key))

    def update_draft(
        self, pool_id: int, changes: Mapping[str, Any] | None = None, /, *, idempotency_key: str | None = None,
        **fields: Any,
    ) -> Pool:  # fmt: skip
        """Change your DRAFT (PATCH: only the fields given; judged like a proposal)."""
        path, body = f"agent/pools/{pool_id}/", {**(changes or {}), **fields}
        return cast(Pool, self.request("PATCH", path, body=body, keyed=True, idempotency_key=idempotency_key))

    def withdraw_draft(self, pool_id: int) -> None:
        """Withdraw your DRAFT (it is deleted)."""
        self.request("DELETE", f"agent/pools/{pool_id}/")

    def quote(self, pool_id: int) -> Quote:
        """What your pool's launch would give at the soft cap, the hard cap and the current raise (from DRAFT on)."""
        return cast(Quote, self.request("POST", f"agent/pools/{pool_id}/quote/", read_only=True))

    def quote_proposal(self, proposal: Mapping[str, Any] | None = None, /, **fields: Any) -> Quote:
        """The same for a proposal body that is not saved."""
        return cast(
            Quote, self.request("POST", "agent/pools/quote/", body={**(proposal or {}), **fields}, read_only=True)
        )

    def deposits(self, pool_id: int, *, status: str | None = None, sender: str | None = None) -> Iterator[Deposit]:
        """Your pool's deposits in chain order (`status`: pending or confirmed)."""
        return self.paginate(f"agent/pools/{pool_id}/deposits/", params=_params(status=status, sender=sender))

    def refunds(self, pool_id: int, *, status: str | None = None) -> Iterator[Refund]:
        """Your pool's refunds: owed, being sent, paid (with the transaction) or set aside."""
        return self.paginate(f"agent/pools/{pool_id}/refunds/", params=_params(status=status))

    def request_refunds(self, pool_id: int, *, idempotency_key: str | None = None) -> RefundRequestAccepted:
        """Ask for the refunds your pool owes (202: the refund job is on its way)."""
        return cast(
            RefundRequestAccepted,
            self.request("POST", f"agent/pools/{pool_id}/refunds/", keyed=True, idempotency_key=idempotency_key),
        )

    def allocations(self, pool_id: int) -> Iterator[Allocation]:
        """Every depositor's allocation in your launched pool, with proofs."""
        return self.paginate(f"agent/pools/{pool_id}/allocations/")

    def dry_run(self, pool_id: int) -> DryRun:
        """Simulate the launch now (eth_call): token address, amounts, price, gas. Changes nothing."""
        return cast(DryRun, self.request("POST", f"agent/pools/{pool_id}/launch/dry-run/", read_only=True))

    def launch(self, pool_id: int, *, idempotency_key: str | None = None) -> Launch:
        """Launch your CLOSED pool that met its soft cap (202 with the launch; asking again returns the same one)."""
        return cast(
            Launch, self.request("POST", f"agent/pools/{pool_id}/launch/", keyed=True, idempotency_key=idempotency_key)
        )

    def launch_status(self, pool_id: int) -> Launch:
        return cast(Launch, self.request("GET", f"agent/pools/{pool_id}/launch/"))

    def wait_for_launch(self, pool_id: int, *, timeout: float = 300.0, poll_seconds: float = 2.0) -> Launch:
        """Poll the launch until it is launched or failed; TimeoutError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            launch = self.launch_status(pool_id)
            if launch.get("step") in LAUNCH_DONE_STEPS:
                return launch
            if time.monotonic() >= deadline:
                raise TimeoutError(f"pool {pool_id}'s launch is still at step {launch.get('step')!r}")
            time.sleep(poll_seconds)

    # --- webhooks ------------------------------------------------------------------------------------------------

    def webhooks(self) -> Iterator[Webhook]:
        return self.paginate("agent/webhooks/")

    def create_webhook(
        self, url: str, events: list[str] | None = None, *, idempotency_key: str | None = None
    ) -> WebhookWithSecret:
        """Add an endpoint; keep the answer's `secret` (shown only now) to verify X-Launchpad-Signature."""
        body: dict[str, Any] = {"url": url} if events is None else {"url": url, "events": events}
        return cast(
            WebhookWithSecret,
            self.request("POST", "agent/webhooks/", body=body, keyed=True, idempotency_key=idempotency_key),
        )

    def webhook(self, webhook_id: int) -> Webhook:
        return cast(Webhook, self.request("GET", f"agent/webhooks/{webhook_id}/"))

    def delete_webhook(self, webhook_id: int) -> None:
        self.request("DELETE", f"agent/webhooks/{webhook_id}/")

    def test_webhook(self, webhook_id: int) -> WebhookDelivery:
        """Queue a signed `ping` delivery to the endpoint now (follow it in `webhook_deliveries`)."""
        return cast(WebhookDelivery, self.request("POST", f"agent/webhooks/{webhook_id}/test/"))

    def webhook_deliveries(self, webhook_id: int, *, status: str | None = None) -> Iterator[WebhookDelivery]:
        """The endpoint's delivery log, newest first."""
        return self.paginate(f"agent/webhooks/{webhook_id}/deliveries/", params=_params(status=status))

    def redeliver(self, webhook_id: int, delivery_id: int) -> WebhookDelivery:
        """Send a delivery again: a fresh round of attempts, with the same X-Launchpad-Delivery id."""
        return cast(
            WebhookDelivery, self.request("POST", f"agent/webhooks/{webhook_id}/deliveries/{delivery_id}/redeliver/")
        )

    # --- events --------------------------------------------------------------------------------------------------

    def events(self, last_event_id: str | int | None = None, *, max_seconds: float | None = None) -> Iterator[Event]:
        """Your pools' events from the server-sent event stream, for as long as you iterate.

        The server ends each stream after a while (and on deploys); this reconnects, sending `Last-Event-ID` with the
        last id seen, so nothing is missed or repeated. Without `last_event_id` the stream starts with new events;
        `last_event_id=0` replays them all. `max_seconds` ends the iteration after that long (checked at each event,
        heartbeat and reconnection). Connection failures are retried up to `max_retries` times in a row.
        """
        deadline = None if max_seconds is None else time.monotonic() + max_seconds
        parser = SSEParser(last_event_id=None if last_event_id is None else str(last_event_id))
        failures = 0

        def expired() -> bool:
            return deadline is not None and time.monotonic() >= deadline

        while not expired():
            parser.new_connection()
            headers = {"Accept": "text/event-stream", "Cache-Control": "no-cache"}
            if parser.last_event_id is not None:
                headers["Last-Event-ID"] = parser.last_event_id
            timeout = httpx.Timeout(self._timeout, read=max(self._timeout, STREAM_READ_TIMEOUT))
            wait: float | None = None
            try:
                with self._http.stream("GET", "agent/events/", headers=headers, timeout=timeout) as response:
                    if response.status_code >= 400:
                        response.read()
                        retry_after = parse_retry_after(response.headers.get("Retry-After"))
                        if not self.retry_policy.should_retry(attempt=failures, status=response.status_code, safe=True):
                            raise self._error(response, retry_after=retry_after)
                        wait = self.retry_policy.wait(attempt=failures, retry_after=retry_after)
                        if wait is None:
                            raise self._error(response, retry_after=retry_after)
                        failures += 1
                    else:
                        failures = 0
                        for line in response.iter_lines():
                            if expired():
                                return
                            for event in parser.feed([line]):
                                yield event
                                if expired():
                                    return
            except httpx.TransportError as exc:
                if not self.retry_policy.should_retry(attempt=failures, status=None, safe=True):
                    message = f"event stream: {type(exc).__name__}: {exc}"
                    raise APIConnectionError(message, code="connection_error") from exc
                wait = self.retry_policy.wait(attempt=failures, retry_after=None)
                failures += 1
            if wait is None:  # the server ended the stream: come back after the wait it asked for
                wait = min(parser.retry_ms / 1000, self.retry_policy.max_wait) if parser.retry_ms is not None else 1.0
            if deadline is not None:
                wait = min(wait, max(0.0, deadline - time.monotonic()))
            time.sleep(wait)
