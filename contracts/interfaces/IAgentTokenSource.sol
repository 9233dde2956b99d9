// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice What an AgentToken reads from its deployer while it is being constructed. Passing the parameters by a
/// callback instead of constructor arguments keeps the token's CREATE2 init code constant, so its address depends
/// only on the deployer, the pool address and the pool id (the pattern of Uniswap V3's pool deployer).
interface IAgentTokenSource {
    struct TokenParameters {
        string name;
        string symbol;
        uint256 totalSupply;
        address pair;
        uint32 protectionBlocks;
        uint256 maxBuyPerTx;
    }

    /// @notice The parameters of the token being deployed in the current launch.
    function pendingToken() external view returns (TokenParameters memory);
}
