"""Several processes of one bot account share one overall pace on Redis (SharedPacer)."""

from __future__ import annotations

import asyncio
import itertools
import time
import uuid

import pytest
from redis.asyncio import Redis

from bot.limits import PACE_HEADROOM, TELEGRAM_LIMITS, ChatLimiter

pytestmark = pytest.mark.redis


async def test_two_limiters_on_one_key_pace_as_one(redis_url: str) -> None:
    # Two "processes" (limiters), 15 sends each to distinct chats at once: together they keep
    # the single account's spacing, where two local pacers would each send at the full rate.
    redis = Redis.from_url(redis_url)
    key = f"test:pace:{uuid.uuid4().hex[:8]}"
    limits = TELEGRAM_LIMITS.scaled(4)  # 120/s: the test takes ~0.25 s
    interval = limits.overall.interval / PACE_HEADROOM
    try:
        a, b = (ChatLimiter(limits, shared=(redis, key)) for _ in range(2))
        stamps: list[float] = []

        async def send(limiter: ChatLimiter, chat: str) -> None:
            await limiter.acquire(chat, group=False)
            stamps.append(time.monotonic())

        await asyncio.gather(
            *(send(a, f"a{i}") for i in range(15)), *(send(b, f"b{i}") for i in range(15))
        )
        gaps = [y - x for x, y in itertools.pairwise(sorted(stamps))]
        # Slots are exact on Redis's clock; the wake-ups jitter by the event loop's scheduling.
        assert sum(gaps) >= 29 * interval * 0.9
        assert sorted(gaps)[len(gaps) // 2] >= interval * 0.8
    finally:
        await redis.delete(key)
        await redis.aclose()


async def test_redis_away_falls_back_to_pacing_locally() -> None:
    # Nothing listens on port 9: the turn comes from a local pacer instead of failing the send.
    redis = Redis.from_url("redis://127.0.0.1:9/0", socket_connect_timeout=0.2)
    try:
        limiter = ChatLimiter(TELEGRAM_LIMITS.scaled(10), shared=(redis, "test:pace:down"))
        await asyncio.wait_for(limiter.acquire("x", group=False), 5)
    finally:
        await redis.aclose()
