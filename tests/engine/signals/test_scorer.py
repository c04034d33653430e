"""The scorer end to end on hand-built pump.fun flows: who fires, how strong, and why."""

from __future__ import annotations

import itertools
import math
from typing import Any

import pytest

from engine.clock import FixedClock
from engine.events import ChainEvent
from engine.ids import IdMaker
from engine.risk.model import RiskVerdict, RiskView
from engine.signals.rules import RuleSet
from engine.signals.scorer import Scorer, Signal
from engine.signals.store import save_signal
from engine.signals.strength import (
    LiquiditySettings,
    MomentumSettings,
    ScoringSettings,
    liquidity_score,
)
from engine.storage.repos.signals import latest_signal
from tests.conftest import Db
from tests.engine.signals.factory import SOL, T0, Curve, addr

WHALES = {addr(f"Wh{i}"): f"whale{i}" for i in range(4)}
AUTH = addr("FreezeAuth")


def pump(mint: str, *, smart: bool) -> list[ChainEvent]:
    """Two minutes of retail buying, then four 3 SOL buys: by whales or by retail wallets."""
    c = Curve(mint)
    c.create(T0)
    for i in range(24):
        c.buy(T0 + 5_000 * (i + 1), addr(f"R{i}"), SOL // 2)
    c.sell(T0 + 122_000, addr("R3"), 10**13)
    buyers = list(WHALES) if smart else [addr(f"Big{i}") for i in range(4)]
    for i, who in enumerate(buyers):
        c.buy(T0 + 125_000 + 3_000 * i, who, 3 * SOL)
    return c.events


def run(events: list[ChainEvent], **kw: Any) -> tuple[Scorer, list[Signal], list[float]]:
    scorer = Scorer(smart=WHALES, **kw)
    signals, strengths = [], []
    for ev in events:
        sig = scorer.on_event(ev)
        strengths.append(scorer.last_strength)
        if sig is not None:
            signals.append(sig)
    return scorer, signals, strengths


def clean(mint: str, **facts: Any) -> RiskVerdict:
    penalties = facts.pop("penalties", {})
    view = RiskView(mint=mint, checked_ts=T0, known=frozenset({"mint", "holders"}), **facts)
    return RiskVerdict(level="low", badges=(), penalties=penalties, view=view)


def test_smart_burst_outscores_an_organic_pump_and_names_the_wallets() -> None:
    smart_mint, organic_mint = addr("SmartMint"), addr("OrganicMint")
    risk = {m: clean(m) for m in (smart_mint, organic_mint)}
    _, burst, burst_s = run(pump(smart_mint, smart=True), risk=risk.get)
    _, organic, organic_s = run(pump(organic_mint, smart=False), risk=risk.get)
    # Identical amounts and timing: only who bought differs.
    assert max(burst_s) > max(organic_s) + 0.5
    assert max(s.strength for s in burst) > max((s.strength for s in organic), default=0.0)
    fired = [s for s in burst if any(r["kind"] == "smart_buy_burst" for r in s.rules)]
    assert fired, "the whale burst must fire Smart Buy Burst"
    sig = fired[0]
    assert "whale0 3 SOL" in sig.explanation and "whale2 3 SOL" in sig.explanation
    assert "3 tracked wallets bought 9 SOL in 5m" in sig.explanation
    rule = next(r for r in sig.rules if r["kind"] == "smart_buy_burst")
    wallets = rule["detail"]["wallets"]
    assert {"address": addr("Wh0"), "alias": "whale0", "lamports": 3 * SOL} in wallets
    assert len(wallets) == 3  # largest first, ties by address: a stable order
    assert sig.inputs["smart_burst"]["smart_buy_lamports"] == 9 * SOL
    assert sig.components["smart_burst"] == pytest.approx(1.75)
    assert all(s.inputs["smart_burst"]["smart_buyers"] == 0 for s in organic)


def test_strength_components_end_to_end_by_hand() -> None:
    # A prior worth 1e12 samples keeps the baseline still; wide stds keep momentum off its cap.
    settings = ScoringSettings(
        momentum=MomentumSettings(
            prior_weight=1e12, short_return_std=1.0, long_return_std=2.0, accel_std=10.0
        )
    )
    mint = addr("Hand")
    c = Curve(mint)
    c.create(T0)
    for i, who in enumerate(list(WHALES)[:3]):
        c.buy(T0 + 1_000 * (i + 1), who, 3 * SOL)
    scorer = Scorer(smart=WHALES, settings=settings, risk={mint: clean(mint)}.get)
    list(scorer.feed(c.events))
    ev = scorer.evaluate(mint)
    assert ev is not None
    r = (39 * SOL * 1_073_000_000_000_000) / (c.vtok * 30 * SOL) - 1  # vs the create price
    accel = (9 * 300_000) / (9 * 60_000)  # every SOL in the last minute: 5x
    momentum = (r / 1.0 + r / 2.0 + (accel - 1.0) / 10.0) / 3
    liquidity = liquidity_score(39 * SOL, c.vtok, LiquiditySettings())
    comps = ev.components
    assert comps.smart_burst == pytest.approx(math.log10(9 + 1) + 0.25 * 3)
    assert comps.momentum == pytest.approx(momentum)
    assert comps.liquidity == pytest.approx(liquidity)
    assert comps.risk == 3.0
    expected = 0.40 * 1.75 + 0.25 * momentum + 0.20 * liquidity + 0.15 * 3.0
    assert ev.strength == pytest.approx(round(expected, 4), abs=1e-9)
    assert scorer.last_strength == ev.strength  # the hot path computed the same number


def test_freeze_authority_lowers_risk_and_fails_no_freeze() -> None:
    mint = addr("Freezy")
    verdict = RiskVerdict(
        level="critical",
        badges=("freeze authority",),
        penalties={"freeze_authority": 1.5},
        view=RiskView(mint=mint, checked_ts=T0, freeze_authority=AUTH, known=frozenset({"mint"})),
    )
    _, signals, _ = run(pump(mint, smart=True), risk={mint: verdict}.get)
    assert signals
    sig = signals[0]
    assert sig.components["risk"] == 1.5
    assert sig.risk["level"] == "critical" and sig.risk["blocks_buy"] is True
    assert sig.risk["filters"]["no_freeze"]["passed"] is False
    assert "No Freeze: freeze authority held by " + AUTH in sig.explanation
    assert "no_freeze" not in {r["name"] for r in sig.rules}
    # A user who blocks on No Freeze gets no signal at all for it.
    blocking = RuleSet.defaults().override("no_freeze", {"block": True})
    _, none, _ = run(pump(mint, smart=True), risk={mint: verdict}.get, rules=blocking)
    assert none == []


def test_unknown_risk_fails_closed_and_says_so() -> None:
    _, signals, _ = run(pump(addr("NoRisk"), smart=True))
    assert signals
    sig = signals[0]
    assert sig.components["risk"] == 0.0 and sig.risk["known"] is False
    assert sig.risk["filters"]["no_mint"]["passed"] is False
    assert "Risk not checked yet" in sig.explanation
    assert "No Mint: unknown (risk not checked yet), failed closed" in sig.explanation


def test_cooldown_and_hysteresis_limit_repeat_signals() -> None:
    mint = addr("Steady")
    c = Curve(mint)
    c.create(T0)
    for i in range(360):  # thirty minutes of buying every 5 s, a whale every minute
        who = list(WHALES)[i % 4] if i % 12 == 0 else addr(f"R{i}")
        c.buy(T0 + 5_000 * (i + 1), who, SOL // 4 if who not in WHALES else 2 * SOL)
    scorer, signals, _ = run(c.events, risk={mint: clean(mint)}.get)
    assert 2 <= len(signals) < 20
    for prev, nxt in itertools.pairwise(signals):
        rose = nxt.strength >= round(prev.strength + 0.25, 4)
        assert rose or nxt.ts - prev.ts >= 600_000
    assert scorer.signals_fired == len(signals)
    assert any(n.ts - p.ts >= 600_000 for p, n in itertools.pairwise(signals))  # by cooldown
    # Within the cooldown, the whale burst fires again only because Strength rose by the step.
    _, burst, _ = run(pump(addr("Again"), smart=True))
    assert len(burst) == 2
    assert burst[1].ts - burst[0].ts < 600_000
    assert burst[1].strength >= burst[0].strength + 0.25


def test_same_events_same_signals() -> None:
    events = pump(addr("Det"), smart=True) + pump(addr("Det2"), smart=False)
    events.sort(key=lambda e: e.ts)
    a = [s.to_dict() for s in run(events)[1]]
    b = [s.to_dict() for s in run(events)[1]]
    assert a and a == b
    stored = run(events)[1][0].storage_kwargs()
    assert set(stored) == {
        "ts",
        "mint",
        "strength",
        "components",
        "inputs",
        "rules",
        "risk",
        "version",
    }
    assert stored["inputs"]["explanation"].startswith("Strength ")


def test_hot_path_strength_matches_the_full_evaluation() -> None:
    from workers.bench.replay import generate

    events, smart, verdicts = generate(4_000, seed=5, mints=15)
    scorer = Scorer(smart=smart, risk=verdicts.get)
    scorer.baseline.sample = lambda *a, **k: None  # type: ignore[method-assign]
    checked = 0
    for ev in events:
        before = scorer.windows.get(ev.mint)
        n = before.accepted if before is not None else 0
        scorer.on_event(ev)
        mw = scorer.windows.get(ev.mint)
        if mw is not None and mw.accepted > n:
            full = scorer.evaluate(ev.mint)
            assert full is not None and full.strength == scorer.last_strength
            checked += 1
    assert checked > 3_900


async def test_a_fired_signal_is_stored_with_its_explanation(db: Db) -> None:
    _, signals, _ = run(pump(addr("Stored"), smart=True))
    sig = signals[-1]
    ids = IdMaker(FixedClock(sig.ts), node=1)
    async with db.sessions.begin() as s:
        row = await save_signal(s, signal=sig, ids=ids)
        row_id = row.id
    async with db.sessions.begin() as s:
        stored = await latest_signal(s, mint=sig.mint)
    assert stored is not None and stored.id == row_id
    assert stored.strength == sig.strength and stored.components == sig.components
    assert stored.inputs["smart_burst"]["smart_buy_lamports"] == 9 * SOL
    assert "whale0 3 SOL" in stored.inputs["explanation"]
    assert any(r["kind"] == "smart_buy_burst" for r in stored.rules)
    assert stored.risk["known"] is False
