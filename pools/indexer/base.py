"""What every deposit indexer shares: the window of blocks, the watched pools, a found deposit, the base class.

A deposit indexer (native transactions, internal transfers, ERC-20 logs) has one job: find the relevant elements
in a window of blocks (RPC reads only) and turn them into deposits (pure). The ChainIndexer owns the cursor, the
window, confirmations and writing; an indexer never touches the database.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from eth_hash.auto import keccak
from eth_utils import to_checksum_address

from chain.rpc import JsonRpc
from pools.indexer.constants import WATCHED_STATUSES
from pools.models import Deposit, Pool

_CAPITAL = frozenset("89abcdef")  # a hex digit of the hash >= 8 capitalises the address's letter beside it
_HEX = frozenset("0123456789abcdef")


def checksum_address(address: str) -> str:
    """EIP-55 checksum of a node's 0x-prefixed address: as eth_utils' to_checksum_address, a third of the cost
    (it validates through several layers; decoding 10,000 deposits spent more on it than on anything else)."""
    lower = address.lower()
    if len(lower) != 42 or not lower.startswith("0x") or not _HEX.issuperset(lower[2:]):
        return to_checksum_address(address)  # anything unusual: the library decides (and raises on garbage)
    digits = lower[2:]
    digest = keccak(digits.encode()).hex()
    return "0x" + "".join(c.upper() if d in _CAPITAL else c for c, d in zip(digits, digest, strict=False))


@dataclass(frozen=True)
class BlockWindow:
    """Blocks first..last, both included."""

    first: int
    last: int

    def __post_init__(self) -> None:
        if self.last < self.first:
            raise ValueError(f"empty window {self.first}..{self.last}")

    def __len__(self) -> int:
        return self.last - self.first + 1

    @property
    def numbers(self) -> range:
        return range(self.first, self.last + 1)


@dataclass(frozen=True)
class BlockHeader:
    number: int
    hash: str
    parent_hash: str
    timestamp: int
    tx_hashes: tuple[str, ...] = ()  # in block order
    # The block's transactions as the node gave them (dicts), when the window was fetched with them.
    transactions: list[dict] | None = None


@dataclass(frozen=True)
class ChainBlocks:
    """A window's blocks, already checked to link into one chain."""

    window: BlockWindow
    headers: dict[int, BlockHeader]

    def hash_of(self, number: int) -> str:
        return self.headers[number].hash

    def timestamp_of(self, number: int) -> int:
        return self.headers[number].timestamp

    def is_canonical(self, number: int, block_hash: str) -> bool:
        """True when an element fetched separately belongs to the same block we have (not to a reorged one)."""
        header = self.headers.get(number)
        return header is not None and header.hash == block_hash.lower()


@dataclass(frozen=True)
class WatchedPool:
    id: int
    address: str  # deposit address, lower case
    raise_asset: str  # ERC-20 address in lower case, or "" for the native asset
    confirmations: int


@dataclass(frozen=True)
class WatchedPools:
    """The pools whose deposit addresses are watched on one chain, by lower-case deposit address."""

    native: dict[str, WatchedPool] = field(default_factory=dict)
    erc20: dict[str, WatchedPool] = field(default_factory=dict)

    @classmethod
    def load(cls, *, chain_id: int) -> WatchedPools:
        native: dict[str, WatchedPool] = {}
        erc20: dict[str, WatchedPool] = {}
        rows = (
            Pool.objects.filter(chain_id=chain_id, status__in=WATCHED_STATUSES)
            .exclude(deposit_address="")
            .order_by("id")
            .values_list("id", "deposit_address", "raise_asset", "confirmations")
        )
        for pool_id, address, asset, confirmations in rows:
            pool = WatchedPool(
                id=pool_id, address=address.lower(), raise_asset=asset.lower(), confirmations=confirmations
            )
            # One address is one pool (the signer derives a key per pool); were it ever reused, the oldest pool
            # keeps it, so a deposit can never be attributed to two pools.
            (erc20 if asset else native).setdefault(pool.address, pool)
        return cls(native=native, erc20=erc20)

    @property
    def all(self) -> list[WatchedPool]:
        return [*self.native.values(), *self.erc20.values()]

    def __bool__(self) -> bool:
        return bool(self.native or self.erc20)


@dataclass(frozen=True)
class FoundDeposit:
    """A transfer of a pool's raise asset to its address, as seen in one block."""

    pool_id: int
    tx_hash: str
    position: str  # "tx", "log:<logIndex>", "trace:<a.b.c>": with chain id and tx hash, the exactly-once key
    kind: str
    sender: str  # checksummed
    amount: int
    block_number: int
    block_hash: str
    tx_index: int
    ordinal: int
    block_timestamp: int  # seconds

    def to_model(self, *, chain_id: int) -> Deposit:
        return Deposit(
            pool_id=self.pool_id,
            chain_id=chain_id,
            tx_hash=self.tx_hash,
            position=self.position,
            kind=self.kind,
            sender=self.sender,
            amount=self.amount,
            block_number=self.block_number,
            block_hash=self.block_hash,
            tx_index=self.tx_index,
            ordinal=self.ordinal,
            block_timestamp=datetime.fromtimestamp(self.block_timestamp, tz=UTC),
            status=Deposit.Status.PENDING,
        )


@dataclass(frozen=True)
class WindowFindings:
    """What the indexers found in one window, and whether the call traces they asked for were served."""

    blocks: ChainBlocks
    deposits: list[FoundDeposit]
    traces_asked: bool = False  # an indexer that reads traces was active (an ETH pool is watched)
    traces_refused: str = ""  # the node's answer when it does not serve them


class DepositIndexer(ABC):
    """Finds one kind of deposit in a window of blocks: `find_relevant_elements` reads, `process_elements` decides."""

    name: str = ""
    # Whether this indexer needs the blocks' full transactions (the window is then fetched with them).
    needs_transactions: bool = False
    # Whether it reads call traces, which plain public RPCs do not serve: when the node says it lacks the method,
    # the window is indexed without this indexer and the gap recorded, instead of stopping every pool.
    reads_traces: bool = False

    @abstractmethod
    def watches(self, pools: WatchedPools) -> bool:
        """Whether any watched pool can receive this kind of deposit (if not, nothing is fetched for it)."""

    @abstractmethod
    def find_relevant_elements(self, *, rpc: JsonRpc, pools: WatchedPools, blocks: ChainBlocks) -> Any:
        """Read from the node what this indexer needs for the window. No database access."""

    @abstractmethod
    def process_elements(self, *, pools: WatchedPools, blocks: ChainBlocks, elements: Any) -> list[FoundDeposit]:
        """Turn the elements into deposits. Pure: the same elements give the same deposits."""
