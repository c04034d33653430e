"""Near misses: the rule and threshold that fell short, by how much, in data and in words."""

from __future__ import annotations

from engine.risk.model import RiskVerdict, RiskView
from engine.signals.nearmiss import near_miss
from engine.signals.rules import RuleSet
from engine.signals.scorer import Scorer
from tests.engine.signals.factory import SOL, T0, Curve, addr

WHALES = {addr(f"Wh{i}"): f"whale{i}" for i in range(4)}


def test_two_whales_are_one_short_of_a_burst() -> None:
    mint = addr("Near")
    c = Curve(mint)
    c.create(T0)
    c.buy(T0 + 1_000, addr("Wh0"), 2 * SOL)
    c.buy(T0 + 2_000, addr("Wh1"), SOL)
    scorer = Scorer(smart=WHALES)
    assert list(scorer.feed(c.events)) == []
    nm = near_miss(scorer, mint)
    assert nm is not None and not nm.would_fire
    burst = {s.field: s for s in nm.shortfalls if s.rule == "smart_buy_burst"}
    assert burst["min_wallets"].actual == 2 and burst["min_wallets"].gap == 1
    assert burst["min_total_lamports"].gap == 2 * SOL
    assert "Smart Buy Burst: tracked wallets buying 2, needs >= 3 (1 short)" in nm.text
    assert "SOL bought by tracked wallets 3 SOL, needs >= 5 SOL (2 SOL short)" in nm.text
    strength = next(s for s in nm.shortfalls if s.rule == "strength")
    assert strength.gap == round(1.25 - nm.strength, 4) and strength.gap > 0
    assert nm.to_dict()["shortfalls"][0]["text"].startswith(("Push Time", "Smart", "Momentum"))
    # Asking does not move the momentum baseline.
    assert scorer.baseline.short.n == scorer.settings.momentum.prior_weight + 1
    assert near_miss(scorer, addr("Unseen")) is None


def test_blocking_filter_and_cooldown_are_reasons_too() -> None:
    mint = addr("Blocked")
    c = Curve(mint)
    c.create(T0)
    for i in range(24):
        c.buy(T0 + 5_000 * (i + 1), addr(f"R{i}"), SOL // 2)
    for i, w in enumerate(WHALES):
        c.buy(T0 + 125_000 + 1_000 * i, w, 3 * SOL)
    view = RiskView(mint=mint, checked_ts=T0, freeze_authority=addr("Auth"), known=frozenset())
    verdict = RiskVerdict(level="critical", badges=(), penalties={"freeze": 1.5}, view=view)
    blocking = RuleSet.defaults().override("no_freeze", {"block": True})
    scorer = Scorer(smart=WHALES, rules=blocking, risk={mint: verdict}.get)
    assert list(scorer.feed(c.events)) == []
    nm = near_miss(scorer, mint)
    assert nm is not None and not nm.would_fire
    assert [s.rule for s in nm.shortfalls] == ["no_freeze"]
    assert "No Freeze: freeze authority held by Auth" in nm.text

    free = Scorer(smart=WHALES, risk={mint: verdict}.get)
    fired = list(free.feed(c.events))
    assert fired
    nm = near_miss(free, mint, now_ms=fired[-1].ts + 60_000)
    assert nm is not None
    cooldown = [s for s in nm.shortfalls if s.rule == "cooldown"]
    assert cooldown and "cooldown ends in 540s" in nm.text
    later = near_miss(free, mint, now_ms=fired[-1].ts + 4 * 60_000)
    assert later is not None and "Smart Buy Burst" not in later.text  # still inside 5m


def test_a_token_that_would_fire_says_so() -> None:
    mint = addr("Ready")
    c = Curve(mint)
    c.create(T0)
    for i, w in enumerate(WHALES):
        c.buy(T0 + 1_000 * (i + 1), w, 3 * SOL)
    scorer = Scorer(smart=WHALES)
    for ev in c.events[:-1]:
        scorer.windows.add(ev)  # fold without scoring: nothing has fired or cooled down
    scorer.windows.add(c.events[-1])
    nm = near_miss(scorer, mint)
    assert nm is not None and nm.would_fire and nm.shortfalls == ()
    assert "would fire now" in nm.text
