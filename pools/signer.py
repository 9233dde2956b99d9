"""The web tier's handle on the enclave signer, configured from settings (the client itself has no Django in it)."""

from functools import cache

from django.conf import settings

from pools.signer_client import SignerClient


@cache
def _client_for(url: str, client_key: str, timeout: int) -> SignerClient:
    key_id, _, secret = client_key.partition(":")
    return SignerClient(base_url=url, key_id=key_id, secret=bytes.fromhex(secret), timeout=timeout)


def signer_client(*, timeout: float | None = None) -> SignerClient:
    """The signer client; `timeout` shorter than SIGNER_TIMEOUT for a caller that cannot wait (a health check)."""
    return _client_for(settings.SIGNER_URL, settings.SIGNER_CLIENT_KEY, timeout or settings.SIGNER_TIMEOUT)
