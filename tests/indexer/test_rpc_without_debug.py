"""An RPC without `debug_*` (a plain public endpoint): the indexer goes on with what it can see, says which ETH pools
it cannot fully watch, and traces the blocks it missed once the RPC serves traces again."""

from __future__ import annotations

import json
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import requests
from django.urls import reverse

from chain.errors import ChainUnavailable, RpcMethodUnsupported
from chain.rpc import METHOD_NOT_FOUND
from pools.models import Deposit, IndexerCursor, Pool, TraceGap
from pools.services.health import system_health
from pools.services.indexing import index_chain
from pools.tasks import index_chain_task
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import ETHER, USDC, contract_call, eth_transfer, fresh_address
from tests.loopback import serving

pytestmark = [pytest.mark.chain, pytest.mark.django_db]

PASS, REFUSE, FAIL = "pass", "refuse", "fail"


class PublicRpc(ThreadingHTTPServer):
    """A JSON-RPC endpoint on loopback in front of anvil that answers as plain public endpoints do: methods named
    with `refused_prefix` do not exist there (error -32601). `mode` FAIL instead answers them with HTTP 502, as an
    overloaded provider does now and then."""

    def __init__(self, upstream: str) -> None:
        super().__init__(("127.0.0.1", 0), _Forward)
        self.upstream = upstream
        self.refused_prefix = "debug_"
        self.mode = REFUSE

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def refuses(self, request: dict) -> bool:
        return self.mode != PASS and request["method"].startswith(self.refused_prefix)


class _Forward(BaseHTTPRequestHandler):
    server: PublicRpc

    def do_POST(self) -> None:  # noqa: N802 - the standard library's name
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        calls = body if isinstance(body, list) else [body]
        refused = [call for call in calls if self.server.refuses(call)]
        if refused and self.server.mode == FAIL:
            self._send(502, {"error": "bad gateway"})
            return
        passed = [call for call in calls if not self.server.refuses(call)]
        upstream = requests.post(self.server.upstream, json=passed, timeout=30).json() if passed else []
        answers = {answer["id"]: answer for answer in upstream}
        for call in refused:
            message = f"the method {call['method']} does not exist/is not available"
            answers[call["id"]] = {
                "jsonrpc": "2.0",
                "id": call["id"],
                "error": {"code": METHOD_NOT_FOUND, "message": message},
            }
        ordered = [answers[call["id"]] for call in calls]
        self._send(200, ordered if isinstance(body, list) else ordered[0])

    def _send(self, status: int, payload: object) -> None:
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def public_rpc(chain, settings) -> Iterator[PublicRpc]:
    """The app's RPC is the public-like endpoint, refusing `debug_*` until the test says otherwise."""
    with serving(PublicRpc(chain.anvil.rpc_url)) as server:
        settings.CHAIN_RPC_URL = server.url
        yield server


@pytest.fixture
def wallet(chain):
    return chain.deploy("ForwardingWallet")


@pytest.fixture
def usdc(chain, dev_chain):
    from chain.artifacts import load_artifact

    return chain.w3.eth.contract(address=dev_chain.usdc, abi=load_artifact("TestUSDC").abi)


@pytest.fixture
def alice(chain, usdc) -> str:
    """A depositor with ETH and 100 USDC."""
    address = fresh_address("alice")
    chain.fund([address])
    chain.block([contract_call(usdc, "mint", [address, 100 * USDC], sender=chain.anvil.account(0).address)])
    return address


def _traces_health() -> dict:
    return system_health(components=["indexer_traces"])["components"]["indexer_traces"]


def _credited(tx_hash: str) -> bool:
    deposit = Deposit.objects.get(tx_hash=tx_hash)
    return deposit.status == Deposit.Status.CONFIRMED and deposit.credited_amount == deposit.amount


def test_without_debug_methods_eth_and_usdc_are_credited_and_the_unwatched_eth_pool_is_named(
    chain, cursor, eth_pool, usdc_pool, alice, usdc, wallet, public_rpc, client, admin_client
):
    first_unwatched = cursor.last_block + 1
    plain, token, forwarded = chain.block(
        [
            eth_transfer(alice, eth_pool.deposit_address, 2 * ETHER),
            contract_call(usdc, "transfer", [usdc_pool.deposit_address, 50 * USDC], sender=alice),
            contract_call(wallet, "forward", [eth_pool.deposit_address], sender=alice, value=ETHER),
        ]
    )
    chain.mine(2)

    result = index_chain_task.run()

    assert result["last_block"] == result["head"] == chain.head(), "the cursor reaches the head"
    assert set(Deposit.objects.values_list("tx_hash", flat=True)) == {plain, token}, "the contract's ETH is not seen"
    assert _credited(plain) and _credited(token)
    health = _traces_health()
    assert health["status"] == "warning"
    assert health["detail"]["pools"] == [{"id": eth_pool.id, "name": eth_pool.name, "since_block": first_unwatched}]
    assert "debug_traceBlockByHash" in health["reason"] and "docs/real-network.md" in health["reason"]
    assert "does not exist" in health["detail"]["rpc_answer"]
    eth_pool.refresh_from_db()
    assert eth_pool.balance_difference == ETHER, "reconciliation flags the ETH that arrived unseen"
    assert "data-traces-notice" in client.get(reverse("pool-detail", args=[eth_pool.pk])).content.decode()
    assert "data-traces-notice" not in client.get(reverse("pool-detail", args=[usdc_pool.pk])).content.decode()
    admin_page = admin_client.get(reverse("admin:pools_pool_change", args=[eth_pool.pk])).content.decode()
    assert f"not seen since block {first_unwatched}" in admin_page


def test_when_traces_are_served_again_the_warning_clears_and_the_missed_blocks_are_traced(
    chain, cursor, eth_pool, alice, wallet, public_rpc, client
):
    (missed,) = chain.block([contract_call(wallet, "forward", [eth_pool.deposit_address], sender=alice, value=ETHER)])
    index_chain(chain_id=ANVIL_CHAIN_ID)
    gap = TraceGap.objects.get()
    assert not Deposit.objects.exists()

    public_rpc.mode = PASS
    (seen,) = chain.block([contract_call(wallet, "forward", [eth_pool.deposit_address], sender=alice, value=3 * ETHER)])
    chain.mine(2)
    index_chain(chain_id=ANVIL_CHAIN_ID)

    gap.refresh_from_db()
    watched_again_from = chain.receipt(seen)["blockNumber"]
    assert gap.last_block == int(watched_again_from, 16) - 1 == gap.retraced_through
    assert _traces_health()["status"] == "ok"
    assert _credited(missed) and _credited(seen), "the missed deposit is found when its blocks are traced again"
    eth_pool.refresh_from_db()
    assert (eth_pool.raised, eth_pool.balance_difference) == (4 * ETHER, 0)
    assert "data-traces-notice" not in client.get(reverse("pool-detail", args=[eth_pool.pk])).content.decode()


def test_a_pool_launched_before_traces_return_keeps_its_books_and_shows_the_difference(
    chain, cursor, eth_pool, alice, wallet, public_rpc, admin_client
):
    chain.block([contract_call(wallet, "forward", [eth_pool.deposit_address], sender=alice, value=ETHER)])
    index_chain(chain_id=ANVIL_CHAIN_ID)
    Pool.objects.filter(pk=eth_pool.pk).update(status=Pool.Status.LAUNCHED)  # its raise is fixed now

    public_rpc.mode = PASS
    chain.block([eth_transfer(alice, eth_pool.deposit_address, ETHER)])
    chain.mine(2)
    index_chain(chain_id=ANVIL_CHAIN_ID)

    assert list(Deposit.objects.values_list("kind", flat=True)) == [Deposit.Kind.NATIVE_TX]
    gap = TraceGap.objects.get()
    assert gap.retraced_through == gap.last_block
    eth_pool.refresh_from_db()
    assert eth_pool.balance_difference == ETHER
    admin_page = admin_client.get(reverse("admin:pools_pool_change", args=[eth_pool.pk])).content.decode()
    assert "shows in the balance difference" in admin_page


def test_a_failing_trace_request_is_retried_not_skipped(chain, cursor, eth_pool, alice, wallet, public_rpc):
    public_rpc.mode = FAIL  # HTTP 502: the provider is struggling, not lacking the method
    chain.block([contract_call(wallet, "forward", [eth_pool.deposit_address], sender=alice, value=ETHER)])
    last_block = IndexerCursor.objects.get().last_block

    with pytest.raises(ChainUnavailable):
        index_chain(chain_id=ANVIL_CHAIN_ID)

    assert IndexerCursor.objects.get().last_block == last_block
    assert not TraceGap.objects.exists()
    public_rpc.mode = PASS
    index_chain(chain_id=ANVIL_CHAIN_ID)
    assert Deposit.objects.get().kind == Deposit.Kind.NATIVE_INTERNAL


def test_only_traces_are_done_without(chain, cursor, usdc_pool, alice, usdc, public_rpc):
    public_rpc.refused_prefix = "eth_getLogs"
    chain.block([contract_call(usdc, "transfer", [usdc_pool.deposit_address, USDC], sender=alice)])

    with pytest.raises(RpcMethodUnsupported):
        index_chain(chain_id=ANVIL_CHAIN_ID)

    assert not TraceGap.objects.exists()
