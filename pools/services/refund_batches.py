"""How what is owed back is cut into refund transactions the signer will sign, whatever the amounts and the fees.

Pure: the refund job (pools/services/refunds.py) gives it the refunds owed, oldest first, and the limits of the moment;
it answers with the next batch. A batch fits every limit the signer checks (docs/signer.md, "Refunds"):

- **count**: at most REFUND_BATCH_SIZE recipients, each named once (the signer refuses a name twice);
- **value**: the amounts add up to at most the pool's value cap (its hard cap), so a late rush of deposits, or one
  whale's excess over the per-wallet maximum, is paid over several transactions instead of being refused for ever;
  a recipient owed more than the cap is split into parts (`split`) that go in separate transactions;
- **gas**: the batch's gas, the least the signer accepts for that many recipients, is within a share of a block;
- **fees**: gas x the maxFeePerGas it will be sent with is within the signer's per-transaction fee cap. When fees
  rise the batches shrink; when not even one recipient fits, the batch is empty and the job waits for fees to fall.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from enclave_signer.policy import refund_gas_range


def batch_gas(recipients: int, *, native: bool) -> int:
    """The gas a refund to `recipients` is sent with: the least the signer accepts (it allows up to twice that)."""
    return refund_gas_range(recipients, native=native)[0]


@dataclass(frozen=True)
class BatchLimits:
    native: bool
    max_count: int
    max_value: int  # the most one transaction may pay in all: the signer's value cap for the pool
    max_gas: int  # the most gas one transaction may carry
    max_tx_fee: int  # the signer's fee cap: gas x maxFeePerGas of one transaction
    max_fee_per_gas: int  # what the batch would be sent with now

    def most_recipients(self) -> int:
        """How many recipients one transaction may carry at these fees (0: not even one, wait for fees to fall)."""
        gas_room = min(self.max_gas, self.max_tx_fee // max(self.max_fee_per_gas, 1))
        base = batch_gas(0, native=self.native)
        by_gas = (gas_room - base) // (batch_gas(1, native=self.native) - base)
        return max(0, min(self.max_count, by_gas))


@dataclass(frozen=True)
class Owed:
    key: object  # the caller's identifier (a Refund's id)
    recipient: str
    amount: int


def split(amount: int, *, cap: int) -> list[int]:
    """`amount` as parts of at most `cap`, largest first: [cap, cap, ..., rest]."""
    if cap <= 0:
        raise ValueError("the value cap must be positive")
    whole, rest = divmod(amount, cap)
    return [cap] * whole + ([rest] if rest else [])


def next_batch(owed: Iterable[Owed], limits: BatchLimits) -> list[Owed]:
    """The next batch, oldest first: one part per recipient, within the count, value, gas and fee limits.

    A part that would take the batch over the value cap is left for a later batch and smaller ones behind it may
    still join, so the oldest part always goes first and nothing waits behind one large amount. Every part must be
    at most `max_value` (see `split`).
    """
    room = limits.most_recipients()
    batch: list[Owed] = []
    named: set[str] = set()
    total = 0
    for item in owed:
        if len(batch) >= room:
            break
        if item.amount > limits.max_value:
            raise ValueError(f"{item.key}: {item.amount} is more than one transaction may pay ({limits.max_value})")
        if item.recipient.lower() in named or total + item.amount > limits.max_value:
            continue
        batch.append(item)
        named.add(item.recipient.lower())
        total += item.amount
    return batch
