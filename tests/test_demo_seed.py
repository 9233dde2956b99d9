"""`manage.py seed_demo` on a chain that mines on its own, as `make run`'s does, and devstack's development chain."""

from __future__ import annotations

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from chain.devnet import ChainDeployment, deploy_dev_fixtures
from pools.models import Agent, ChainTransaction, Deposit, Launch, Pool
from tests.anvil import PROJECT_ROOT, AnvilNode, start_anvil

sys.path.append(str(PROJECT_ROOT / "scripts"))
import devstack  # noqa: E402 - a script, not a package

ETHER = 10**18


@pytest.fixture(scope="module")
def anvil() -> AnvilNode:
    """This module's own chain, mining a block every second whether or not a transaction comes (the session's chain
    mines on each transaction): the seed waits for blocks as it does on `make run`'s chain."""
    node = start_anvil(block_time=1)
    yield node
    node.stop()


@pytest.fixture(scope="module")
def dev_chain(anvil: AnvilNode) -> ChainDeployment:
    return deploy_dev_fixtures(anvil.w3, deployer=anvil.account(0).address)


@pytest.fixture
def seeding(settings, signer_stack, monkeypatch):
    """The development stack's settings on this module's chain and signer."""
    settings.DEBUG = True
    # The signer's key comes from the environment, as `make run` gives it, not from a development var/ folder.
    monkeypatch.setenv("SIGNER_CLIENT_KEY", signer_stack.client_key)
    settings.SIGNER_CLIENT_KEY = signer_stack.client_key
    return signer_stack


def seed() -> str:
    out = StringIO()
    call_command("seed_demo", stdout=out)
    return out.getvalue()


def books() -> list[tuple]:
    """Every row the seed writes or could write, as it stands."""
    return [
        list(Pool.objects.order_by("pk").values_list("pk", "status", "raised", "updated_at")),
        list(Agent.objects.order_by("pk").values_list("pk", "name")),
        list(Deposit.objects.order_by("pk").values_list("pk", "status", "credited_amount")),
        list(Launch.objects.order_by("pk").values_list("pk", "step", "updated_at")),
        list(ChainTransaction.objects.order_by("pk").values_list("pk", "status", "tx_hash")),
    ]


@pytest.mark.integration
@pytest.mark.chain
@pytest.mark.django_db(transaction=True)
def test_seed_demo_makes_one_open_and_one_launched_demo_pool_and_a_second_run_changes_nothing(seeding, anvil):
    first = seed()

    demos = Pool.objects.filter(is_demo=True)
    assert sorted(demos.values_list("status", flat=True)) == [Pool.Status.LAUNCHED, Pool.Status.OPEN]
    assert Pool.objects.filter(is_demo=False).count() == 0
    launched, open_pool = demos.get(status=Pool.Status.LAUNCHED), demos.get(status=Pool.Status.OPEN)
    assert launched.raised == launched.hard_cap == 10 * ETHER
    launch = Launch.objects.get(pool=launched)
    assert launch.step == Launch.Step.LAUNCHED
    assert anvil.w3.eth.get_code(launch.pair_address) not in (b"", None)
    assert launch.transaction.status == ChainTransaction.Status.CONFIRMED
    # The open one has its address from the signer and the seed's first deposit on chain.
    assert open_pool.deposit_address and anvil.w3.eth.get_balance(open_pool.deposit_address) == 2 * ETHER
    for pool in (launched, open_pool):
        assert pool.chain_id == 31337
        assert "local development chain" in pool.description
        assert pool.links and all(link["url"].startswith("https://") for link in pool.links)
    assert f"/pools/{launched.pk}/" in first and f"/pools/{open_pool.pk}/" in first

    before = books()
    second = seed()
    assert "nothing to do" in second
    assert books() == before


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("setting", "value", "said"),
    [
        ("CHAIN_ID", 8453, "local development chain (31337) only, never a real network: CHAIN_ID is 8453"),
        ("DEBUG", False, "development stack only (`make run`): DJANGO_DEBUG is off"),
    ],
)
def test_seed_demo_refuses_anything_but_the_development_stack(settings, setting, value, said):
    settings.DEBUG, settings.CHAIN_ID = True, 31337
    setattr(settings, setting, value)
    with pytest.raises(CommandError) as refused:
        seed()
    assert said in str(refused.value)
    assert refused.value.returncode == 2
    assert not Pool.objects.exists() and not Agent.objects.exists()


def test_seed_demo_on_a_real_network_exits_with_one_line_and_code_2():
    env = {**os.environ, "CHAIN_ID": "8453", "DJANGO_DEBUG": "true"}
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"], cwd=PROJECT_ROOT, env=env, capture_output=True, text=True
    )
    assert result.returncode == 2
    assert result.stdout == ""
    assert result.stderr.strip().splitlines() == [
        "CommandError: seed_demo seeds the local development chain (31337) only, never a real network: "
        "CHAIN_ID is 8453."
    ]


def test_the_development_chain_mines_a_block_every_two_seconds():
    args = devstack.anvil_args(state_file=Path("var/anvil/state.json"), port=8545)
    assert args[args.index("--block-time") + 1] == "2"
    assert args[args.index("--state") + 1] == "var/anvil/state.json"
