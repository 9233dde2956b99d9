"""A read-only web3 client for the web tier and workers; it never holds a key (the enclave signer does)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from functools import cache

import requests
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from web3 import Web3

from chain.devnet import ChainDeployment
from chain.errors import ChainIdMismatch, ChainUnavailable, DeploymentMissing

logger = logging.getLogger(__name__)


@cache
def _web3_for(rpc_url: str, timeout: int) -> Web3:
    return Web3(Web3.HTTPProvider(rpc_url, request_kwargs={"timeout": timeout}))


def web3_client() -> Web3:
    """The process's web3 client for CHAIN_RPC_URL."""
    return _web3_for(settings.CHAIN_RPC_URL, settings.CHAIN_RPC_TIMEOUT)


@dataclass(frozen=True)
class ChainStatus:
    chain_id: int
    block_number: int


def chain_status(*, w3: Web3 | None = None) -> ChainStatus:
    """The RPC's chain id and latest block, or ChainUnavailable."""
    w3 = w3 or web3_client()
    try:
        return ChainStatus(chain_id=w3.eth.chain_id, block_number=w3.eth.block_number)
    except (requests.exceptions.RequestException, OSError) as exc:
        raise ChainUnavailable(f"the RPC at {w3.provider.endpoint_uri} did not answer: {exc}") from exc


def check_chain_id(*, w3: Web3 | None = None) -> ChainStatus:
    """ChainIdMismatch when the RPC's chain id differs from CHAIN_ID."""
    status = chain_status(w3=w3)
    if status.chain_id != settings.CHAIN_ID:
        raise ChainIdMismatch(
            f"CHAIN_RPC_URL serves chain id {status.chain_id}, but CHAIN_ID is {settings.CHAIN_ID}: "
            "point CHAIN_RPC_URL at the right network or fix CHAIN_ID."
        )
    return status


def assert_configured_chain() -> None:
    """Run at process start: refuse a wrong chain; an unreachable RPC is only logged (/healthz reports it)."""
    if not settings.CHAIN_CHECK_ON_START:
        return
    try:
        check_chain_id()
    except ChainIdMismatch as exc:
        raise ImproperlyConfigured(str(exc)) from exc
    except ChainUnavailable as exc:
        logger.warning("chain check skipped at start: %s", exc)


def chain_deployment() -> ChainDeployment:
    """Contract addresses: from settings on a real network, else from the file the dev fixture deployer wrote."""
    configured = {key: value for key, value in settings.CHAIN_ADDRESSES.items() if value}
    if configured.get("uniswap_v2_factory"):
        return ChainDeployment(
            chain_id=settings.CHAIN_ID, **{k: settings.CHAIN_ADDRESSES[k] for k in settings.CHAIN_ADDRESSES}
        )
    path = settings.CHAIN_DEPLOYMENT_FILE
    if not path.exists():
        raise DeploymentMissing(
            f"no contract addresses: set CHAIN_UNISWAP_V2_FACTORY and friends for a real network, "
            f"or run `python manage.py deploy_dev_fixtures` on a local chain (writes {path})."
        )
    deployment = ChainDeployment.from_file(path)
    if deployment.chain_id != settings.CHAIN_ID:
        raise DeploymentMissing(f"{path} is for chain {deployment.chain_id}, not CHAIN_ID {settings.CHAIN_ID}.")
    return deployment
