"""Fees from the network (chain/transactions.py current_fees) on a real anvil: the node's tip or eth_feeHistory's
median reward, capped; maxFeePerGas from the base fee; above CHAIN_MAX_FEE_PER_GAS_WEI nothing is sent, and a
launch waits, saying why, and proceeds once the base fee comes back down."""

from __future__ import annotations

import json
import urllib.request
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from web3 import Web3

from chain.errors import FeesTooHigh
from chain.transactions import current_fees
from pools.models import Launch
from pools.services.launch import launch_advance, launch_request
from tests.anvil import AnvilNode
from tests.indexer.support import ETHER, fresh_address
from tests.launch.test_lifecycle import (  # noqa: F401 - `chain` is a fixture
    chain,
    close_raise,
    deposit_from,
    index_until_confirmed,
    run_launch,
    scheduled_pool,
)
from tests.loopback import serving

pytestmark = [pytest.mark.chain]

GWEI = 10**9
NODE_TIP = "eth_maxPriorityFeePerGas"


class _RefusingProxy(ThreadingHTTPServer):
    """A JSON-RPC proxy to anvil that answers one method as a node without it does (-32601), like an RPC without
    eth_maxPriorityFeePerGas; everything else is passed through."""

    def __init__(self, *, upstream: str, refused: str) -> None:
        self.upstream, self.refused = upstream, refused
        super().__init__(("127.0.0.1", 0), _ProxyHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _ProxyHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = json.loads(body)
        if isinstance(request, dict) and request.get("method") == self.server.refused:
            error = {"code": -32601, "message": f"the method {self.server.refused} does not exist/is not available"}
            answer = json.dumps({"jsonrpc": "2.0", "id": request.get("id"), "error": error}).encode()
        else:
            upstream = urllib.request.Request(self.server.upstream, body, {"Content-Type": "application/json"})
            with urllib.request.urlopen(upstream, timeout=30) as response:
                answer = response.read()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args) -> None:
        return None


def _next_base_fee(anvil: AnvilNode) -> int:
    return anvil.w3.eth.get_block("pending")["baseFeePerGas"]


def _base_fee(anvil: AnvilNode) -> int:
    """What fees are priced on: the higher of the latest block's base fee and the next one's."""
    return max(anvil.w3.eth.get_block("latest")["baseFeePerGas"], _next_base_fee(anvil))


def _blocks_with_tips(anvil: AnvilNode, tips: list[int]) -> None:
    """One block per tip, each holding one transfer that pays exactly that tip (its max fee leaves room for it)."""
    sender = fresh_address("fee-history")
    anvil.rpc("anvil_setBalance", [sender, hex(100 * ETHER)])
    anvil.rpc("anvil_impersonateAccount", [sender])
    try:
        for tip in tips:
            tx = {"from": sender, "to": sender, "value": 0, "gas": 21_000}
            tx.update(maxPriorityFeePerGas=tip, maxFeePerGas=_next_base_fee(anvil) * 2 + tip)
            tx_hash = anvil.w3.eth.send_transaction(tx)
            assert anvil.w3.eth.wait_for_transaction_receipt(tx_hash)["status"] == 1
    finally:
        anvil.rpc("anvil_stopImpersonatingAccount", [sender])


def test_the_tip_is_the_nodes_and_max_fee_is_the_multiplier_times_the_next_base_fee_plus_it(
    settings, anvil, chain_snapshot
):
    settings.CHAIN_BASE_FEE_MULTIPLIER = 3
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(70 * GWEI)])
    node_tip = int(anvil.rpc(NODE_TIP), 16)

    fees = current_fees(w3=anvil.w3)

    assert node_tip > 0
    assert fees.max_priority_fee_per_gas == node_tip
    assert fees.max_fee_per_gas == 3 * 70 * GWEI + node_tip


def test_the_tip_is_at_most_chain_max_priority_fee(settings, anvil, chain_snapshot):
    node_tip = int(anvil.rpc(NODE_TIP), 16)
    settings.CHAIN_MAX_PRIORITY_FEE_WEI = node_tip // 4

    fees = current_fees(w3=anvil.w3)

    assert fees.max_priority_fee_per_gas == node_tip // 4
    assert fees.max_fee_per_gas == settings.CHAIN_BASE_FEE_MULTIPLIER * _base_fee(anvil) + node_tip // 4


def test_without_the_nodes_tip_it_is_the_median_of_the_last_blocks_rewards(settings, anvil, chain_snapshot):
    """Three blocks tipping 1, 2 and 7 gwei among empty ones (which reward nothing and say nothing): 2 gwei."""
    anvil.rpc("anvil_mine", [hex(10)])  # whatever earlier tests left in the last ten blocks is out of the window
    _blocks_with_tips(anvil, [7 * GWEI, 1 * GWEI, 2 * GWEI])
    anvil.rpc("anvil_mine", [hex(2)])

    with serving(_RefusingProxy(upstream=anvil.rpc_url, refused=NODE_TIP)) as proxy:
        w3 = Web3(Web3.HTTPProvider(proxy.url, request_kwargs={"timeout": 30}))
        with pytest.raises(Exception, match="does not exist"):
            w3.manager.request_blocking(NODE_TIP, [])  # the proxy does refuse it
        fees = current_fees(w3=w3)

    assert fees.max_priority_fee_per_gas == 2 * GWEI
    assert fees.max_fee_per_gas == settings.CHAIN_BASE_FEE_MULTIPLIER * _base_fee(anvil) + 2 * GWEI


def test_above_the_max_fee_cap_nothing_is_priced_and_the_error_names_the_figures_and_the_fix(
    settings, anvil, chain_snapshot
):
    anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(300 * GWEI)])

    with pytest.raises(FeesTooHigh) as raised:
        current_fees(w3=anvil.w3)

    error = raised.value
    assert error.base_fee == 300 * GWEI
    assert error.max_fee_per_gas > error.cap == settings.CHAIN_MAX_FEE_PER_GAS_WEI
    assert str(300 * GWEI) in str(error) and "CHAIN_MAX_FEE_PER_GAS_WEI" in str(error)


@pytest.mark.integration
@pytest.mark.django_db(transaction=True)
def test_a_launch_waits_while_fees_are_above_the_cap_and_proceeds_when_they_come_down(settings, chain):  # noqa: F811
    pool = scheduled_pool(chain, soft_cap=10 * ETHER)
    deposit_from(chain, pool, [5 * ETHER, 5 * ETHER], at=pool.opens_at + timedelta(minutes=1), label="spike")
    index_until_confirmed(chain)
    pool = close_raise(chain, pool)
    calm = _next_base_fee(chain.anvil)
    launch_request(pool_id=pool.pk, requested_by="agent")

    chain.anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(400 * GWEI)])  # 2 x 400 gwei: above the 500 gwei cap
    for _ in range(3):
        launch = launch_advance(pool_id=pool.pk)
        assert launch.step == Launch.Step.ALLOCATED, launch.step  # allocated; nothing created, signed or sent
        assert "Network fees are too high" in launch.error and "CHAIN_MAX_FEE_PER_GAS_WEI" in launch.error
        assert launch.transaction is None
    assert chain.w3.eth.get_transaction_count(Web3.to_checksum_address(pool.deposit_address)) == 0

    chain.anvil.rpc("anvil_setNextBlockBaseFeePerGas", [hex(calm)])
    launch = run_launch(pool, chain=chain)

    assert launch.step == Launch.Step.LAUNCHED, launch.error
    assert launch.transaction.max_fee_per_gas <= settings.CHAIN_MAX_FEE_PER_GAS_WEI
