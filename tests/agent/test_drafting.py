"""Rule drafting without a model: the grammar, the engine's validation, the summary."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from agent.drafting import Proposal, build_draft, parse_sentence
from agent.interface import RuleDraft
from engine.signals.rules import RULE_KINDS, RuleSet
from tests.agent.factory import SOL


@dataclass
class Row:
    """A ``rules`` row as RuleSet.from_rows reads it."""

    name: str
    kind: str
    params: dict[str, object]
    enabled: bool = True
    user_id: int | None = 7


def draft(text: str, language: str = "en") -> RuleDraft:
    return build_draft(parse_sentence(text), text=text, language=language)


def test_the_issue_sentence_becomes_a_burst_with_a_blocking_freeze_filter() -> None:
    d = draft(
        "tell me when 3 smart wallets buy 2 SOL of a token without freeze authority "
        "within 5 minutes"
    )
    assert d.problems == ()
    assert d.kind == "smart_buy_burst"
    assert d.params["min_wallets"] == 3
    assert d.params["min_total_lamports"] == 2 * SOL
    assert d.params["window_minutes"] == 5
    assert [r["kind"] for r in d.rules] == ["smart_buy_burst", "no_freeze"]
    assert d.rules[1]["params"]["block"] is True
    # The rows are what the engine loads: they validate as a user's rule set.
    rows = [Row(r["name"], r["kind"], r["params"]) for r in d.rules]
    rs = RuleSet.from_rows(rows, user_id=7)
    burst = rs.get("my_smart_buy_burst")
    assert burst is not None and burst.params.min_wallets == 3
    assert rs.get("smart_buy_burst") is not None  # the defaults stay beside the user's rules
    assert [r["name"] for r in d.rules] == ["my_smart_buy_burst", "my_no_freeze"]
    freeze = rs.get("my_no_freeze")
    assert freeze is not None and freeze.block
    assert "at least 3 tracked wallets" in d.summary and "2 SOL" in d.summary
    assert "within 5 minutes" in d.summary and "freeze authority renounced" in d.summary
    assert "never trades" in d.summary


def test_french_sentence_with_per_wallet_amount() -> None:
    d = draft(
        "préviens-moi quand 4 wallets suivis achètent 1,5 SOL chacun en 3 minutes, "
        "sans autorité de gel ni autorité de mint, top 10 sous 25 %",
        "fr",
    )
    assert d.problems == ()
    assert d.params["min_wallets"] == 4
    assert d.params["min_lamports_per_wallet"] == 1_500_000_000
    assert d.params["min_total_lamports"] == 6 * SOL
    assert d.params["window_minutes"] == 3
    kinds = {r["kind"]: r["params"] for r in d.rules}
    assert set(kinds) == {"smart_buy_burst", "no_freeze", "no_mint", "top10"}
    assert kinds["top10"]["max_top10_pct"] == 25.0
    assert "Alerte quand au moins 4 wallets suivis" in d.summary
    assert "1,5 SOL" in d.summary


@pytest.mark.parametrize(
    ("text", "kind", "expected"),
    [
        ("alert me when price is up 40% in 10 minutes", "momentum",
         {"min_return_pct": 40.0, "window_minutes": 10}),
        ("net buying of 3 SOL per minute over 5 min with liquidity above 30 SOL", "push_time",
         {"min_net_lamports_per_min": 3 * SOL, "window_minutes": 5}),
        ("quand le prix monte de 50 % en 2 minutes", "momentum",
         {"min_return_pct": 50.0, "window_minutes": 2}),
    ],
)  # fmt: skip
def test_other_triggers(text: str, kind: str, expected: dict[str, object]) -> None:
    d = draft(text)
    assert d.problems == ()
    assert d.kind == kind
    assert expected.items() <= d.params.items()


def test_liquidity_figure_is_not_read_as_the_trigger_amount() -> None:
    d = draft("3 whales buy 4 SOL in 2 min, pool at least 60 SOL")
    assert d.params["min_total_lamports"] == 4 * SOL
    liq = next(r for r in d.rules if r["kind"] == "liquidity_depth")
    assert liq["params"]["min_liquidity_lamports"] == 60 * SOL


def test_out_of_range_values_are_reported_by_the_engine_model() -> None:
    d = draft("tell me when 3 smart wallets buy 2 SOL within 30 minutes")
    assert d.rules == ()
    assert any("window_minutes must be <= 15" in p for p in d.problems)


def test_a_sentence_without_a_trigger_is_a_problem_not_a_guess() -> None:
    d = draft("hello there")
    assert d.rules == () and d.problems
    assert d.summary == "I could not build a rule from that sentence."


def test_asking_to_trade_is_answered_not_obeyed() -> None:
    d = draft("auto-buy 1 SOL when 3 smart wallets buy within 5 minutes")
    assert d.kind == "smart_buy_burst"
    assert d.summary.startswith("Rules only send alerts: I never enable trading")
    # Only alert rules of the engine's own kinds; no parameter that could place an order.
    assert {r["kind"] for r in d.rules} <= set(RULE_KINDS)
    assert not any("trade" in k or k.startswith("auto") for r in d.rules for k in r["params"])


def test_unknown_kinds_and_parameters_from_a_proposal_are_rejected() -> None:
    p = Proposal(
        kind="smart_buy_burst",
        params={"min_wallets": 3, "auto_buy_lamports": SOL},
        filters=[("sell_everything", {})],
    )
    d = build_draft(p, text="x", language="en")
    assert d.rules == ()
    assert any("auto_buy_lamports is not a parameter" in e for e in d.problems)
    assert any("'sell_everything' is not a filter" in e for e in d.problems)
