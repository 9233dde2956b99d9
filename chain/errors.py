"""Typed chain errors: nothing above the chain client parses a node's error text."""


class ChainError(Exception):
    """Something went wrong talking to the chain."""


class ChainUnavailable(ChainError):
    """The RPC did not answer (down, unreachable, timed out)."""


class ChainIdMismatch(ChainError):
    """The RPC serves a different chain than the one configured: refuse to index or sign for it."""


class DeploymentMissing(ChainError):
    """The contract addresses the app needs are not configured or not deployed."""


class RpcError(ChainError):
    """The node answered a JSON-RPC request with an error."""

    def __init__(self, message: str, *, code: int | None = None, method: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.method = method


class RpcResponseTooLarge(RpcError):
    """The node refused a request as too big (too many results, block range too wide, response size): ask for less."""


class RpcMethodUnsupported(RpcError):
    """The node does not offer this method (for example tracing): the caller decides whether it can do without."""


class RpcTimeout(ChainUnavailable):
    """The node did not answer in time; for a wide request, asking for less usually helps."""


class NonceTooLow(ChainError):
    """The node says the nonce was already used: the transaction (or another at that nonce) is mined."""


class AlreadyKnown(ChainError):
    """The node already has this transaction in its pool: rebroadcasting it is a no-op."""


class InsufficientFunds(ChainError):
    """The sender cannot pay value + gas: top it up, or the request is wrong."""


class ReplacementUnderpriced(ChainError):
    """A transaction at this nonce with higher fees is already pending."""


class NotAnErc20(ChainError):
    """The address does not answer ERC-20's metadata calls as a token does: no code there, a call reverted or
    answered nothing or garbage. The chain answered, so asking again will not help."""

    def __init__(self, message: str, *, address: str) -> None:
        super().__init__(message)
        self.address = address


class FeesTooHigh(ChainError):
    """maxFeePerGas would pass CHAIN_MAX_FEE_PER_GAS_WEI: send nothing now, wait for the base fee to come down."""

    code = "fees_too_high"

    def __init__(self, *, base_fee: int, max_fee_per_gas: int, cap: int) -> None:
        super().__init__(
            f"Network fees are too high to send now: the base fee is {base_fee} wei per gas, so maxFeePerGas would be "
            f"{max_fee_per_gas} wei, above CHAIN_MAX_FEE_PER_GAS_WEI ({cap} wei). Waiting for fees to come down; "
            "raise CHAIN_MAX_FEE_PER_GAS_WEI to send at these fees."
        )
        self.base_fee, self.max_fee_per_gas, self.cap = base_fee, max_fee_per_gas, cap
