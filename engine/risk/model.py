"""What the risk engine tells the scorer and the chat: facts, a level, badges, penalties.

The risk engine fills a :class:`RiskView` from the chain; the scorer only reads it. A field left
``None`` means "not known yet" (the account was not readable, the check has not run): the scorer
treats unknown as risky for the boolean filters (fail closed) and says so in the explanation.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

RiskLevel = Literal["low", "medium", "high", "critical", "unknown"]


@dataclass(frozen=True, slots=True)
class RiskView:
    """The risk facts of one mint at one time."""

    mint: str
    checked_ts: int
    mint_authority: str | None = None
    """Who can still mint more supply; None when renounced (or unknown, see ``known``)."""
    freeze_authority: str | None = None
    """Who can freeze holders' token accounts (a honeypot lever)."""
    token_program: str | None = None
    decimals: int | None = None
    supply: int | None = None
    transfer_fee_bps: int | None = None
    permanent_delegate: str | None = None
    transfer_hook: str | None = None
    default_frozen: bool | None = None
    top_holder_pct: float | None = None
    """Largest holder's share of supply in percent, curve and pool accounts excluded."""
    top10_pct: float | None = None
    lp_burnt_pct: float | None = None
    """For AMM pools: share of LP tokens burnt or locked; None on a bonding curve."""
    dev_sold_pct: float | None = None
    """Share of the creator's bought tokens sold so far."""
    sellable: bool | None = None
    """Round-trip quote / simulated sell succeeded; False marks the token untradeable."""
    round_trip_loss_pct: float | None = None
    known: frozenset[str] = field(default_factory=frozenset)
    """Names of the checks that completed (a None fact with its check here means "none")."""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form for signals and APIs."""
        d = asdict(self)
        d["known"] = sorted(self.known)
        return d


@dataclass(frozen=True, slots=True)
class RiskVerdict:
    """The risk engine's judgement: level, badges for chat and UI, penalties for Strength."""

    level: RiskLevel
    badges: tuple[str, ...]
    penalties: dict[str, float]
    """Penalty per reason on the 0-3 Risk component (Risk = 3 - sum, floored at 0)."""
    view: RiskView

    @property
    def risk_score(self) -> float:
        """The Risk component of Strength, 0-3."""
        return max(0.0, 3.0 - sum(self.penalties.values()))

    @property
    def blocks_buy(self) -> bool:
        """True when no buy button may be offered: critical (untradeable, freezable, …), or
        unknown (the mint was never read: fail closed, as before any check ran)."""
        return self.level in ("critical", "unknown")
