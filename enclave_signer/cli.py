"""Command line: serve, rotate-sealing-key, verify-attestation, app-compose, verify-log, verify-pool, export-log."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from pathlib import Path

from enclave_signer import verify_attestation
from enclave_signer.app_compose import DEFAULT_NAME, TEMPLATE, ComposeError, app_compose, compose_hash, render
from enclave_signer.auth import RequestAuthenticator
from enclave_signer.chain import ChainError, ChainReader
from enclave_signer.config import ConfigError, ContractsMissing, SignerConfig, load_config, require_contracts
from enclave_signer.dotenv import DOTENV_FILE, merged_environment
from enclave_signer.keys import LOG_KEY_PATH, derive_private_key
from enclave_signer.log import LogError, TransparencyLog, read_entries, verify_entries
from enclave_signer.sealing import SealingError, SealingRoot, lock_data_dir, obtain_sealing_root, sealing_key_id
from enclave_signer.server import make_server
from enclave_signer.service import EnclaveSigner
from enclave_signer.store import SealedStore
from enclave_signer.verify import main as verify_pool_main

CHAIN_WAIT_SECONDS = 30
logger = logging.getLogger("enclave_signer")


class StartupError(Exception):
    """The signer must not start (wrong chain, unreadable store, ...)."""


def wait_for_chain(chain: ChainReader, *, expected_chain_id: int, wait_seconds: float = CHAIN_WAIT_SECONDS) -> None:
    """Wait for the RPC (it may start alongside us) and refuse a chain other than the configured one."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            actual = chain.chain_id()
            break
        except ChainError as error:
            if time.monotonic() > deadline:
                raise StartupError(f"chain RPC {chain.url} unreachable for {wait_seconds} s: {error}") from error
            time.sleep(1)
    if actual != expected_chain_id:
        raise StartupError(f"CHAIN_ID is {expected_chain_id} but the RPC at {chain.url} serves chain {actual}")


def serve(config: SignerConfig) -> None:
    """Run the HTTP API until interrupted."""
    require_contracts(config)
    _lock = lock_data_dir(config.data_dir)  # noqa: F841 - held for the life of the process
    root = obtain_sealing_root(config)
    chain = ChainReader(url=config.rpc_url)
    wait_for_chain(chain, expected_chain_id=config.chain_id)
    signer = EnclaveSigner(config=config, root=root, chain=chain)
    if not config.hmac_keys:
        logger.warning("SIGNER_HMAC_KEYS is empty: every authenticated endpoint will answer 401")
    server = make_server(
        signer, host=config.host, port=config.port, authenticator=RequestAuthenticator(keys=config.hmac_keys)
    )
    logger.info(
        "enclave signer on http://%s:%s (tee: %s, chain %s, log key %s)",
        config.host,
        server.server_address[1],
        root.tee,
        config.chain_id,
        signer.log.signer,
    )
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def rotate_sealing_key(config: SignerConfig, *, new_secret_file: Path | None) -> dict:
    """Re-seal the store under a new sealing key (and a new root if given), atomically, and log it."""
    _lock = lock_data_dir(config.data_dir)  # noqa: F841 - refuses while a signer is serving from this dir
    root = obtain_sealing_root(config)
    store = SealedStore(path=config.store_path, root=root)
    state = store.load()
    old_key_id = sealing_key_id(root, salt=store.salt)
    new_root = None
    if new_secret_file is not None:
        new_root = SealingRoot(secret=new_secret_file.read_bytes().strip(), tee=root.tee, source=str(new_secret_file))
    state = store.rotate(new_root=new_root)
    log = TransparencyLog(
        path=config.log_path, private_key=derive_private_key(bytes.fromhex(state["root_secret"]), path=LOG_KEY_PATH)
    )
    payload = {
        "old_sealing_key_id": old_key_id,
        "new_sealing_key_id": sealing_key_id(store.root, salt=store.salt),
        "new_root": new_root is not None,
    }
    log.append("sealing_key_rotated", payload)
    state["log_head"] = log.head  # as the service does: the sealed head covers the newest entry
    store.save(state)
    return payload


def verify_log_file(path: Path, *, attestation_path: Path | None) -> dict:
    """Check an exported log offline; with an attestation, also that the log key and head are the attested ones."""
    entries = read_entries(path)
    report = json.loads(attestation_path.read_text()) if attestation_path else None
    if report is not None:
        binding = verify_attestation.Verdict(kind="report")
        verify_attestation.check_report(report, binding, verify_attestation.Expectations())
        if not binding.ok:
            raise LogError("attestation: " + "; ".join(check.detail for check in binding.failed))
    check = verify_entries(entries, expected_signer=report["log_key"] if report else None)
    if report is not None:
        head = report["log_head"]
        if head["seq"] >= check.count:
            raise LogError(f"the attested head is entry {head['seq']} but the log has only {check.count} entries")
        if head["seq"] >= 0 and entries[head["seq"]]["hash"] != head["hash"]:
            raise LogError(f"entry {head['seq']} is not the attested head {head['hash']}")
    return {
        "ok": True,
        "entries": check.count,
        "head": check.head,
        "log_key": check.signer,
        "bound_to_attestation": report is not None,
    }


def write_app_compose(args) -> int:
    """Render the template for one release, write app-compose.json, print the compose-hash to compare quotes with."""
    try:
        contracts = json.loads(args.contracts.read_text())
        text = render(args.template.read_text(), image=args.image, chain_id=args.chain_id, contracts=contracts)
    except (OSError, ValueError, AttributeError) as error:
        print(f"app-compose: cannot read {args.contracts} or {args.template}: {error}", file=sys.stderr)
        return 2
    except ComposeError as error:
        print(f"app-compose: {error}", file=sys.stderr)
        return 2
    manifest = app_compose(text, name=args.name)
    args.out.write_bytes(manifest)
    print(f"wrote {args.out} ({len(manifest)} bytes)", file=sys.stderr)
    print(compose_hash(manifest))
    return 0


def main(argv: list[str] | None = None) -> int:
    """Entry point of `python -m enclave_signer`."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    parser = argparse.ArgumentParser(prog="python -m enclave_signer")
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("serve", help="run the HTTP API")
    rotate = commands.add_parser("rotate-sealing-key", help="re-seal the store under a new key (stop the signer)")
    rotate.add_argument("--new-secret-file", type=Path, help="dev: re-seal under this new sealing root secret")
    verify_attestation.add_arguments(
        commands.add_parser(
            "verify-attestation",
            help="check an attestation offline: the TDX quote, the event log, the compose-hash, the keys it binds",
        )
    )
    compose = commands.add_parser(
        "app-compose", help="write the signer's dstack app-compose.json for a release and print its compose-hash"
    )
    compose.add_argument("--image", required=True, help="the signer image by digest: REPOSITORY@sha256:DIGEST")
    compose.add_argument("--chain-id", type=int, required=True)
    compose.add_argument(
        "--contracts", type=Path, required=True, help="JSON: chain_id, launcher, refunder, raise_assets"
    )
    compose.add_argument("--name", default=DEFAULT_NAME, help="the app's name in dstack")
    compose.add_argument("--template", type=Path, default=TEMPLATE)
    compose.add_argument("--out", type=Path, default=Path("app-compose.json"))
    verify = commands.add_parser("verify-log", help="check an exported log offline")
    verify.add_argument("file", type=Path)
    verify.add_argument("--attestation", type=Path, help="an attestation report the log must be bound to")
    pool = commands.add_parser(
        "verify-pool",
        help="check a pool from public data: deposits proven on chain, every wei accounted for (docs/verify-pool.md)",
    )
    pool.add_argument("pool_id", type=int, metavar="POOL_ID")
    pool.add_argument("--rpc", required=True, help="a JSON-RPC URL of the pool's chain that you trust")
    pool.add_argument("--site", required=True, help="the launchpad's URL: its deposit list (and log, without --log)")
    pool.add_argument("--log", type=Path, help="the signer's log (JSON lines); default: <site>/transparency/log.jsonl")
    pool.add_argument("--block", type=int, help="check as of this block (default: the newest confirmed one)")
    export = commands.add_parser("export-log", help="write the signer's log file to stdout")
    export.add_argument("--out", type=Path)
    args = parser.parse_args(argv)
    try:
        if args.command == "verify-attestation":
            return verify_attestation.main(args)
        if args.command == "app-compose":
            return write_app_compose(args)
        if args.command == "verify-pool":
            return verify_pool_main(args)
        if args.command == "verify-log":
            print(json.dumps(verify_log_file(args.file, attestation_path=args.attestation), indent=2))
            return 0
        # `.env` as the web tier reads it (the environment wins), so a signer run by itself agrees with the apps.
        config = load_config(merged_environment(DOTENV_FILE, os.environ))
        if args.command == "serve":
            serve(config)
        elif args.command == "rotate-sealing-key":
            print(json.dumps(rotate_sealing_key(config, new_secret_file=args.new_secret_file), indent=2))
        elif args.command == "export-log":
            data = config.log_path.read_bytes() if config.log_path.exists() else b""
            args.out.write_bytes(data) if args.out else sys.stdout.buffer.write(data)
        return 0
    except ContractsMissing as error:  # a configuration the operator must complete: exit 2, as every such refusal
        print(f"enclave_signer: {error}", file=sys.stderr)
        return 2
    except (ConfigError, SealingError, StartupError, LogError, OSError, ValueError) as error:
        print(f"enclave_signer: {error}", file=sys.stderr)
        return 1
