"""Deploy our Launcher and Refunder to the configured network once, and print the CHAIN_* lines to add to .env.

STDOUT carries only those lines (`manage.py deploy_contracts >> .env`); progress and errors go to STDERR. The
deployer's key comes from DEPLOYER_PRIVATE_KEY or an encrypted keystore, is used for these transactions, and is never
stored or logged. The work is in chain/deploy.py; this is the command line around it.
"""

import getpass
import json
import os
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from eth_account.signers.local import LocalAccount

from chain.client import check_chain_id, web3_client
from chain.deploy import (
    Contract,
    DeploymentReverted,
    DeployRefused,
    account_from_key,
    account_from_keystore,
    check_funds,
    deploy,
    env_line,
    our_contracts,
    plan,
    to_deploy,
)
from chain.errors import ChainError, ChainIdMismatch

NO_KEY = "set DEPLOYER_PRIVATE_KEY or pass --keystore FILE or --unsigned (with --from ADDRESS)"
CONFIGURATION_EXIT = 2
FAILURE_EXIT = 1


class Command(BaseCommand):
    help = "Deploy the Launcher and Refunder to CHAIN_RPC_URL (skipping those already there); print the .env lines."

    def add_arguments(self, parser):
        parser.add_argument("--keystore", type=Path, help="an encrypted JSON keystore (password: env or prompt)")
        parser.add_argument("--unsigned", action="store_true", help="print the transactions for a hardware wallet")
        parser.add_argument("--from", dest="sender", help="with --unsigned: the address that will sign and send")

    def handle(self, *args, keystore: Path | None, unsigned: bool, sender: str | None, **options):
        try:
            self._deploy(keystore=keystore, unsigned=unsigned, sender=sender)
        except (DeployRefused, ChainIdMismatch) as error:
            raise CommandError(str(error), returncode=CONFIGURATION_EXIT) from error
        except (DeploymentReverted, ChainError) as error:
            raise CommandError(str(error), returncode=FAILURE_EXIT) from error

    def _deploy(self, *, keystore: Path | None, unsigned: bool, sender: str | None) -> None:
        check_chain_id()
        w3 = web3_client()
        addresses = settings.CHAIN_ADDRESSES
        contracts = our_contracts(
            factory=addresses["uniswap_v2_factory"],
            weth=addresses["weth"],
            launcher=addresses["launcher"],
            refunder=addresses["refunder"],
        )
        pending = to_deploy(w3, contracts, report=self._say)
        if unsigned:
            self._print_unsigned(w3, pending, contracts, sender=sender)
            return
        # Each line is written as soon as its contract is known to be there: a run that fails at the second
        # deployment has still recorded the first, and the next run skips it.
        deployed = deploy(w3, pending, account=self._account(keystore), report=self._say) if pending else iter(())
        for contract in contracts:
            address = next(deployed)[1] if contract in pending else contract.configured
            self.stdout.write(env_line(contract, address))
            self.stdout.flush()

    def _account(self, keystore: Path | None) -> LocalAccount:
        """The deployer's account, from the keystore or DEPLOYER_PRIVATE_KEY; held in memory for this run only."""
        if keystore is not None:
            password = os.environ.get("DEPLOYER_KEYSTORE_PASSWORD")
            if password is None:
                password = getpass.getpass(f"password of {keystore}: ")
            return account_from_keystore(keystore, password=password)
        key = os.environ.get("DEPLOYER_PRIVATE_KEY", "")
        if not key:
            raise DeployRefused(NO_KEY)
        return account_from_key(key)

    def _print_unsigned(self, w3, pending: list[Contract], contracts: list[Contract], *, sender: str | None) -> None:
        """One JSON object per line on STDOUT: each creation transaction and the address it will create."""
        if not sender:
            raise DeployRefused("--unsigned needs --from ADDRESS: the account that will sign and send the transactions")
        try:
            deployments = plan(w3, pending, sender=sender)
        except ValueError as error:
            raise DeployRefused(f"--from {sender} is not an address: {error}") from error
        check_funds(w3, deployments, sender=sender)
        for deployment in deployments:
            self.stdout.write(json.dumps(deployment.unsigned_json()))
            self._say(f"after it is mined, add to .env: {deployment.unsigned_json()['env']}")
        for contract in contracts:
            if contract not in pending:
                self._say(f"already in .env: {env_line(contract, contract.configured)}")
        if pending:
            self._say(f"sign and send them from {sender} in nonce order, then run preflight")

    def _say(self, line: str) -> None:
        self.stderr.write(line)
