"""Errors of the indexer itself (the chain's own errors are in chain/errors.py)."""

from chain.errors import ChainError


class ChainChangedDuringFetch(ChainError):
    """The blocks of a window did not link into one chain (a reorganisation while fetching): fetch again."""


class ReorgTooDeep(ChainError):
    """A reorganisation reaches below the oldest block hash kept: the fork point cannot be found safely."""
