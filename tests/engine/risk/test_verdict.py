"""The verdict rules on hand-made facts: levels, badges, penalties, failing closed."""

from __future__ import annotations

import pytest

from engine.risk.model import RiskView
from engine.risk.verdict import judge

ALL = frozenset({"mint", "holders", "dev", "lp", "sellability"})
WALLET = "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh"


def view(**kw: object) -> RiskView:
    base: dict[str, object] = {"mint": "M", "checked_ts": 1, "known": ALL, "sellable": True}
    return RiskView(**{**base, **kw})  # type: ignore[arg-type]


def test_clean_token_is_low_risk_with_full_score() -> None:
    v = judge(view(transfer_fee_bps=0, top_holder_pct=4.0, top10_pct=20.0, dev_sold_pct=0.0))
    assert (v.level, v.badges, v.risk_score, v.blocks_buy) == ("low", (), 3.0, False)


@pytest.mark.parametrize(
    ("facts", "level", "badge", "score"),
    [
        ({"freeze_authority": WALLET}, "critical", "freeze_authority", 1.5),
        ({"mint_authority": WALLET}, "high", "mint_authority", 2.0),
        ({"transfer_fee_bps": 600}, "high", "tax_6pct", 2.0),
        ({"transfer_fee_bps": 300}, "low", None, 3.0),  # 3 % is under the 5 % line
        ({"top_holder_pct": 31.0}, "high", "top_holder", 2.25),
        ({"dev_sold_pct": 80.0}, "high", "dev_selling", 2.25),
        ({"permanent_delegate": WALLET}, "critical", "permanent_delegate", 1.5),
        ({"sellable": False}, "critical", "untradeable", 0.0),
        ({"round_trip_loss_pct": 40.0}, "critical", "untradeable", 0.0),
    ],
)
def test_each_fact_moves_level_badge_and_score(
    facts: dict[str, object], level: str, badge: str | None, score: float
) -> None:
    v = judge(view(**facts))
    assert v.level == level
    assert (badge in v.badges) if badge else v.badges == ()
    assert v.risk_score == pytest.approx(score)


def test_unread_mint_fails_closed() -> None:
    v = judge(RiskView(mint="M", checked_ts=1))
    assert v.level == "unknown" and v.badges == ("unverified",) and v.risk_score == 1.5


def test_unshown_sellability_is_flagged_not_assumed() -> None:
    v = judge(view(known=ALL - {"sellability"}, sellable=None))
    assert v.level == "medium" and "sell_unverified" in v.badges
