// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice Test helper for the deposit indexer: a contract wallet that forwards ether, so a deposit arrives as an
/// internal transfer (a call frame inside a transaction), never as the transaction's own value.
contract ForwardingWallet {
    error ForwardFailed();
    error Refused();
    error LengthMismatch();

    receive() external payable {}

    /// @notice Forward the attached ether to `to`.
    function forward(address payable to) external payable {
        _send(to, msg.value);
    }

    /// @notice Forward the attached ether to `to` through another wallet (a nested internal transfer).
    function forwardVia(ForwardingWallet via, address payable to) external payable {
        via.forward{value: msg.value}(to);
    }

    /// @notice Forward to each `to` its amount, like a bundler or a batch payout (several deposits in one transaction).
    function forwardMany(address payable[] calldata to, uint256[] calldata amounts) external payable {
        if (to.length != amounts.length) revert LengthMismatch();
        for (uint256 i = 0; i < to.length; i++) {
            _send(to[i], amounts[i]);
        }
    }

    /// @notice Forward, then revert the whole transaction: nothing reaches `to`.
    function forwardThenRevert(address payable to) external payable {
        _send(to, msg.value);
        revert Refused();
    }

    /// @notice Forward inside a sub-call that reverts and is caught: the transaction succeeds, nothing reaches `to`,
    /// and the ether stays in this wallet.
    function forwardInFailedSubcall(address payable to) external payable {
        try this.forwardThenRevert{value: msg.value}(to) {} catch {}
    }

    function _send(address payable to, uint256 amount) private {
        (bool ok, ) = to.call{value: amount}("");
        if (!ok) revert ForwardFailed();
    }
}
