"""Batched JSON-RPC with typed errors, and the adaptive block window."""

import pytest

from chain.errors import ChainUnavailable, RpcError, RpcMethodUnsupported, RpcResponseTooLarge
from chain.rpc import JsonRpc, _error_for
from pools.indexer.constants import MAX_WINDOW, MIN_WINDOW
from pools.indexer.window import next_window, shrunk
from pools.models import Deposit, IndexerCursor
from pools.services.indexing import index_chain
from tests.anvil import ANVIL_CHAIN_ID
from tests.indexer.support import USDC, contract_call, fresh_address


@pytest.mark.chain
def test_a_batch_answers_in_order_across_chunks(chain):
    rpc = JsonRpc(url=chain.anvil.rpc_url, batch_size=3, parallel_batches=2)
    chain.mine(9)

    blocks = rpc.batch([("eth_getBlockByNumber", [hex(n), False]) for n in range(10)])

    assert [int(block["number"], 16) for block in blocks] == list(range(10))


@pytest.mark.chain
def test_a_method_the_node_lacks_is_a_typed_error(chain):
    with pytest.raises(RpcMethodUnsupported):
        chain.rpc.batch([("eth_blockNumber", []), ("trace_nothing", [])])


def test_an_unreachable_node_is_chain_unavailable():
    with pytest.raises(ChainUnavailable):
        JsonRpc(url="http://127.0.0.1:9", timeout=2).call("eth_blockNumber")


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        ({"code": -32005, "message": "query returned more than 10000 results"}, RpcResponseTooLarge),
        (
            {
                "code": -32602,
                "message": "Log response size exceeded. You can make eth_getLogs requests with up to a 2K block range",
            },
            RpcResponseTooLarge,
        ),  # noqa: E501
        ({"code": -32000, "message": "block range is too wide"}, RpcResponseTooLarge),
        ({"code": -32601, "message": "Method not found"}, RpcMethodUnsupported),
        ({"code": 3, "message": "execution reverted"}, RpcError),
    ],
)
def test_node_error_texts_map_to_typed_errors(error, expected):
    assert type(_error_for("eth_getLogs", error)) is expected


def test_the_window_grows_while_quick_and_full_and_shrinks_when_slow():
    assert next_window(window=50, elapsed=0.1, full=True) == 100
    assert next_window(window=50, elapsed=0.1, full=False) == 50, "a short window at the head says nothing"
    assert next_window(window=50, elapsed=5, full=True) == 50
    assert next_window(window=50, elapsed=60, full=True) == 25
    assert next_window(window=MAX_WINDOW, elapsed=0.1, full=True) == MAX_WINDOW
    assert shrunk(MIN_WINDOW) == MIN_WINDOW


class NarrowLogsRpc(JsonRpc):
    """A node that refuses eth_getLogs over more than `limit` blocks, as hosted providers do."""

    limit = 2

    def batch(self, calls):
        for method, params in calls:
            span = int(params[0]["toBlock"], 16) - int(params[0]["fromBlock"], 16) if method == "eth_getLogs" else 0
            if span >= self.limit:
                raise RpcResponseTooLarge("eth_getLogs: block range is too wide", method=method)
        return super().batch(calls)


@pytest.mark.chain
@pytest.mark.django_db
def test_a_too_wide_request_shrinks_the_window_and_nothing_is_missed(chain, cursor, usdc_pool, dev_chain):
    from chain.artifacts import load_artifact

    usdc = chain.w3.eth.contract(address=dev_chain.usdc, abi=load_artifact("TestUSDC").abi)
    senders = [fresh_address(f"sender-{i}") for i in range(6)]
    chain.fund(senders)
    for sender in senders:  # one deposit per block, minted to the pool directly: a Transfer from address zero
        chain.block([contract_call(usdc, "mint", [usdc_pool.deposit_address, 10 * USDC], sender=sender)])
    IndexerCursor.objects.update(window=16)

    report = index_chain(chain_id=ANVIL_CHAIN_ID, rpc=NarrowLogsRpc(url=chain.anvil.rpc_url))

    assert report.caught_up
    assert Deposit.objects.count() == 6
    assert IndexerCursor.objects.get().window <= NarrowLogsRpc.limit
