// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Test helper for the deposit indexer: emits ERC-20 `Transfer` events that move nothing, as an attacker's
/// token would to make a pool believe it was paid. Only the pool's raise-asset contract may credit a deposit.
contract SpoofToken {
    event Transfer(address indexed from, address indexed to, uint256 value);

    /// @notice Emit a Transfer(from, to, value) without any balance behind it.
    function spoof(address from, address to, uint256 value) external {
        emit Transfer(from, to, value);
    }
}
