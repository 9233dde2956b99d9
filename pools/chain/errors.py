"""Typed chain errors: nothing above the chain client parses a node's error text."""


class ChainError(Exception):
    """Something went wrong talking to the chain."""


class ChainUnavailable(ChainError):
    """The RPC did not answer (down, unreachable, timed out)."""


class ChainIdMismatch(ChainError):
    """The RPC serves a different chain than the one configured: refuse to index or sign for it."""


class DeploymentMissing(ChainError):
    """The contract addresses the app needs are not configured or not deployed."""
