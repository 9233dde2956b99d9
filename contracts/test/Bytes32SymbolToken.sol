// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Test helper for reading a raise asset's metadata: answers symbol() with a bytes32, as old tokens (MKR) do,
/// and decimals() with whatever number it was given, so that odd and broken answers can be tried.
contract Bytes32SymbolToken {
    bytes32 public immutable symbol;
    uint256 public immutable decimals;

    constructor(bytes32 symbol_, uint256 decimals_) {
        symbol = symbol_;
        decimals = decimals_;
    }
}
