"""`manage.py gas_account`: the signer's gas account, its balance and what it should hold for the pools open now
(pools/services/gas_account.py), and how much to send when it holds less."""

from django.core.management.base import BaseCommand, CommandError

from pools.services.gas_account import gas_account_status
from pools.services.preflight import SIGNER_START_FIX, eth, is_local_chain
from pools.signer_client import SignerError

SIGNER_UNREACHABLE_EXIT = 1


class Command(BaseCommand):
    help = "Print the gas account's address, balance and recommended balance, and how much to send when below."

    def handle(self, *args, **options):
        try:
            status = gas_account_status()
        except SignerError as error:
            raise CommandError(
                f"the signer did not answer ({error}): {SIGNER_START_FIX}", returncode=SIGNER_UNREACHABLE_EXIT
            ) from error
        self.stdout.write(f"address      {status.address}")
        self.stdout.write(f"balance      {eth(status.balance)}")
        self.stdout.write(f"recommended  {eth(status.recommended)}")
        self.stdout.write(
            f"  at {status.max_fee_per_gas} wei per gas; a reserve of one ERC-20 launch and one refund batch"
        )
        for need in status.per_pool:
            self.stdout.write(f"  pool {need.pool_id} {need.name}: {need.why}: {eth(need.wei)}")
        if status.shortfall:
            local = " (or nothing: on this local chain anvil funds it when needed)" if is_local_chain() else ""
            self.stdout.write(f"send {eth(status.shortfall)} to {status.address}{local}")
        else:
            self.stdout.write("funded: nothing to send")
