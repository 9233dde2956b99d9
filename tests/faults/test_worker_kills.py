"""A real Celery worker killed with SIGKILL at each step of a launch (and of the refunds after it): Celery redelivers
the task (acks_late, reject_on_worker_lost), and the job resumes from its rows. Exactly one launch, every refund paid
once, the funds conserved to the wei.

The crash points (pools/faults.py): `launch:<step>` once a launch step committed; `signed:<purpose>` between the
signer's answer and our record of it; `sent:<purpose>` between a broadcast and our record of it;
`receipt:<purpose>` once a receipt was recorded. Purposes: gas_topup, approve, launch, refund.
"""

from __future__ import annotations

import pytest

from tests.faults.invariants import assert_all
from tests.faults.support import FaultStack

pytestmark = [pytest.mark.faults, pytest.mark.integration, pytest.mark.chain, pytest.mark.django_db(transaction=True)]

ETH_LAUNCH_POINTS = ["launch:allocated", "signed:launch", "sent:launch", "receipt:launch", "launch:launched"]
# An ERC-20 launch: the pool address gets gas first, then approves the Launcher, then launches.
USDC_LAUNCH_POINTS = [
    "signed:gas_topup",
    "sent:gas_topup",
    "receipt:gas_topup",
    "signed:approve",
    "sent:approve",
    "launch:approving",
    "sent:launch",
]
REFUND_POINTS = ["signed:refund", "sent:refund", "receipt:refund"]


def _launch_and_refund_with_a_crash(stack: FaultStack, *, asset: str, crash_at: str) -> None:
    marker = stack.tmp_path / "crashed"
    worker = stack.start_worker(crash_at=crash_at, marker="crashed")  # boots while the raise is built
    raised = stack.closed_raise(asset=asset, label=f"kill-{crash_at}")

    stack.launch(raised.pool)
    stack.refund(raised.pool)

    assert marker.exists(), f"the worker never reached {crash_at}:\n{worker.log()}"
    assert "exited with 'signal 9 (SIGKILL)'" in stack.worker_logs(whole=True), "the task's process was killed"
    assert_all(stack, raised)


@pytest.mark.parametrize("crash_at", ETH_LAUNCH_POINTS)
def test_an_eth_launch_survives_a_worker_killed_at(stack, crash_at):
    _launch_and_refund_with_a_crash(stack, asset="eth", crash_at=crash_at)


@pytest.mark.parametrize("crash_at", USDC_LAUNCH_POINTS)
def test_a_usdc_launch_survives_a_worker_killed_at(stack, crash_at):
    _launch_and_refund_with_a_crash(stack, asset="usdc", crash_at=crash_at)


@pytest.mark.parametrize("crash_at", REFUND_POINTS)
def test_the_refunds_after_a_launch_survive_a_worker_killed_at(stack, crash_at):
    _launch_and_refund_with_a_crash(stack, asset="eth", crash_at=crash_at)
