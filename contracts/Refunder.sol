// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";

/// @title Refunder
/// @notice Pays refunds in batches: a pool's address sends the exact total (ETH as value, or an ERC-20 pulled with
/// transferFrom) and the Refunder pays every recipient. A recipient that cannot be paid (rejects ether, runs out of
/// the gas allowance, is blocked by the token) does not stop the others: its amount is credited to it and it takes it
/// later with `withdraw` or `withdrawTo`. No owner; credited funds can only ever go to their recipient's choice.
/// A batch names each recipient once, in strictly ascending address order.
contract Refunder is ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice The recipients and amounts arrays differ in length.
    error LengthMismatch(uint256 recipients, uint256 amounts);
    /// @notice The amounts do not add up to what was sent (ETH) or approved for this batch.
    error TotalMismatch(uint256 total, uint256 provided);
    /// @notice A recipient is the zero address (its refund could never be paid or withdrawn).
    error ZeroRecipient(uint256 index);
    /// @notice `recipients[index]` is not above the recipient before it: a batch lists its recipients in strictly
    /// ascending order, which is how it shows that it names nobody twice.
    error RecipientsNotAscending(uint256 index);
    /// @notice The token delivered less than the batch total (fee-on-transfer tokens are not supported).
    error TokenShortfall(uint256 received, uint256 expected);
    /// @notice The caller has nothing credited in this token.
    error NothingOwed();
    /// @notice The ether withdrawal to `to` failed.
    error EtherTransferFailed(address to);

    /// @notice One per recipient of a batch: `paid` is false when the amount was credited for a later withdrawal.
    event Refunded(address indexed pool, address indexed recipient, address token, uint256 amount, bool paid);
    /// @notice A credited refund was withdrawn by `recipient` to `to`.
    event Withdrawn(address indexed recipient, address indexed to, address token, uint256 amount);

    /// @notice Gas given to each recipient of an ether refund: enough for a smart-account wallet's receive, too
    /// little for a recipient to make the batch run out of gas. Anyone needing more withdraws later with all gas.
    uint256 public constant ETHER_REFUND_GAS = 50_000;
    address private constant ETHER = address(0);

    /// @notice Refunds that could not be paid, by token (address(0) = ETH) and recipient.
    mapping(address token => mapping(address recipient => uint256)) public owed;

    /// @notice Refund ether to each `recipients[i]`, `amounts[i]` wei; `msg.value` must equal the sum. Recipients
    /// are nonzero and strictly ascending.
    function refundETH(address[] calldata recipients, uint256[] calldata amounts) external payable nonReentrant {
        uint256 total = _total(recipients, amounts);
        if (total != msg.value) revert TotalMismatch(total, msg.value);
        for (uint256 i; i < recipients.length; ++i) {
            address recipient = recipients[i];
            uint256 amount = amounts[i];
            bool paid = true;
            if (amount != 0) {
                assembly ("memory-safe") {
                    paid := call(ETHER_REFUND_GAS, recipient, amount, 0, 0, 0, 0)
                }
                if (!paid) owed[ETHER][recipient] += amount;
            }
            emit Refunded(msg.sender, recipient, ETHER, amount, paid);
        }
    }

    /// @notice Refund `token` to each `recipients[i]`, `amounts[i]` units; pulls the sum from the caller, which must
    /// have approved this contract for it. Recipients are nonzero and strictly ascending.
    function refundERC20(IERC20 token, address[] calldata recipients, uint256[] calldata amounts)
        external
        nonReentrant
    {
        uint256 total = _total(recipients, amounts);
        uint256 balanceBefore = token.balanceOf(address(this));
        token.safeTransferFrom(msg.sender, address(this), total);
        uint256 received = token.balanceOf(address(this)) - balanceBefore;
        if (received != total) revert TokenShortfall(received, total);
        for (uint256 i; i < recipients.length; ++i) {
            address recipient = recipients[i];
            uint256 amount = amounts[i];
            bool paid = amount == 0 || token.trySafeTransfer(recipient, amount);
            if (!paid) owed[address(token)][recipient] += amount;
            emit Refunded(msg.sender, recipient, address(token), amount, paid);
        }
    }

    /// @notice Take what was credited to the caller in `token` (address(0) = ETH).
    function withdraw(address token) external nonReentrant {
        _withdraw(token, msg.sender);
    }

    /// @notice Take what was credited to the caller in `token` (address(0) = ETH), paid to `to`: for a recipient
    /// contract that cannot receive ether itself.
    function withdrawTo(address token, address to) external nonReentrant {
        _withdraw(token, to);
    }

    function _withdraw(address token, address to) private {
        uint256 amount = owed[token][msg.sender];
        if (amount == 0) revert NothingOwed();
        owed[token][msg.sender] = 0;
        emit Withdrawn(msg.sender, to, token, amount);
        if (token == ETHER) {
            (bool sent,) = to.call{value: amount}("");
            if (!sent) revert EtherTransferFailed(to);
        } else {
            IERC20(token).safeTransfer(to, amount);
        }
    }

    /// @dev Checks a batch's recipients and returns the sum of its amounts. A recipient named twice would be paid twice
    /// from one batch, so the batch must list its recipients in strictly ascending order: one comparison with the
    /// previous recipient proves uniqueness for ~40 gas a recipient (bench/gas.py), where a set of seen addresses in
    /// transient storage (EIP-1153) measured ~250 (a TLOAD and a TSTORE each) and ~600 once cleared for a second batch
    /// in the same transaction. The caller sorts off chain for free (chain.contracts' refund encoders do).
    function _total(address[] calldata recipients, uint256[] calldata amounts) private pure returns (uint256 total) {
        if (recipients.length != amounts.length) revert LengthMismatch(recipients.length, amounts.length);
        address previous;
        for (uint256 i; i < recipients.length; ++i) {
            address recipient = recipients[i];
            // One comparison on the happy path: address(0) is never above `previous`, so it always lands here too.
            if (recipient <= previous) {
                if (recipient == address(0)) revert ZeroRecipient(i);
                revert RecipientsNotAscending(i);
            }
            previous = recipient;
            total += amounts[i];
        }
    }
}
