"""`manage.py preflight`: is this deployment ready to hold depositors' money? One line per check, the fix under each
failure, a summary; exit 1 while any check is an error (pools/services/preflight.py has the checks)."""

from django.core.management.base import BaseCommand, CommandError

from pools.services.preflight import OK, has_errors, run_preflight

ERROR_EXIT = 1


class Command(BaseCommand):
    help = "Check the configured network, contracts, RPC, signer, gas account and secrets; exit 1 on any error."

    def add_arguments(self, parser):
        parser.add_argument("--no-signer", action="store_true", help="skip the signer and gas account checks")

    def handle(self, *args, no_signer: bool, **options):
        self.stderr.write("preflight: checking the RPC, the contracts, the signer, the gas account and the secrets")
        findings = run_preflight(signer=not no_signer)
        for finding in findings:
            self.stdout.write(f"{finding.status:<8} {finding.name}: {finding.message}")
            if finding.status != OK and finding.fix:
                self.stdout.write(f"  fix: {finding.fix}")
        counts = {status: sum(f.status == status for f in findings) for status in ("ok", "warning", "error")}
        summary = ", ".join(f"{count} {status}" for status, count in counts.items())
        verdict = "not ready: fix the errors above" if has_errors(findings) else "ready"
        self.stdout.write(f"preflight: {summary}: {verdict}")
        if has_errors(findings):
            raise CommandError("preflight found errors", returncode=ERROR_EXIT)
