"""The crediting rules as a pure function: examples for each rule, and properties over random deposits."""

from collections import defaultdict
from dataclasses import replace
from datetime import UTC, datetime

from eth_utils import to_checksum_address
from hypothesis import given, settings
from hypothesis import strategies as st

from enclave_signer.crediting import (
    ABOVE_MAXIMUM,
    ACCESS_MODES,
    BELOW_MINIMUM,
    CLOSED,
    CREDITED,
    HARD_CAP,
    NO_SENDER,
    NOT_OPEN,
    NOT_WHITELISTED,
    PUBLIC,
    WHITELIST,
    WHITELIST_THEN_PUBLIC,
    ZERO_SENDER,
    CreditRules,
    DepositFact,
    contributions,
    decide_credits,
)
from pools.models import Deposit, Pool

OPEN = int(datetime(2026, 1, 1, tzinfo=UTC).timestamp())
CLOSE = OPEN + 24 * 3600
MINUTE = 60
ALICE, BOB, CAROL, DAVE = ("0x" + c * 40 for c in "abcd")


def rules(**overrides) -> CreditRules:
    values = dict(
        opens_at=OPEN,
        closes_at=CLOSE,
        access=PUBLIC,
        whitelist_until=0,
        whitelist=frozenset(),
        min_contribution=10,
        max_contribution=100,
        hard_cap=250,
    )
    return CreditRules(**{**values, **overrides})


def fact(
    key: int, sender: str, amount: int, *, minutes: int = 10, block: int | None = None, tx_index: int = 0, position=()
) -> DepositFact:
    """A deposit `minutes` after the opening; by default in block `key`, so the examples list them in chain order."""
    return DepositFact(
        key=key,
        sender=sender,
        amount=amount,
        at=OPEN + minutes * MINUTE,
        block=key if block is None else block,
        tx_index=tx_index,
        position=tuple(position),
    )


def outcome(decisions):
    return [(d.credited, d.refund, d.reason) for d in decisions]


def test_the_reasons_and_access_modes_are_the_web_tiers_values():
    assert {CREDITED, NOT_OPEN, CLOSED, NOT_WHITELISTED, BELOW_MINIMUM, ABOVE_MAXIMUM, HARD_CAP} <= set(
        Deposit.RefundReason.values
    )
    assert CREDITED == Deposit.RefundReason.NONE
    assert set(ACCESS_MODES) == set(Pool.Access.values)


def test_deposits_before_open_and_at_or_after_close_are_owed_back_in_full():
    decisions = decide_credits(
        rules=rules(), deposits=[fact(1, ALICE, 50, minutes=-1), fact(2, BOB, 50, minutes=24 * 60)]
    )

    assert outcome(decisions) == [(0, 50, NOT_OPEN), (0, 50, CLOSED)]


def test_the_opening_second_counts_and_the_closing_second_does_not():
    deposits = [fact(1, ALICE, 50, minutes=0), replace(fact(2, BOB, 50), at=CLOSE - 1)]

    assert outcome(decide_credits(rules=rules(), deposits=deposits)) == [(50, 0, CREDITED)] * 2


def test_above_the_wallet_maximum_the_part_that_fits_is_credited_and_the_rest_owed():
    decisions = decide_credits(rules=rules(), deposits=[fact(1, ALICE, 70), fact(2, ALICE, 70)])

    assert outcome(decisions) == [(70, 0, CREDITED), (30, 40, ABOVE_MAXIMUM)]


def test_the_hard_cap_is_first_come_first_served_and_later_deposits_are_owed_back():
    deposits = [fact(1, ALICE, 100), fact(2, BOB, 100), fact(3, CAROL, 100), fact(4, DAVE, 20)]

    decisions = decide_credits(rules=rules(), deposits=deposits)

    assert outcome(decisions) == [(100, 0, CREDITED), (100, 0, CREDITED), (50, 50, HARD_CAP), (0, 20, HARD_CAP)]


def test_a_mint_to_the_pool_is_neither_credited_nor_owed_back_and_takes_no_room():
    """A Transfer from address(0) has nobody to pay back: a refund to it would revert the Refunder's whole batch."""
    deposits = [fact(1, ZERO_SENDER, 500), fact(2, ALICE, 100), fact(3, BOB, 100)]

    decisions = decide_credits(rules=rules(), deposits=deposits)

    assert outcome(decisions) == [(0, 0, NO_SENDER), (100, 0, CREDITED), (100, 0, CREDITED)]


def test_first_come_is_chain_order_not_the_order_given():
    """Same block: the lower transaction index first; same transaction: the top-level transfer, then its calls."""
    deposits = [
        fact(1, ALICE, 100, block=7, tx_index=1),
        fact(2, BOB, 100, block=7, tx_index=0, position=(1,)),
        fact(3, CAROL, 100, block=7, tx_index=0, position=(0, 2)),
        fact(4, DAVE, 100, block=7, tx_index=0, position=()),
    ]

    decisions = decide_credits(rules=rules(), deposits=deposits)

    assert [(d.key, d.credited, d.reason) for d in decisions] == [
        (4, 100, CREDITED),
        (3, 100, CREDITED),
        (2, 50, HARD_CAP),
        (1, 0, HARD_CAP),
    ]


def test_below_the_minimum_is_owed_back_but_a_later_top_up_that_reaches_it_counts():
    decisions = decide_credits(rules=rules(), deposits=[fact(1, ALICE, 5), fact(2, ALICE, 5), fact(3, ALICE, 10)])

    assert outcome(decisions) == [(0, 5, BELOW_MINIMUM), (0, 5, BELOW_MINIMUM), (10, 0, CREDITED)]


def test_what_still_fits_under_the_cap_is_owed_back_when_it_would_leave_the_wallet_under_the_minimum():
    decisions = decide_credits(
        rules=rules(hard_cap=205), deposits=[fact(1, ALICE, 100), fact(2, BOB, 100), fact(3, CAROL, 50)]
    )

    assert outcome(decisions)[2] == (0, 50, HARD_CAP)


def test_whitelist_phase_then_public():
    phase = rules(access=WHITELIST_THEN_PUBLIC, whitelist_until=OPEN + 3600, whitelist=frozenset({ALICE}))
    deposits = [fact(1, ALICE, 50, minutes=5), fact(2, BOB, 50, minutes=5), fact(3, BOB, 50, minutes=61)]

    decisions = decide_credits(rules=phase, deposits=deposits)

    assert outcome(decisions) == [(50, 0, CREDITED), (0, 50, NOT_WHITELISTED), (50, 0, CREDITED)]


def test_addresses_compare_case_insensitively():
    mixed = rules(access=WHITELIST, whitelist=frozenset({ALICE.lower()}))

    decisions = decide_credits(rules=mixed, deposits=[fact(1, ALICE.upper().replace("0X", "0x"), 50)])

    assert decisions[0].credited == 50


# --- properties ---------------------------------------------------------------------------------------------------

# Senders, some in two spellings (lower case and checksum) of the same address, and address(0) (a mint).
addresses = st.sampled_from(
    [ALICE, to_checksum_address(ALICE), BOB, CAROL, to_checksum_address(CAROL), DAVE, ZERO_SENDER]
)
# Block b is mined at OPEN - 1 h + b * 30 min: block 2 at the opening second, 6 at the whitelist's end, 50 at the close.
BLOCK_SECONDS, FIRST_BLOCK_AT = 30 * MINUTE, OPEN - 3600
positions = st.sampled_from([(), (0,), (1,), (0, 1), (0, 0, 3), (2,), (7,)])
deposit_lists = st.lists(
    st.tuples(
        addresses,
        st.integers(min_value=1, max_value=10**20),
        st.integers(min_value=0, max_value=60),  # block
        st.integers(min_value=0, max_value=3),  # transaction index
        positions,
    ),
    max_size=60,
    unique_by=lambda raw: raw[2:],  # one deposit per place in the chain
)
rule_sets = st.builds(
    rules,
    opens_at=st.sampled_from([0, OPEN]),
    closes_at=st.sampled_from([0, CLOSE, OPEN + 5 * 3600]),  # none, the scheduled close, an early close
    min_contribution=st.integers(min_value=0, max_value=10**19),
    max_contribution=st.integers(min_value=0, max_value=10**20),
    hard_cap=st.integers(min_value=1, max_value=10**21),
    access=st.sampled_from(ACCESS_MODES),
    whitelist=st.frozensets(st.sampled_from([ALICE, BOB, CAROL, DAVE]), max_size=2),
    whitelist_until=st.sampled_from([0, OPEN + 2 * 3600]),
)


def facts_of(raw) -> list[DepositFact]:
    return [
        DepositFact(
            key=i,
            sender=sender,
            amount=amount,
            at=FIRST_BLOCK_AT + block * BLOCK_SECONDS,
            block=block,
            tx_index=tx_index,
            position=position,
        )
        for i, (sender, amount, block, tx_index, position) in enumerate(raw)
    ]


@settings(max_examples=300, deadline=None)
@given(rule_sets, deposit_lists)
def test_every_deposit_gets_exactly_one_decision_in_chain_order(credit_rules, raw):
    """Total: one decision per deposit, none invented, none dropped, returned in chain order."""
    deposits = facts_of(raw)

    decisions = decide_credits(rules=credit_rules, deposits=deposits)

    in_chain_order = sorted(deposits, key=lambda f: f.chain_order)
    assert [d.key for d in decisions] == [f.key for f in in_chain_order]
    assert [d.sender for d in decisions] == [f.sender for f in in_chain_order]


@settings(max_examples=300, deadline=None)
@given(rule_sets, deposit_lists)
def test_every_wei_is_either_credited_or_owed_and_no_cap_is_ever_exceeded(credit_rules, raw):
    """Conserving: credited + refund == amount (a mint is neither); the hard cap, each wallet's maximum and minimum
    hold."""
    deposits = {f.key: f for f in facts_of(raw)}

    decisions = decide_credits(rules=credit_rules, deposits=deposits.values())

    per_wallet: dict[str, int] = defaultdict(int)
    for decision in decisions:
        amount = deposits[decision.key].amount
        assert decision.credited >= 0 and decision.refund >= 0
        if decision.sender == ZERO_SENDER:
            assert (decision.credited, decision.refund, decision.reason) == (0, 0, NO_SENDER)
            continue
        assert decision.credited + decision.refund == amount
        assert (decision.refund == 0) == (decision.reason == CREDITED)
        per_wallet[decision.sender.lower()] += decision.credited
    assert sum(d.credited for d in decisions) <= credit_rules.hard_cap
    if credit_rules.max_contribution:
        assert all(total <= credit_rules.max_contribution for total in per_wallet.values())
    assert all(total == 0 or total >= credit_rules.min_contribution for total in per_wallet.values())
    assert contributions(decisions) == {wallet: total for wallet, total in per_wallet.items() if total}


@settings(max_examples=200, deadline=None)
@given(rule_sets, deposit_lists, st.randoms(use_true_random=False))
def test_the_same_deposits_in_any_order_always_give_the_same_decisions(credit_rules, raw, random):
    """Deterministic: the decisions depend on the deposits' places in the chain, not on the order they are given in."""
    deposits = facts_of(raw)
    shuffled = list(deposits)
    random.shuffle(shuffled)

    decisions = decide_credits(rules=credit_rules, deposits=deposits)

    assert decide_credits(rules=credit_rules, deposits=deposits) == decisions
    assert decide_credits(rules=credit_rules, deposits=shuffled) == decisions
    assert decide_credits(rules=credit_rules, deposits=iter(reversed(deposits))) == decisions
