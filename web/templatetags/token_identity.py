"""The token's identity on the pages: its links as they are safe to show, a one-line summary for link previews, and
where to trade it after launch (Uniswap's interface on the chains it serves, the router's address elsewhere)."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urlencode, urlsplit

from django import template

from chain.client import chain_deployment
from chain.errors import DeploymentMissing
from pools.models import Pool

register = template.Library()

UNISWAP_SWAP_URL = "https://app.uniswap.org/swap"
# Chain id → the `chain` parameter of app.uniswap.org's URLs (the interface's own urlParam names). A chain missing
# here (a local one, or one the interface does not list, e.g. Base Sepolia) gets the router's address instead.
UNISWAP_CHAINS = {
    1: "ethereum",
    10: "optimism",
    56: "bnb",
    130: "unichain",
    137: "polygon",
    8453: "base",
    42161: "arbitrum",
    43114: "avalanche",
    11155111: "ethereum_sepolia",
}
SUMMARY_MAX_CHARS = 200


@dataclass(frozen=True)
class ShownLink:
    label: str
    url: str
    host: str


@register.simple_tag
def token_links(pool: Pool) -> list[ShownLink]:
    """The pool's links that are https with a host, each with the host people see before they follow it."""
    shown = []
    for link in pool.links if isinstance(pool.links, list) else []:
        if not isinstance(link, dict) or not isinstance(link.get("url"), str) or not isinstance(link.get("label"), str):
            continue
        parts = urlsplit(link["url"])
        if parts.scheme == "https" and parts.hostname:
            shown.append(ShownLink(label=link["label"], url=link["url"], host=parts.hostname))
    return shown


@register.simple_tag
def pool_summary(pool: Pool) -> str:
    """A sentence for `<meta name="description">` and link previews: the agent's description, or what the pool is."""
    text = " ".join(pool.description.split()) or (
        f"{pool.agent.name} raises {pool.raise_asset_symbol} on AI-Pool Launchpad to launch "
        f"{pool.token_name} (${pool.token_symbol})."
    )
    return text if len(text) <= SUMMARY_MAX_CHARS else text[: SUMMARY_MAX_CHARS - 1].rstrip() + "…"


@register.simple_tag(takes_context=True)
def absolute_url(context, path: str) -> str:
    """`path` as an absolute URL on the host the page was asked for (link previews need absolute URLs)."""
    return context["request"].build_absolute_uri(path)


@register.simple_tag
def uniswap_swap_url(pool: Pool, token_address: str) -> str:
    """app.uniswap.org's swap page for the token against the raise asset, or "" on a chain the interface lacks."""
    chain = UNISWAP_CHAINS.get(pool.chain_id)
    if chain is None or not token_address:
        return ""
    paying = "NATIVE" if pool.is_native else pool.raise_asset
    return f"{UNISWAP_SWAP_URL}?{urlencode({'chain': chain, 'inputCurrency': paying, 'outputCurrency': token_address})}"


@register.simple_tag
def uniswap_router() -> str:
    """The Uniswap V2 router the launches use (settings, or the local deployment file); "" when none is known."""
    try:
        return chain_deployment().uniswap_v2_router
    except DeploymentMissing:
        return ""
