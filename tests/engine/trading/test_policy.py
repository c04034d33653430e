"""The policy table: every check blocks on its own, all reasons are reported, unknown fails
closed, and only an ``execute`` decision yields the signer's approval."""

from __future__ import annotations

from dataclasses import replace

import pytest

from engine.risk.model import RiskView
from engine.risk.verdict import judge
from engine.trading.policy import SOL, PolicyInput, TradingPolicy, decide

MINT = "7xKXtg2CW87d97TXJSDpbD5jBkheTqA83TZRuJosgAsU"
CREATOR = "9WzDXwBbmkg8ZTbNMqUxvQRAyrZzDsGYdLVL9zYtAWWM"
CLEAN = judge(RiskView(mint=MINT, checked_ts=1, known=frozenset({"mint"})))
POLICY = TradingPolicy(
    max_trade_lamports=SOL,
    daily_limit_lamports=2 * SOL,
    confirm_above_lamports=SOL // 2,
    max_price_impact_bps=500,
    blocklist=[CREATOR],
)
OK = PolicyInput(
    user_id=1,
    mint=MINT,
    amount_lamports=SOL // 4,
    spent_today_lamports=0,
    price_impact_bps=100,
    verdict=CLEAN,
    recent_errors=0,
    signal_age_ms=5_000,
    creator="someone",
)


def test_within_every_limit_executes_and_approves() -> None:
    decision = decide(POLICY, OK)
    assert decision.action == "execute" and decision.reasons == ()
    approval = decision.approve(
        user_id=1, mint=MINT, amount_in=OK.amount_lamports, idempotency_key="k", now_ms=10
    )
    assert approval.expires_ts > 10


def test_above_the_confirmation_threshold_asks_the_user() -> None:
    decision = decide(POLICY, replace(OK, amount_lamports=SOL // 2 + 1))
    assert decision.action == "confirm" and decision.codes == ["confirm"]
    with pytest.raises(PermissionError, match="policy says confirm"):
        decision.approve(user_id=1, mint=MINT, amount_in=1, idempotency_key="k", now_ms=1)


def _verdict(**facts: object) -> object:
    return judge(RiskView(mint=MINT, checked_ts=1, known=frozenset({"mint"}), **facts))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"creator": CREATOR}, "blocklist"),
        ({"amount_lamports": SOL + 1}, "per_trade_limit"),
        ({"spent_today_lamports": 2 * SOL - SOL // 4 + 1}, "daily_limit"),
        ({"price_impact_bps": 501}, "price_impact"),
        ({"price_impact_bps": None}, "no_quote"),
        ({"verdict": None}, "risk_unknown"),
        ({"verdict": judge(RiskView(mint=MINT, checked_ts=1))}, "risk_unknown"),
        ({"verdict": _verdict(freeze_authority=CREATOR)}, "freeze_authority"),
        ({"verdict": _verdict(mint_authority=CREATOR)}, "mint_authority"),
        ({"verdict": _verdict(permanent_delegate=CREATOR)}, "risk_critical"),
        ({"recent_errors": 3}, "error_burst"),
        ({"signal_age_ms": 61_000}, "stale_signal"),
    ],
)
def test_each_check_blocks_on_its_own(change: dict[str, object], code: str) -> None:
    decision = decide(POLICY, replace(OK, **change))  # type: ignore[arg-type]
    assert decision.action == "block"
    assert decision.codes == [code]


def test_exactly_at_the_limits_passes() -> None:
    edge = replace(
        OK, amount_lamports=SOL // 2, spent_today_lamports=2 * SOL - SOL // 2, price_impact_bps=500
    )
    assert decide(POLICY, edge).action == "execute"


def test_all_failed_checks_are_reported_together() -> None:
    bad = replace(OK, amount_lamports=3 * SOL, price_impact_bps=9000, verdict=None)
    decision = decide(POLICY, bad)
    assert decision.codes == ["per_trade_limit", "daily_limit", "price_impact", "risk_unknown"]
    assert "3 SOL is above the 1 SOL per-trade limit" in decision.reasons[0]


def test_authority_checks_can_be_relaxed_by_the_user_but_critical_risk_still_blocks() -> None:
    relaxed = POLICY.model_copy(update={"block_mint_authority": False})
    assert decide(relaxed, replace(OK, verdict=_verdict(mint_authority=CREATOR))).action == (
        "execute"
    )
    frozen = replace(OK, verdict=_verdict(freeze_authority=CREATOR))
    loose = POLICY.model_copy(update={"block_freeze_authority": False})
    assert decide(loose, frozen).codes == ["risk_critical"]
