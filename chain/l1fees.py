"""OP-stack L1 data fees: on Optimism, Base and their kin a transaction pays, beside its L2 gas, for publishing its
bytes on L1. Nodes require the sender to hold value + gas x maxFeePerGas + that fee, and receipts report it apart
(`l1Fee`). Zero on other chains (settings.CHAIN_OP_STACK false).
"""

from __future__ import annotations

import rlp
from django.conf import settings
from eth_abi import decode, encode
from eth_utils import keccak, to_canonical_address
from web3 import Web3

from chain.client import web3_client
from chain.contracts import selector

# The GasPriceOracle predeploy, at the same address on every OP-stack chain.
GAS_PRICE_ORACLE = "0x420000000000000000000000000000000000000F"
GET_L1_FEE = selector("getL1Fee(bytes)")
# Without the oracle (a stand-in chain that is not really OP-stack), every byte is priced as L1 calldata was before
# blobs: 16 gas per byte at 100 gwei, plus a signature's 68 bytes. Blob-era fees are orders of magnitude lower, so the
# estimate only ever errs high.
FALLBACK_L1_GAS_PER_BYTE = 16
FALLBACK_L1_GAS_PRICE_WEI = 100 * 10**9
SIGNATURE_BYTES = 68
EIP1559_TYPE = b"\x02"


def unsigned_transaction_bytes(tx: dict) -> bytes:
    """An EIP-1559 transaction's unsigned bytes (type byte + RLP), what getL1Fee prices: {chainId, nonce,
    maxPriorityFeePerGas, maxFeePerGas, gas, to, value, data}."""
    fields = [
        tx["chainId"],
        tx["nonce"],
        tx["maxPriorityFeePerGas"],
        tx["maxFeePerGas"],
        tx["gas"],
        to_canonical_address(tx["to"]),
        tx["value"],
        tx["data"],
        [],  # access list
    ]
    return EIP1559_TYPE + rlp.encode(fields)


def incompressible(size: int) -> bytes:
    """`size` bytes that do not compress: a stand-in for calldata not built yet (newer OP-stack fees price the
    compressed size, so zeros or a repeated byte would underestimate)."""
    stream = b""
    while len(stream) < size:
        stream += keccak(len(stream).to_bytes(8, "big"))
    return stream[:size]


def l1_fee(unsigned_tx: bytes, *, w3: Web3 | None = None) -> int:
    """The L1 data fee a transaction with these unsigned bytes pays now: the GasPriceOracle's getL1Fee when the chain
    has one, else the conservative FALLBACK estimate; 0 when the chain is not OP-stack."""
    if not settings.CHAIN_OP_STACK:
        return 0
    w3 = w3 or web3_client()
    oracle = Web3.to_checksum_address(GAS_PRICE_ORACLE)
    if not w3.eth.get_code(oracle):
        return (len(unsigned_tx) + SIGNATURE_BYTES) * FALLBACK_L1_GAS_PER_BYTE * FALLBACK_L1_GAS_PRICE_WEI
    answer = w3.eth.call({"to": oracle, "data": GET_L1_FEE + encode(["bytes"], [unsigned_tx])})
    (fee,) = decode(["uint256"], answer)
    return fee


def receipt_l1_fee(receipt: dict) -> int:
    """The L1 data fee a receipt says its transaction paid (the OP-stack field `l1Fee`, hex); 0 when it has none."""
    value = receipt.get("l1Fee")
    if value is None:
        return 0
    return int(value, 16) if isinstance(value, str) else int(value)
