"""The only contract calls the signer knows, as ABI type strings (docs/chain-interface.md is the source).

The signer does not read compiled artifacts: a change of these signatures is a change of the signer's code,
and so of its measurement.
"""

from __future__ import annotations

from dataclasses import dataclass

from eth_utils import function_signature_to_4byte_selector, keccak

LAUNCH_PARAMS_FIELDS = (
    ("poolId", "bytes32"),
    ("name", "string"),
    ("symbol", "string"),
    ("totalSupply", "uint256"),
    ("liquiditySupplyBps", "uint16"),
    ("depositorSupplyBps", "uint16"),
    ("raiseAsset", "address"),
    ("raiseAmount", "uint256"),
    ("liquidityRaiseBps", "uint16"),
    ("feeBps", "uint16"),
    ("feeRecipient", "address"),
    ("treasury", "address"),
    ("agent", "address"),
    ("agentCliff", "uint64"),
    ("agentDuration", "uint64"),
    ("merkleRoot", "bytes32"),
    ("depositorCliff", "uint64"),
    ("depositorDuration", "uint64"),
    ("lpLockUntil", "uint64"),
    ("protectionBlocks", "uint32"),
    ("maxBuyPerTx", "uint256"),
    ("priceFeed", "address"),
    ("expectedAnswer", "int256"),
    ("toleranceBps", "uint16"),
    ("maxOracleAge", "uint32"),
    ("targetPriceUsd", "uint256"),
    ("deadline", "uint256"),
    ("logHead", "bytes32"),
)
LAUNCH_PARAMS_TUPLE = "(" + ",".join(abi_type for _, abi_type in LAUNCH_PARAMS_FIELDS) + ")"


@dataclass(frozen=True)
class ContractCall:
    """One function the policy can decode: its name, argument names and ABI types."""

    name: str
    arg_names: tuple[str, ...]
    arg_types: tuple[str, ...]

    @property
    def signature(self) -> str:
        return f"{self.name}({','.join(self.arg_types)})"

    @property
    def selector(self) -> bytes:
        return function_signature_to_4byte_selector(self.signature)


LAUNCH = ContractCall("launch", ("p",), (LAUNCH_PARAMS_TUPLE,))
APPROVE = ContractCall("approve", ("spender", "amount"), ("address", "uint256"))
REFUND_ETH = ContractCall("refundETH", ("recipients", "amounts"), ("address[]", "uint256[]"))
REFUND_ERC20 = ContractCall("refundERC20", ("token", "recipients", "amounts"), ("address", "address[]", "uint256[]"))

# keccak("Transfer(address,address,uint256)"): the ERC-20 deposit log the evidence checker looks for.
ERC20_TRANSFER_TOPIC = "0x" + keccak(text="Transfer(address,address,uint256)").hex()

# Registered pool parameter -> the Launcher field that must equal it.
LAUNCH_FIELD_OF_PARAM = {
    "name": "name",
    "symbol": "symbol",
    "total_supply": "totalSupply",
    "liquidity_supply_bps": "liquiditySupplyBps",
    "depositor_supply_bps": "depositorSupplyBps",
    "raise_asset": "raiseAsset",
    "liquidity_raise_bps": "liquidityRaiseBps",
    "fee_bps": "feeBps",
    "fee_recipient": "feeRecipient",
    "treasury": "treasury",
    "agent": "agent",
    "agent_cliff": "agentCliff",
    "agent_duration": "agentDuration",
    "depositor_cliff": "depositorCliff",
    "depositor_duration": "depositorDuration",
    "lp_lock_until": "lpLockUntil",
    "protection_blocks": "protectionBlocks",
    "max_buy_per_tx": "maxBuyPerTx",
    "price_feed": "priceFeed",
    "max_oracle_age": "maxOracleAge",
    "target_price_usd": "targetPriceUsd",
}
