"""The scorer: events in, explained signals out, on the events' own clock.

Per event: fold it into the mint's windows, compute the four components and Strength, and only
when Strength reaches ``min_strength`` and the mint's cooldown/hysteresis allows it, evaluate the
rules. A signal fires when at least one trigger rule passed and no blocking filter failed. The
rules run only past the cheap Strength gate, which is what keeps the hot path fast; the result is
the same as evaluating them on every event, because a signal needs the gate anyway.

Deterministic: no wall clock, no randomness, iteration in insertion order. The same events in the
same order give the same signals, live or replayed. Risk is read through a lookup callable (the
scorer never fetches it); unknown risk scores ``unknown_risk_score`` and fails the risk filters
closed, and the signal's explanation says so.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine.events import ChainEvent
from engine.risk.model import RiskVerdict
from engine.signals.explain import fmt_span, rounded, short_address
from engine.signals.rules import RuleContext, RuleResult, RuleSet
from engine.signals.strength import (
    MAX_STRENGTH,
    Components,
    Cooldown,
    LiquidityMap,
    MomentumBaseline,
    MomentumReading,
    ScoringSettings,
    combine,
    smart_burst_score,
)
from engine.signals.windows import MINUTE_MS, MintWindows, Windows

logger = logging.getLogger(__name__)

MAX_EVIDENCE = 16
"""Signatures a signal records as its evidence (the trigger and tracked-wallet buys)."""

RiskLookup = Callable[[str], RiskVerdict | None]
"""mint -> the risk engine's current verdict, or None when not known yet."""

UNKNOWN_RISK_NOTE = "risk not checked yet: Risk scored {score:g} and risk filters failed closed"


def _no_risk(mint: str) -> RiskVerdict | None:
    return None


@dataclass(frozen=True, slots=True)
class Signal:
    """A fired signal with everything needed to explain it (``add_signal`` stores these)."""

    mint: str
    ts: int
    strength: float
    components: dict[str, float]
    inputs: dict[str, Any]
    rules: list[dict[str, Any]]
    """The rules that fired: passed triggers and passed filters."""
    risk: dict[str, Any]
    """Verdict summary plus every filter's outcome (failed filters are the flags)."""
    version: int
    explanation: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form, floats rounded to 4 places."""
        out = rounded(
            {
                "mint": self.mint,
                "ts": self.ts,
                "strength": self.strength,
                "components": self.components,
                "inputs": self.inputs,
                "rules": self.rules,
                "risk": self.risk,
                "version": self.version,
                "explanation": self.explanation,
            }
        )
        assert isinstance(out, dict)
        return out

    def storage_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``add_signal`` (the caller adds ``id``)."""
        d = self.to_dict()
        inputs = dict(d["inputs"])
        inputs["explanation"] = self.explanation
        return {
            "ts": self.ts,
            "mint": self.mint,
            "strength": self.strength,
            "components": d["components"],
            "inputs": inputs,
            "rules": d["rules"],
            "risk": d["risk"],
            "version": self.version,
        }


@dataclass(frozen=True, slots=True)
class Evaluation:
    """A full look at one mint now: components, Strength, every rule, and the verdict."""

    mint: str
    now: int
    strength: float
    components: Components
    momentum: MomentumReading
    impact_bps: int | None
    verdict: RiskVerdict | None
    results: list[RuleResult] = field(default_factory=list)

    @property
    def fired_triggers(self) -> list[RuleResult]:
        """Trigger rules that passed."""
        return [r for r in self.results if r.role == "trigger" and r.passed]

    @property
    def blocking(self) -> list[RuleResult]:
        """Failed filters that suppress the signal."""
        return [r for r in self.results if r.blocking]


class Scorer:
    """Windows + rules + Strength + cooldown for every mint, fed one event at a time."""

    def __init__(
        self,
        *,
        rules: RuleSet | None = None,
        settings: ScoringSettings | None = None,
        risk: RiskLookup | None = None,
        smart: Mapping[str, str] | Iterable[str] = (),
    ) -> None:
        self.settings = s = settings or ScoringSettings()
        self.rules = rules or RuleSet.defaults()
        self._risk = risk or _no_risk
        self._short_ms = s.momentum.short_minutes * MINUTE_MS
        self._long_ms = s.momentum.long_minutes * MINUTE_MS
        self._smart_ms = s.smart_window_minutes * MINUTE_MS
        self.windows = Windows(
            s.spans_ms() | self.rules.spans_ms(),
            accel_spans_ms=(self._short_ms, self._long_ms),
        )
        self.baseline = MomentumBaseline(s.momentum)
        self._liq = LiquidityMap(s.liquidity)
        self._weights = w = s.weights
        self._w = (w.smart_burst, w.momentum, w.liquidity, w.risk)
        self._smart_k = s.smart_k
        self._min_strength = s.min_strength
        self._unknown_risk = s.unknown_risk_score
        self.cooldown = Cooldown(s.hysteresis_step, s.cooldown_minutes * MINUTE_MS)
        self._aliases: dict[str, str] = {}
        self.set_smart_wallets(smart)
        self._idle_ms = s.idle_evict_minutes * MINUTE_MS
        self._clock = 0
        self._next_evict = 0
        self.events_seen = 0
        self.last_strength = 0.0
        """Strength computed for the last accepted event (for metrics and tests)."""
        self.signals_fired = 0
        self._evidence: dict[str, deque[tuple[int, str]]] = {}
        """mint -> (ts, signature) of its latest tracked-wallet buys (``inputs["signatures"]``)."""

    # -- configuration ------------------------------------------------------------------------

    @property
    def aliases(self) -> Mapping[str, str]:
        """Tracked wallet address -> alias ('' when none)."""
        return self._aliases

    def set_smart_wallets(self, wallets: Mapping[str, str] | Iterable[str]) -> None:
        """Replace the tracked wallets (address -> alias, or addresses alone)."""
        if isinstance(wallets, Mapping):
            self._aliases = {str(a): str(n or "") for a, n in wallets.items()}
        else:
            self._aliases = dict.fromkeys(wallets, "")
        self.windows.set_smart(self._aliases)

    def set_risk_lookup(self, risk: RiskLookup) -> None:
        """Swap the risk lookup (e.g. when the risk cache is rebuilt)."""
        self._risk = risk

    # -- the hot path -------------------------------------------------------------------------

    def on_event(self, ev: ChainEvent) -> Signal | None:
        """Fold one event in; returns a signal when its mint fires now."""
        self.events_seen += 1
        if ev.ts > self._clock:
            self._clock = ev.ts
            if self._clock >= self._next_evict:
                self._evict()
        mw = self.windows.add(ev)
        if mw is None:
            return None
        mint = ev.mint
        if ev.side == "buy" and ev.trader is not None and ev.trader in self._aliases:
            ring = self._evidence.get(mint)
            if ring is None:
                ring = self._evidence[mint] = deque(maxlen=MAX_EVIDENCE)
            ring.append((ev.ts, ev.signature))
        now = mw.now
        r_short = mw.price_return(self._short_ms)
        r_long = mw.price_return(self._long_ms)
        accel = mw.volume_accel()
        verdict = self._risk(mint)
        # Bare floats on the hot path, same formulas as _evaluation (a test holds them equal);
        # the full Evaluation with its objects is built only past the gate.
        sp = mw.span(self._smart_ms)
        smart = (
            smart_burst_score(sp.smart_lamports, len(sp.smart), self._smart_k)
            if sp.smart_lamports or sp.smart
            else 0.0
        )
        momentum = self.baseline.score(r_short, r_long, accel)
        liquidity = 0.0
        if mw.sol_reserves > 0 and mw.token_reserves > 0:
            liq = self._liq
            liquidity = liq.score(mw.sol_reserves, liq.impact(mw.sol_reserves, mw.token_reserves))
        risk = self._unknown_risk if verdict is None else verdict.risk_score
        ws, wm, wl, wr = self._w
        x = ws * smart + wm * momentum + wl * liquidity + wr * risk
        strength = round(0.0 if x < 0.0 else (MAX_STRENGTH if x > MAX_STRENGTH else x), 4)
        self.last_strength = strength
        signal = None
        if strength >= self._min_strength and self.cooldown.allows(mint, now, strength):
            signal = self._try_fire(mw, verdict)
            if signal is not None:
                signal.inputs["signatures"] = self._signatures(ev, now)
        # Sampled after scoring, so a mint's z-scores never include its own sample.
        self.baseline.sample(mint, now, r_short, r_long, accel)
        return signal

    def feed(self, events: Iterable[ChainEvent]) -> Iterator[Signal]:
        """Fold events in order, yielding the signals as they fire."""
        on_event = self.on_event
        for ev in events:
            sig = on_event(ev)
            if sig is not None:
                yield sig

    # -- questions ----------------------------------------------------------------------------

    def evaluate(self, mint: str, *, now_ms: int | None = None) -> Evaluation | None:
        """Everything about ``mint`` now, without firing or moving the momentum baseline.

        ``now_ms`` moves the mint's window clock forward first (never back).
        """
        mw = self.windows.get(mint)
        if mw is None:
            return None
        if now_ms is not None:
            mw.advance(now_ms)
        return self._evaluation(mw, self._risk(mint))

    # -- internals ----------------------------------------------------------------------------

    def _context(self, mw: MintWindows, verdict: RiskVerdict | None) -> RuleContext:
        return RuleContext(mw.mint, mw.now, mw, verdict, self._aliases)

    def _smart_score(self, mw: MintWindows) -> float:
        sp = mw.span(self._smart_ms)
        return smart_burst_score(sp.smart_lamports, len(sp.smart), self._smart_k)

    def _liquidity(self, mw: MintWindows) -> tuple[float, int | None]:
        if not mw.has_reserves:
            return 0.0, None
        impact = self._liq.impact(mw.sol_reserves, mw.token_reserves)
        return self._liq.score(mw.sol_reserves, impact), impact

    def _evaluation(self, mw: MintWindows, verdict: RiskVerdict | None) -> Evaluation:
        mom = self.baseline.reading(
            mw.price_return(self._short_ms), mw.price_return(self._long_ms), mw.volume_accel()
        )
        liquidity, impact = self._liquidity(mw)
        risk = self._unknown_risk if verdict is None else verdict.risk_score
        comps = Components(self._smart_score(mw), mom.score, liquidity, risk)
        ev_ = Evaluation(
            mw.mint, mw.now, combine(comps, self._weights), comps, mom, impact, verdict
        )
        ev_.results.extend(self.rules.evaluate(self._context(mw, verdict)))
        return ev_

    def _try_fire(self, mw: MintWindows, verdict: RiskVerdict | None) -> Signal | None:
        # The explanation is ~50x the cost of the yes/no answer: build it only for a signal.
        if not self.rules.may_fire(self._context(mw, verdict)):
            return None
        ev_ = self._evaluation(mw, verdict)
        if not ev_.fired_triggers or ev_.blocking:  # pragma: no cover - same checks as may_fire
            logger.error("rules disagree between passes() and evaluate() for %s", mw.mint)
            return None
        signal = self._signal(mw, ev_)
        self.cooldown.record(mw.mint, mw.now, ev_.strength)
        self.signals_fired += 1
        return signal

    def _signatures(self, ev: ChainEvent, now: int) -> list[str]:
        """The transactions a signal rests on: the one that fired it, then the tracked
        wallets' buys still in the smart window, newest first (bounded). A retraction of any
        of them retracts the signal."""
        out = [ev.signature]
        since = now - self._smart_ms
        for ts, sig in reversed(self._evidence.get(ev.mint, ())):
            if ts < since or len(out) >= MAX_EVIDENCE:
                break
            if sig not in out:
                out.append(sig)
        return out

    def _evict(self) -> None:
        # Event time, not wall time: replay evicts exactly as live did.
        for mint in self.windows.evict_idle(self._clock, self._idle_ms):
            self.baseline.forget(mint)
            self.cooldown.forget(mint)
            self._evidence.pop(mint, None)
        self._next_evict = self._clock + MINUTE_MS

    def _signal(self, mw: MintWindows, ev_: Evaluation) -> Signal:
        s = self.settings
        fired = [r for r in ev_.results if r.passed]
        filters = {
            r.name: {"passed": r.passed, "summary": r.summary}
            for r in ev_.results
            if r.role == "filter"
        }
        return Signal(
            mint=mw.mint,
            ts=mw.now,
            strength=ev_.strength,
            components=ev_.components.as_dict(),
            inputs=self._inputs(mw, ev_),
            rules=[r.to_dict() for r in fired],
            risk=risk_summary(ev_.verdict, ev_.components.risk, filters),
            version=s.version,
            explanation=explain(mw.mint, ev_),
        )

    def _inputs(self, mw: MintWindows, ev_: Evaluation) -> dict[str, Any]:
        s = self.settings
        sp = mw.span(self._smart_ms)
        mom = ev_.momentum
        flow = {}
        for agg in mw.spans:
            flow[fmt_span(agg.ms)] = {
                "buys": agg.buys,
                "sells": agg.sells,
                "volume_lamports": agg.volume_lamports,
                "net_flow_lamports": agg.net_flow_lamports,
                "unique_buyers": agg.unique_buyers,
                "smart_buy_lamports": agg.smart_lamports,
                "smart_buyers": agg.smart_buyers,
                "return": mw.price_return(agg.ms),
            }
        (ms, ss), (ml, sl), (ma, sa) = mom.baseline
        return {
            "smart_burst": {
                "window_minutes": s.smart_window_minutes,
                "smart_buy_lamports": sp.smart_lamports,
                "smart_buyers": sp.smart_buyers,
                "k": s.smart_k,
                "wallets": [
                    {"address": a, "alias": self._aliases.get(a) or None, "lamports": v}
                    for a, v in sp.smart_wallets()
                ],
            },
            "momentum": {
                "short_return": mom.short_return,
                "long_return": mom.long_return,
                "volume_accel": mom.volume_accel,
                "z_short": mom.z_short,
                "z_long": mom.z_long,
                "z_accel": mom.z_accel,
                "baseline": {
                    "short_mean": ms,
                    "short_std": ss,
                    "long_mean": ml,
                    "long_std": sl,
                    "accel_mean": ma,
                    "accel_std": sa,
                },
            },
            "liquidity": {
                "sol_reserves": mw.sol_reserves if mw.has_reserves else None,
                "token_reserves": mw.token_reserves if mw.has_reserves else None,
                "impact_size_lamports": s.liquidity.impact_size_lamports,
                "impact_bps": ev_.impact_bps,
            },
            "price": {
                "lamports": mw.price_num if mw.has_price else None,
                "raw_tokens": mw.price_den if mw.has_price else None,
                "market_cap_lamports": mw.market_cap_lamports(),
            },
            "flow": flow,
            "weights": s.weights.model_dump(),
        }


def risk_summary(
    verdict: RiskVerdict | None, score: float, filters: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """The verdict as stored with a signal, with every filter's outcome."""
    if verdict is None:
        return {
            "known": False,
            "level": "unknown",
            "badges": [],
            "penalties": {},
            "score": score,
            "blocks_buy": True,  # fail closed: no buy button before the checks ran
            "note": UNKNOWN_RISK_NOTE.format(score=score),
            "filters": filters,
        }
    return {
        "known": True,
        "level": verdict.level,
        "badges": list(verdict.badges),
        "penalties": dict(sorted(verdict.penalties.items())),
        "score": score,
        "blocks_buy": verdict.blocks_buy,
        "filters": filters,
    }


def explain(mint: str, ev_: Evaluation) -> str:
    """One paragraph: Strength, what fired (naming wallets and SOL), components and flags."""
    c = ev_.components
    parts = [f"Strength {ev_.strength:.2f}/3 for {short_address(mint)}."]
    parts += [r.summary + "." for r in ev_.fired_triggers]
    parts.append(
        f"Components: smart burst {c.smart_burst:.2f}, momentum {c.momentum:.2f}, "
        f"liquidity {c.liquidity:.2f}, risk {c.risk:.2f}."
    )
    if ev_.verdict is None:
        note = UNKNOWN_RISK_NOTE.format(score=c.risk)
        parts.append(note[0].upper() + note[1:] + ".")
    elif ev_.verdict.badges:
        parts.append(f"Risk {ev_.verdict.level}: {', '.join(ev_.verdict.badges)}.")
    flags = [r.summary for r in ev_.results if r.role == "filter" and not r.passed]
    if flags:
        parts.append("Flags: " + "; ".join(flags) + ".")
    return " ".join(parts)
