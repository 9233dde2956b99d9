"""The crediting rules as a pure function: examples for each rule, and properties over random deposits."""

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from pools.models import Deposit, Pool
from pools.services.crediting import CreditRules, DepositFact, decide_credits

OPEN = datetime(2026, 1, 1, tzinfo=UTC)
CLOSE = OPEN + timedelta(days=1)
ALICE, BOB, CAROL = "0x" + "a" * 40, "0x" + "b" * 40, "0x" + "c" * 40
Reason = Deposit.RefundReason


def rules(**overrides) -> CreditRules:
    values = dict(
        opens_at=OPEN,
        closes_at=CLOSE,
        access=Pool.Access.PUBLIC,
        whitelist_until=None,
        whitelist=frozenset(),
        min_contribution=10,
        max_contribution=100,
        hard_cap=250,
    )
    return CreditRules(**{**values, **overrides})


def fact(key: int, sender: str, amount: int, *, minutes: int = 10) -> DepositFact:
    return DepositFact(key=key, sender=sender, amount=amount, at=OPEN + timedelta(minutes=minutes))


def outcome(decisions):
    return [(d.credited, d.refund, d.reason) for d in decisions]


def test_deposits_before_open_and_at_or_after_close_are_owed_back_in_full():
    decisions = decide_credits(
        rules=rules(), deposits=[fact(1, ALICE, 50, minutes=-1), fact(2, BOB, 50, minutes=24 * 60)]
    )

    assert outcome(decisions) == [(0, 50, Reason.NOT_OPEN), (0, 50, Reason.CLOSED)]


def test_above_the_wallet_maximum_the_part_that_fits_is_credited_and_the_rest_owed():
    decisions = decide_credits(rules=rules(), deposits=[fact(1, ALICE, 70), fact(2, ALICE, 70)])

    assert outcome(decisions) == [(70, 0, Reason.NONE), (30, 40, Reason.ABOVE_MAXIMUM)]


def test_the_hard_cap_is_first_come_first_served_and_later_deposits_are_owed_back():
    deposits = [fact(1, ALICE, 100), fact(2, BOB, 100), fact(3, CAROL, 100), fact(4, "0x" + "d" * 40, 20)]

    decisions = decide_credits(rules=rules(), deposits=deposits)

    assert outcome(decisions) == [
        (100, 0, Reason.NONE),
        (100, 0, Reason.NONE),
        (50, 50, Reason.HARD_CAP),
        (0, 20, Reason.HARD_CAP),
    ]


def test_below_the_minimum_is_owed_back_but_a_later_top_up_that_reaches_it_counts():
    decisions = decide_credits(rules=rules(), deposits=[fact(1, ALICE, 5), fact(2, ALICE, 5), fact(3, ALICE, 10)])

    assert outcome(decisions) == [(0, 5, Reason.BELOW_MINIMUM), (0, 5, Reason.BELOW_MINIMUM), (10, 0, Reason.NONE)]


def test_whitelist_phase_then_public():
    phase = rules(
        access=Pool.Access.WHITELIST_THEN_PUBLIC,
        whitelist_until=OPEN + timedelta(hours=1),
        whitelist=frozenset({ALICE}),
    )
    deposits = [fact(1, ALICE, 50, minutes=5), fact(2, BOB, 50, minutes=5), fact(3, BOB, 50, minutes=61)]

    decisions = decide_credits(rules=phase, deposits=deposits)

    assert outcome(decisions) == [(50, 0, Reason.NONE), (0, 50, Reason.NOT_WHITELISTED), (50, 0, Reason.NONE)]


def test_addresses_compare_case_insensitively():
    mixed = rules(access=Pool.Access.WHITELIST, whitelist=frozenset({ALICE.lower()}))

    decisions = decide_credits(rules=mixed, deposits=[fact(1, ALICE.upper().replace("0X", "0x"), 50)])

    assert decisions[0].credited == 50


addresses = st.sampled_from([ALICE, BOB, CAROL, "0x" + "d" * 40])
deposit_lists = st.lists(
    st.tuples(addresses, st.integers(min_value=1, max_value=10**20), st.integers(min_value=-60, max_value=1500)),
    max_size=60,
)
rule_sets = st.builds(
    rules,
    min_contribution=st.integers(min_value=0, max_value=10**19),
    max_contribution=st.integers(min_value=0, max_value=10**20),
    hard_cap=st.integers(min_value=1, max_value=10**21),
    access=st.sampled_from(list(Pool.Access)),
    whitelist=st.frozensets(addresses, max_size=2),
    whitelist_until=st.just(OPEN + timedelta(hours=2)),
)


@settings(max_examples=300, deadline=None)
@given(rule_sets, deposit_lists)
def test_every_wei_is_either_credited_or_owed_and_no_cap_is_ever_exceeded(credit_rules, raw):
    deposits = [fact(i, sender, amount, minutes=minutes) for i, (sender, amount, minutes) in enumerate(raw)]

    decisions = decide_credits(rules=credit_rules, deposits=deposits)

    assert [d.key for d in decisions] == [d.key for d in deposits]
    per_wallet: dict[str, int] = {}
    for deposit, decision in zip(deposits, decisions, strict=True):
        assert decision.credited >= 0 and decision.refund >= 0
        assert decision.credited + decision.refund == deposit.amount
        assert (decision.refund == 0) == (decision.reason == Reason.NONE)
        per_wallet[deposit.sender] = per_wallet.get(deposit.sender, 0) + decision.credited
    assert sum(d.credited for d in decisions) <= credit_rules.hard_cap
    if credit_rules.max_contribution:
        assert all(total <= credit_rules.max_contribution for total in per_wallet.values())
    assert all(total == 0 or total >= credit_rules.min_contribution for total in per_wallet.values())


@settings(max_examples=100, deadline=None)
@given(rule_sets, deposit_lists)
def test_the_same_deposits_always_give_the_same_decisions(credit_rules, raw):
    deposits = [fact(i, sender, amount, minutes=minutes) for i, (sender, amount, minutes) in enumerate(raw)]

    assert decide_credits(rules=credit_rules, deposits=deposits) == decide_credits(
        rules=credit_rules, deposits=list(deposits)
    )
