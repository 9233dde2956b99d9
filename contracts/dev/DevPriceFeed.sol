// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title DevPriceFeed
/// @notice A Chainlink AggregatorV3Interface-shaped price feed for the local development chain only.
/// The deployer sets the answer; on a real network the app reads the real Chainlink feed instead.
contract DevPriceFeed {
    error NotDeployer();

    event AnswerUpdated(int256 indexed current, uint256 indexed roundId, uint256 updatedAt);

    address public immutable deployer;
    uint8 public immutable decimals;
    string public description;
    uint256 public constant version = 1;

    uint80 private _roundId;
    uint80 private _answeredInRound; // packed with _roundId: one storage read for both
    int256 private _answer;
    uint256 private _updatedAt;

    constructor(uint8 decimals_, string memory description_, int256 initialAnswer) {
        deployer = msg.sender;
        decimals = decimals_;
        description = description_;
        _setAnswer(initialAnswer, block.timestamp);
    }

    /// @notice Set a new answer, stamped now.
    function setAnswer(int256 answer) external {
        if (msg.sender != deployer) revert NotDeployer();
        _setAnswer(answer, block.timestamp);
    }

    /// @notice Set a new answer with an explicit update time (to simulate a stale feed in tests).
    function setAnswerAt(int256 answer, uint256 updatedAt) external {
        if (msg.sender != deployer) revert NotDeployer();
        _setAnswer(answer, updatedAt);
    }

    /// @notice Set the whole latest round as a faulty feed could report it (an answer carried over from an earlier
    /// round, a time in the future), to test the Launcher's checks.
    function setRoundData(uint80 roundId, int256 answer, uint256 updatedAt, uint80 answeredInRound) external {
        if (msg.sender != deployer) revert NotDeployer();
        _roundId = roundId;
        _answer = answer;
        _updatedAt = updatedAt;
        _answeredInRound = answeredInRound;
        emit AnswerUpdated(answer, roundId, updatedAt);
    }

    /// @notice The latest round, in the AggregatorV3Interface shape.
    function latestRoundData()
        external
        view
        returns (uint80 roundId, int256 answer, uint256 startedAt, uint256 updatedAt, uint80 answeredInRound)
    {
        return (_roundId, _answer, _updatedAt, _updatedAt, _answeredInRound);
    }

    function _setAnswer(int256 answer, uint256 updatedAt) private {
        _roundId += 1;
        _answeredInRound = _roundId;
        _answer = answer;
        _updatedAt = updatedAt;
        emit AnswerUpdated(answer, _roundId, updatedAt);
    }
}
