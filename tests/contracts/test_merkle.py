"""The Python StandardMerkleTree builder: OpenZeppelin's own vectors, properties, proofs accepted on chain, and its
fast parts (hand-encoded leaves, keccak and checksums through pycryptodome's core, all proofs at once) against the
reference ones."""

from __future__ import annotations

import json
import random
import threading

import pytest
from eth_abi import encode
from eth_utils import keccak, to_checksum_address
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chain.artifacts import load_artifact
from chain.devnet import deploy_contract
from enclave_signer import keccak as keccak_module
from enclave_signer.keccak import checksum_address, keccak256, keccak_hasher
from enclave_signer.merkle import (
    AllocationTree,
    StandardMerkleTree,
    abi_leaf_hash,
    leaf_hash,
    paths_to_root,
    process_proof,
    proof_for_tree_index,
)

# Dumps written by @openzeppelin/merkle-tree 1.0.6 (its repository's test/dumps/standard-v1.*.json).
OZ_SORTED_DUMP = {
    "tree": [
        "0x6deb52b5da8fd108f79fab00341f38d2587896634c646ee52e49f845680a70c8",
        "0x52426e0f1f65ff7e209a13b8c29cffe82e3acaf3dad0a9b9088f3b9a61a929c3",
        "0xfd3cf45654e88d1cc5d663578c82c76f4b5e3826bacaa1216441443504538f51",
        "0x8076923e76cf01a7c048400a2304c9a9c23bbbdac3a98ea3946340fdafbba34f",
        "0x965b92c6cf08303cc4feb7f3e0819c436c2cec17c6f0688a6af139c9a368707c",
        "0xeba909cf4bb90c6922771d7f126ad0fd11dfde93f3937a196274e1ac20fd2f5b",
        "0xc62a8cfa41edc0ef6f6ae27a2985b7d39c7fea770787d7e104696c6e81f64848",
        "0x9cf5a63718145ba968a01c1d557020181c5b252f665cf7386d370eddb176517b",
        "0x9c15a6a0eaeed500fd9eed4cbeab71f797cefcc67bfd46683e4d2e6ff7f06d1c",
        "0x9a4f64e953595df82d1b4f570d34c4f4f0cfaf729a61e9d60e83e579e1aa283e",
        "0x19ba6c6333e0e9a15bf67523e0676e2f23eb8e574092552d5e888c64a4bb3681",
    ],
    "treeIndices": [8, 10, 7, 5, 9, 6],
}
OZ_UNSORTED_ROOT = "0x23be0977360f08bb0bd7f709a7d543d2cd779c79c66d74e0441919871647de2b"
# A StandardMerkleTree.dump() of (address, uint256) leaves, as the JS library wrote it.
OZ_ADDRESS_AMOUNT_DUMP = {
    "tree": [
        "0x0fecce441c7468f17e3fe4a5f211b77a15b27c9ab3d33317df385dfbe5487034",
        "0x636ab2686ee3036244cf3d6b5574e051e4b20a3577b008975dbcca6dde2897d2",
        "0xd90245da324d7908326a3d56a9659741551a4603c397bf4dd373976bd85660e7",
        "0x36fb17c97ec80bb961ff0adff1af4a2a34847ecc40653c162e327117a76e3ec9",
        "0x1867c4ebd455913e429523a5c2d4b3a79f58068b5a25af911956245ed03a659d",
    ],
    "values": [
        {"value": ["0x80d628ff4AC2aFf620C3474663F1e559234bbE0c", "0"], "treeIndex": 4},
        {"value": ["0x80d628ff4AC2aFf620C3474663F1e559234bbE0c", "1"], "treeIndex": 3},
        {"value": ["0x80d628ff4AC2aFf620C3474663F1e559234bbE0c", "2"], "treeIndex": 2},
    ],
}

addresses = st.binary(min_size=20, max_size=20).map(to_checksum_address)
amounts = st.integers(min_value=0, max_value=2**256 - 1)
allocations = st.dictionaries(addresses, amounts, min_size=1, max_size=70)


def test_matches_openzeppelins_sorted_and_unsorted_dumps():
    values = [[letter] for letter in "abcdef"]
    tree = StandardMerkleTree.of(values, ["string"])
    assert ["0x" + node.hex() for node in tree.tree] == OZ_SORTED_DUMP["tree"]
    assert list(tree.tree_indices) == OZ_SORTED_DUMP["treeIndices"]
    assert StandardMerkleTree.of(values, ["string"], sort_leaves=False).root_hex == OZ_UNSORTED_ROOT


def test_matches_an_openzeppelin_dump_of_address_amount_leaves():
    values = [(v["value"][0], int(v["value"][1])) for v in OZ_ADDRESS_AMOUNT_DUMP["values"]]
    tree = StandardMerkleTree.of(values, ["address", "uint256"])
    dump = tree.dump()
    assert dump["tree"] == OZ_ADDRESS_AMOUNT_DUMP["tree"]
    assert dump["values"] == OZ_ADDRESS_AMOUNT_DUMP["values"]
    assert dump["format"] == "standard-v1" and dump["leafEncoding"] == ["address", "uint256"]
    json.dumps(dump)  # serialisable as the JS library's dump


def test_a_single_leaf_is_its_own_root_with_an_empty_proof():
    tree = AllocationTree.build({"0x" + "11" * 20: 5})
    assert tree.root == leaf_hash((to_checksum_address("0x" + "11" * 20), 5))
    assert tree.proof("0x" + "11" * 20) == []


def test_an_empty_or_duplicated_allocation_is_refused():
    with pytest.raises(ValueError, match="at least one"):
        AllocationTree.build({})
    with pytest.raises(ValueError, match="twice"):
        AllocationTree.build({"0x" + "ab" * 20: 1, to_checksum_address("0x" + "ab" * 20): 2})


@given(allocations)
def test_every_proof_leads_to_the_root_and_a_changed_amount_does_not(allocation: dict[str, int]):
    tree = AllocationTree.build(allocation)
    for address, amount in allocation.items():
        proof = tree.proof(address)
        assert process_proof(leaf_hash((address, amount)), proof) == tree.root
        assert len(proof) <= max(1, (len(allocation) - 1).bit_length())
        assert process_proof(leaf_hash((address, (amount + 1) % 2**256)), proof) != tree.root


@given(allocations, st.randoms(use_true_random=False))
def test_the_root_does_not_depend_on_input_order(allocation: dict[str, int], rng):
    items = list(allocation.items())
    rng.shuffle(items)
    shuffled = StandardMerkleTree.of(items, ["address", "uint256"])
    assert shuffled.root == AllocationTree.build(allocation).root
    for index, value in enumerate(shuffled.values):
        assert shuffled.verify(value, shuffled.get_proof(index))


@given(st.lists(st.tuples(addresses, amounts), min_size=1, max_size=40))
def test_the_tree_is_valid_in_openzeppelins_layout(values: list[tuple[str, int]]):
    tree = StandardMerkleTree.of(values, ["address", "uint256"])
    nodes = tree.tree
    assert len(nodes) == 2 * len(values) - 1
    for i in range(len(nodes)):
        left, right = 2 * i + 1, 2 * i + 2
        if right < len(nodes):
            pair = sorted((nodes[left], nodes[right]))
            assert nodes[i] == keccak(pair[0] + pair[1])
    leaves = sorted(leaf_hash(v) for v in values)
    assert sorted(nodes[len(nodes) - len(values) :]) == leaves
    for index, value in enumerate(values):
        assert nodes[tree.tree_indices[index]] == leaf_hash(value)


@pytest.mark.chain
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(allocations)
def test_openzeppelin_merkleproof_on_chain_accepts_every_proof(anvil, dev_chain, allocation: dict[str, int]):
    tree = AllocationTree.build(allocation)
    snapshot = anvil.rpc("evm_snapshot")
    try:
        vault_address = deploy_contract(
            anvil.w3, deployer=anvil.account(0).address, name="ClaimVault", args=(dev_chain.usdc, tree.root, 0, 0)
        )
        vault = anvil.w3.eth.contract(address=vault_address, abi=load_artifact("ClaimVault").abi)
        for address, amount in list(allocation.items())[:10]:
            assert vault.functions.verify(address, amount, tree.proof(address)).call() is True
            assert vault.functions.verify(address, amount ^ 1, tree.proof(address)).call() is False
    finally:
        anvil.rpc("evm_revert", [snapshot])


# --- the fast parts against the reference ones -----------------------------------------------------------------

EDGE_ADDRESSES = [
    "0x0000000000000000000000000000000000000000",
    "0x" + "ff" * 20,
    "0x80d628ff4AC2aFf620C3474663F1e559234bbE0c",  # checksummed, from OpenZeppelin's dump
    "0x80d628ff4ac2aff620c3474663f1e559234bbe0c",  # the same, lower case
    "0x80D628FF4AC2AFF620C3474663F1E559234BBE0C",  # the same, upper case (not a valid checksum: eth_abi encodes it)
    "0X80d628ff4ac2aff620c3474663f1e559234bbe0c",  # a capital X, which eth_abi accepts too
]
EDGE_AMOUNTS = [0, 1, 2**255, 2**256 - 2, 2**256 - 1, 10**18]


@pytest.mark.parametrize("address", EDGE_ADDRESSES)
@pytest.mark.parametrize("amount", EDGE_AMOUNTS)
def test_the_hand_encoded_leaf_equals_eth_abis(address: str, amount: int):
    expected = keccak(keccak(encode(["address", "uint256"], [address, amount])))
    assert leaf_hash((address, amount)) == expected
    assert abi_leaf_hash((address, amount)) == expected
    assert StandardMerkleTree.of([(address, amount)], ["address", "uint256"]).root == expected


@pytest.mark.parametrize(
    "value",
    [
        ("0x80d628ff4ac2aff620c3474663f1e559234bbe0c", 2**256),  # out of range
        ("0x80d628ff4ac2aff620c3474663f1e559234bbe0c", -1),
        ("0x80d628ff4ac2aff620c3474663f1e559234bbe0c", True),  # eth_abi refuses a bool for uint256
        ("0x80d628ff4ac2aff620c3474663f1e559234bbe0g", 1),  # not hex
        ("0x 80d628ff4ac2aff620c3474663f1e559234bbe ", 1),  # whitespace, which bytes.fromhex would skip
        ("0x 80d628ff4ac2aff620c3474663f1e559234bbe0", 1),
    ],
)
def test_what_eth_abi_refuses_is_refused(value):
    with pytest.raises(Exception) as by_eth_abi:  # noqa: PT011 - whatever eth_abi raises, the fast path raises too
        encode(["address", "uint256"], list(value))
    with pytest.raises(type(by_eth_abi.value)):
        leaf_hash(value)


def test_what_the_fast_path_does_not_take_goes_to_eth_abi():
    raw = bytes.fromhex("80d628ff4ac2aff620c3474663f1e559234bbe0c")
    assert leaf_hash((raw, 7)) == keccak(keccak(encode(["address", "uint256"], [raw, 7])))
    assert leaf_hash(("a",), ["string"]) == keccak(keccak(encode(["string"], ["a"])))


def test_keccak_equals_eth_utils_at_every_length_across_the_rate():
    rng = random.Random(1)
    hasher = keccak_hasher()
    for length in [*range(0, 300), 1_000, 100_000]:
        data = rng.randbytes(length)
        assert keccak256(data) == hasher(data) == keccak(data), length


def test_keccak_falls_back_to_eth_hash_without_pycryptodomes_core_or_when_it_disagrees(monkeypatch):
    assert keccak_module.keccak_hasher() is not keccak_module._eth_hash_keccak  # pycryptodome is installed here
    with monkeypatch.context() as patch:
        patch.setattr(keccak_module, "_raw_api", None)
        assert keccak_module._pycryptodome_hasher() is None
        assert keccak_module.keccak_hasher() is keccak_module._eth_hash_keccak
    monkeypatch.setattr(keccak_module, "_pycryptodome_hasher", lambda: lambda data: bytes(32))
    assert keccak_module.keccak_hasher() is keccak_module._eth_hash_keccak


def test_keccak_gives_each_thread_its_own_state():
    datas = [random.Random(n).randbytes(64 + n) for n in range(8)]
    expected = [keccak(d) for d in datas]
    wrong: list[int] = []

    def hash_many(n: int) -> None:
        for _ in range(3_000):
            if keccak256(datas[n]) != expected[n]:
                wrong.append(n)

    threads = [threading.Thread(target=hash_many, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert wrong == []


@settings(deadline=None)  # a loaded machine's pauses are not this test's business
@given(st.binary(min_size=20, max_size=20), st.sampled_from([str.lower, str.upper, to_checksum_address]))
def test_checksum_address_equals_eth_utils(raw: bytes, case):
    address = "0x" + case("0x" + raw.hex())[2:]
    assert checksum_address(address) == to_checksum_address(address)


@pytest.mark.parametrize(
    "bad", ["0x" + "g" * 40, "0x " + "ab" * 19 + "a", "0x " + "ab" * 19 + " ", "0x" + "ab" * 19, "ab" * 20 + "00", 5]
)
def test_checksum_address_refuses_what_eth_utils_refuses(bad):
    with pytest.raises(Exception) as by_eth_utils:  # noqa: PT011 - the same exception as eth_utils
        to_checksum_address(bad)
    with pytest.raises(type(by_eth_utils.value)):
        checksum_address(bad)


def _random_values(count: int, seed: int) -> list[tuple[str, int]]:
    rng = random.Random(seed)
    return [(to_checksum_address(rng.randbytes(20)), rng.randrange(2**256)) for _ in range(count)]


@pytest.mark.parametrize("count", [1, 2, 3, 4, 5, 6, 7, 8, 9, 16, 17, 31, 32, 33, 100, 255, 256, 257, 400])
def test_the_level_by_level_proofs_equal_get_proof_for_every_leaf(count: int):
    tree = StandardMerkleTree.of(_random_values(count, seed=count), ["address", "uint256"])
    proofs = tree.proofs()
    assert len(proofs) == count
    for index in range(count):
        assert proofs[index] == tree.get_proof(index)
        assert proofs[index] == proof_for_tree_index(tree.tree, tree.tree_indices[index])
    assert tree.proofs_hex() == [["0x" + node.hex() for node in proof] for proof in proofs]


@settings(deadline=None)  # a loaded machine's pauses are not this test's business
@given(allocations)
def test_all_proofs_of_an_allocation_equal_each_verified_proof(allocation: dict[str, int]):
    tree = AllocationTree.build(allocation)
    everyone = tree.proofs_hex()
    assert list(everyone) == [to_checksum_address(a) for a in sorted(allocation, key=lambda a: int(a, 16))]
    for address in allocation:
        assert everyone[to_checksum_address(address)] == tree.proof_hex(address)


def test_proofs_of_unsorted_and_string_trees_equal_get_proof():
    for sort_leaves in (True, False):
        tree = StandardMerkleTree.of([[letter] for letter in "abcdefg"], ["string"], sort_leaves=sort_leaves)
        assert tree.proofs() == [tree.get_proof(i) for i in range(7)]


def test_paths_to_root_refuses_an_inner_node():
    tree = StandardMerkleTree.of(_random_values(5, seed=5), ["address", "uint256"])
    with pytest.raises(ValueError, match="not a leaf"):
        paths_to_root(tree.tree, [3])
