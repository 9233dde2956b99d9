"""The admin's launch preview: the launch at the soft cap, the hard cap and the current raise, with exact figures.

Every test passes `oracle_answer=` (or replaces the read) so no chain is needed: reading the price feed itself is
covered by the chain tests.
"""

from datetime import UTC, datetime

import pytest
from django.template.loader import render_to_string
from eth_utils import to_checksum_address

from pools.models import Pool
from pools.selectors import launch_preview as module
from pools.selectors.launch_preview import launch_preview, launch_scenarios
from tests.factories import PoolFactory

pytestmark = pytest.mark.django_db

ETHER = 10**18
USDC = 10**6
ETH_USD = 3_000 * 10**8  # the oracle's answer: $3,000 per ETH, 8 decimals


def row(scenarios, name: str) -> list[str]:
    """The values, one per column, of the row labelled `name`, or `name (…explanation…)`."""
    rows = [(label, values) for _, rows in scenarios.sections for label, values in rows]
    matches = [values for label, values in rows if label == name or label.startswith(name + " (")]
    assert len(matches) == 1, f"{name!r} in {[label for label, _ in rows]}"
    return matches[0]


def label(scenarios, label_start: str) -> str:
    return next(text for _, rows in scenarios.sections for text, _ in rows if text.startswith(label_start))


def test_an_eth_pool_at_the_soft_cap_the_hard_cap_and_now():
    # 10–100 ETH, 80% of the raise paired with 50% of 1e9 tokens, 1% fee; 40% to depositors, 10% to the agent.
    pool = PoolFactory(token_symbol="MIND", raised=5 * ETHER // 2)

    scenarios = launch_scenarios(pool=pool, oracle_answer=ETH_USD)

    assert scenarios.columns == ["At the soft cap (10 ETH)", "At the hard cap (100 ETH)", "Now (2.5 ETH raised)"]
    assert [title for title, _ in scenarios.sections] == ["Tokens", "Price", "Where the raise goes"]
    assert row(scenarios, "To the liquidity pool") == ["500,000,000 MIND"] * 3
    assert row(scenarios, "Burned") == ["0 MIND"] * 3
    assert row(scenarios, "To depositors (claim vault, claimable at launch)") == ["400,000,000 MIND"] * 3
    assert (
        row(scenarios, "To the agent (vesting wallet, vesting 365 days after a 30 days cliff)")
        == ["100,000,000 MIND"] * 3
    )
    # Price: 8 ETH for 500M tokens = 0.000000016 ETH, × $3,000 = $0.000048; 80 ETH and 2 ETH likewise.
    assert row(scenarios, "Launch price per MIND in ETH") == ["0.000000016 ETH", "0.00000016 ETH", "0.000000004 ETH"]
    assert row(scenarios, "Launch price per MIND in USD") == ["$0.000048", "$0.00048", "$0.000012"]
    # Depositors claim at launch: 500M paired + 400M = 900M circulate.
    assert "paired in the pool + depositors" in label(scenarios, "Market cap in ETH (price × tokens circulating")
    assert row(scenarios, "Market cap in ETH") == ["14.4 ETH", "144 ETH", "3.6 ETH"]
    assert row(scenarios, "Market cap in USD") == ["$43,200", "$432,000", "$10,800"]
    # Nothing burned: FDV counts the whole 1e9.
    assert label(scenarios, "FDV in ETH") == "FDV in ETH (price × (total supply − burned))"
    assert row(scenarios, "FDV in ETH") == ["16 ETH", "160 ETH", "4 ETH"]
    assert row(scenarios, "FDV in USD") == ["$48,000", "$480,000", "$12,000"]
    assert row(scenarios, "Paired in the pool (80% → the new Uniswap V2 pair)") == ["8 ETH", "80 ETH", "2 ETH"]
    assert row(scenarios, "Platform fee (1% → 0x0000…fee1)") == ["0.1 ETH", "1 ETH", "0.025 ETH"]
    assert row(scenarios, "Treasury (the rest → 0x0000…7e57)") == ["1.9 ETH", "19 ETH", "0.475 ETH"]
    assert row(scenarios, "LP tokens") == ["burned (sent to 0x0000…dEaD)"] * 3
    assert scenarios.oracle_note == "Oracle ETH/USD $3,000, used for every column."
    assert any("native-ETH launch pays its own gas" in note for note in scenarios.notes)
    assert any("before the launch is final" in note for note in scenarios.notes)


def test_vesting_depositors_do_not_count_in_the_market_cap():
    pool = PoolFactory(token_symbol="MIND", depositor_cliff_seconds=7 * 86_400, depositor_vesting_seconds=30 * 86_400)

    scenarios = launch_scenarios(pool=pool, oracle_answer=ETH_USD)

    assert row(scenarios, "To depositors (claim vault, vesting 30 days after a 7 days cliff)")
    assert "paired in the pool only" in label(scenarios, "Market cap in ETH")
    # Only the 500M paired tokens circulate: worth exactly the 8 ETH (80 ETH) paired with them.
    assert row(scenarios, "Market cap in ETH")[:2] == ["8 ETH", "80 ETH"]
    assert row(scenarios, "Market cap in USD")[:2] == ["$24,000", "$240,000"]


def test_a_usdc_pool_uses_the_assets_decimals_and_symbol():
    pool = PoolFactory(
        token_symbol="MIND",
        raise_asset=to_checksum_address("0x" + "11" * 20),
        raise_asset_symbol="USDC",
        raise_asset_decimals=6,
        soft_cap=10_000 * USDC,
        hard_cap=100_000 * USDC,
    )

    scenarios = launch_scenarios(pool=pool, oracle_answer=10**8)  # $1 per USDC

    assert scenarios.columns == [
        "At the soft cap (10,000 USDC)",
        "At the hard cap (100,000 USDC)",
        "Now (0 USDC raised)",
    ]
    # 8,000 USDC for 500M tokens = 0.000016 USDC (16 of its smallest units) per token.
    assert row(scenarios, "Launch price per MIND in USDC") == ["0.000016 USDC", "0.00016 USDC", "—"]
    assert row(scenarios, "Launch price per MIND in USD") == ["$0.000016", "$0.00016", "—"]
    assert row(scenarios, "Market cap in USDC") == ["14,400 USDC", "144,000 USDC", "—"]
    assert row(scenarios, "Market cap in USD") == ["$14,400", "$144,000", "—"]
    assert row(scenarios, "FDV in USDC") == ["16,000 USDC", "160,000 USDC", "—"]
    assert row(scenarios, "Paired in the pool") == ["8,000 USDC", "80,000 USDC", "0 USDC"]
    assert row(scenarios, "Platform fee") == ["100 USDC", "1,000 USDC", "0 USDC"]
    assert row(scenarios, "Treasury") == ["1,900 USDC", "19,000 USDC", "0 USDC"]
    assert scenarios.oracle_note == "Oracle USDC/USD $1, used for every column."
    assert not any("native-ETH" in note for note in scenarios.notes)


def test_a_raise_of_zero_has_no_price_rather_than_a_crash_or_a_price_of_zero():
    pool = PoolFactory(status=Pool.Status.DRAFT, soft_cap=0, hard_cap=0, fee_recipient="", treasury_address="")

    scenarios = launch_scenarios(pool=pool, oracle_answer=ETH_USD)

    for price_row in ("Launch price", "Market cap", "FDV"):
        for _, rows in scenarios.sections:
            for text, values in rows:
                if text.startswith(price_row):
                    assert values == ["—"] * 3, text
    assert row(scenarios, "Platform fee (1% → not set)") == ["0 ETH"] * 3
    assert row(scenarios, "Treasury (the rest → not set)") == ["0 ETH"] * 3
    assert launch_preview(pool=pool, oracle_answer=ETH_USD).price_in_asset is None


def test_a_usd_target_burns_the_unused_liquidity_share():
    # $0.0001 per token at $3,000 per ETH: 8 ETH pairs 240M tokens, so 260M of the 500M share are burned.
    pool = PoolFactory(token_symbol="MIND", price_mode=Pool.PriceMode.USD_TARGET, target_price_usd_e8=10_000, raised=0)

    scenarios = launch_scenarios(pool=pool, oracle_answer=ETH_USD)

    # At the hard cap 80 ETH would pair 2.4B tokens at the target: capped by the 500M share, nothing burned.
    assert row(scenarios, "To the liquidity pool") == ["240,000,000 MIND", "500,000,000 MIND", "0 MIND"]
    assert row(scenarios, "Burned") == ["260,000,000 MIND", "0 MIND", "500,000,000 MIND"]
    # 8 ETH / 240M tokens, floored to the wei; in USD computed from the pair, so exactly the target.
    assert row(scenarios, "Launch price per MIND in ETH") == ["0.000000033333333333 ETH", "0.00000016 ETH", "—"]
    assert row(scenarios, "Launch price per MIND in USD") == ["$0.0001", "$0.00048", "—"]
    # Circulating 240M + 400M = 640M, FDV over 1e9 − 260M = 740M tokens.
    assert row(scenarios, "Market cap in ETH")[0] == "21.333333333333333333 ETH"
    assert row(scenarios, "Market cap in USD")[0] == "$64,000"
    assert row(scenarios, "FDV in ETH")[0] == "24.666666666666666666 ETH"
    assert row(scenarios, "FDV in USD")[:2] == ["$74,000", "$480,000"]
    assert any("USD target of $0.0001 per MIND" in note for note in scenarios.notes)


def test_without_the_oracle_a_usd_target_pool_shows_no_invented_figures(monkeypatch):
    monkeypatch.setattr(module, "oracle_answer_now", lambda pool: (None, "unavailable (ConnectionError: refused)"))
    pool = PoolFactory(token_symbol="TK", price_mode=Pool.PriceMode.USD_TARGET, target_price_usd_e8=10_000, raised=0)

    scenarios = launch_scenarios(pool=pool)

    assert row(scenarios, "To the liquidity pool") == ["—"] * 3
    assert row(scenarios, "Burned") == ["—"] * 3
    assert row(scenarios, "Launch price per TK in ETH") == ["—"] * 3
    assert row(scenarios, "Launch price per TK in USD") == ["—"] * 3
    assert row(scenarios, "Paired in the pool") == ["8 ETH", "80 ETH", "0 ETH"]
    assert scenarios.oracle_note == (
        "Oracle ETH/USD: unavailable (ConnectionError: refused). USD figures cannot be shown."
    )


def test_a_locked_lp_shows_its_unlock_date():
    pool = PoolFactory(lp_policy=Pool.LpPolicy.LOCK, lp_lock_until=datetime(2030, 1, 2, 3, 4, tzinfo=UTC))

    scenarios = launch_scenarios(pool=pool, oracle_answer=ETH_USD)

    assert row(scenarios, "LP tokens") == ["locked until 2030-01-02 03:04 UTC"] * 3


def test_the_template_renders_one_table_with_the_three_columns():
    pool = PoolFactory(token_symbol="MIND", raised=5 * ETHER // 2)

    html = render_to_string(
        "admin/pools/pool/_launch_preview.html",
        {"scenarios": launch_scenarios(pool=pool, oracle_answer=ETH_USD)},
    )

    assert html.count('<table class="launch-preview">') == 1
    for heading in ("At the soft cap (10 ETH)", "At the hard cap (100 ETH)", "Now (2.5 ETH raised)"):
        assert f'<th scope="col">{heading}</th>' in html
    for section in ("Tokens", "Price", "Where the raise goes"):
        assert f"<strong>{section}</strong>" in html
    assert '<td class="nowrap">14.4 ETH</td>' in html
    assert "Oracle ETH/USD $3,000, used for every column." in html
    assert "data-" not in html
