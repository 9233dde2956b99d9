"""The signer's configuration, read once from the environment (see docs/signer.md for every variable)."""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from eth_utils import to_checksum_address

from enclave_signer.params import ZERO_ADDRESS

DEFAULT_BIND = "127.0.0.1:8600"
DEFAULT_DATA_DIR = "./var/signer"
DEFAULT_RPC_URL = "http://127.0.0.1:8545"
DEFAULT_CHAIN_ID = 31337
DSTACK_SOCKET = "/var/run/dstack.sock"
# 0.01 ETH: enough gas for a launch or a refund batch at development fees; operators raise it per network.
DEFAULT_GAS_TOPUP_MAX_WEI = 10**16
# 0.1 ETH: all top-ups a pool address may ever receive; bounds what a compromised caller could draw from the gas key.
DEFAULT_GAS_TOPUP_POOL_MAX_WEI = 10**17
# The most a single signed transaction may spend on fees (gas * maxFeePerGas): caps what a compromised caller
# could burn from a pool through absurd fees (priority fees go to a block producer, who could be the attacker).
DEFAULT_MAX_TX_FEE_WEI = 10**17
# Above that, fees are allowed at up to this price per gas: the per-transaction cap scales with the network's fees,
# and the pool's fee budget bounds the total (docs/signer.md, "Fees").
DEFAULT_MAX_FEE_PER_GAS_WEI = 500 * 10**9
# A pool key's fee budget for its life: max(floor, bps of a native pool's hard cap). It bounds what a compromised
# caller can burn through many transactions, each under the per-transaction cap (docs/signer.md, "Fees").
DEFAULT_POOL_FEE_BUDGET_MIN_WEI = 5 * 10**17
DEFAULT_POOL_FEE_BUDGET_BPS = 50
DEFAULT_LAUNCH_DEADLINE_WINDOW_SECONDS = 3600
DEFAULT_MIN_CONFIRMATIONS = 1
MIN_HMAC_KEY_BYTES = 16
# Chains where a signer may start allowing no contracts: anvil / hardhat, whose deploy_dev_fixtures writes them later.
LOCAL_CHAIN_IDS = frozenset({31337, 1337})
CHAIN_SETTINGS_SOURCE = "CHAIN_*"

logger = logging.getLogger(__name__)


class ConfigError(Exception):
    """The environment does not describe a usable signer."""


@dataclass(frozen=True)
class SignerConfig:
    """Everything the signer reads from its environment."""

    host: str
    port: int
    data_dir: Path
    sealing_secret: bytes | None
    hmac_keys: dict[str, bytes]
    rpc_url: str
    chain_id: int
    contracts_file: Path | None
    contracts_json: str | None
    gas_topup_max_wei: int
    gas_topup_pool_max_wei: int
    max_tx_fee_wei: int
    max_fee_per_gas_wei: int
    pool_fee_budget_min_wei: int
    pool_fee_budget_bps: int
    launch_deadline_window_seconds: int
    min_confirmations: int
    dstack_socket: Path
    # CHAIN_LAUNCHER_ADDRESS, CHAIN_REFUNDER_ADDRESS and CHAIN_USDC_ADDRESS, the web tier's own settings (None: unset).
    chain_contracts: KnownContracts | None = None

    @property
    def store_path(self) -> Path:
        return self.data_dir / "store.sealed"

    @property
    def log_path(self) -> Path:
        return self.data_dir / "log.jsonl"

    @property
    def dev_secret_path(self) -> Path:
        return self.data_dir / "dev-sealing-secret"

    def known_contracts(self) -> KnownContracts:
        """SIGNER_CONTRACTS (inline, as a measured CVM compose sets it), else the CHAIN_* addresses every other part
        reads, else SIGNER_CONTRACTS_FILE (re-read per request: the dev deployer may write it after we start)."""
        if self.contracts_json is None and self.chain_contracts is not None:
            return self.chain_contracts
        return load_known_contracts(self.contracts_file, chain_id=self.chain_id, text=self.contracts_json)


def parse_hmac_keys(text: str) -> dict[str, bytes]:
    """Parse `keyid:hexsecret,keyid:hexsecret`; at most two keys, so callers can rotate without downtime."""
    keys: dict[str, bytes] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key_id, _, secret_hex = item.partition(":")
        try:
            secret = bytes.fromhex(secret_hex)
        except ValueError as error:
            raise ConfigError(f"SIGNER_HMAC_KEYS: key {key_id!r} is not hex") from error
        if not key_id or len(secret) < MIN_HMAC_KEY_BYTES:
            raise ConfigError(f"SIGNER_HMAC_KEYS: key {key_id!r} needs an id and at least {MIN_HMAC_KEY_BYTES} bytes")
        keys[key_id] = secret
    if len(keys) > 2:
        raise ConfigError("SIGNER_HMAC_KEYS: at most two keys (the current one and the next one)")
    return keys


def _int(env: dict[str, str], name: str, default: int) -> int:
    try:
        return int(env.get(name) or default)
    except ValueError as error:
        raise ConfigError(f"{name} must be an integer") from error


def _sealing_secret(env: dict[str, str]) -> bytes | None:
    if env.get("SIGNER_SEALING_SECRET"):
        return env["SIGNER_SEALING_SECRET"].encode()
    if env.get("SIGNER_SEALING_SECRET_FILE"):
        path = Path(env["SIGNER_SEALING_SECRET_FILE"])
        try:
            return path.read_bytes().strip()
        except OSError as error:
            raise ConfigError(f"SIGNER_SEALING_SECRET_FILE: cannot read {path}: {error}") from error
    return None


def load_config(env: dict[str, str] | None = None) -> SignerConfig:
    """Read the configuration from `env` (default: the process environment)."""
    env = dict(os.environ if env is None else env)
    host, _, port = (env.get("SIGNER_BIND") or DEFAULT_BIND).rpartition(":")
    contracts_file = env.get("SIGNER_CONTRACTS_FILE")
    return SignerConfig(
        host=host or "127.0.0.1",
        port=int(port),
        data_dir=Path(env.get("SIGNER_DATA_DIR") or DEFAULT_DATA_DIR),
        sealing_secret=_sealing_secret(env),
        hmac_keys=parse_hmac_keys(env.get("SIGNER_HMAC_KEYS", "")),
        rpc_url=env.get("CHAIN_RPC_URL") or DEFAULT_RPC_URL,
        chain_id=_int(env, "CHAIN_ID", DEFAULT_CHAIN_ID),
        contracts_file=Path(contracts_file) if contracts_file else None,
        contracts_json=env.get("SIGNER_CONTRACTS") or None,
        gas_topup_max_wei=_int(env, "SIGNER_GAS_TOPUP_MAX_WEI", DEFAULT_GAS_TOPUP_MAX_WEI),
        gas_topup_pool_max_wei=_int(env, "SIGNER_GAS_TOPUP_POOL_MAX_WEI", DEFAULT_GAS_TOPUP_POOL_MAX_WEI),
        max_tx_fee_wei=_int(env, "SIGNER_MAX_TX_FEE_WEI", DEFAULT_MAX_TX_FEE_WEI),
        max_fee_per_gas_wei=_int(env, "SIGNER_MAX_FEE_PER_GAS_WEI", DEFAULT_MAX_FEE_PER_GAS_WEI),
        pool_fee_budget_min_wei=_int(env, "SIGNER_POOL_FEE_BUDGET_MIN_WEI", DEFAULT_POOL_FEE_BUDGET_MIN_WEI),
        pool_fee_budget_bps=min(10_000, _int(env, "SIGNER_POOL_FEE_BUDGET_BPS", DEFAULT_POOL_FEE_BUDGET_BPS)),
        launch_deadline_window_seconds=_int(
            env, "SIGNER_LAUNCH_DEADLINE_WINDOW_SECONDS", DEFAULT_LAUNCH_DEADLINE_WINDOW_SECONDS
        ),
        min_confirmations=max(1, _int(env, "SIGNER_MIN_CONFIRMATIONS", DEFAULT_MIN_CONFIRMATIONS)),
        dstack_socket=Path(env.get("SIGNER_DSTACK_SOCKET") or DSTACK_SOCKET),
        chain_contracts=chain_contracts(env),
    )


def chain_contracts(env: dict[str, str]) -> KnownContracts | None:
    """The contracts the CHAIN_* settings name, when CHAIN_LAUNCHER_ADDRESS is set; ConfigError for a malformed one."""
    if not env.get("CHAIN_LAUNCHER_ADDRESS"):
        return None

    def address(name: str) -> str | None:
        value = env.get(name, "").strip()
        try:
            return to_checksum_address(value) if value else None
        except ValueError as error:
            raise ConfigError(f"{name}={value!r} is not an address: fix it (or unset it)") from error

    usdc = address("CHAIN_USDC_ADDRESS")
    return KnownContracts(
        launcher=address("CHAIN_LAUNCHER_ADDRESS"),
        refunder=address("CHAIN_REFUNDER_ADDRESS"),
        raise_assets=frozenset({ZERO_ADDRESS} | ({usdc} if usdc else set())),
        source=CHAIN_SETTINGS_SOURCE,
    )


class ContractsMissing(ConfigError):
    """A signer for a real network that would allow no Launcher or no Refunder: it must not start half-configured."""


def require_contracts(config: SignerConfig) -> None:
    """Outside a local development chain, ContractsMissing unless a Launcher and a Refunder are allowed."""
    known = config.known_contracts()
    if config.chain_id in LOCAL_CHAIN_IDS or (known.launcher and known.refunder):
        return
    missing = [name for name, value in (("Launcher", known.launcher), ("Refunder", known.refunder)) if not value]
    raise ContractsMissing(
        f"chain {config.chain_id} is not a local development chain and the signer would allow no "
        f"{' and no '.join(missing)} (contracts from {known.source or 'nowhere'}): set CHAIN_LAUNCHER_ADDRESS and "
        "CHAIN_REFUNDER_ADDRESS (the lines `manage.py deploy_contracts` prints) and CHAIN_USDC_ADDRESS, or "
        "SIGNER_CONTRACTS, and start the signer again"
    )


@dataclass(frozen=True)
class KnownContracts:
    """The contract addresses the policy allows, and where they came from (SignerConfig.known_contracts)."""

    launcher: str | None
    refunder: str | None
    raise_assets: frozenset[str]
    source: str = ""  # "SIGNER_CONTRACTS", CHAIN_SETTINGS_SOURCE or the file's path; "": none of them

    def public(self, *, chain_id: int) -> dict:
        """What /health shows, for the preflight to compare with the web tier's settings: addresses are public."""
        return {
            "chain_id": chain_id,
            "launcher": self.launcher,
            "refunder": self.refunder,
            "raise_assets": sorted(self.raise_assets - {ZERO_ADDRESS}),
            "source": self.source,
        }


def load_known_contracts(path: Path | None, *, chain_id: int, text: str | None = None) -> KnownContracts:
    """Read {chain_id, launcher, refunder, raise_assets: [...]} from `text`, else from the file at `path`.

    A missing file, unreadable JSON or another chain allows nothing.

    The native asset (address 0) is always an allowed raise asset. Unknown keys are ignored, so the file can be
    the dev deployer's full deployment record.
    """
    source = "SIGNER_CONTRACTS" if text is not None else str(path or "")
    nothing = KnownContracts(launcher=None, refunder=None, raise_assets=frozenset({ZERO_ADDRESS}), source=source)
    if text is None and (path is None or not path.exists()):
        return nothing
    try:
        data = json.loads(text if text is not None else path.read_text())
        if int(data.get("chain_id", -1)) != chain_id:
            logger.warning("%s is for chain %s, not %s: no contracts allowed", source, data.get("chain_id"), chain_id)
            return nothing
        checksum = lambda value: to_checksum_address(value) if value else None  # noqa: E731
        assets = {to_checksum_address(asset) for asset in data.get("raise_assets", [])}
        return KnownContracts(
            launcher=checksum(data.get("launcher")),
            refunder=checksum(data.get("refunder")),
            raise_assets=frozenset(assets | {ZERO_ADDRESS}),
            source=source,
        )
    except (ValueError, TypeError, AttributeError, OSError) as error:
        logger.error("cannot read %s (%s): no contracts allowed", source, error)
        return nothing
