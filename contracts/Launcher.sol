// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

import {VestingWallet} from "@openzeppelin/contracts/finance/VestingWallet.sol";
import {IERC20} from "@openzeppelin/contracts/token/ERC20/IERC20.sol";
import {IERC20Metadata} from "@openzeppelin/contracts/token/ERC20/extensions/IERC20Metadata.sol";
import {SafeERC20} from "@openzeppelin/contracts/token/ERC20/utils/SafeERC20.sol";
import {Create2} from "@openzeppelin/contracts/utils/Create2.sol";
import {ReentrancyGuardTransient} from "@openzeppelin/contracts/utils/ReentrancyGuardTransient.sol";
import {Math} from "@openzeppelin/contracts/utils/math/Math.sol";

import {AgentToken} from "./AgentToken.sol";
import {ClaimVault} from "./ClaimVault.sol";
import {LPLock} from "./LPLock.sol";
import {AggregatorV3Interface} from "./interfaces/AggregatorV3Interface.sol";
import {IAgentTokenSource} from "./interfaces/IAgentTokenSource.sol";
import {IUniswapV2Factory, IUniswapV2Pair} from "./interfaces/IUniswapV2.sol";
import {IWETH} from "./interfaces/IWETH.sol";

/// @title Launcher
/// @notice Launches a pool's token in one transaction, sent by the pool's address with the raised funds: deploys the
/// token (CREATE2, address known in advance), creates the Uniswap V2 pair, adds the liquidity directly to the pair at
/// the intended price, burns or locks the LP, funds the depositors' ClaimVault and the agent's VestingWallet, pays the
/// platform fee and the treasury, and emits one `Launched` event. It either all happens or none of it.
/// @dev Stateless between calls and without an owner: nothing in it, or in the contracts it creates, lets anyone move
/// a launched pool's funds afterwards. The signature of `launch` is agreed in docs/chain-interface.md.
contract Launcher is IAgentTokenSource, ReentrancyGuardTransient {
    using SafeERC20 for IERC20;

    /// @notice What the pool asks for; see docs/chain-interface.md for each field.
    struct LaunchParams {
        bytes32 poolId;
        string name;
        string symbol;
        uint256 totalSupply;
        uint16 liquiditySupplyBps;
        uint16 depositorSupplyBps;
        address raiseAsset;
        uint256 raiseAmount;
        uint16 liquidityRaiseBps;
        uint16 feeBps;
        address feeRecipient;
        address treasury;
        address agent;
        uint64 agentCliff;
        uint64 agentDuration;
        bytes32 merkleRoot;
        uint64 depositorCliff;
        uint64 depositorDuration;
        uint64 lpLockUntil;
        uint32 protectionBlocks;
        uint256 maxBuyPerTx;
        address priceFeed;
        int256 expectedAnswer;
        uint16 toleranceBps;
        uint32 maxOracleAge;
        uint256 targetPriceUsd;
        uint256 deadline;
        bytes32 logHead;
    }

    /// @notice Everything a dashboard needs about one launch: the payload of `Launched`.
    struct LaunchRecord {
        address pair;
        address raiseAsset; // address(0) = native ETH (paired as WETH)
        uint256 raiseAmount;
        uint256 tokensToLiquidity;
        uint256 assetToLiquidity;
        uint256 liquidity; // LP tokens minted to `lpHolder`
        address lpHolder; // DEAD (burned) or the LPLock
        uint64 lpLockUntil;
        address claimVault; // address(0) when the depositors' share is 0
        uint256 depositorTokens;
        address vestingWallet; // address(0) when the agent's share is 0
        uint256 agentTokens;
        uint256 tokensBurned; // the unused liquidity share under a USD price target
        address feeRecipient;
        uint256 fee;
        address treasury;
        uint256 treasuryAmount; // the treasury's part of raiseAmount
        uint256 donationSkimmed; // raise asset found unsynced in a pre-created pair, passed on to the treasury
        int256 oracleAnswer;
        bytes32 logHead;
    }

    /// @notice The token of `poolId` was launched by `pool`.
    event Launched(address indexed pool, bytes32 indexed poolId, address indexed token, LaunchRecord record);

    /// @notice `block.timestamp` is past the launch's deadline.
    error DeadlinePassed(uint256 deadline, uint256 timestamp);
    /// @notice The price feed's last update is older than `maxOracleAge`.
    error OracleStale(uint256 updatedAt, uint256 maxOracleAge);
    /// @notice The price feed's last update is stamped after this block: a broken or manipulated feed, not a price.
    error OracleUpdateInFuture(uint256 updatedAt, uint256 timestamp);
    /// @notice The price feed's answer was carried over from an earlier round (`answeredInRound < roundId`).
    error OracleRoundStale(uint80 roundId, uint80 answeredInRound);
    /// @notice The price feed's answer is further from the expected answer than the tolerance allows.
    error OraclePriceMoved(int256 answer, int256 expectedAnswer, uint16 toleranceBps);
    /// @notice The price feed answered zero or a negative price.
    error OracleAnswerInvalid(int256 answer);
    /// @notice A supply or raise split adds up to more than 10,000 bps.
    error InvalidSplit();
    /// @notice `protectionBlocks` is longer than `MAX_PROTECTION_BLOCKS`.
    error ProtectionTooLong(uint32 protectionBlocks, uint32 maxProtectionBlocks);
    /// @notice A parameter is missing or out of range; `field` names it.
    error InvalidParameter(string field);
    /// @notice `msg.value` is not what the raise asset requires (raiseAmount for ETH, 0 for an ERC-20).
    error ValueMismatch(uint256 value, uint256 expected);
    /// @notice The ERC-20 raise asset delivered less than `raiseAmount` (a fee-on-transfer token).
    error RaiseAssetShortfall(uint256 received, uint256 expected);
    /// @notice Nothing would be paired: the liquidity share of tokens or of the raise is zero.
    error NoLiquidity();
    /// @notice This pool has already launched this pool id.
    error AlreadyLaunched(address token);
    /// @notice The pair has reserves or LP supply already. Unreachable: the token has no code before the launch, so the
    /// pair's `sync` and `mint` revert until then (see docs/contracts.md); kept as a guard, not a recovery path.
    error PairAlreadyInitialized(address pair);
    /// @notice Ether was sent to the Launcher other than by WETH while unwrapping.
    error UnexpectedEther();

    uint16 public constant BPS = 10_000;
    uint32 public constant MAX_PROTECTION_BLOCKS = 300;
    uint8 public constant TOKEN_DECIMALS = 18;
    uint8 public constant ETH_DECIMALS = 18;
    address public constant DEAD = 0x000000000000000000000000000000000000dEaD;

    IUniswapV2Factory public immutable factory;
    IWETH public immutable weth;
    /// @notice keccak256 of AgentToken's creation code: with the salt, it fixes every token's address.
    bytes32 public immutable tokenInitCodeHash;

    TokenParameters private _pendingToken;

    constructor(IUniswapV2Factory factory_, IWETH weth_) {
        factory = factory_;
        weth = weth_;
        tokenInitCodeHash = keccak256(type(AgentToken).creationCode);
    }

    /// @dev Only WETH sends ether here, when a donation of WETH found in the pair is unwrapped for the treasury.
    receive() external payable {
        if (msg.sender != address(weth)) revert UnexpectedEther();
    }

    /// @notice Launch the token of pool `p.poolId`, sent by the pool's address with the raised funds.
    /// @dev ETH raise: `msg.value == p.raiseAmount`. ERC-20 raise: `msg.value == 0` and the pool approved this contract
    /// for `p.raiseAmount` of `p.raiseAsset`.
    /// @return token The launched token, at `predictToken(msg.sender, p.poolId)`.
    function launch(LaunchParams calldata p) external payable nonReentrant returns (address token) {
        _checkParams(p);
        LaunchRecord memory record;
        record.oracleAnswer = _checkOracle(p);
        record.raiseAsset = p.raiseAsset;
        record.raiseAmount = p.raiseAmount;
        record.lpLockUntil = p.lpLockUntil;
        record.feeRecipient = p.feeRecipient;
        record.treasury = p.treasury;
        record.logHead = p.logHead;

        address pairedAsset = _receiveRaise(p);
        _planAmounts(p, record, pairedAsset);
        token = _deployToken(p, record, pairedAsset);
        _addLiquidity(p, record, token, pairedAsset);
        _fundVesting(p, record, token);
        _payOut(p, record);
        emit Launched(msg.sender, p.poolId, token, record);
    }

    /// @notice The address the token of (`pool`, `poolId`) has, or will have once launched.
    function predictToken(address pool, bytes32 poolId) external view returns (address) {
        return Create2.computeAddress(_salt(pool, poolId), tokenInitCodeHash);
    }

    /// @notice The parameters of the token being deployed; read by AgentToken's constructor, empty otherwise.
    function pendingToken() external view returns (TokenParameters memory) {
        return _pendingToken;
    }

    function _salt(address pool, bytes32 poolId) private pure returns (bytes32) {
        return keccak256(abi.encode(pool, poolId));
    }

    function _checkParams(LaunchParams calldata p) private view {
        if (block.timestamp > p.deadline) revert DeadlinePassed(p.deadline, block.timestamp);
        if (uint256(p.liquiditySupplyBps) + p.depositorSupplyBps > BPS) revert InvalidSplit();
        if (uint256(p.liquidityRaiseBps) + p.feeBps > BPS) revert InvalidSplit();
        if (p.protectionBlocks > MAX_PROTECTION_BLOCKS) {
            revert ProtectionTooLong(p.protectionBlocks, MAX_PROTECTION_BLOCKS);
        }
        if (p.protectionBlocks != 0 && p.maxBuyPerTx == 0) revert InvalidParameter("maxBuyPerTx");
        // Uniswap V2 reserves are uint112: a larger supply could never be paired.
        if (p.totalSupply == 0 || p.totalSupply > type(uint112).max) revert InvalidParameter("totalSupply");
        if (p.treasury == address(0)) revert InvalidParameter("treasury");
        if (p.feeBps != 0 && p.feeRecipient == address(0)) revert InvalidParameter("feeRecipient");
        if (uint256(p.liquiditySupplyBps) + p.depositorSupplyBps < BPS && p.agent == address(0)) {
            revert InvalidParameter("agent");
        }
        if (p.depositorSupplyBps != 0 && p.merkleRoot == bytes32(0)) revert InvalidParameter("merkleRoot");
        if (p.lpLockUntil != 0 && p.lpLockUntil <= block.timestamp) revert InvalidParameter("lpLockUntil");
        if (p.priceFeed == address(0)) revert InvalidParameter("priceFeed");
        if (p.expectedAnswer <= 0) revert InvalidParameter("expectedAnswer");
    }

    /// @dev Reads the feed and returns its answer, or reverts when it is invalid, stamped in the future, carried over
    /// from an earlier round, stale or has moved too far.
    function _checkOracle(LaunchParams calldata p) private view returns (int256 answer) {
        uint80 roundId;
        uint256 updatedAt;
        uint80 answeredInRound;
        (roundId, answer,, updatedAt, answeredInRound) = AggregatorV3Interface(p.priceFeed).latestRoundData();
        if (answer <= 0) revert OracleAnswerInvalid(answer);
        // A future stamp would also pass the age check below for as long as it stays ahead of the clock.
        if (updatedAt > block.timestamp) revert OracleUpdateInFuture(updatedAt, block.timestamp);
        if (answeredInRound < roundId) revert OracleRoundStale(roundId, answeredInRound);
        if (updatedAt + p.maxOracleAge < block.timestamp) revert OracleStale(updatedAt, p.maxOracleAge);
        uint256 difference = answer > p.expectedAnswer
            ? uint256(answer - p.expectedAnswer)
            : uint256(p.expectedAnswer - answer);
        // |answer - expected| > expected * toleranceBps / 10000, compared without rounding.
        if (difference * BPS > uint256(p.expectedAnswer) * p.toleranceBps) {
            revert OraclePriceMoved(answer, p.expectedAnswer, p.toleranceBps);
        }
    }

    /// @dev Takes the raised funds and returns the ERC-20 that is paired with the token (WETH for an ETH raise).
    function _receiveRaise(LaunchParams calldata p) private returns (address pairedAsset) {
        if (p.raiseAsset == address(0)) {
            if (msg.value != p.raiseAmount) revert ValueMismatch(msg.value, p.raiseAmount);
            return address(weth);
        }
        if (msg.value != 0) revert ValueMismatch(msg.value, 0);
        IERC20 asset = IERC20(p.raiseAsset);
        uint256 balanceBefore = asset.balanceOf(address(this));
        asset.safeTransferFrom(msg.sender, address(this), p.raiseAmount);
        uint256 received = asset.balanceOf(address(this)) - balanceBefore;
        if (received != p.raiseAmount) revert RaiseAssetShortfall(received, p.raiseAmount);
        return p.raiseAsset;
    }

    /// @dev Floors every share and gives the remainder to the agent (tokens) and the treasury (raise), so the parts
    /// sum to the whole; enclave_signer/allocation.py computes the same numbers.
    function _planAmounts(LaunchParams calldata p, LaunchRecord memory record, address pairedAsset) private view {
        uint256 liquidityShare = (p.totalSupply * p.liquiditySupplyBps) / BPS;
        record.depositorTokens = (p.totalSupply * p.depositorSupplyBps) / BPS;
        record.agentTokens = p.totalSupply - liquidityShare - record.depositorTokens;

        record.assetToLiquidity = (p.raiseAmount * p.liquidityRaiseBps) / BPS;
        record.fee = (p.raiseAmount * p.feeBps) / BPS;
        record.treasuryAmount = p.raiseAmount - record.assetToLiquidity - record.fee;

        record.tokensToLiquidity = liquidityShare;
        if (p.targetPriceUsd != 0) {
            uint256 forTarget = _tokensForTarget(p, record.assetToLiquidity, record.oracleAnswer, pairedAsset);
            record.tokensToLiquidity = Math.min(forTarget, liquidityShare);
        }
        record.tokensBurned = liquidityShare - record.tokensToLiquidity;
        if (record.tokensToLiquidity == 0 || record.assetToLiquidity == 0) revert NoLiquidity();
    }

    /// @dev Tokens that make the pair's price `targetPriceUsd` (USD per whole token, in the feed's decimals) given
    /// `assetAmount` of the raise asset worth `answer` USD per whole unit (same decimals, which therefore cancel):
    /// tokens = assetAmount * answer * 10^tokenDecimals / (10^assetDecimals * targetPriceUsd).
    function _tokensForTarget(LaunchParams calldata p, uint256 assetAmount, int256 answer, address pairedAsset)
        private
        view
        returns (uint256)
    {
        uint8 assetDecimals = p.raiseAsset == address(0) ? ETH_DECIMALS : IERC20Metadata(pairedAsset).decimals();
        return Math.mulDiv(
            assetAmount, uint256(answer) * 10 ** TOKEN_DECIMALS, 10 ** uint256(assetDecimals) * p.targetPriceUsd
        );
    }

    /// @dev Creates the pair first (or takes the one someone pre-created for the predicted address), so the token can
    /// know its pair from construction; then deploys the token at its predicted address.
    function _deployToken(LaunchParams calldata p, LaunchRecord memory record, address pairedAsset)
        private
        returns (address token)
    {
        bytes32 salt = _salt(msg.sender, p.poolId);
        address predicted = Create2.computeAddress(salt, tokenInitCodeHash);
        if (predicted.code.length != 0) revert AlreadyLaunched(predicted);

        address pair = factory.getPair(predicted, pairedAsset);
        if (pair == address(0)) pair = factory.createPair(predicted, pairedAsset);
        record.pair = pair;

        _pendingToken = TokenParameters({
            name: p.name,
            symbol: p.symbol,
            totalSupply: p.totalSupply,
            pair: pair,
            protectionBlocks: p.protectionBlocks,
            maxBuyPerTx: p.maxBuyPerTx
        });
        token = address(new AgentToken{salt: salt}());
        delete _pendingToken;
    }

    /// @dev Moves the liquidity share of both sides into the pair and mints the LP to the dead address or a lock.
    /// A pair created by someone else before the launch can hold only an unsynced donation of the raise asset (its
    /// `sync` and `mint` revert while the token has no code); that donation is skimmed and passed to the treasury, so
    /// the first reserves are exactly the amounts paired here.
    function _addLiquidity(LaunchParams calldata p, LaunchRecord memory record, address token, address pairedAsset)
        private
    {
        IUniswapV2Pair pair = IUniswapV2Pair(record.pair);
        (uint112 reserve0, uint112 reserve1,) = pair.getReserves();
        if (reserve0 != 0 || reserve1 != 0 || pair.totalSupply() != 0) revert PairAlreadyInitialized(record.pair);

        IERC20 asset = IERC20(pairedAsset);
        if (asset.balanceOf(record.pair) != 0) {
            uint256 balanceBefore = asset.balanceOf(address(this));
            pair.skim(address(this));
            record.donationSkimmed = asset.balanceOf(address(this)) - balanceBefore;
        }

        IERC20(token).safeTransfer(record.pair, record.tokensToLiquidity);
        if (p.raiseAsset == address(0)) weth.deposit{value: record.assetToLiquidity}();
        asset.safeTransfer(record.pair, record.assetToLiquidity);

        record.lpHolder =
            p.lpLockUntil == 0 ? DEAD : address(new LPLock(IERC20(record.pair), p.treasury, p.lpLockUntil));
        record.liquidity = pair.mint(record.lpHolder);
    }

    /// @dev Funds the depositors' ClaimVault and the agent's VestingWallet, and burns the unused liquidity share.
    function _fundVesting(LaunchParams calldata p, LaunchRecord memory record, address token) private {
        if (record.depositorTokens != 0) {
            record.claimVault =
                address(new ClaimVault(IERC20(token), p.merkleRoot, p.depositorCliff, p.depositorDuration));
            IERC20(token).safeTransfer(record.claimVault, record.depositorTokens);
        }
        if (record.agentTokens != 0) {
            // Nothing before the cliff, then linear over agentDuration: a VestingWallet starting at the cliff's end.
            uint64 start = uint64(block.timestamp) + p.agentCliff;
            record.vestingWallet = address(new VestingWallet(p.agent, start, p.agentDuration));
            IERC20(token).safeTransfer(record.vestingWallet, record.agentTokens);
        }
        if (record.tokensBurned != 0) AgentToken(token).burn(record.tokensBurned);
    }

    /// @dev Pays the fee and the treasury's part (plus any skimmed donation) in the raise asset.
    function _payOut(LaunchParams calldata p, LaunchRecord memory record) private {
        uint256 toTreasury = record.treasuryAmount + record.donationSkimmed;
        if (p.raiseAsset == address(0)) {
            if (record.donationSkimmed != 0) weth.withdraw(record.donationSkimmed);
            _sendEther(p.feeRecipient, record.fee);
            _sendEther(p.treasury, toTreasury);
        } else {
            if (record.fee != 0) IERC20(p.raiseAsset).safeTransfer(p.feeRecipient, record.fee);
            if (toTreasury != 0) IERC20(p.raiseAsset).safeTransfer(p.treasury, toTreasury);
        }
    }

    /// @dev Sends ether; a recipient that cannot take ether gets WETH instead, so it cannot block the launch.
    function _sendEther(address to, uint256 amount) private {
        if (amount == 0) return;
        bool sent;
        assembly ("memory-safe") {
            sent := call(gas(), to, amount, 0, 0, 0, 0)
        }
        if (!sent) {
            weth.deposit{value: amount}();
            IERC20(address(weth)).safeTransfer(to, amount);
        }
    }
}
