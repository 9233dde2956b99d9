"""A registration made final (when the pool is scheduled) cannot change any more, not even while the address is
untouched; the one change allowed after that is an early close that moves the close earlier, never into the past."""

from __future__ import annotations

import pytest

from tests.signer.factories import CHAIN_ID, ETHER, make_signer, pool_params

pytestmark = pytest.mark.chain


def registration(*, final: bool = False, **overrides) -> dict:
    return {"pool_id": "3", "chain_id": str(CHAIN_ID), "params": pool_params(**overrides), "final": final}


def kinds(signer) -> list[str]:
    return [entry["kind"] for entry in signer.log.entries(after=-1, limit=1000)]


def times(anvil_chain) -> tuple[int, int]:
    """(opens_at, closes_at) around the chain's clock: opened an hour ago, closing in a day."""
    now = anvil_chain.reader.latest_timestamp()
    return now - 3600, now + 86_400


def test_a_final_registration_is_frozen_even_while_the_address_is_untouched(anvil_chain, data_dir):
    signer = make_signer(data_dir, chain=anvil_chain.reader)
    opens, closes = times(anvil_chain)
    assert signer.register_pool(registration(opens_at=opens, closes_at=closes)).status == 201
    # Not final yet: a change is still allowed.
    assert (
        signer.register_pool(registration(opens_at=opens, closes_at=closes, max_contribution=5 * ETHER)).status == 200
    )
    made_final = signer.register_pool(
        registration(final=True, opens_at=opens, closes_at=closes, max_contribution=5 * ETHER)
    )
    assert made_final.status == 200 and kinds(signer)[-1] == "pool_frozen"
    frozen = {"opens_at": opens, "closes_at": closes, "max_contribution": 5 * ETHER}
    changes = [
        {"max_contribution": 50 * ETHER},
        {"whitelist": ["0x000000000000000000000000000000000000bEEF"]},
        {"access": "whitelist"},
        {"min_contribution": 1},
        {"opens_at": opens - 10},
    ]
    for change in changes:
        refused = signer.register_pool(registration(**{**frozen, **change}))
        assert (refused.status, refused.body["code"]) == (409, "pool_frozen"), change
    assert signer.state["pools"]["3"]["params"]["max_contribution"] == str(5 * ETHER)


def test_after_it_is_final_only_an_early_close_into_the_future_is_allowed(anvil_chain, data_dir):
    signer = make_signer(data_dir, chain=anvil_chain.reader)
    opens, closes = times(anvil_chain)
    now = anvil_chain.reader.latest_timestamp()
    assert signer.register_pool(registration(final=True, opens_at=opens, closes_at=closes)).status == 201
    later = signer.register_pool(registration(opens_at=opens, closes_at=closes + 60))
    assert (later.status, later.body["code"]) == (409, "pool_frozen"), "a close can only move earlier"
    past = signer.register_pool(registration(opens_at=opens, closes_at=now))
    assert (past.status, past.body["code"]) == (409, "pool_frozen"), "never to or before the newest block"
    with_more = signer.register_pool(registration(opens_at=opens, closes_at=now + 120, min_contribution=1))
    assert with_more.status == 409, "an early close changes the close and nothing else"
    early = signer.register_pool(registration(opens_at=opens, closes_at=now + 120))
    assert (early.status, early.body["changed"]) == (200, True)
    assert kinds(signer)[-1] == "pool_closed_early"
    assert signer.state["pools"]["3"]["params"]["closes_at"] == str(now + 120)
