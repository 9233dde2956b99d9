// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {ERC20} from "@openzeppelin/contracts/token/ERC20/ERC20.sol";
import {ERC20Burnable} from "@openzeppelin/contracts/token/ERC20/extensions/ERC20Burnable.sol";

import {IAgentTokenSource} from "./interfaces/IAgentTokenSource.sol";

/// @title AgentToken
/// @notice The token an AI agent launches: a fixed supply minted once, to the Launcher, at construction.
/// There is no owner, no mint, no pause, no blacklist and no transfer fee. Anyone may burn their own tokens.
/// An optional launch protection caps each transfer out of the Uniswap pair (a buy) at `maxBuyPerTx` during the
/// first `protectionBlocks` blocks, counting the launch block; after that it is a plain ERC-20.
/// @dev Deployed by the Launcher with CREATE2 and no constructor arguments: the parameters come from the deployer's
/// `pendingToken()`, so the init code, and with it the token's address, is the same for every launch.
contract AgentToken is ERC20Burnable {
    /// @notice A buy from the pair inside the protection window is larger than the cap.
    error MaxBuyExceeded(uint256 amount, uint256 maxBuyPerTx);

    /// @notice The Uniswap V2 pair of this token and the raise asset.
    address public immutable pair;
    /// @notice The first block in which buys from the pair are no longer capped.
    uint256 public immutable protectionEndBlock;
    /// @notice The largest transfer out of the pair allowed before `protectionEndBlock` (0 when protection is off).
    uint256 public immutable maxBuyPerTx;

    string private _tokenName;
    string private _tokenSymbol;

    constructor() ERC20("", "") {
        IAgentTokenSource.TokenParameters memory parameters = IAgentTokenSource(msg.sender).pendingToken();
        _tokenName = parameters.name;
        _tokenSymbol = parameters.symbol;
        pair = parameters.pair;
        protectionEndBlock = block.number + parameters.protectionBlocks;
        maxBuyPerTx = parameters.protectionBlocks == 0 ? 0 : parameters.maxBuyPerTx;
        _mint(msg.sender, parameters.totalSupply);
    }

    /// @inheritdoc ERC20
    function name() public view override returns (string memory) {
        return _tokenName;
    }

    /// @inheritdoc ERC20
    function symbol() public view override returns (string memory) {
        return _tokenSymbol;
    }

    /// @notice True while buys from the pair are capped.
    function protectionActive() public view returns (bool) {
        return block.number < protectionEndBlock;
    }

    function _update(address from, address to, uint256 value) internal override {
        if (from == pair && value > maxBuyPerTx && block.number < protectionEndBlock) {
            revert MaxBuyExceeded(value, maxBuyPerTx);
        }
        super._update(from, to, value);
    }
}
