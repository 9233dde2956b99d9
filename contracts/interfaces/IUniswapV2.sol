// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @notice The parts of the Uniswap V2 factory the Launcher uses (the deployed contract comes from @uniswap/v2-core).
interface IUniswapV2Factory {
    function getPair(address tokenA, address tokenB) external view returns (address pair);
    function createPair(address tokenA, address tokenB) external returns (address pair);
}

/// @notice The parts of the Uniswap V2 pair the Launcher uses.
interface IUniswapV2Pair {
    function token0() external view returns (address);
    function totalSupply() external view returns (uint256);
    function getReserves() external view returns (uint112 reserve0, uint112 reserve1, uint32 blockTimestampLast);
    function mint(address to) external returns (uint256 liquidity);
    function skim(address to) external;
}
