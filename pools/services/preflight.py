"""Preflight: is this deployment ready to hold depositors' money? Run before start (`manage.py preflight`) and, cached,
by /healthz.

Each check is a small function returning findings: "ok", a "warning" (works, but less than it should) or an "error"
(a pool would be harmed: a launch refused, refunds stuck). Every failure names its fix in one sentence. A node or
signer that does not answer is a finding too, never a traceback. docs/real-network.md, "Preflight", lists them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from django.conf import settings
from web3 import Web3

from chain.client import chain_deployment
from chain.devnet import LOCAL_CHAIN_IDS, ChainDeployment
from chain.errors import ChainError, ChainUnavailable, DeploymentMissing, RpcError, RpcMethodUnsupported
from chain.probes import has_code, probe_rpc, probe_web3, rpc_serves, view
from chain.reads import erc20_metadata
from chain.rpc import JsonRpc
from enclave_signer.dotenv import read_dotenv
from pools.services.gas_account import gas_account_status
from pools.signer import signer_client
from pools.signer_client import SignerAuthError, SignerClient, SignerError

logger = logging.getLogger(__name__)

OK, WARNING, ERROR = "ok", "warning", "error"
WETH_DECIMALS = 18
USDC_DECIMALS = 6
USD_FEED_DECIMALS = 8  # Chainlink's USD feeds
WEI_PER_ETH = 10**18

# Each configured address, the setting that names it, and what it must be.
ADDRESSES = {
    "weth": ("CHAIN_WETH_ADDRESS", "the network's WETH"),
    "uniswap_v2_factory": ("CHAIN_UNISWAP_V2_FACTORY", "the network's Uniswap V2 factory"),
    "uniswap_v2_router": ("CHAIN_UNISWAP_V2_ROUTER", "the network's Uniswap V2 router (Router02)"),
    "eth_usd_feed": ("CHAIN_ETH_USD_FEED", "the network's Chainlink ETH/USD feed"),
    "usdc": ("CHAIN_USDC_ADDRESS", "the network's USDC"),
    "usdc_usd_feed": ("CHAIN_USDC_USD_FEED", "the network's Chainlink USDC/USD feed"),
    "launcher": ("CHAIN_LAUNCHER_ADDRESS", "our Launcher, as `manage.py deploy_contracts` prints it"),
    "refunder": ("CHAIN_REFUNDER_ADDRESS", "our Refunder, as `manage.py deploy_contracts` prints it"),
}
DEPLOY_FIX = "run `manage.py deploy_contracts` and add the CHAIN_* lines it prints to .env"
RPC_DOC = 'docs/real-network.md, "The RPC"'


@dataclass(frozen=True)
class Finding:
    name: str
    status: str  # "ok", "warning" or "error"
    message: str
    fix: str = ""  # one sentence, for a warning or an error
    detail: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Probe:
    """What every chain check reads through: clients with the caller's timeout, and the configured addresses."""

    w3: Web3
    rpc: JsonRpc
    deployment: ChainDeployment


def is_local_chain() -> bool:
    """A local development chain (anvil): development secrets are fine, and anvil funds the gas account."""
    return settings.CHAIN_ID in LOCAL_CHAIN_IDS


def eth(wei: int) -> str:
    """Wei as ETH, exactly (no float), the wei beside it."""
    whole = format(Decimal(wei) / WEI_PER_ETH, "f")
    return f"{whole.rstrip('0').rstrip('.') if '.' in whole else whole} ETH ({wei} wei)"


# --- the RPC -------------------------------------------------------------------------------------------------


def check_chain_id(w3: Web3) -> Finding:
    """The RPC serves CHAIN_ID."""
    try:
        chain_id = w3.eth.chain_id
    except Exception:  # noqa: BLE001 - a node that does not answer is a finding
        logger.warning("preflight: the RPC did not answer", exc_info=True)
        return Finding(
            "rpc.chain_id",
            ERROR,
            "CHAIN_RPC_URL did not answer",
            "start the node or set CHAIN_RPC_URL to one that runs",
        )
    if chain_id != settings.CHAIN_ID:
        return Finding(
            "rpc.chain_id",
            ERROR,
            f"the RPC serves chain id {chain_id}, but CHAIN_ID is {settings.CHAIN_ID}",
            "point CHAIN_RPC_URL at the right network or fix CHAIN_ID",
        )
    return Finding("rpc.chain_id", OK, f"chain id {chain_id}")


def check_rpc_methods(probe: Probe) -> list[Finding]:
    """The methods the indexer and the fee estimate use: traces (a warning without), logs and fee history."""
    findings = []
    traces = "debug_traceBlockByHash and debug_traceTransaction with the callTracer"
    try:
        latest = probe.w3.eth.get_block("latest")["hash"]
        rpc_serves(
            method="debug_traceBlockByHash", params=[latest.to_0x_hex(), {"tracer": "callTracer"}], rpc=probe.rpc
        )
        findings.append(Finding("rpc.traces", OK, "debug_traceBlockByHash with the callTracer"))
    except Exception as exc:  # noqa: BLE001 - a node that refuses or fails the probe is a finding, not a traceback
        findings.append(
            Finding(
                "rpc.traces",
                WARNING,
                f"debug_traceBlockByHash with the callTracer failed ({_why(exc)}): ETH sent to a pool by a contract "
                "(a smart wallet, an exchange) is missed; plain ETH transfers and ERC-20 deposits are still indexed",
                f"use an RPC that serves {traces} ({RPC_DOC})",
            )
        )
    required = [
        ("rpc.logs", "eth_getLogs", [{"fromBlock": "latest", "toBlock": "latest"}], "reads ERC-20 deposits and events"),
        ("rpc.fee_history", "eth_feeHistory", ["0x1", "latest", [50]], "prices every transaction's fees"),
    ]
    for name, method, params, use in required:
        try:
            rpc_serves(method=method, params=params, rpc=probe.rpc)
            findings.append(Finding(name, OK, method))
        except ChainError as exc:
            findings.append(
                Finding(
                    name,
                    ERROR,
                    f"{method} failed ({_why(exc)}): the stack {use} with it",
                    f"use an RPC that serves {method} ({RPC_DOC})",
                )
            )
    return findings


def _why(exc: ChainError) -> str:
    if isinstance(exc, RpcMethodUnsupported):
        return "the node does not offer it"
    if isinstance(exc, ChainUnavailable):
        return "no answer in time"
    if isinstance(exc, RpcError):
        return str(exc)[:200]
    return type(exc).__name__


# --- the configured contracts --------------------------------------------------------------------------------


def check_code(probe: Probe, label: str) -> Finding:
    """A configured address is set and holds a contract on this chain."""
    setting, what = ADDRESSES[label]
    address = getattr(probe.deployment, label)
    name = f"address.{label}"
    fix = DEPLOY_FIX if label in ("launcher", "refunder") else f"set {setting} to {what}"
    if not address:
        return Finding(name, ERROR, f"{setting} is not set", fix)
    if not has_code(address=address, w3=probe.w3):
        return Finding(name, ERROR, f"no contract code at {address} on chain {settings.CHAIN_ID}", fix)
    return Finding(name, OK, f"code at {address}")


def _same(a: str, b: str) -> bool:
    return bool(a and b) and a.lower() == b.lower()


def _views_match(probe: Probe, *, label: str, expected: dict[str, tuple[str, str]], fix: str) -> Finding:
    """The contract at `label` answers each view (signature -> (setting, address)) with that configured address."""
    address = getattr(probe.deployment, label)
    wrong = []
    for signature, (setting, want) in expected.items():
        (answer,) = view(address=address, signature=signature, returns=["address"], w3=probe.w3)
        if not _same(answer, want):
            wrong.append(f"{signature} is {answer}, not {setting} {want}")
    if wrong:
        return Finding(f"answers.{label}", ERROR, "; ".join(wrong), fix)
    return Finding(f"answers.{label}", OK, ", ".join(f"{signature} as configured" for signature in expected))


def check_router(probe: Probe) -> Finding:
    """The router belongs to the configured factory and WETH."""
    d = probe.deployment
    return _views_match(
        probe,
        label="uniswap_v2_router",
        expected={
            "factory()": ("CHAIN_UNISWAP_V2_FACTORY", d.uniswap_v2_factory),
            "WETH()": ("CHAIN_WETH_ADDRESS", d.weth),
        },
        fix="take CHAIN_UNISWAP_V2_ROUTER, CHAIN_UNISWAP_V2_FACTORY and CHAIN_WETH_ADDRESS from one Uniswap V2 "
        "deployment's official list",
    )


def check_launcher(probe: Probe) -> Finding:
    """The Launcher was deployed for the configured factory and WETH (its pairs go there)."""
    d = probe.deployment
    return _views_match(
        probe,
        label="launcher",
        expected={
            "factory()": ("CHAIN_UNISWAP_V2_FACTORY", d.uniswap_v2_factory),
            "weth()": ("CHAIN_WETH_ADDRESS", d.weth),
        },
        fix=f"the Launcher was deployed for other Uniswap V2 contracts: {DEPLOY_FIX}",
    )


def _check_decimals(probe: Probe, *, label: str, decimals: int) -> Finding:
    setting, what = ADDRESSES[label]
    token = erc20_metadata(address=getattr(probe.deployment, label), w3=probe.w3)
    if token.decimals != decimals:
        message = f"{token.symbol} has {token.decimals} decimals, not {decimals}"
        return Finding(f"answers.{label}", ERROR, message, f"set {setting} to {what} ({decimals} decimals)")
    return Finding(f"answers.{label}", OK, f"{token.symbol}, {token.decimals} decimals")


def check_weth(probe: Probe) -> Finding:
    return _check_decimals(probe, label="weth", decimals=WETH_DECIMALS)


def check_usdc(probe: Probe) -> Finding:
    return _check_decimals(probe, label="usdc", decimals=USDC_DECIMALS)


def _check_feed(probe: Probe, *, label: str, heartbeat_setting: str) -> Finding:
    """A USD feed: 8 decimals, a positive answer, updated within its heartbeat (by the chain's clock)."""
    setting, what = ADDRESSES[label]
    address = getattr(probe.deployment, label)
    heartbeat = getattr(settings, heartbeat_setting)
    (decimals,) = view(address=address, signature="decimals()", returns=["uint8"], w3=probe.w3)
    _, answer, _, updated_at, _ = view(
        address=address,
        signature="latestRoundData()",
        returns=["uint80", "int256", "uint256", "uint256", "uint80"],
        w3=probe.w3,
    )
    age = probe.w3.eth.get_block("latest")["timestamp"] - updated_at
    name = f"feed.{label}"
    if decimals != USD_FEED_DECIMALS:
        return Finding(name, ERROR, f"{decimals} decimals, not {USD_FEED_DECIMALS}", f"set {setting} to {what}")
    if answer <= 0:
        return Finding(name, ERROR, f"the answer is {answer}", f"set {setting} to {what}: this one has no price")
    if age > heartbeat:
        return Finding(
            name,
            ERROR,
            f"the last answer is {age} s old, more than {heartbeat_setting} ({heartbeat} s): launches would be refused",
            f"set {setting} to {what} (a live feed) and {heartbeat_setting} to the heartbeat Chainlink publishes",
        )
    price = answer / 10**decimals
    return Finding(name, OK, f"{price:,.2f} USD, {age} s old (heartbeat {heartbeat} s)")


def check_eth_usd_feed(probe: Probe) -> Finding:
    return _check_feed(probe, label="eth_usd_feed", heartbeat_setting="CHAIN_ETH_USD_FEED_HEARTBEAT")


def check_usdc_usd_feed(probe: Probe) -> Finding:
    return _check_feed(probe, label="usdc_usd_feed", heartbeat_setting="CHAIN_USDC_USD_FEED_HEARTBEAT")


# What each configured contract is asked, once it has code.
ANSWER_CHECKS: dict[str, Callable[[Probe], Finding]] = {
    "uniswap_v2_router": check_router,
    "weth": check_weth,
    "launcher": check_launcher,
    "eth_usd_feed": check_eth_usd_feed,
    "usdc_usd_feed": check_usdc_usd_feed,
    "usdc": check_usdc,
}


def check_contracts(probe: Probe) -> list[Finding]:
    """Code at every address, then what each contract that has code answers."""
    codes = {label: _guarded(f"address.{label}", check_code, probe, label) for label in ADDRESSES}
    answers = [
        _guarded(f"answers.{label}", check, probe)
        for label, check in ANSWER_CHECKS.items()
        if codes[label].status == OK
    ]
    return [*codes.values(), *answers]


# --- the signer and the gas account --------------------------------------------------------------------------


SIGNER_START_FIX = "start the signer, then run preflight again"


def check_signer(health: dict, deployment: ChainDeployment | None) -> Finding:
    """The signer (its /health answer) signs for CHAIN_ID and allows exactly the configured Launcher, Refunder, USDC."""
    if int(health.get("chain_id", -1)) != settings.CHAIN_ID:
        message = f"the signer signs for chain {health.get('chain_id')}, but CHAIN_ID is {settings.CHAIN_ID}"
        return Finding("signer", ERROR, message, "give the signer the same CHAIN_ID and CHAIN_RPC_URL as the app")
    contracts = health.get("contracts")
    if contracts is None:
        return Finding(
            "signer", WARNING, "the signer does not say which contracts it allows", "run the signer of this release"
        )
    if deployment is None:
        return Finding("signer", OK, "answers; its allow-list is not compared: the app's addresses are not configured")
    expected = {"launcher": deployment.launcher, "refunder": deployment.refunder, "usdc": deployment.usdc}
    raise_assets = contracts.get("raise_assets") or []
    allowed = {
        "launcher": contracts.get("launcher") or "",
        "refunder": contracts.get("refunder") or "",
        "usdc": next((a for a in raise_assets if _same(a, deployment.usdc)), ", ".join(raise_assets)),
    }
    wrong = [
        f"{label} {allowed[label] or 'none'} (the app's: {want or 'none'})"
        for label, want in expected.items()
        if not _same(allowed[label], want)
    ]
    if wrong:
        return Finding(
            "signer",
            ERROR,
            "the signer allows another " + ", ".join(wrong) + ": it would refuse every launch and refund",
            'restart the signer with the app\'s CHAIN_* settings (docs/real-network.md, "What the signer allows")',
        )
    source = f" ({contracts['source']})" if contracts.get("source") else ""
    return Finding("signer", OK, f"allows the configured Launcher, Refunder and USDC{source}")


def check_signer_and_gas(client: SignerClient, deployment: ChainDeployment | None, w3: Web3 | None) -> list[Finding]:
    """The signer's answer and allow-list, then the gas account (only the signer knows its address)."""
    try:
        health = client.health()
    except SignerError as exc:
        logger.warning("preflight: the signer did not answer: %s", exc)
        return [
            Finding("signer", WARNING, f"the signer at {settings.SIGNER_URL} did not answer", SIGNER_START_FIX),
            Finding("gas_account", WARNING, "not checked: only the signer knows its address", SIGNER_START_FIX),
        ]
    findings = [check_signer(health, deployment)]
    try:
        client.addresses()  # the first call that needs SIGNER_CLIENT_KEY
    except SignerAuthError:
        logger.warning("preflight: the signer refused our key", exc_info=True)
        message = "the signer refused SIGNER_CLIENT_KEY: every signature would be refused"
        fix = "set SIGNER_CLIENT_KEY to keyid:secret of one of the signer's SIGNER_HMAC_KEYS"
        return [*findings, Finding("signer.client_key", ERROR, message, fix)]
    except SignerError as exc:  # busy (proving a ledger) or gone since /health answered: look again later
        logger.warning("preflight: the signer did not give its addresses: %s", exc)
        return [*findings, Finding("gas_account", WARNING, "not checked: the signer did not answer", SIGNER_START_FIX)]
    if w3 is not None:
        findings.append(_guarded("gas_account", check_gas_account, client, w3))
    return findings


def check_gas_account(client: SignerClient, w3: Web3) -> Finding:
    """The gas account holds the recommended balance (an error when it cannot pay even one top-up)."""
    status = gas_account_status(client=client, w3=w3)
    detail = {"address": status.address, "balance_wei": str(status.balance), "recommended_wei": str(status.recommended)}
    held = f"{status.address} holds {eth(status.balance)}, recommended {eth(status.recommended)}"
    send = f"send {eth(status.shortfall)} to {status.address} (`manage.py gas_account` says what for)"
    if status.balance >= status.recommended:
        return Finding("gas_account", OK, held, detail=detail)
    if is_local_chain():
        return Finding("gas_account", OK, held + "; on this local chain anvil funds it when needed", detail=detail)
    if status.balance < status.one_topup:
        message = f"{held}: not enough for one top-up ({eth(status.one_topup)}); ERC-20 launches and refunds stop"
        return Finding("gas_account", ERROR, message, send, detail=detail)
    return Finding("gas_account", WARNING, held, send, detail=detail)


# --- secrets -------------------------------------------------------------------------------------------------


def _dev_secrets() -> dict[str, str]:
    """The secrets scripts/devstack.py generated for the local stack, if it ever ran here."""
    return read_dotenv(settings.DEV_SECRETS_FILE)


def check_secrets() -> list[Finding]:
    """On a chain that is not a local development chain: no development secret, and DEBUG off."""
    if is_local_chain():
        return [Finding("secrets", OK, f"chain {settings.CHAIN_ID} is a local development chain: not checked")]
    dev = _dev_secrets()
    generate = "make new ones with `manage.py generate_secrets` (README, step 1) and set them in .env"
    findings = []
    if settings.SECRET_KEY in (settings.DEVELOPMENT_SECRET_KEY, dev.get("DJANGO_SECRET_KEY")):
        findings.append(
            Finding("secrets.django_secret_key", ERROR, "DJANGO_SECRET_KEY is the development one", generate)
        )
    if settings.SIGNER_CLIENT_KEY in (settings.DEVELOPMENT_SIGNER_CLIENT_KEY, dev.get("SIGNER_CLIENT_KEY")):
        message = "SIGNER_CLIENT_KEY is the development one: anyone could ask the signer to sign"
        findings.append(Finding("secrets.signer_client_key", ERROR, message, generate))
    if settings.DEBUG:
        message = "DJANGO_DEBUG is on: error pages show settings and code"
        findings.append(Finding("secrets.debug", ERROR, message, "set DJANGO_DEBUG=false in .env"))
    return findings or [Finding("secrets", OK, "no development secret, DEBUG off")]


# --- running them --------------------------------------------------------------------------------------------


def _guarded(name: str, check: Callable[..., Finding], *args: object) -> Finding:
    """A check's finding; a check that could not run (the node went away, a contract answered garbage) is an error."""
    try:
        return check(*args)
    except ChainError as exc:
        logger.warning("preflight check %s failed", name, exc_info=True)
        message = f"could not be checked: {str(exc)[:200] or type(exc).__name__}"
        return Finding(name, ERROR, message, "check the address and the RPC, then run preflight again")
    except Exception as exc:  # noqa: BLE001 - a check that fails is reported, never a traceback
        logger.warning("preflight check %s failed", name, exc_info=True)
        message = f"could not be checked ({type(exc).__name__})"
        return Finding(name, ERROR, message, "see the log, then run preflight again")


def _deployment() -> tuple[ChainDeployment | None, list[Finding]]:
    try:
        return chain_deployment(), []
    except DeploymentMissing as exc:
        return None, [Finding("addresses", ERROR, str(exc), "set the CHAIN_* addresses in .env (README, step 2)")]


def run_preflight(*, signer: bool = True, timeout: float | None = None) -> list[Finding]:
    """Every check, in order: the RPC, the contracts, the RPC's methods, the signer, the gas account, the secrets.

    `timeout` bounds each request to the node and the signer (default: CHAIN_RPC_TIMEOUT and SIGNER_TIMEOUT).
    """
    w3 = probe_web3(timeout=timeout or settings.CHAIN_RPC_TIMEOUT)
    chain = check_chain_id(w3)
    deployment, findings = _deployment()
    findings.insert(0, chain)
    if chain.status == OK and deployment:
        probe = Probe(w3=w3, rpc=probe_rpc(timeout=timeout or settings.CHAIN_RPC_TIMEOUT), deployment=deployment)
        findings += [*check_contracts(probe), *check_rpc_methods(probe)]
    if signer:
        findings += check_signer_and_gas(signer_client(timeout=timeout), deployment, w3 if chain.status == OK else None)
    else:
        findings.append(Finding("signer", WARNING, "not checked (--no-signer)", SIGNER_START_FIX))
    return [*findings, *check_secrets()]


def has_errors(findings: list[Finding]) -> bool:
    return any(finding.status == ERROR for finding in findings)
