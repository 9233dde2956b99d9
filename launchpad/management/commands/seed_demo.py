"""Seed the local development stack with a demo agent, one OPEN pool and one LAUNCHED pool, so that a newcomer's
`make run` shows something to look at and to deposit into.

Everything goes through the real services, the ones the admin and the worker call: the signer gives each pool its
deposit address, anvil's unlocked development accounts deposit, the indexer credits, the hard cap closes the raise
and the launch job launches the token with its Uniswap pair. So the demo also proves, on every fresh stack, that
the whole lifecycle works.

Local development chain only: it refuses (exit code 2) unless DJANGO_DEBUG is on and CHAIN_ID and the RPC are the
development chain, 31337. Idempotent and resumable: each demo pool is found again by its symbol and brought on from
whatever status it reached, so a second run finds both at their goal and changes nothing.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.urls import reverse
from django.utils import timezone
from web3 import Web3

from chain.client import chain_deployment, check_chain_id, web3_client
from chain.devnet import refresh_dev_price_feeds
from chain.errors import ChainError, ChainIdMismatch
from enclave_signer.dotenv import read_dotenv
from pools.errors import ApplicationError
from pools.models import Agent, Launch, Pool
from pools.services.indexing import index_chain
from pools.services.launch import launch_advance, launch_request
from pools.services.pools import pool_schedule, pools_open_due
from pools.signer_client import SignerError

DEV_CHAIN_ID = 31337
REFUSED = 2  # the exit code of a refusal: not the development stack
ETHER = 10**18
Status = Pool.Status

# Seconds between scheduling a demo pool and its opening: scheduling needs the opening in the future.
OPENING_DELAY_SECONDS = 4
POLL_SECONDS = 1.0
OPENING_TIMEOUT_SECONDS = 60
CREDIT_TIMEOUT_SECONDS = 120
LAUNCH_TIMEOUT_SECONDS = 300

DEMO_AGENT = "Demo agent"
# anvil's unlocked development accounts (well-known keys, worthless ETH), by index. 0, the operator, deployed the
# fixtures, keeps the price feeds fresh and takes the platform fee; 1 is left for the README's deposit; the demo's
# depositors are 2 to 5.
OPERATOR_ACCOUNT, AGENT_ACCOUNT, TREASURY_ACCOUNT = 0, 8, 9
DEMO_LINKS = [
    {"label": "anvil, the local chain", "url": "https://getfoundry.sh/anvil/overview"},
    {"label": "Uniswap V2", "url": "https://docs.uniswap.org/contracts/v2/overview"},
]
LOCAL_ONLY = (
    "its ETH is anvil's test ETH and its token is worth nothing. It never exists on a real network. The README's "
    "“Try the demo” says how to deposit."
)
DEMO_NOTICE = (
    " A demonstration on the local development chain (anvil, chain id 31337), seeded by manage.py seed_demo: "
    + LOCAL_ONLY
)


@dataclass(frozen=True, eq=False)  # a demo is itself: keyed by identity
class DemoPool:
    """One demo pool: what it is, the deposits the seed makes into it, and the status it is brought to."""

    label: str
    goal: str
    fields: dict
    deposits: tuple[tuple[int, int], ...]  # (development account index, wei)
    lasts: timedelta = timedelta(days=30)

    @property
    def symbol(self) -> str:
        return self.fields["token_symbol"]

    def steps(self) -> dict[str, Callable]:
        """From each status on the way to the goal, the step that takes the pool further."""
        return DemoRun.OPEN_STEPS if self.goal == Status.OPEN else DemoRun.LAUNCH_STEPS


LAUNCHED_DEMO = DemoPool(
    label="launched demo",
    goal=Status.LAUNCHED,
    fields={
        "name": "Demo: a launched token",
        "token_name": "Demo Launched",
        "token_symbol": "DLAUNCH",
        "description": "Filled its 10 ETH hard cap from three development accounts and launched its token with a "
        "Uniswap V2 pair." + DEMO_NOTICE,
        "soft_cap": 5 * ETHER,
        "hard_cap": 10 * ETHER,
        "max_contribution": 5 * ETHER,
    },
    # Exactly the hard cap: the crediting closes the raise, and the launch needs no wait for the close time.
    deposits=((2, 4 * ETHER), (3, 3 * ETHER), (4, 3 * ETHER)),
)
OPEN_DEMO = DemoPool(
    label="open demo",
    goal=Status.OPEN,
    fields={
        "name": "Demo: an open raise",
        "token_name": "Demo Open",
        "token_symbol": "DOPEN",
        "description": "Open for deposits for 30 days: 0.01 to 10 ETH per wallet, up to a 50 ETH hard cap."
        + DEMO_NOTICE,
        "soft_cap": 5 * ETHER,
        "hard_cap": 50 * ETHER,
        "min_contribution": ETHER // 100,
        "max_contribution": 10 * ETHER,
    },
    deposits=((5, 2 * ETHER),),
)
DEMOS = (LAUNCHED_DEMO, OPEN_DEMO)


class Command(BaseCommand):
    help = (
        "Seed a demo agent with one open and one launched demo pool on the local development chain (31337) "
        "through the real signer, indexer and launch job. Idempotent; refuses (exit 2) anywhere else."
    )

    def handle(self, *args, **options):
        if problem := development_stack_problem():
            raise CommandError(problem, returncode=REFUSED)
        use_development_signer_key()
        found = {demo: demo_pool(demo) for demo in DEMOS}
        if all(pool is not None and pool.status not in demo.steps() for demo, pool in found.items()):
            self.stdout.write("the demo pools are there already, nothing to do: " + _where(found))
            return
        started = time.monotonic()
        run = DemoRun(w3=web3_client(), report=self.stdout.write)
        agent = run.demo_agent()
        for demo in DEMOS:
            found[demo] = run.bring_to_goal(demo, found[demo] or run.create_draft(demo, agent))
        seconds = time.monotonic() - started
        self.stdout.write(self.style.SUCCESS(f"demo pools ready in {seconds:.0f} s: " + _where(found)))


def _where(pools: dict[DemoPool, Pool]) -> str:
    """Each demo pool's page, and where the open one takes deposits (the README's "Try the demo" sends there)."""
    return ", ".join(
        f"{demo.label} {reverse('pool-detail', args=[pool.pk])}"
        + (f" (deposit address {pool.deposit_address})" if pool.status == Status.OPEN else "")
        for demo, pool in pools.items()
    )


def development_stack_problem() -> str:
    """Why this is not the local development stack ("" when it is): the demo must never reach a real network."""
    if not settings.DEBUG:
        return "seed_demo runs on the development stack only (`make run`): DJANGO_DEBUG is off here."
    if settings.CHAIN_ID != DEV_CHAIN_ID:
        return (
            f"seed_demo seeds the local development chain ({DEV_CHAIN_ID}) only, never a real network: "
            f"CHAIN_ID is {settings.CHAIN_ID}."
        )
    try:
        check_chain_id()
    except ChainIdMismatch as exc:
        return f"seed_demo seeds the local development chain only: {exc}"
    except ChainError as exc:
        raise CommandError(f"{exc} (is the local chain running? `make run` starts it)") from exc
    return ""


def use_development_signer_key() -> None:
    """Run from a terminal of its own, the command lacks the environment `make run` gives its processes: the signer
    then knows only the client key devstack generated into var/dev-secrets.env, so that is the one to sign with."""
    if "SIGNER_CLIENT_KEY" in os.environ:
        return
    if key := read_dotenv(settings.DEV_SECRETS_FILE).get("SIGNER_CLIENT_KEY"):
        settings.SIGNER_CLIENT_KEY = key


def demo_pool(demo: DemoPool) -> Pool | None:
    return Pool.objects.filter(is_demo=True, token_symbol=demo.symbol, chain_id=DEV_CHAIN_ID).order_by("pk").first()


@dataclass
class DemoRun:
    """One seeding run: the chain it drives and where its progress lines go."""

    w3: Web3
    report: Callable[[str], None]
    accounts: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.accounts = self.w3.eth.accounts

    # --- the agent and the drafts ------------------------------------------------------------------------------

    def demo_agent(self) -> Agent:
        agent, created = Agent.objects.get_or_create(
            name=DEMO_AGENT,
            defaults={
                "description": "A demonstration agent on the local development chain (anvil, chain id 31337), "
                "seeded by manage.py seed_demo: " + LOCAL_ONLY,
                "wallet_address": self.accounts[AGENT_ACCOUNT],
            },
        )
        if created:
            self.report(f"created the agent “{agent.name}” (wallet {agent.wallet_address})")
        return agent

    def create_draft(self, demo: DemoPool, agent: Agent) -> Pool:
        opens_at = self.next_opening()
        pool = Pool.objects.create(
            agent=agent,
            chain_id=DEV_CHAIN_ID,
            is_demo=True,
            links=DEMO_LINKS,
            confirmations=1,
            depositor_vesting_seconds=0,
            fee_recipient=self.accounts[OPERATOR_ACCOUNT],
            treasury_address=self.accounts[TREASURY_ACCOUNT],
            opens_at=opens_at,
            closes_at=opens_at + demo.lasts,
            **demo.fields,
        )
        self.report(f"{demo.label}: pool #{pool.pk} “{pool.name}” created as a draft")
        return pool

    def next_opening(self) -> datetime:
        """A few seconds ahead of both clocks, in whole seconds (the crediting rules count whole seconds)."""
        latest = datetime.fromtimestamp(self.w3.eth.get_block("latest")["timestamp"], tz=UTC)
        ahead = max(timezone.now(), latest) + timedelta(seconds=OPENING_DELAY_SECONDS + 1)
        return ahead.replace(microsecond=0)

    # --- the way to the goal -----------------------------------------------------------------------------------

    def bring_to_goal(self, demo: DemoPool, pool: Pool) -> Pool:
        """Take one step after another from the pool's status until it reaches the demo's goal, or leave it as it
        is when it is past the way there (an open demo that someone filled up, say)."""
        steps = demo.steps()
        if pool.status not in steps:
            past = "" if pool.status == demo.goal else " (`make clean-data` starts the development stack afresh)"
            self.report(f"{demo.label}: pool #{pool.pk} is {pool.get_status_display().lower()} already{past}")
        while (step := steps.get(pool.status)) is not None:
            try:
                pool = step(self, demo, pool)
            except (ApplicationError, ChainError, SignerError) as exc:
                raise CommandError(f"{demo.label} (pool #{pool.pk}): {exc}") from exc
        return pool

    def schedule(self, demo: DemoPool, pool: Pool) -> Pool:
        # The draft may be from an earlier run that stopped: its opening must still be ahead.
        pool.opens_at = self.next_opening()
        pool.closes_at = pool.opens_at + demo.lasts
        pool.save(update_fields=["opens_at", "closes_at", "updated_at"])
        pool = pool_schedule(pool_id=pool.pk)
        self.report(f"{demo.label}: scheduled with the signer; deposit address {pool.deposit_address}")
        return pool

    def open(self, demo: DemoPool, pool: Pool) -> Pool:
        """Wait for the opening by the wall clock (the worker's) and the chain's (the deposits')."""
        opening = pool.opens_at.timestamp()
        wait_for(
            "the opening",
            lambda: time.time() >= opening and self.w3.eth.get_block("latest")["timestamp"] >= opening,
            timeout=OPENING_TIMEOUT_SECONDS,
            hint=NO_BLOCKS_HINT,
        )
        pools_open_due()
        pool.refresh_from_db()
        self.report(f"{demo.label}: open")
        return pool

    def open_with_a_first_deposit(self, demo: DemoPool, pool: Pool) -> Pool:
        pool = self.open(demo, pool)
        self.send_deposits(demo, pool)
        return pool

    def fill_to_the_hard_cap(self, demo: DemoPool, pool: Pool) -> Pool:
        """Deposit the hard cap, and let the indexer confirm and credit it: the crediting then closes the raise."""
        self.send_deposits(demo, pool)
        self.report(f"{demo.label}: waiting for the deposits to be confirmed and credited")

        def closed() -> bool:
            index_chain(chain_id=pool.chain_id)
            pool.refresh_from_db()
            return pool.status != Status.OPEN

        wait_for("the deposits' crediting", closed, timeout=CREDIT_TIMEOUT_SECONDS, hint=NO_BLOCKS_HINT)
        self.report(f"{demo.label}: {pool.raised // ETHER} ETH credited; {pool.status_reason.lower()}")
        return pool

    def send_deposits(self, demo: DemoPool, pool: Pool) -> None:
        if pool.deposits.exists() or self.w3.eth.get_balance(pool.deposit_address):
            return  # sent by an earlier run
        sent = []
        for index, amount in demo.deposits:
            sender = self.accounts[index]
            tx_hash = self.w3.eth.send_transaction({"from": sender, "to": pool.deposit_address, "value": amount})
            sent.append(tx_hash)
            self.report(f"{demo.label}: {amount // ETHER} ETH sent from {sender} (transaction {tx_hash.to_0x_hex()})")
        for tx_hash in sent:
            if self.w3.eth.wait_for_transaction_receipt(tx_hash, timeout=CREDIT_TIMEOUT_SECONDS)["status"] != 1:
                raise CommandError(f"{demo.label}: the deposit {tx_hash.to_0x_hex()} reverted")

    def request_launch(self, demo: DemoPool, pool: Pool) -> Pool:
        # What beat's "refresh development price feeds" does every ten minutes: the launch wants a fresh answer.
        refresh_dev_price_feeds(self.w3, chain_deployment(), deployer=self.accounts[OPERATOR_ACCOUNT])
        launch_request(pool_id=pool.pk, requested_by="seed_demo")
        self.report(f"{demo.label}: launch requested; the signer signs it")
        pool.refresh_from_db()
        return pool

    def finish_launch(self, demo: DemoPool, pool: Pool) -> Pool:
        """Advance the launch as the worker does (whichever of us holds its lock advances it), the indexer keeping
        up between passes."""

        def settled() -> Launch | None:
            launch = launch_advance(pool_id=pool.pk) or Launch.objects.get(pool=pool)
            if launch.step in (Launch.Step.LAUNCHED, Launch.Step.FAILED):
                return launch
            index_chain(chain_id=pool.chain_id)
            return None

        launch = wait_for("the launch", settled, timeout=LAUNCH_TIMEOUT_SECONDS)
        if launch.step == Launch.Step.FAILED:
            raise CommandError(f"{demo.label} (pool #{pool.pk}): the launch failed: {launch.error}")
        pool.refresh_from_db()
        self.report(f"{demo.label}: launched: token {launch.token_address}, Uniswap V2 pair {launch.pair_address}")
        return pool

    OPEN_STEPS = {Status.DRAFT: schedule, Status.SCHEDULED: open_with_a_first_deposit}
    LAUNCH_STEPS = {
        Status.DRAFT: schedule,
        Status.SCHEDULED: open,
        Status.OPEN: fill_to_the_hard_cap,
        Status.CLOSED: request_launch,
        Status.LAUNCHING: finish_launch,
    }


NO_BLOCKS_HINT = " (is the chain producing blocks? `make run`'s anvil mines one every 2 s)"


def wait_for(what: str, check: Callable[[], object], *, timeout: float, hint: str = "") -> object:
    """Poll `check` until it returns something true, and return that; CommandError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not (result := check()):
        if time.monotonic() > deadline:
            raise CommandError(f"{what} did not come within {timeout:.0f} s{hint}")
        time.sleep(POLL_SECONDS)
    return result
