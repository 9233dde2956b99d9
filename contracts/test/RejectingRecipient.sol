// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface IRefunderWithdraw {
    function withdraw(address token) external;
    function withdrawTo(address token, address to) external;
}

/// @notice Test helper: a contract that rejects every ether transfer, to check that it cannot block a refund batch
/// or a launch payout, and that it can still take its credited refund elsewhere.
contract RejectingRecipient {
    error NoEtherAccepted();

    receive() external payable {
        revert NoEtherAccepted();
    }

    function withdrawFrom(IRefunderWithdraw refunder, address token) external {
        refunder.withdraw(token);
    }

    function withdrawFromTo(IRefunderWithdraw refunder, address token, address to) external {
        refunder.withdrawTo(token, to);
    }
}

/// @notice Test helper: burns every bit of gas it is given on receiving ether, to check that the per-recipient gas
/// allowance keeps it from exhausting a refund batch.
contract GasBurningRecipient {
    receive() external payable {
        while (true) {}
    }
}
