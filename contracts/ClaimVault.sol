// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {MerkleProof} from "@openzeppelin/contracts/utils/cryptography/MerkleProof.sol";

/// @title ClaimVault
/// @notice Holds the depositors' share of one launch. Each depositor claims their own allocation with a Merkle proof
/// (OpenZeppelin StandardMerkleTree leaves of `(address, uint256)`), vesting from the launch: nothing before
/// `vestingStart` (launch time + cliff), then linearly until `vestingEnd`, everything after. No owner, no sweep:
/// tokens leave only through `claim`, to the depositor who proves the allocation.
contract ClaimVault {
    using SafeERC20 for IERC20;

    /// @notice The proof does not show `(msg.sender, allocation)` in the tree.
    error InvalidProof();
    /// @notice Nothing has vested beyond what the caller already claimed.
    error NothingToClaim();

    /// @notice `account` received `amount`; it has claimed `totalClaimed` of its allocation so far.
    event Claimed(address indexed account, uint256 amount, uint256 totalClaimed);

    IERC20 public immutable token;
    bytes32 public immutable merkleRoot;
    /// @notice When the vault was created (the launch time).
    uint64 public immutable launchedAt;
    /// @notice The end of the cliff: the vesting line starts here.
    uint64 public immutable vestingStart;
    /// @notice When every allocation is fully vested.
    uint64 public immutable vestingEnd;

    /// @notice How much of its allocation each account has claimed.
    mapping(address account => uint256) public claimed;

    constructor(IERC20 token_, bytes32 merkleRoot_, uint64 cliff, uint64 duration) {
        token = token_;
        merkleRoot = merkleRoot_;
        launchedAt = uint64(block.timestamp);
        vestingStart = launchedAt + cliff;
        vestingEnd = vestingStart + duration;
    }

    /// @notice Claim what has vested of the caller's `allocation`, proven by `proof`.
    /// @param allocation The caller's total allocation, as in the tree's leaf.
    /// @param proof The StandardMerkleTree proof of the leaf `(msg.sender, allocation)`.
    /// @return amount The tokens sent to the caller by this call.
    function claim(uint256 allocation, bytes32[] calldata proof) external returns (uint256 amount) {
        if (!verify(msg.sender, allocation, proof)) revert InvalidProof();
        uint256 alreadyClaimed = claimed[msg.sender];
        amount = vestedAmount(allocation, uint64(block.timestamp)) - alreadyClaimed;
        if (amount == 0) revert NothingToClaim();
        claimed[msg.sender] = alreadyClaimed + amount;
        emit Claimed(msg.sender, amount, alreadyClaimed + amount);
        token.safeTransfer(msg.sender, amount);
    }

    /// @notice What `account` could claim now, given its allocation (the proof is not checked here).
    function claimable(address account, uint256 allocation) external view returns (uint256) {
        uint256 vested = vestedAmount(allocation, uint64(block.timestamp));
        uint256 alreadyClaimed = claimed[account];
        return vested > alreadyClaimed ? vested - alreadyClaimed : 0;
    }

    /// @notice Whether `proof` shows the leaf `(account, allocation)` in this vault's tree.
    function verify(address account, uint256 allocation, bytes32[] calldata proof) public view returns (bool) {
        bytes32 leaf = keccak256(bytes.concat(keccak256(abi.encode(account, allocation))));
        return MerkleProof.verifyCalldata(proof, merkleRoot, leaf);
    }

    /// @notice How much of `allocation` has vested at `timestamp`.
    function vestedAmount(uint256 allocation, uint64 timestamp) public view returns (uint256) {
        if (timestamp < vestingStart) return 0;
        if (timestamp >= vestingEnd) return allocation;
        return (allocation * (timestamp - vestingStart)) / (vestingEnd - vestingStart);
    }
}
