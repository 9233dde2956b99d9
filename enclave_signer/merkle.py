"""Merkle trees compatible with OpenZeppelin's `StandardMerkleTree` (@openzeppelin/merkle-tree, format standard-v1).

Same algorithm, so the same root and proofs as the JS library, and proofs that OpenZeppelin's `MerkleProof` (used
by ClaimVault) accepts:
- leaf = keccak256(keccak256(abi.encode(value...))) for the tree's leaf encoding, e.g. ("address", "uint256");
- leaves sorted by hash (the default, `sort_leaves=True`; a stable sort, like JS's);
- the tree is an array of 2n-1 nodes with the leaves stored from the end in reverse order, node i's children at
  2i+1 and 2i+2, each inner node keccak256 of its two children in ascending byte order; the root is node 0;
- a proof is the siblings on the way from the leaf to the root.

Fast enough for 100,000 leaves (a launch's allocation step, the signer's root): (address, uint256) leaves are encoded
by hand instead of through eth_abi (`abi_leaf_hash` is the reference, and tests compare the two), keccak256 and the
checksums go through `enclave_signer.keccak`, and `proofs()` builds every proof at once, level by level, without
verifying each against the root; `get_proof` still verifies the one it returns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from eth_abi import encode
from eth_hash.auto import keccak as eth_hash_keccak

from enclave_signer.keccak import Hasher, checksum_address, keccak256, keccak_hasher

ALLOCATION_LEAF_ENCODING = ("address", "uint256")
UINT256_MAX = 2**256 - 1
_ADDRESS_PADDING = bytes(12)


def leaf_hash(value: Sequence[Any], leaf_encoding: Sequence[str] = ALLOCATION_LEAF_ENCODING) -> bytes:
    """The StandardMerkleTree leaf: keccak256(bytes.concat(keccak256(abi.encode(value))))."""
    return _leaf(value, tuple(leaf_encoding), keccak256)


def abi_leaf_hash(value: Sequence[Any], leaf_encoding: Sequence[str] = ALLOCATION_LEAF_ENCODING) -> bytes:
    """`leaf_hash` through eth_abi's encoder and eth_hash's keccak: the reference the fast path is checked against."""
    return eth_hash_keccak(eth_hash_keccak(encode(list(leaf_encoding), list(value))))


def _leaf(value: Sequence[Any], encoding: tuple[str, ...], keccak: Hasher) -> bytes:
    if encoding == ALLOCATION_LEAF_ENCODING and len(value) == 2:
        encoded = _encode_address_uint256(value[0], value[1])
        if encoded is not None:
            return keccak(keccak(encoded))
    return keccak(keccak(encode(list(encoding), list(value))))


def _encode_address_uint256(address: Any, amount: Any) -> bytes | None:
    """abi.encode(address, uint256) by hand (12 zero bytes, the 20 address bytes, the amount in 32 big-endian bytes)
    for a 0x-prefixed hex address and an int in range; None for anything else, which eth_abi then encodes (or
    refuses) itself. Like eth_abi, an address's letter case is not checked."""
    if type(amount) is not int or not 0 <= amount <= UINT256_MAX:
        return None
    if type(address) is not str or len(address) != 42 or address[:2] not in ("0x", "0X"):
        return None
    try:
        raw = bytes.fromhex(address[2:])
    except ValueError:
        return None
    if len(raw) != 20:  # fromhex skips whitespace
        return None
    return _ADDRESS_PADDING + raw + amount.to_bytes(32, "big")


def hash_pair(a: bytes, b: bytes) -> bytes:
    """An inner node: the keccak256 of both children in ascending byte order (commutative)."""
    return keccak256(a + b if a <= b else b + a)


def process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """The root a proof leads to from a leaf, as `MerkleProof.processProof` computes it."""
    node = leaf
    for sibling in proof:
        node = hash_pair(node, sibling)
    return node


def abi_process_proof(leaf: bytes, proof: Sequence[bytes]) -> bytes:
    """`process_proof` through eth_hash's keccak: the reference path, independent of the fast hasher the tree uses."""
    node = leaf
    for sibling in proof:
        node = eth_hash_keccak(node + sibling if node <= sibling else sibling + node)
    return node


def _sibling_index(index: int) -> int:
    return index - 1 if index % 2 == 0 else index + 1


def _parent_index(index: int) -> int:
    return (index - 1) // 2


def make_merkle_tree(leaves: Sequence[bytes]) -> list[bytes]:
    """The node array of a tree over `leaves`, in OpenZeppelin's layout."""
    if not leaves:
        raise ValueError("Expected non-zero number of leaves")
    if any(len(leaf) != 32 for leaf in leaves):
        raise ValueError("Merkle tree nodes must be 32 bytes")
    keccak = keccak_hasher()
    tree: list[bytes] = [b""] * (2 * len(leaves) - 1)
    tree[len(tree) - len(leaves) :] = leaves[::-1]
    for i in range(len(tree) - 1 - len(leaves), -1, -1):
        left, right = tree[2 * i + 1], tree[2 * i + 2]
        tree[i] = keccak(left + right if left <= right else right + left)
    return tree


def proof_for_tree_index(tree: Sequence[bytes], tree_index: int) -> list[bytes]:
    """The sibling path from node `tree_index` (a leaf) to the root."""
    if not (0 <= tree_index < len(tree)) or 2 * tree_index + 1 < len(tree):
        raise ValueError("Index is not a leaf")
    proof = []
    while tree_index > 0:
        proof.append(tree[_sibling_index(tree_index)])
        tree_index = _parent_index(tree_index)
    return proof


def paths_to_root(nodes: Sequence[Any], tree_indices: Sequence[int]) -> list[list[Any]]:
    """For each tree index (a leaf), the siblings from it up to the root, as `proof_for_tree_index` lists them, but
    taken from `nodes` (the tree's nodes, or any per-node labels such as their hex), and all at once.

    Built level by level from the root down, without hashing: an inner node's path is its sibling followed by its
    parent's path, and a parent (index (i - 1) // 2) always comes before its children in the array. O(n log n)
    list copying in C instead of a walk and a verification per leaf.
    """
    size = len(nodes)
    inner = size // 2  # nodes 0 .. inner-1 have children; the rest are leaves
    paths: list[list[Any]] = [[]] * inner
    for i in range(1, inner):
        paths[i] = [nodes[i - 1 if i % 2 == 0 else i + 1], *paths[(i - 1) // 2]]
    proofs = []
    for index in tree_indices:
        if not (inner <= index < size):
            raise ValueError("Index is not a leaf")
        proofs.append([nodes[index - 1 if index % 2 == 0 else index + 1], *paths[(index - 1) // 2]] if index else [])
    return proofs


@dataclass(frozen=True)
class StandardMerkleTree:
    """A built tree: its nodes, the values in input order and where each value's leaf sits in the tree."""

    tree: tuple[bytes, ...]
    values: tuple[tuple[Any, ...], ...]
    tree_indices: tuple[int, ...]
    leaf_encoding: tuple[str, ...]

    @classmethod
    def of(
        cls, values: Sequence[Sequence[Any]], leaf_encoding: Sequence[str], *, sort_leaves: bool = True
    ) -> StandardMerkleTree:
        """Build the tree of `values` (each a tuple matching `leaf_encoding`), like `StandardMerkleTree.of`."""
        encoding = tuple(leaf_encoding)
        keccak = keccak_hasher()
        hashed = [(_leaf(value, encoding, keccak), index) for index, value in enumerate(values)]
        if sort_leaves:
            hashed.sort(key=lambda item: item[0])  # stable, like Array.prototype.sort
        tree = make_merkle_tree([leaf for leaf, _ in hashed])
        tree_indices = [0] * len(values)
        for leaf_index, (_, value_index) in enumerate(hashed):
            tree_indices[value_index] = len(tree) - 1 - leaf_index
        return cls(
            tree=tuple(tree),
            values=tuple(tuple(value) for value in values),
            tree_indices=tuple(tree_indices),
            leaf_encoding=encoding,
        )

    @property
    def root(self) -> bytes:
        return self.tree[0]

    @property
    def root_hex(self) -> str:
        return "0x" + self.root.hex()

    def __len__(self) -> int:
        return len(self.values)

    def leaf_hash(self, value: Sequence[Any]) -> bytes:
        return leaf_hash(value, self.leaf_encoding)

    def get_proof(self, value_index: int) -> list[bytes]:
        """The proof of the `value_index`-th value (in input order)."""
        proof = proof_for_tree_index(self.tree, self.tree_indices[value_index])
        if not self.verify(self.values[value_index], proof):
            raise AssertionError("Unable to prove value")
        return proof

    def proofs(self) -> list[list[bytes]]:
        """Every value's proof, in input order, built level by level and not verified (`get_proof` verifies one)."""
        return paths_to_root(self.tree, self.tree_indices)

    def proofs_hex(self) -> list[list[str]]:
        """`proofs()` as 0x-hex strings, each node converted once."""
        return paths_to_root(["0x" + node.hex() for node in self.tree], self.tree_indices)

    def verify(self, value: Sequence[Any], proof: Sequence[bytes]) -> bool:
        return process_proof(self.leaf_hash(value), proof) == self.root

    def dump(self) -> dict:
        """The JSON shape of the JS library's `tree.dump()` (numbers as decimal strings, bytes as 0x-hex)."""
        return {
            "format": "standard-v1",
            "leafEncoding": list(self.leaf_encoding),
            "tree": ["0x" + node.hex() for node in self.tree],
            "values": [
                {"value": [_json_value(item) for item in value], "treeIndex": tree_index}
                for value, tree_index in zip(self.values, self.tree_indices, strict=True)
            ],
        }


def _json_value(item: Any) -> Any:
    if isinstance(item, bool):
        return item
    if isinstance(item, int):
        return str(item)
    if isinstance(item, bytes):
        return "0x" + item.hex()
    return item


@dataclass(frozen=True)
class AllocationTree:
    """The depositors' tree of a launch: `(address, amount)` leaves, ClaimVault's format."""

    tree: StandardMerkleTree
    index_by_address: Mapping[str, int]

    @classmethod
    def build(cls, allocations: Mapping[str, int]) -> AllocationTree:
        """Build from address → amount (smallest unit); addresses are checksummed, listed in ascending order."""
        if not allocations:
            raise ValueError("an allocation tree needs at least one depositor")
        keccak = keccak_hasher()
        normalized: dict[str, int] = {}
        for address, amount in allocations.items():
            key = checksum_address(address, keccak)
            if key in normalized:
                raise ValueError(f"address {key} appears twice")
            if amount < 0:
                raise ValueError(f"allocation of {key} is negative")
            normalized[key] = amount
        ordered = sorted(normalized.items(), key=lambda item: item[0].lower())  # numeric order: 40 digits each
        tree = StandardMerkleTree.of(ordered, ALLOCATION_LEAF_ENCODING)
        return cls(tree=tree, index_by_address={address: i for i, (address, _) in enumerate(ordered)})

    @property
    def root(self) -> bytes:
        return self.tree.root

    @property
    def root_hex(self) -> str:
        return self.tree.root_hex

    def amount(self, address: str) -> int:
        return self.tree.values[self.index_by_address[checksum_address(address)]][1]

    def proof(self, address: str) -> list[bytes]:
        """The proof a depositor passes to `ClaimVault.claim(amount, proof)`."""
        return self.tree.get_proof(self.index_by_address[checksum_address(address)])

    def proof_hex(self, address: str) -> list[str]:
        return ["0x" + node.hex() for node in self.proof(address)]

    def proofs_hex(self) -> dict[str, list[str]]:
        """Every depositor's proof as 0x-hex, by checksum address, built level by level (not verified)."""
        return dict(zip(self.index_by_address, self.tree.proofs_hex(), strict=True))
