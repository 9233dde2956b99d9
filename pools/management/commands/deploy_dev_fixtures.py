"""Deploy the local chain's fixtures (WETH9, Uniswap V2, price feeds, test USDC, Launcher, Refunder) once."""

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from chain.client import check_chain_id, web3_client
from chain.devnet import LOCAL_CHAIN_IDS, ChainDeployment, deploy_dev_fixtures, deployment_is_live, write_atomically
from chain.errors import ChainError

# Chains on which deploying our own Uniswap and price feeds makes sense: anvil / hardhat development chains.


class Command(BaseCommand):
    help = "Deploy the development chain fixtures and record their addresses (local chains only)."

    def add_arguments(self, parser):
        parser.add_argument("--force", action="store_true", help="Deploy again even if the recorded ones are live.")

    def handle(self, *args, force: bool = False, **options):
        try:
            status = check_chain_id()
        except ChainError as exc:
            raise CommandError(f"{exc} (is the local chain running? `make run` starts it)") from exc
        if status.chain_id not in LOCAL_CHAIN_IDS:
            raise CommandError(
                f"chain {status.chain_id} is not a local development chain: on a real network, set the canonical "
                "addresses in the environment (CHAIN_UNISWAP_V2_FACTORY, CHAIN_ETH_USD_FEED, ...) instead."
            )
        w3 = web3_client()
        path = settings.CHAIN_DEPLOYMENT_FILE
        if path.exists() and not force:
            recorded = ChainDeployment.from_file(path)
            if recorded.chain_id == status.chain_id and deployment_is_live(w3, recorded):
                self.stdout.write(f"development fixtures already deployed (recorded in {path})")
                write_atomically(settings.SIGNER_CONTRACTS_FILE, recorded.signer_contracts_json())
                return
        deployer = w3.eth.accounts[0]
        self.stdout.write(f"deploying development fixtures to chain {status.chain_id} from {deployer}")
        deployment = deploy_dev_fixtures(w3, deployer=deployer, report=lambda line: self.stdout.write("  " + line))
        deployment.write(path)
        write_atomically(settings.SIGNER_CONTRACTS_FILE, deployment.signer_contracts_json())
        self.stdout.write(self.style.SUCCESS(f"recorded in {path} and {settings.SIGNER_CONTRACTS_FILE}"))
