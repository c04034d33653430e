"""The trading policy every automated buy is checked against: pure, one table of limits.

A decision is ``execute`` (the server signer may sign it), ``confirm`` (the user must confirm:
prepared with a signing link) or ``block``. Every failed check is a reason, so the audit log and
the user see all of them at once, not only the first. Unknown risk fails closed.

Only an ``execute`` decision yields an :class:`Approval`, which the server signer requires; it is
bound to one user, mint, amount and idempotency key and expires quickly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.chain.programs import LAMPORTS_PER_SOL as SOL
from engine.risk.model import RiskVerdict

APPROVAL_TTL_MS: Final = 30_000

Action = Literal["execute", "confirm", "block"]


class TradingPolicy(BaseModel):
    """A user's limits for automated trading; the defaults are deliberately tight."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)

    max_trade_lamports: int = Field(default=SOL // 2, ge=0)
    daily_limit_lamports: int = Field(default=2 * SOL, ge=0)
    confirm_above_lamports: int = Field(default=0, ge=0)
    """Buys above this need the user's tap; 0 means every buy does."""
    max_price_impact_bps: int = Field(default=1000, ge=0, le=10_000)
    max_signal_age_s: int = Field(default=60, ge=1, le=3600)
    blocklist: list[str] = Field(default_factory=list, max_length=1000)
    """Mints or creator addresses never bought."""
    block_mint_authority: bool = True
    block_freeze_authority: bool = True
    error_burst_count: int = Field(default=3, ge=1, le=100)
    error_burst_window_s: int = Field(default=600, ge=10, le=86_400)


@dataclass(frozen=True, slots=True)
class PolicyInput:
    """The facts one automated buy is judged on."""

    user_id: int
    mint: str
    amount_lamports: int
    spent_today_lamports: int
    price_impact_bps: int | None
    verdict: RiskVerdict | None
    recent_errors: int
    signal_age_ms: int
    creator: str | None = None


@dataclass(frozen=True, slots=True)
class Approval:
    """Permission for the server signer to sign one buy: bound to user, mint, amount and key."""

    user_id: int
    mint: str
    amount_in: int
    idempotency_key: str
    expires_ts: int


@dataclass(frozen=True, slots=True)
class PolicyDecision:
    """The outcome, with every failed check as ``code: explanation``."""

    action: Action
    reasons: tuple[str, ...]

    @property
    def codes(self) -> list[str]:
        """The reason codes only (``daily_limit``, ``price_impact``, …)."""
        return [r.split(":", 1)[0] for r in self.reasons]

    def approve(
        self, *, user_id: int, mint: str, amount_in: int, idempotency_key: str, now_ms: int
    ) -> Approval:
        """The signer's approval for this buy; refused unless the action is ``execute``."""
        if self.action != "execute":
            raise PermissionError(f"policy says {self.action}: {'; '.join(self.reasons)}")
        return Approval(user_id, mint, amount_in, idempotency_key, now_ms + APPROVAL_TTL_MS)


def _sol(lamports: int) -> str:
    return f"{lamports / SOL:.4g} SOL"


def decide(policy: TradingPolicy, inp: PolicyInput) -> PolicyDecision:
    """Judge one automated buy against ``policy``."""
    reasons: list[str] = []
    blocked = set(policy.blocklist)
    if inp.mint in blocked or (inp.creator is not None and inp.creator in blocked):
        reasons.append("blocklist: the token or its creator is on your blocklist")
    if inp.amount_lamports > policy.max_trade_lamports:
        reasons.append(
            f"per_trade_limit: {_sol(inp.amount_lamports)} is above the "
            f"{_sol(policy.max_trade_lamports)} per-trade limit"
        )
    if inp.spent_today_lamports + inp.amount_lamports > policy.daily_limit_lamports:
        reasons.append(
            f"daily_limit: {_sol(inp.spent_today_lamports)} spent today; "
            f"{_sol(inp.amount_lamports)} more would pass the {_sol(policy.daily_limit_lamports)}"
            " daily limit"
        )
    if inp.signal_age_ms > policy.max_signal_age_s * 1000:
        reasons.append(f"stale_signal: the signal is {inp.signal_age_ms // 1000}s old")
    if inp.price_impact_bps is None:
        reasons.append("no_quote: no quote, so the price impact is unknown")
    elif inp.price_impact_bps > policy.max_price_impact_bps:
        reasons.append(
            f"price_impact: {inp.price_impact_bps / 100:g}% impact is above "
            f"{policy.max_price_impact_bps / 100:g}%"
        )
    reasons += _risk_reasons(policy, inp.verdict)
    if inp.recent_errors >= policy.error_burst_count:
        reasons.append(
            f"error_burst: {inp.recent_errors} failures in the last "
            f"{policy.error_burst_window_s // 60} min; automation paused"
        )
    if reasons:
        return PolicyDecision("block", tuple(reasons))
    if inp.amount_lamports > policy.confirm_above_lamports:
        reason = (
            f"confirm: {_sol(inp.amount_lamports)} is above your "
            f"{_sol(policy.confirm_above_lamports)} confirmation threshold"
        )
        return PolicyDecision("confirm", (reason,))
    return PolicyDecision("execute", ())


def _risk_reasons(policy: TradingPolicy, verdict: RiskVerdict | None) -> list[str]:
    # Unknown fails closed: no verdict, or the mint account was never read.
    if verdict is None or verdict.level == "unknown" or "mint" not in verdict.view.known:
        return ["risk_unknown: the token's risk checks have not completed"]
    out = []
    if policy.block_freeze_authority and verdict.view.freeze_authority is not None:
        out.append("freeze_authority: someone can still freeze holders' tokens")
    if policy.block_mint_authority and verdict.view.mint_authority is not None:
        out.append("mint_authority: someone can still mint more supply")
    if verdict.blocks_buy and not out:
        out.append(f"risk_{verdict.level}: {', '.join(verdict.badges) or 'blocked by risk'}")
    return out
