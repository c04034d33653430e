"""ChatLimiter.depart: sends leave at their slot plus one shared shift, so a slow commit between
slot and send delays sends instead of bunching them."""

from __future__ import annotations

import itertools

import pytest

from bot.limits import MAX_SHIFT_S, PACE_HEADROOM, TELEGRAM_LIMITS, ChatLimiter
from tests.bot.test_limits import FakeTime


async def test_sends_keep_their_slots_spacing_behind_slow_commits() -> None:
    clock = FakeTime()
    limiter = ChatLimiter(TELEGRAM_LIMITS, now=clock.now, sleep=clock.sleep)
    interval = TELEGRAM_LIMITS.overall.interval / PACE_HEADROOM
    left: list[float] = []

    async def send(chat: str, commit_s: float) -> None:
        await limiter.acquire(chat, group=False)
        granted = limiter.now()
        clock.t += commit_s  # the `sending` mark commits
        await limiter.depart(granted)
        left.append(clock.t)

    await send("a", 0.0)
    await send("b", 0.0)
    await send("c", 0.120)  # a slow commit: the shift widens to it
    await send("d", 0.0)  # a fast one still waits for the shift: no bunching behind c
    await send("e", 0.010)
    gaps = [b - a for a, b in itertools.pairwise(left)]
    assert all(g >= interval - 1e-9 for g in gaps), gaps
    assert limiter.shift_s == pytest.approx(0.120)
    # Quiet for longer than a per-chat window plus the shift: the shift drops back.
    clock.t += 1.5
    await send("a", 0.0)
    assert limiter.shift_s == 0.0 and left[-1] - left[-2] >= 1.0
    # A pathological commit cannot push every later send back by more than the cap.
    await send("f", 5.0)
    assert limiter.shift_s == MAX_SHIFT_S
