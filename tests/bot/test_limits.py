"""The limiters: published limits, pacing, per-chat and per-group windows, folding, penalties."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bot.fanout import process_limiter
from bot.limits import (
    DISCORD_LIMITS,
    HEADROOM,
    PACE_HEADROOM,
    TELEGRAM_LIMITS,
    ChatLimiter,
    PlatformLimits,
    Rate,
    UserRateLimit,
)
from bot.local_botapi import LocalBotApi


class FakeTime:
    """A clock that moves only when someone sleeps (sequential use only)."""

    def __init__(self) -> None:
        self.t = 1_000.0

    def now(self) -> float:
        return self.t

    async def sleep(self, seconds: float) -> None:
        self.t += max(seconds, 0.0)
        await asyncio.sleep(0)


def test_production_limits_are_the_published_ones() -> None:
    assert TELEGRAM_LIMITS == PlatformLimits(
        overall=Rate(30, 1.0), per_chat=Rate(1, 1.0), per_group=Rate(20, 60.0)
    )
    assert DISCORD_LIMITS == PlatformLimits(
        overall=Rate(50, 1.0), per_chat=Rate(5, 5.0), per_group=None
    )
    assert process_limiter("telegram").limits is TELEGRAM_LIMITS
    assert process_limiter("discord").limits is DISCORD_LIMITS
    assert LocalBotApi().limits is TELEGRAM_LIMITS
    assert 0.8 <= HEADROOM < 1.0


def test_scaling_keeps_the_counts_and_compresses_time() -> None:
    fast = TELEGRAM_LIMITS.scaled(20)
    assert fast.overall == Rate(30, 0.05) and fast.per_chat == Rate(1, 0.05)
    assert fast.per_group == Rate(20, 3.0)


async def test_overall_sends_are_evenly_paced() -> None:
    t = FakeTime()
    limiter = ChatLimiter(TELEGRAM_LIMITS, now=t.now, sleep=t.sleep)
    times = []
    for i in range(10):
        await limiter.acquire(str(i), group=False)
        times.append(t.now())
    gaps = [round(b - a, 6) for a, b in itertools.pairwise(times)]
    assert gaps == [round(1 / 30 / PACE_HEADROOM, 6)] * 9


async def test_one_chat_gets_at_most_one_message_per_second() -> None:
    t = FakeTime()
    limiter = ChatLimiter(TELEGRAM_LIMITS, now=t.now, sleep=t.sleep)
    await limiter.acquire("7", group=False)
    start = t.now()
    await limiter.acquire("7", group=False)
    assert t.now() - start == pytest.approx(1 / HEADROOM)


async def test_a_full_group_folds_instead_of_waiting() -> None:
    t = FakeTime()
    limiter = ChatLimiter(TELEGRAM_LIMITS, now=t.now, sleep=t.sleep)
    for _ in range(20):
        assert await limiter.acquire("-5", group=True, fold=True)
    before = t.now()
    assert not await limiter.acquire("-5", group=True, fold=True)
    assert t.now() == before  # no waiting when folding
    wait = limiter.group_wait("-5")
    assert 0 < wait <= 60 / HEADROOM
    await limiter.acquire("-5", group=True)  # without fold, it waits for the window
    assert t.now() - before == pytest.approx(wait)


async def test_a_429_pauses_that_chat() -> None:
    t = FakeTime()
    limiter = ChatLimiter(TELEGRAM_LIMITS, now=t.now, sleep=t.sleep)
    await limiter.acquire("1", group=False)
    limiter.penalize("1", 5.0)
    start = t.now()
    await limiter.acquire("1", group=False)
    assert t.now() - start == pytest.approx(5.0)


def test_user_rate_limit_warns_once_per_stretch() -> None:
    limit = UserRateLimit(burst=2, every_ms=1_000)
    assert limit.check("a", 0) == (True, False)
    assert limit.check("a", 0) == (True, False)
    assert limit.check("a", 0) == (False, True)
    assert limit.check("a", 10) == (False, False)
    assert limit.check("a", 1_000) == (True, False)
