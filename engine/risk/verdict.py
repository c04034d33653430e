"""Turn risk facts into a level, badges and Strength penalties: pure, one table of thresholds.

Unknown facts fail closed: a mint that could not be read is "unknown" and penalised as if risky,
and no buy button is offered for a token whose sellability could not be shown.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.risk.model import RiskLevel, RiskVerdict, RiskView


@dataclass(frozen=True, slots=True)
class RiskThresholds:
    """Admin-tunable limits; the defaults follow the product spec."""

    top_holder_pct: float = 30.0
    top10_pct: float = 60.0
    transfer_fee_bps: int = 500
    dev_sold_pct: float = 50.0
    round_trip_loss_pct: float = 15.0
    lp_burnt_pct: float = 90.0


# Penalties on the 0-3 Risk component (Risk = 3 - their sum, floored at 0).
PENALTIES = {
    "mint_authority": 1.0,
    "freeze_authority": 1.5,
    "top_holder": 0.75,
    "transfer_tax": 1.0,
    "dev_selling": 0.75,
    "permanent_delegate": 1.5,
    "transfer_hook": 0.5,
    "default_frozen": 3.0,
    "untradeable": 3.0,
    "lp_not_burnt": 0.5,
    "unknown": 1.5,
}


def judge(view: RiskView, limits: RiskThresholds | None = None) -> RiskVerdict:
    """The verdict for a set of facts."""
    t = limits or RiskThresholds()
    badges: list[str] = []
    penalties: dict[str, float] = {}
    critical = high = medium = False

    def flag(reason: str, badge: str) -> None:
        penalties[reason] = PENALTIES[reason]
        badges.append(badge)

    if "mint" not in view.known:
        flag("unknown", "unverified")
        return RiskVerdict("unknown", tuple(badges), penalties, view)
    if view.mint_authority is not None:
        flag("mint_authority", "mint_authority")
        high = True
    if view.freeze_authority is not None:
        flag("freeze_authority", "freeze_authority")
        critical = True
    if view.permanent_delegate is not None:
        flag("permanent_delegate", "permanent_delegate")
        critical = True
    if view.default_frozen:
        flag("default_frozen", "default_frozen")
        critical = True
    if view.transfer_hook is not None:
        flag("transfer_hook", "transfer_hook")
        medium = True
    if view.transfer_fee_bps is not None and view.transfer_fee_bps > t.transfer_fee_bps:
        flag("transfer_tax", f"tax_{view.transfer_fee_bps / 100:g}pct")
        high = True
    if view.top_holder_pct is not None and view.top_holder_pct > t.top_holder_pct:
        flag("top_holder", "top_holder")
        high = True
    elif view.top10_pct is not None and view.top10_pct > t.top10_pct:
        badges.append("concentrated")
        medium = True
    if view.dev_sold_pct is not None and view.dev_sold_pct > t.dev_sold_pct:
        flag("dev_selling", "dev_selling")
        high = True
    if view.lp_burnt_pct is not None and view.lp_burnt_pct < t.lp_burnt_pct:
        flag("lp_not_burnt", "lp_not_burnt")
        medium = True
    if view.sellable is False or (
        view.round_trip_loss_pct is not None and view.round_trip_loss_pct > t.round_trip_loss_pct
    ):
        flag("untradeable", "untradeable")
        critical = True
    elif "sellability" not in view.known:
        badges.append("sell_unverified")
        medium = True
    level: RiskLevel = "critical" if critical else "high" if high else "medium" if medium else "low"
    return RiskVerdict(level, tuple(badges), penalties, view)
