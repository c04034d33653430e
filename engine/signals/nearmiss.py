"""Near misses: why a token did not fire, as structured shortfalls and one short sentence.

The answer to "why no alert?" lists, in this order: the trigger rules that fell short (every
failing threshold, with how far off it was), Strength below ``min_strength``, failed filters
that block, and the cooldown/hysteresis when it is what holds the signal back. It reads the
scorer's state without changing it (the momentum baseline does not move).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from engine.signals.explain import fmt_sol, rounded, short_address
from engine.signals.rules import Check, RuleResult, Scalar
from engine.signals.scorer import Scorer

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Shortfall:
    """One threshold a token missed, and by how much."""

    rule: str
    """Rule name, or ``strength`` / ``cooldown``."""
    title: str
    field: str
    label: str
    op: str
    threshold: Scalar
    actual: Scalar | None
    gap: float | int | None
    """Distance to passing in the threshold's unit; None when the value is unknown."""
    unit: str
    summary: str
    """The rule's own one-line summary (used for yes/no checks)."""

    def phrase(self) -> str:
        """``Smart Buy Burst: tracked wallets buying 2, needs >= 3 (1 short)``."""
        if isinstance(self.threshold, bool | str) or self.rule == "cooldown":
            return self.summary
        need = f"needs {self.op} {_fmt(self.threshold, self.unit)}"
        if self.actual is None or isinstance(self.actual, bool | str):
            return f"{self.title}: {self.label} unknown, {need} (unknown fails closed)"
        gap = "" if self.gap is None else f" ({_fmt(self.gap, self.unit)} "
        gap += "short)" if self.op == ">=" else "over)"
        return f"{self.title}: {self.label} {_fmt(self.actual, self.unit)}, {need}{gap}"

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        out = rounded(
            {
                "rule": self.rule,
                "title": self.title,
                "field": self.field,
                "label": self.label,
                "op": self.op,
                "threshold": self.threshold,
                "actual": self.actual,
                "gap": self.gap,
                "unit": self.unit,
                "text": self.phrase(),
            }
        )
        assert isinstance(out, dict)
        return out


@dataclass(frozen=True, slots=True)
class NearMiss:
    """Why ``mint`` does (or does not) fire at ``ts``."""

    mint: str
    ts: int
    would_fire: bool
    strength: float
    min_strength: float
    shortfalls: tuple[Shortfall, ...]
    text: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return {
            "mint": self.mint,
            "ts": self.ts,
            "would_fire": self.would_fire,
            "strength": self.strength,
            "min_strength": self.min_strength,
            "shortfalls": [s.to_dict() for s in self.shortfalls],
            "text": self.text,
        }


def near_miss(scorer: Scorer, mint: str, *, now_ms: int | None = None) -> NearMiss | None:
    """Explain why ``mint`` has no signal now; None when the scorer never saw it."""
    ev = scorer.evaluate(mint, now_ms=now_ms)
    if ev is None:
        return None
    settings = scorer.settings
    out: list[Shortfall] = []
    if not ev.fired_triggers:
        for r in ev.results:
            if r.role == "trigger":
                out += _failing(r)
    min_s = settings.min_strength
    if ev.strength < min_s:
        gap = round(min_s - ev.strength, 4)
        out.append(
            Shortfall(
                "strength", "Strength", "min_strength", "score", ">=", min_s, ev.strength,
                gap, "", f"Strength {ev.strength:.2f} is below {min_s:.2f}",
            )
        )  # fmt: skip
    for r in ev.blocking:
        out += _failing(r)
    cd = scorer.cooldown
    last = cd.last(mint)
    if last is not None:
        need_s = round(last.strength + cd.step, 4)
        until = last.ts + cd.cooldown_ms
        if ev.strength < need_s and ev.now < until:
            gap = round(need_s - ev.strength, 4)
            text = (
                f"Cooldown: the last signal was {(ev.now - last.ts) // 1000}s ago; until the "
                f"cooldown ends in {(until - ev.now + 999) // 1000}s Strength must reach "
                f"{need_s:.2f} (now {ev.strength:.2f}, {gap:.2f} short)"
            )
            out.append(
                Shortfall(
                    "cooldown", "Cooldown", "hysteresis_step", "Strength", ">=", need_s,
                    ev.strength, gap, "", text,
                )
            )  # fmt: skip
    fires = not out
    name = short_address(mint)
    if fires:
        text = f"{name} would fire now: Strength {ev.strength:.2f} (min {min_s:.2f})."
    else:
        text = f"No signal for {name}: " + "; ".join(s.phrase() for s in out) + "."
    return NearMiss(mint, ev.now, fires, ev.strength, min_s, tuple(out), text)


def _failing(r: RuleResult) -> list[Shortfall]:
    return [_shortfall(r, c) for c in r.checks if not c.passed]


def _shortfall(r: RuleResult, c: Check) -> Shortfall:
    gap = c.shortfall
    if isinstance(gap, float):
        gap = round(gap, 4)
    return Shortfall(
        r.name, r.title, c.field, c.label, c.op, c.threshold, c.actual, gap, c.unit, r.summary
    )


def _fmt(value: Scalar, unit: str) -> str:
    if isinstance(value, bool | str):
        return str(value)
    if unit == "lamports":
        return fmt_sol(int(value))
    if unit == "%":
        return f"{value:.1f}%"
    if unit == "bps":
        return f"{value} bps"
    if unit == "x":
        return f"x{value:.2f}"
    return f"{value:.2f}" if isinstance(value, float) else str(value)
