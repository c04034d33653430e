"""Strength: each component on hand-computed examples, the weights, and the cooldown."""

from __future__ import annotations

import math

import pytest
from pydantic import ValidationError

from engine.signals.impact import buy_out, price_impact_bps
from engine.signals.strength import (
    Components,
    Cooldown,
    LiquiditySettings,
    MomentumBaseline,
    MomentumSettings,
    RunningStat,
    ScoringSettings,
    StrengthWeights,
    combine,
    liquidity_score,
    momentum_score,
    smart_burst_score,
)

SOL = 1_000_000_000


def test_default_weights_are_the_spec_and_must_sum_to_one() -> None:
    w = StrengthWeights()
    assert (w.smart_burst, w.momentum, w.liquidity, w.risk) == (0.40, 0.25, 0.20, 0.15)
    with pytest.raises(ValidationError, match=r"weights must sum to 1, got 0\.9500"):
        StrengthWeights(smart_burst=0.35)
    ok = StrengthWeights(smart_burst=0.5, momentum=0.2, liquidity=0.2, risk=0.1)
    assert ScoringSettings(weights=ok).weights.smart_burst == 0.5
    with pytest.raises(ValidationError, match="short_minutes"):
        MomentumSettings(short_minutes=5, long_minutes=5)


def test_smart_burst_uses_sol_in_the_log_plus_k_per_wallet() -> None:
    assert smart_burst_score(0, 0, 0.25) == 0.0
    assert smart_burst_score(SOL, 1, 0.25) == pytest.approx(math.log10(2) + 0.25)  # 0.551
    assert smart_burst_score(9 * SOL, 3, 0.25) == pytest.approx(1.0 + 0.75)
    assert smart_burst_score(99 * SOL, 4, 0.25) == pytest.approx(2.0 + 1.0)
    assert smart_burst_score(10_000 * SOL, 10, 0.25) == 3.0  # capped


def test_price_impact_is_integer_constant_product() -> None:
    assert buy_out(30 * SOL, 1_073_000_000_000_000, SOL) == 34_612_903_225_806
    assert price_impact_bps(30 * SOL, 1_073_000_000_000_000, SOL) == 323  # 1/31, rounded up
    assert price_impact_bps(1_000 * SOL, 10**15, SOL) == 10
    assert price_impact_bps(0, 10**15, SOL) == 10_000  # unknown reserves: worst case


def test_liquidity_maps_depth_and_impact() -> None:
    s = LiquiditySettings()
    # Fresh curve: depth log10(30/10)/log10(1000/10) = 0.2386; impact 1 - 323/500 = 0.354.
    fresh = 3 * (0.5 * math.log10(3) / 2 + 0.5 * (1 - 323 / 500))
    assert liquidity_score(30 * SOL, 1_073_000_000_000_000, s) == pytest.approx(fresh)
    assert fresh == pytest.approx(0.8888, abs=1e-4)
    deep = liquidity_score(1_000 * SOL, 10**15, s)
    assert deep == pytest.approx(3 * (0.5 + 0.5 * (1 - 10 / 500)))
    assert liquidity_score(5 * SOL, 10**15, s) == 0.0  # below the floor, impact > 5 %
    assert liquidity_score(0, 0, s) == 0.0


def test_momentum_z_scores_against_the_prior_and_welford() -> None:
    st = RunningStat(mean=0.0, std=0.1, weight=30)
    assert st.z(0.2, 1e-3) == pytest.approx(2.0)
    st.push(0.31)  # Welford: mean 0.31/31 = 0.01, m2 = 0.3 + 0.31 * 0.30
    assert (st.n, st.mean) == (31, pytest.approx(0.01))
    assert st.std == pytest.approx(math.sqrt((0.3 + 0.31 * 0.30) / 31))
    assert momentum_score(3.0, 6.0, 0.0) == 3.0
    assert momentum_score(1.0, 2.0, 0.0) == pytest.approx(1.0)
    assert momentum_score(-4.0, 1.0, 0.0) == 0.0
    b = MomentumBaseline(MomentumSettings())
    # Prior: short N(0, 0.10), long N(0, 0.25), accel N(1, 1): z = 1.5, 1.2, 1.0 -> mean 1.2333
    r = b.reading(0.15, 0.30, 2.0)
    assert (r.z_short, r.z_long, r.z_accel) == pytest.approx((1.5, 1.2, 1.0))
    assert r.score == pytest.approx(3.7 / 3) == b.score(0.15, 0.30, 2.0)
    assert b.score(None, None, 1.0) == 0.0  # no price: returns contribute nothing
    b.sample("m", 60_000, 0.15, 0.30, 2.0)
    b.sample("m", 90_000, 9.0, 9.0, 9.0)  # same minute: not sampled again
    assert b.short.n == 31 and b.short.mean == pytest.approx(0.15 / 31)


def test_strength_is_the_weighted_sum() -> None:
    c = Components(smart_burst=1.75, momentum=3.0, liquidity=0.8888, risk=1.5)
    # 0.40 * 1.75 + 0.25 * 3.0 + 0.20 * 0.8888 + 0.15 * 1.5 = 0.7 + 0.75 + 0.17776 + 0.225
    assert combine(c, StrengthWeights()) == 1.8528
    assert combine(Components(3, 3, 3, 3), StrengthWeights()) == 3.0
    assert c.as_dict() == {"smart_burst": 1.75, "momentum": 3.0, "liquidity": 0.8888, "risk": 1.5}


def test_cooldown_and_hysteresis() -> None:
    cd = Cooldown(step=0.25, cooldown_ms=600_000)
    assert cd.allows("m", 0, 1.0)
    cd.record("m", 0, 1.0)
    assert not cd.allows("m", 60_000, 1.2)  # risen, but less than the step
    assert cd.allows("m", 60_000, 1.25)  # risen by the step
    assert not cd.allows("m", 599_999, 1.0)
    assert cd.allows("m", 600_000, 0.5)  # the cooldown passed
    assert cd.allows("other", 1, 1.0)  # per mint
