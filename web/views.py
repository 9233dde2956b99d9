"""The public website: thin views that read through selectors (or one service) and render a template."""

from __future__ import annotations

import hashlib
import json
import posixpath
import secrets

from django.conf import settings
from django.core.paginator import Paginator
from django.http import (
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    JsonResponse,
    StreamingHttpResponse,
)
from django.shortcuts import redirect, render
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_POST
from eth_utils import is_address, to_checksum_address

from chain.contracts import encode_claim
from chain.errors import ChainError
from chain.reads import claim_status
from pools import ratelimit
from pools.models import Launch, Pool
from pools.selectors.trace_gaps import pool_traces_unwatched_since
from pools.services.pool_state import (
    CachedRead,
    ReadCache,
    etag_matches,
    pool_state_version,
    remember_version,
    weak_etag,
)
from pools.signer_client import SignerError
from web import payments, presentation, selectors, siwe, transparency
from web.siwe import SiweError

POOLS_PER_PAGE = 24
LAUNCHED_PER_PAGE = 20
SESSION_ADDRESS = "siwe_address"
SIWE_COOKIE = "siwe_challenge"  # binds a sign-in nonce to the browser that asked for it (web/siwe.py)
# Nothing on a pool page changes by itself any more: the live part stops polling (htmx stops on 286).
FINAL_STATUSES = (Pool.Status.REFUNDED, Pool.Status.CANCELLED)
STOP_POLLING = 286
UNCHANGED = 204


def _address_from(request: HttpRequest) -> tuple[str, str]:
    """(checksummed address or '', error): the `address` query parameter, else the signed-in address."""
    typed = request.GET.get("address", "").strip()
    if typed:
        if not is_address(typed):
            return "", "That is not an Ethereum address: 0x followed by 40 hexadecimal characters."
        return to_checksum_address(typed), ""
    return request.session.get(SESSION_ADDRESS, ""), ""


@require_GET
def pool_list(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "").strip()[:100]
    group = request.GET.get("status", "")
    group = group if group in selectors.STATUS_GROUPS else ""
    page = Paginator(selectors.pools_public(search=search, group=group), POOLS_PER_PAGE).get_page(
        request.GET.get("page")
    )
    feeds = selectors.latest_feed_snapshots(chain_id=settings.CHAIN_ID)
    rows = [
        (
            pool,
            presentation.pool_progress(pool=pool),
            presentation.pool_phase(pool=pool),
            selectors.feed_for_pool(pool=pool, feeds=feeds),
        )
        for pool in page
    ]
    return render(
        request,
        "web/pool_list.html",
        {
            "page": page,
            "rows": rows,
            "search": search,
            "group": group,
            "groups": [(key, label) for key, (label, _) in selectors.STATUS_GROUPS.items()],
        },
    )


def _pool_context(request: HttpRequest, pool: Pool) -> dict:
    """Everything on a pool page that follows the pool's state: one context for the page and its live fragment."""
    activity = selectors.deposit_activity(pool=pool)
    me_address, _ = _address_from(request)
    me = selectors.contribution_in(pool=pool, address=me_address) if me_address else None
    feed = selectors.feed_for_pool(pool=pool, feeds=selectors.latest_feed_snapshots(chain_id=settings.CHAIN_ID))
    figures = presentation.launch_figures(pool=pool, feed=feed)
    launch = getattr(pool, "launch", None)
    context = {
        "pool": pool,
        "activity": activity,
        "refunds_waiting": presentation.refunds_waiting_notice(pool=pool, unsettled=activity.refunds_owed),
        "progress": presentation.pool_progress(pool=pool),
        "phase": presentation.pool_phase(pool=pool),
        "launch": launch,
        "launched": launch is not None and launch.step == Launch.Step.LAUNCHED,
        "final": _final(pool, activity),
        "feed": feed,
        "figures": figures,
        "me": me,
        "me_address": me_address,
        "me_tokens": _tokens_of(pool, me, figures),
        "traces_unwatched_since": pool_traces_unwatched_since(pool=pool),
    }
    context.update(
        payments.deposit_panel_context(
            pool=pool, me=me, amount_text=request.GET.get("amount", "").strip()[:80], feed=feed
        )
    )
    return context


def _final(pool: Pool, activity: selectors.DepositActivity) -> bool:
    """Nothing on the page will change by itself any more: the live poll may stop. A launched pool still pays back
    what came over the cap or too late, so it stays live while anything is pending or owed."""
    if pool.status == Pool.Status.LAUNCHED:
        return not activity.pending_count and not activity.owed_back
    return pool.status in FINAL_STATUSES


def _tokens_of(pool: Pool, me: selectors.PoolContribution | None, figures: presentation.LaunchFigures) -> int | None:
    if me is None:
        return None
    return presentation.expected_tokens(
        pool=pool, credited=me.credited, allocation=me.allocation, depositor_tokens=figures.depositor_tokens
    )


def _live_context(request: HttpRequest, pool: Pool) -> dict:
    """The pool's context with its live fragment rendered, and that rendering's version (a hash of its HTML): the
    client sends back the version it shows, and an unchanged page costs one short answer instead of a swap."""
    context = _pool_context(request, pool)
    state = render_to_string("web/_pool_state.html", context, request=request)
    context["state"] = state
    context["version"] = hashlib.sha256(state.encode()).hexdigest()[:20]
    return context


@require_GET
def pool_detail(request: HttpRequest, pool_id: int) -> HttpResponse:
    pool = selectors.pool_public(pool_id=pool_id)
    context = _live_context(request, pool)
    context["rules"] = presentation.pool_rules(pool=pool)
    context["site_url"] = request.build_absolute_uri("/").rstrip("/")  # for the verify-pool command
    return render(request, "web/pool_detail.html", context)


# The live fragment as every visitor without an address of their own sees it, kept per pool while its state version
# stands (pools/services/pool_state.py) and for at most LIVE_MAX_AGE_SECONDS: that bounds what follows the clock
# rather than a service (the countdown, by the minute; the oracle's price; the phase at the open and close times,
# until the beat's service call; the indexer's trace notice; the price chart's summary).
LIVE_MAX_AGE_SECONDS = settings.POOL_READ_CACHE_SECONDS
LIVE_CACHE = ReadCache(max_entries=1_000, max_age_seconds=LIVE_MAX_AGE_SECONDS)


def _live_rendering(request: HttpRequest, pool_id: int) -> CachedRead:
    pool = selectors.pool_public(pool_id=pool_id)
    remember_version(pool_id=pool.pk, version=pool.state_version)  # read with the row, before the rest
    context = _live_context(request, pool)
    body = render_to_string("web/_pool_live.html", context, request=request).encode()
    return CachedRead(
        version=pool.state_version,
        body=body,
        etag=weak_etag(pool_id=pool.pk, version=pool.state_version, body=body),
        extra={"version": context["version"], "final": context["final"]},
    )


@never_cache
@require_GET
def pool_live(request: HttpRequest, pool_id: int) -> HttpResponse:
    """Everything on a pool page that follows its state, polled by htmx with the version it shows (`v`): 204 (no
    swap) while that is still current, else the fragment. Once the shown version is current and final, 286 with the
    same fragment: htmx stops polling on 286 but still swaps its body, which therefore cannot be empty.

    A visitor with no address of their own (not signed in, no `address` or `amount`) gets the shared rendering, from
    LIVE_CACHE while the pool's state version stands. A 200 carries a weak ETag; If-None-Match with it gets 304."""
    shared = set(request.GET) <= {"v"} and not request.session.get(SESSION_ADDRESS)
    entry, claimed = None, False
    if shared:
        entry, claimed = LIVE_CACHE.get_or_claim(pool_id, version=lambda: pool_state_version(pool_id=pool_id))
    if entry is None:
        try:
            entry = _live_rendering(request, pool_id)
        finally:
            if claimed:
                LIVE_CACHE.release(pool_id)
        if shared:
            LIVE_CACHE.put(pool_id, entry)
    current = request.GET.get("v") == entry.extra["version"]
    if current and not entry.extra["final"]:
        return HttpResponse(status=UNCHANGED)
    if not current and etag_matches(request.META.get("HTTP_IF_NONE_MATCH", ""), entry.etag):
        response = HttpResponseNotModified()
    else:
        response = HttpResponse(entry.body, status=STOP_POLLING if current else 200)
    response["ETag"] = entry.etag
    return response


@require_GET
def account(request: HttpRequest) -> HttpResponse:
    address, error = _address_from(request)
    contributions = selectors.contributions_of(address=address) if address else []
    claims_error = selectors.claims_add(address=address, contributions=contributions) if contributions else ""
    return render(
        request,
        "web/account.html",
        {
            "address": address,
            "typed": request.GET.get("address", ""),
            "error": error,
            "signed_in": request.session.get(SESSION_ADDRESS, ""),
            "contributions": contributions,
            "claims_error": claims_error,
        },
    )


def _claim_context(request: HttpRequest, pool_id: int) -> dict:
    pool = selectors.pool_public(pool_id=pool_id)
    address, error = _address_from(request)
    launch = getattr(pool, "launch", None)
    context = {
        "pool": pool,
        "launch": launch,
        "address": address,
        "typed": request.GET.get("address", ""),
        "error": error,
        "signed_in": request.session.get(SESSION_ADDRESS, ""),
    }
    allocation = selectors.allocation_of(pool=pool, address=address) if address else None
    context["allocation"] = allocation
    if allocation and launch and launch.claim_vault_address:
        try:
            status = claim_status(
                vault=launch.claim_vault_address, account=allocation.address, allocation=allocation.token_amount
            )
            context["status"] = status
            if status:
                context["outlook"] = presentation.claim_outlook(
                    status=status, allocation=allocation.token_amount, token_symbol=pool.token_symbol
                )
        except ChainError as exc:
            context["chain_error"] = str(exc)
        proof = [bytes.fromhex(p.removeprefix("0x")) for p in allocation.proof]
        context["calldata"] = "0x" + encode_claim(amount=allocation.token_amount, proof=proof).hex()
    return context


@require_GET
def claim(request: HttpRequest, pool_id: int) -> HttpResponse:
    return render(request, "web/claim.html", _claim_context(request, pool_id))


@never_cache
@require_GET
def claim_status_fragment(request: HttpRequest, pool_id: int) -> HttpResponse:
    return render(request, "web/_claim_status.html", _claim_context(request, pool_id))


# --- Sign-In with Ethereum ------------------------------------------------------------------------------------


def _site(request: HttpRequest) -> dict[str, str]:
    """What a sign-in message must name: this host (validated against ALLOWED_HOSTS) and its origin."""
    host = request.get_host()
    return {"domain": host, "origin": f"{request.scheme}://{host}"}


def _siwe_error(exc: SiweError) -> JsonResponse:
    return JsonResponse({"error": exc.message, "code": exc.code}, status=exc.status_code)


def _siwe_throttled(request: HttpRequest) -> JsonResponse | None:
    """429 once this client has asked too often (message and verify count together); Retry-After by the middleware."""
    result = ratelimit.hit_client(request, "siwe", settings.SIWE_RATE)
    if result.allowed:
        return None
    return JsonResponse(
        {
            "error": f"Too many sign-in requests from your address: try again in {result.retry_after_seconds} s.",
            "code": "rate_limited",
        },
        status=429,
    )


def _siwe_cookie() -> tuple[str, str]:
    """The sign-in cookie's name and path. Over HTTPS it is a `__Host-` cookie (secure, path /, no domain), which a
    sibling subdomain cannot plant with a binding it knows; plain-HTTP development cannot use the prefix."""
    if settings.SESSION_COOKIE_SECURE:
        return "__Host-" + SIWE_COOKIE, "/"
    return SIWE_COOKIE, posixpath.commonpath([reverse("siwe-message"), reverse("siwe-verify")]) + "/"


@require_POST
def siwe_message(request: HttpRequest) -> JsonResponse:
    """A fresh EIP-4361 message with a single-use nonce bound to this browser session, for the wallet to sign."""
    if throttled := _siwe_throttled(request):
        return throttled
    try:
        challenge = siwe.siwe_message_prepare(
            address=request.POST.get("address", ""),
            binding=request.COOKIES.get(_siwe_cookie()[0], ""),
            **_site(request),
        )
    except SiweError as exc:
        return _siwe_error(exc)
    response = JsonResponse({"message": challenge.message})
    name, path = _siwe_cookie()
    response.set_cookie(
        name,
        challenge.binding,
        max_age=int(siwe.SIWE_NONCE_TTL.total_seconds()),
        path=path,
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )
    return response


@require_POST
def siwe_verify(request: HttpRequest) -> JsonResponse:
    """Check the signed message; on success the session is signed in as its address."""
    if throttled := _siwe_throttled(request):
        return throttled
    try:
        address = siwe.siwe_login_verify(
            message=request.POST.get("message", ""),
            signature=request.POST.get("signature", ""),
            binding=request.COOKIES.get(_siwe_cookie()[0], ""),
            **_site(request),
        )
    except SiweError as exc:
        return _siwe_error(exc)
    request.session.cycle_key()  # a new session id at sign-in: a planted one is worth nothing
    request.session[SESSION_ADDRESS] = address
    response = JsonResponse({"address": address, "next": _next_page(request, request.POST.get("next", ""))})
    name, path = _siwe_cookie()
    response.delete_cookie(name, path=path, samesite="Strict")
    return response


def _next_page(request: HttpRequest, wanted: str) -> str:
    """Where sign-in (or sign-out) returns: the page it started on when that is on this site, else My contribution.
    Anything else (another host, another scheme, `//evil.example`) would make this site an open redirect."""
    if wanted and url_has_allowed_host_and_scheme(
        wanted, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return wanted
    return reverse("account")


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    next_page = _next_page(request, request.POST.get("next", ""))
    request.session.flush()
    return redirect(next_page)


# --- dashboard ------------------------------------------------------------------------------------------------


@require_GET
def dashboard(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.launched_pools_with_snapshots(), LAUNCHED_PER_PAGE).get_page(request.GET.get("page"))
    feeds = selectors.latest_feed_snapshots(chain_id=settings.CHAIN_ID)
    launched = [presentation.launched_row(pool=pool) for pool in page]
    open_rows = [
        presentation.open_row(pool=pool, feed=selectors.feed_for_pool(pool=pool, feeds=feeds))
        for pool in selectors.open_pools_for_dashboard()
    ]
    return render(
        request,
        "web/dashboard.html",
        {
            "page": page,
            "launched": launched,
            "open_rows": open_rows,
            "feeds": sorted(feeds.values(), key=lambda f: f.asset),
            "now": timezone.now(),
        },
    )


# --- transparency ---------------------------------------------------------------------------------------------


@require_GET
def transparency_page(request: HttpRequest) -> HttpResponse:
    before = request.GET.get("before", "")
    context: dict = {"before": before, "expected_compose_hash": settings.SIGNER_EXPECTED_COMPOSE_HASH}
    try:
        context["report"] = transparency.attestation(nonce=secrets.token_hex(16))
        context["log"] = transparency.log_page(before=int(before) if before.isdigit() else None)
    except SignerError as exc:
        context["signer_error"] = str(exc)
    else:
        context["verdict"] = transparency.verify_report(report=context["report"])
    return render(request, "web/transparency.html", context)


@require_GET
def transparency_entry(request: HttpRequest, seq: int) -> HttpResponse:
    try:
        entry = transparency.log_entry(seq=seq)
        report = transparency.attestation(nonce=secrets.token_hex(16))
    except SignerError as exc:
        return render(request, "web/transparency_entry.html", {"seq": seq, "signer_error": str(exc)}, status=503)
    if entry is None:
        raise Http404("no such log entry")
    return render(
        request,
        "web/transparency_entry.html",
        {
            "seq": seq,
            "entry": entry,
            "check": transparency.check_entry(entry=entry, log_key=report.get("log_key", "")),
            "payload_json": json.dumps(entry.get("payload"), indent=2, sort_keys=True),
        },
    )


@require_GET
def transparency_log_download(request: HttpRequest) -> StreamingHttpResponse:
    """The whole log as JSON lines, for `python -m enclave_signer verify-log`."""
    try:
        first = transparency.log_chunks()
        chunks = [next(first)]
    except SignerError as exc:
        return HttpResponse(f"The signer did not answer: {exc}\n", status=503, content_type="text/plain")
    except StopIteration:
        chunks = []

    def lines():
        yield from chunks
        yield from first

    response = StreamingHttpResponse(lines(), content_type="application/jsonl")
    response["Content-Disposition"] = 'attachment; filename="signer-log.jsonl"'
    return response


@require_GET
def verify_pool_doc(request: HttpRequest) -> HttpResponse:
    """docs/verify-pool.md, as plain text: what `python -m enclave_signer verify-pool` checks and how to read it."""
    text = (settings.BASE_DIR / "docs" / "verify-pool.md").read_text(encoding="utf-8")
    return HttpResponse(text, content_type="text/plain; charset=utf-8")


@never_cache
@require_GET
def transparency_attestation_download(request: HttpRequest) -> HttpResponse:
    """An attestation report bound to the caller's own nonce (a fresh one when none is given)."""
    nonce = request.GET.get("nonce", "").strip() or secrets.token_hex(16)
    if not 1 <= len(nonce) <= 128:
        return HttpResponse("nonce: 1 to 128 characters\n", status=400, content_type="text/plain")
    try:
        report = transparency.attestation(nonce=nonce)
    except SignerError as exc:
        return HttpResponse(f"The signer did not answer: {exc}\n", status=503, content_type="text/plain")
    response = JsonResponse(report, json_dumps_params={"indent": 2})
    response["Content-Disposition"] = 'attachment; filename="attestation.json"'
    return response
