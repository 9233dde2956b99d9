"""GET /api/v1/pools/{id}/ answered from memory while the pool's state version stands (pools/services/pool_state.py).

A popular launch is when thousands of clients refresh one pool: the body is the same for all of them until a
service changes the pool. So the view stores its rendered answer per (pool, Accept header), with the pool's state
version read along with the pool's row, and the next anonymous request with the same Accept header is answered
before DRF runs: the anonymous rate (counted locally, ratelimit.hit_batched), the version this process knows (one
query per pool per VERSION_TTL_SECONDS), the stored bytes. Anything else takes DRF's whole path, which refreshes the
cache: a request with a query string (StrictQueryParams answers 400), with an API key (authentication, the agent's
own rate), one over its rate (DRF's 429), a pool not public (404), a version not rendered yet.

Every 200 carries a weak ETag (the pool, its version and a digest of the body) and Cache-Control: public, max-age=1
(a shared cache may collapse a crowd onto one request a second; nothing older than a second beyond our own bound);
If-None-Match with that ETag gets 304 without a body.
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseNotModified

from agent_api.throttling import anonymous_hit
from pools.services.pool_state import CachedRead, ReadCache, etag_matches, pool_state_version, weak_etag

# What follows no service is on this page only by an admin's edit outside the services (an agent's name): a stored
# answer is never older than this, whatever the version says.
# (POOL_READ_CACHE_SECONDS: bench/load_settings.py sets 0, cache off, for its comparison.)
MAX_AGE_SECONDS = settings.POOL_READ_CACHE_SECONDS
CACHE = ReadCache(max_entries=2_000, max_age_seconds=MAX_AGE_SECONDS)
CACHE_CONTROL = "public, max-age=1"
# An agent's (authenticated) answer carries its own key's RateLimit-* headers: no shared cache may keep it.
CACHE_CONTROL_PRIVATE = "private, no-cache"
_KEPT_HEADERS = ("Content-Type", "Vary", "Allow")


def _cacheable(request: HttpRequest) -> bool:
    """An anonymous read without parameters: its answer depends on nothing but the pool and the Accept header."""
    meta = request.META
    return request.method in ("GET", "HEAD") and not meta.get("QUERY_STRING") and "HTTP_AUTHORIZATION" not in meta


def _key(request: HttpRequest, pool_id: int) -> tuple[int, str]:
    return pool_id, request.META.get("HTTP_ACCEPT", "")


def cached_answer(request: HttpRequest, *, pool_id: int) -> HttpResponse | None:
    """The answer from memory, or None: DRF serves it (and stores it, when this request claimed the render)."""
    if not _cacheable(request):
        return None
    key = _key(request, pool_id)
    entry, claimed = CACHE.get_or_claim(key, version=lambda: pool_state_version(pool_id=pool_id))
    if claimed:
        request.pool_cache_claim = key  # finished by finish(): stored, or released
    if entry is None or not anonymous_hit(request).allowed:
        return None  # over its rate: DRF's throttle answers the 429 with the result counted here
    return _answer(request, entry)


def finish(request: HttpRequest, response: HttpResponse, *, pool_id: int, version: int | None) -> HttpResponse:
    """DRF's answer: a 200 gets its ETag and Cache-Control and is kept for the next requests (304 if the client has
    it already); anything else is passed on, and the render this request claimed is released."""
    claim = getattr(getattr(request, "_request", request), "pool_cache_claim", None)
    try:
        if response.status_code == 200 and version is not None:
            return _store_and_answer(request, response, pool_id=pool_id, version=version)
        return response
    finally:
        if claim is not None:
            CACHE.release(claim)


def _store_and_answer(request: HttpRequest, response: HttpResponse, *, pool_id: int, version: int) -> HttpResponse:
    response.render()
    entry = CachedRead(
        version=version,
        body=response.content,
        etag=weak_etag(pool_id=pool_id, version=version, body=response.content),
        headers=tuple((name, response[name]) for name in _KEPT_HEADERS if response.has_header(name)),
    )
    if _cacheable(request):
        CACHE.put(_key(request, pool_id), entry)
    if etag_matches(request.META.get("HTTP_IF_NONE_MATCH", ""), entry.etag):
        return _answer(request, entry)
    response["ETag"] = entry.etag
    response["Cache-Control"] = CACHE_CONTROL if _cacheable(request) else CACHE_CONTROL_PRIVATE
    return response


def _answer(request: HttpRequest, entry: CachedRead) -> HttpResponse:
    if etag_matches(request.META.get("HTTP_IF_NONE_MATCH", ""), entry.etag):
        response = HttpResponseNotModified()
        for name, value in entry.headers:
            if name == "Vary":
                response[name] = value
    else:
        response = HttpResponse(entry.body)
        for name, value in entry.headers:
            response[name] = value
    response["ETag"] = entry.etag
    response["Cache-Control"] = CACHE_CONTROL
    return response
