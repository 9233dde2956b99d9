// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";

/// @title LPLock
/// @notice Holds a launch's Uniswap V2 LP tokens until `unlockTime`; after that anyone may release them, and they go
/// to the pool's treasury and nowhere else. No owner, no early exit, no other token can be moved.
contract LPLock {
    using SafeERC20 for IERC20;

    /// @notice `release` was called before `unlockTime`.
    error StillLocked(uint256 unlockTime);
    /// @notice There are no LP tokens to release (already released).
    error NothingToRelease();

    /// @notice The LP tokens were sent to the treasury.
    event Released(address indexed treasury, uint256 amount);

    IERC20 public immutable lpToken;
    address public immutable treasury;
    uint64 public immutable unlockTime;

    constructor(IERC20 lpToken_, address treasury_, uint64 unlockTime_) {
        lpToken = lpToken_;
        treasury = treasury_;
        unlockTime = unlockTime_;
    }

    /// @notice Send every locked LP token to the treasury, once `unlockTime` has passed. Callable by anyone.
    function release() external {
        if (block.timestamp < unlockTime) revert StillLocked(unlockTime);
        uint256 amount = lpToken.balanceOf(address(this));
        if (amount == 0) revert NothingToRelease();
        lpToken.safeTransfer(treasury, amount);
        emit Released(treasury, amount);
    }
}
