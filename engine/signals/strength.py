"""Strength 0.0-3.0: its four components, their admin-set weights, and the per-mint cooldown.

Component formulas (each on 0-3):

- **SmartBurst** = min(3, log10(smart SOL bought in the window + 1) + k * distinct tracked
  buyers), window 5 min. ``k`` = 0.25: one wallet adds a quarter point, so four distinct wallets
  weigh as much as ten times the SOL. Breadth is what separates a coordinated smart-money entry
  from one whale: 1 wallet / 1 SOL scores 0.55, 3 wallets / 10 SOL 1.79, 5 wallets / 30 SOL 2.74.
- **Momentum** = clamp(0, 3, mean of three z-scores): the 1 min return, the 5 min return and the
  volume acceleration (1 min volume per minute over the 5 min average per minute). The z-scores
  are *across mints*, against running means and variances (Welford) seeded with a prior worth
  ``prior_weight`` observations, so the first tokens of a replay are judged against sane values.
  Each mint feeds the baseline at most once per ``sample_every_ms`` of event time, so one busy
  token cannot drag the market's baseline toward itself. A z-score is taken *before* the sample
  is added. A token at the market's average scores 0; three standard deviations above on all
  three scores 3.
- **Liquidity** = ``depth_share`` * 3 * depth term + (1 - ``depth_share``) * 3 * impact term.
  The depth term rises with log10 of the pool's SOL side from 0 at ``depth_floor`` (10 SOL) to
  1 at ``depth_full`` (1,000 SOL); the impact term falls linearly with the price impact of a
  1 SOL buy from 1 at 0 bps to 0 at ``impact_zero_bps`` (500 bps). A fresh pump.fun curve
  (30 SOL virtual, 323 bps) scores 0.89, a 100 SOL pool 1.95, a 1,000 SOL pool 2.97.
- **Risk** = the risk engine's ``RiskVerdict.risk_score`` (3 - penalties). Unknown risk scores
  ``unknown_risk_score`` (0 by default: fail closed) and the explanation says so.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from typing import Final, Self

from pydantic import BaseModel, ConfigDict, Field, model_validator

from engine.chain.programs import LAMPORTS_PER_SOL as SOL
from engine.signals.impact import price_impact_bps

logger = logging.getLogger(__name__)

MAX_STRENGTH: Final = 3.0
COMPONENTS: Final = ("smart_burst", "momentum", "liquidity", "risk")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class StrengthWeights(_Settings):
    """Weights of the four components (admin setting); they must sum to 1."""

    smart_burst: float = Field(0.40, ge=0.0, le=1.0)
    momentum: float = Field(0.25, ge=0.0, le=1.0)
    liquidity: float = Field(0.20, ge=0.0, le=1.0)
    risk: float = Field(0.15, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _sums_to_one(self) -> Self:
        total = self.smart_burst + self.momentum + self.liquidity + self.risk
        if abs(total - 1.0) > 1e-6:
            raise ValueError(
                f"weights must sum to 1, got {total:.4f} (smart_burst {self.smart_burst} + "
                f"momentum {self.momentum} + liquidity {self.liquidity} + risk {self.risk})"
            )
        return self


class MomentumSettings(_Settings):
    """Spans and the prior of the cross-mint z-score baseline."""

    short_minutes: int = Field(1, ge=1, le=60)
    long_minutes: int = Field(5, ge=1, le=60)
    prior_weight: float = Field(30.0, gt=0.0)
    """How many observations the prior is worth."""
    short_return_mean: float = 0.0
    short_return_std: float = Field(0.10, gt=0.0)
    long_return_mean: float = 0.0
    long_return_std: float = Field(0.25, gt=0.0)
    accel_mean: float = 1.0
    accel_std: float = Field(1.0, gt=0.0)
    min_std: float = Field(1e-3, gt=0.0)
    """Floor on every standard deviation, so a flat market cannot make z explode."""
    sample_every_ms: int = Field(60_000, ge=1)

    @model_validator(mode="after")
    def _short_before_long(self) -> Self:
        if self.short_minutes >= self.long_minutes:
            raise ValueError(
                f"momentum.short_minutes ({self.short_minutes}) must be below "
                f"momentum.long_minutes ({self.long_minutes})"
            )
        return self


class LiquiditySettings(_Settings):
    """How pool depth and the price impact of a standard buy map to 0-3."""

    impact_size_lamports: int = Field(SOL, ge=1)
    depth_floor_lamports: int = Field(10 * SOL, ge=1)
    depth_full_lamports: int = Field(1_000 * SOL, ge=1)
    impact_zero_bps: int = Field(500, ge=1, le=10_000)
    depth_share: float = Field(0.5, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _floor_below_full(self) -> Self:
        if self.depth_floor_lamports >= self.depth_full_lamports:
            raise ValueError(
                "liquidity.depth_floor_lamports must be below liquidity.depth_full_lamports"
            )
        return self


class ScoringSettings(_Settings):
    """Everything the scorer needs besides the rules: admin settings, validated."""

    weights: StrengthWeights = StrengthWeights()
    smart_k: float = Field(0.25, ge=0.0, le=3.0)
    smart_window_minutes: int = Field(5, ge=1, le=60)
    momentum: MomentumSettings = MomentumSettings()
    liquidity: LiquiditySettings = LiquiditySettings()
    unknown_risk_score: float = Field(0.0, ge=0.0, le=3.0)
    min_strength: float = Field(1.25, ge=0.0, le=3.0)
    hysteresis_step: float = Field(0.25, ge=0.0, le=3.0)
    cooldown_minutes: int = Field(10, ge=0)
    spans_minutes: tuple[int, ...] = (1, 5, 15)
    idle_evict_minutes: int = Field(120, ge=1)
    """Mints with no event for this long (event time) are forgotten."""
    version: int = Field(1, ge=1)

    @model_validator(mode="after")
    def _spans(self) -> Self:
        if not self.spans_minutes or any(m < 1 or m > 60 for m in self.spans_minutes):
            raise ValueError(f"spans_minutes must be within 1-60, got {self.spans_minutes}")
        return self

    def spans_ms(self) -> set[int]:
        """Every span (ms) the components need."""
        mins = {*self.spans_minutes, self.smart_window_minutes}
        mins |= {self.momentum.short_minutes, self.momentum.long_minutes}
        return {m * 60_000 for m in mins}


@dataclass(frozen=True, slots=True)
class Components:
    """The four component scores, each 0-3."""

    smart_burst: float
    momentum: float
    liquidity: float
    risk: float

    def as_dict(self) -> dict[str, float]:
        """Name -> score, rounded to 4 decimals (what is stored and printed)."""
        return {
            "smart_burst": round(self.smart_burst, 4),
            "momentum": round(self.momentum, 4),
            "liquidity": round(self.liquidity, 4),
            "risk": round(self.risk, 4),
        }


def clamp3(x: float) -> float:
    """Clamp to the 0-3 component range."""
    return 0.0 if x < 0.0 else (MAX_STRENGTH if x > MAX_STRENGTH else x)


def smart_burst_score(smart_lamports: int, smart_buyers: int, k: float) -> float:
    """min(3, log10(smart SOL + 1) + k * distinct tracked buyers); SOL, not lamports, in the log."""
    if smart_lamports <= 0 and smart_buyers <= 0:
        return 0.0
    return min(MAX_STRENGTH, math.log10(max(smart_lamports, 0) / SOL + 1.0) + k * smart_buyers)


def liquidity_score(sol_reserves: int, token_reserves: int, s: LiquiditySettings) -> float:
    """Pool depth and the impact of a standard buy mapped to 0-3 (0 when reserves are unknown)."""
    if sol_reserves <= 0 or token_reserves <= 0:
        return 0.0
    m = LiquidityMap(s)
    return m.score(sol_reserves, m.impact(sol_reserves, token_reserves))


class LiquidityMap:
    """The liquidity mapping with its logarithms computed once."""

    __slots__ = ("_lo", "_share", "_span", "_zero", "size")

    def __init__(self, s: LiquiditySettings) -> None:
        self.size = s.impact_size_lamports
        self._lo = math.log10(s.depth_floor_lamports)
        self._span = math.log10(s.depth_full_lamports) - self._lo
        self._zero = s.impact_zero_bps
        self._share = s.depth_share

    def impact(self, sol_reserves: int, token_reserves: int) -> int:
        """Price impact (bps) of the standard buy size."""
        return price_impact_bps(sol_reserves, token_reserves, self.size)

    def score(self, sol_reserves: int, impact_bps: int) -> float:
        """0-3 from the pool's SOL and the standard buy's impact."""
        depth = (math.log10(sol_reserves) - self._lo) / self._span
        depth = 0.0 if depth < 0.0 else (1.0 if depth > 1.0 else depth)
        imp = 1.0 - impact_bps / self._zero
        imp = 0.0 if imp < 0.0 else imp
        return clamp3(3.0 * (self._share * depth + (1.0 - self._share) * imp))


def momentum_score(z_short: float, z_long: float, z_accel: float) -> float:
    """The mean of the three z-scores, clamped to 0-3."""
    return clamp3((z_short + z_long + z_accel) / 3.0)


def combine(c: Components, w: StrengthWeights) -> float:
    """Strength: the weighted sum of the components, clamped to 0-3 and rounded to 4 places."""
    return combine_values(c.smart_burst, c.momentum, c.liquidity, c.risk, w)


def combine_values(
    smart: float, momentum: float, liquidity: float, risk: float, w: StrengthWeights
) -> float:
    """:func:`combine` on bare floats (the hot path)."""
    s = w.smart_burst * smart + w.momentum * momentum + w.liquidity * liquidity + w.risk * risk
    return round(clamp3(s), 4)


class RunningStat:
    """Welford mean and (population) variance, seeded with a prior worth ``weight`` samples."""

    __slots__ = ("m2", "mean", "n")

    def __init__(self, mean: float, std: float, weight: float) -> None:
        self.n = weight
        self.mean = mean
        self.m2 = std * std * weight

    @property
    def std(self) -> float:
        """The current standard deviation."""
        return math.sqrt(self.m2 / self.n)

    def z(self, x: float, min_std: float) -> float:
        """How many standard deviations ``x`` lies above the mean."""
        sd = math.sqrt(self.m2 / self.n)
        return (x - self.mean) / (sd if sd > min_std else min_std)

    def stats(self) -> tuple[float, float]:
        """(mean, standard deviation) now."""
        return self.mean, math.sqrt(self.m2 / self.n)

    def push(self, x: float) -> None:
        """Add one observation."""
        self.n += 1.0
        d = x - self.mean
        self.mean += d / self.n
        self.m2 += d * (x - self.mean)


@dataclass(frozen=True, slots=True)
class MomentumReading:
    """A momentum score with the z-scores and raw values behind it."""

    score: float
    z_short: float
    z_long: float
    z_accel: float
    short_return: float | None
    long_return: float | None
    volume_accel: float
    baseline: tuple[tuple[float, float], tuple[float, float], tuple[float, float]]
    """(mean, std) of short return, long return and acceleration the z-scores used."""


class MomentumBaseline:
    """Running cross-mint means and variances of returns and volume acceleration."""

    def __init__(self, s: MomentumSettings) -> None:
        self._min_std = s.min_std
        self._every = s.sample_every_ms
        w = s.prior_weight
        self.short = RunningStat(s.short_return_mean, s.short_return_std, w)
        self.long = RunningStat(s.long_return_mean, s.long_return_std, w)
        self.accel = RunningStat(s.accel_mean, s.accel_std, w)
        self._sampled: dict[str, int] = {}

    def score(self, r_short: float | None, r_long: float | None, accel: float) -> float:
        """The momentum score against the baseline as it stands (the hot path: no objects)."""
        min_std = self._min_std
        # No price yet: that return says nothing, so it contributes 0 rather than a penalty.
        zs = self.short.z(r_short, min_std) if r_short is not None else 0.0
        zl = self.long.z(r_long, min_std) if r_long is not None else 0.0
        return momentum_score(zs, zl, self.accel.z(accel, min_std))

    def reading(self, r_short: float | None, r_long: float | None, accel: float) -> MomentumReading:
        """Like :meth:`score`, with the z-scores and the baseline behind them."""
        min_std = self._min_std
        zs = self.short.z(r_short, min_std) if r_short is not None else 0.0
        zl = self.long.z(r_long, min_std) if r_long is not None else 0.0
        za = self.accel.z(accel, min_std)
        base = (self.short.stats(), self.long.stats(), self.accel.stats())
        return MomentumReading(momentum_score(zs, zl, za), zs, zl, za, r_short, r_long, accel, base)

    def sample(
        self, mint: str, now: int, r_short: float | None, r_long: float | None, accel: float
    ) -> None:
        """Add a mint's values to the baseline, at most once per ``sample_every_ms``.

        Called after the mint was scored, so a z-score never includes its own sample.
        """
        bucket = now // self._every
        if self._sampled.get(mint) != bucket:
            self._sampled[mint] = bucket
            if r_short is not None:
                self.short.push(r_short)
            if r_long is not None:
                self.long.push(r_long)
            self.accel.push(accel)

    def forget(self, mint: str) -> None:
        """Drop a mint's sampling state (it was evicted)."""
        self._sampled.pop(mint, None)


@dataclass(frozen=True, slots=True)
class LastSignal:
    """When a mint last fired and how strong it was."""

    ts: int
    strength: float


class Cooldown:
    """Per-mint cooldown with hysteresis: fire again only on a real rise or after a pause."""

    def __init__(self, step: float, cooldown_ms: int) -> None:
        self.step = step
        self.cooldown_ms = cooldown_ms
        self._last: dict[str, LastSignal] = {}

    def last(self, mint: str) -> LastSignal | None:
        """The mint's previous signal, if any."""
        return self._last.get(mint)

    def allows(self, mint: str, ts: int, strength: float) -> bool:
        """True when a signal at ``ts`` with ``strength`` may fire."""
        last = self._last.get(mint)
        if last is None:
            return True
        # Rounded to 4 places like strength itself, so 1.0 + 0.25 compares as 1.25.
        return strength >= round(last.strength + self.step, 4) or ts - last.ts >= self.cooldown_ms

    def record(self, mint: str, ts: int, strength: float) -> None:
        """Remember a fired signal."""
        self._last[mint] = LastSignal(ts, strength)

    def forget(self, mint: str) -> None:
        """Drop a mint's state (it was evicted)."""
        self._last.pop(mint, None)
