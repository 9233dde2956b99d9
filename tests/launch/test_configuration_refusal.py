"""A signer that does not (yet) allow our Launcher or Refunder holds the jobs back, it does not fail them: the launch
stays LAUNCHING and the refunds wait, each saying how to fix the signer, and both go on by themselves once the signer
is restarted with the app's CHAIN_* settings. Real parts: anvil, PostgreSQL, the signer as its own process."""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import timedelta

import pytest

from chain.artifacts import load_artifact
from chain.devnet import ChainDeployment
from chain.rpc import JsonRpc
from pools.models import ChainTransaction, Launch, Pool
from pools.services.launch import launch_advance, launch_request
from pools.services.pools import pool_settle
from pools.services.refunds import refund_request, refunds_advance
from tests.anvil import ANVIL_CHAIN_ID, AnvilNode
from tests.indexer.support import ETHER, USDC, ChainDriver, fresh_address
from tests.launch.test_lifecycle import (
    assert_conserved,
    chain_now,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    run_refunds,
    scheduled_pool,
)
from tests.processes import SignerProcess, start_signer

pytestmark = [pytest.mark.integration, pytest.mark.chain]

FIX = "CHAIN_LAUNCHER_ADDRESS, CHAIN_REFUNDER_ADDRESS and CHAIN_USDC_ADDRESS and restart it"
PASSES = 4
TOKEN_GAS = 120_000


class SignerStack:
    """The app's settings and one signer on a fixed data directory and sealing secret, so it can be restarted."""

    def __init__(self, settings, anvil: AnvilNode, deployment: ChainDeployment, tmp_path) -> None:
        self.settings, self.anvil, self.deployment, self.tmp_path = settings, anvil, deployment, tmp_path
        self.sealing_secret = secrets.token_hex(32)
        self.signer: SignerProcess | None = None
        deployment_file = tmp_path / "deployment.json"
        deployment.write(deployment_file)
        settings.CHAIN_RPC_URL, settings.CHAIN_ID = anvil.rpc_url, ANVIL_CHAIN_ID
        settings.CHAIN_DEPLOYMENT_FILE = deployment_file

    def start(self, *, allowed: ChainDeployment) -> None:
        """(Re)start the signer allowing what `allowed` names, from the CHAIN_* settings as an operator gives them."""
        if self.signer is not None:
            self.signer.stop()
        env = {
            "SIGNER_SEALING_SECRET": self.sealing_secret,
            "SIGNER_CONTRACTS": "",
            "SIGNER_CONTRACTS_FILE": str(self.tmp_path / "no-such-file.json"),
            "CHAIN_LAUNCHER_ADDRESS": allowed.launcher,
            "CHAIN_REFUNDER_ADDRESS": allowed.refunder,
            "CHAIN_USDC_ADDRESS": allowed.usdc,
        }
        self.signer = start_signer(
            rpc_url=self.anvil.rpc_url, chain_id=ANVIL_CHAIN_ID, data_dir=self.tmp_path / "signer", extra_env=env
        )
        self.settings.SIGNER_URL, self.settings.SIGNER_CLIENT_KEY = self.signer.url, self.signer.client_key


@pytest.fixture
def stack(settings, anvil, dev_chain, chain_snapshot, tmp_path):
    stack = SignerStack(settings, anvil, dev_chain, tmp_path)
    yield stack
    if stack.signer is not None:
        stack.signer.stop()


def driver(anvil: AnvilNode) -> ChainDriver:
    return ChainDriver(anvil=anvil, rpc=JsonRpc(url=anvil.rpc_url, timeout=30))


@pytest.mark.django_db(transaction=True)
def test_a_launch_the_signer_does_not_allow_waits_launching_and_launches_once_the_signer_is_fixed(stack, anvil):
    elsewhere = "0x" + "42" * 20  # the operator gave the signer another Launcher than the app's
    stack.start(allowed=replace(stack.deployment, launcher=elsewhere))
    chain = driver(anvil)
    pool = scheduled_pool(chain)
    deposit_from(chain, pool, [5 * ETHER] * 4, at=pool.opens_at + timedelta(minutes=1), label="patient")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    launch_request(pool_id=pool.pk, requested_by="test")

    for _ in range(PASSES):
        launch_advance(pool_id=pool.pk)

    launch, pool = Launch.objects.get(pool=pool), Pool.objects.get(pk=pool.pk)
    assert (launch.step, pool.status) == (Launch.Step.SENDING, Pool.Status.LAUNCHING)
    assert f"does not allow {stack.deployment.launcher}" in launch.error and FIX in launch.error
    assert launch.transaction.status == ChainTransaction.Status.UNSTARTED  # kept, with its nonce: not abandoned

    stack.start(allowed=stack.deployment)
    launch = run_launch(pool)

    assert launch.step == Launch.Step.LAUNCHED, launch.error
    assert ChainTransaction.objects.filter(pool=pool, purpose="launch", status="confirmed").count() == 1
    assert_conserved(chain, pool, deposited=4 * 5 * ETHER)


@pytest.mark.django_db(transaction=True)
def test_an_erc20_launch_whose_approve_the_signer_refuses_waits_approving_then_launches(stack, anvil):
    stack.start(allowed=replace(stack.deployment, launcher="0x" + "42" * 20))
    chain = driver(anvil)
    usdc = chain.w3.eth.contract(address=stack.deployment.usdc, abi=load_artifact("TestUSDC").abi)
    pool = scheduled_pool(chain, raise_asset=usdc.address, raise_asset_symbol="USDC", raise_asset_decimals=6,
                          soft_cap=100 * USDC, hard_cap=1000 * USDC, max_contribution=0)  # fmt: skip
    depositors, amounts = [fresh_address(f"usdc-{i}") for i in range(2)], [100 * USDC, 60 * USDC]
    chain.fund(depositors, wei=ETHER)
    owner = chain.anvil.account(0).address
    chain.block([{"from": owner, "to": usdc.address, "data": usdc.encode_abi("mint", args=[d, a]), "gas": TOKEN_GAS}
                 for d, a in zip(depositors, amounts, strict=True)])  # fmt: skip
    chain.block(
        [{"from": d, "to": usdc.address, "data": usdc.encode_abi("transfer", args=[pool.deposit_address, a]),
          "gas": TOKEN_GAS} for d, a in zip(depositors, amounts, strict=True)],
        timestamp=int((pool.opens_at + timedelta(minutes=1)).timestamp()),
    )  # fmt: skip
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    launch_request(pool_id=pool.pk, requested_by="test")

    for _ in range(PASSES):
        launch_advance(pool_id=pool.pk)
        index_until_confirmed(chain)  # the gas top-up is mined and seen

    launch, pool = Launch.objects.get(pool=pool), Pool.objects.get(pk=pool.pk)
    assert (launch.step, pool.status) == (Launch.Step.APPROVING, Pool.Status.LAUNCHING), launch.error
    assert f"does not allow {stack.deployment.launcher} (bad_spender" in launch.error and FIX in launch.error

    stack.start(allowed=stack.deployment)
    launch = run_launch(pool, chain=chain)

    assert launch.step == Launch.Step.LAUNCHED, launch.error


@pytest.mark.django_db(transaction=True)
def test_refunds_the_signer_does_not_allow_wait_saying_why_and_are_paid_once_the_signer_is_fixed(stack, anvil):
    stack.start(allowed=replace(stack.deployment, refunder=""))  # the operator forgot CHAIN_REFUNDER_ADDRESS
    chain = driver(anvil)
    pool = scheduled_pool(chain, soft_cap=50 * ETHER)
    amounts = [ETHER, 2 * ETHER]
    deposit_from(chain, pool, amounts, at=pool.opens_at + timedelta(minutes=1), label="let-down")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    pool = pool_settle(pool_id=pool.pk, confirmed_through=chain_now(chain))
    refund_request(pool_id=pool.pk, requested_by="test")

    remaining = [refunds_advance(pool_id=pool.pk) for _ in range(PASSES)]

    pool.refresh_from_db()
    assert remaining[-1] == len(amounts) and pool.status == Pool.Status.REFUNDING
    assert pool.waiting_code == "signer_unknown_destination"
    assert f"does not allow {stack.deployment.refunder}" in pool.waiting_reason and FIX in pool.waiting_reason

    stack.start(allowed=stack.deployment)
    run_refunds(pool)

    pool.refresh_from_db()
    assert pool.status == Pool.Status.REFUNDED and pool.waiting_code == ""
    assert_conserved(chain, pool, deposited=sum(amounts))
