"""The per-provider request budget: a token bucket taken before each request keeps a client
under the provider's limit, so 429s are avoided instead of suffered."""

from __future__ import annotations

import asyncio
import time

import pytest

from engine.chain.budget import TokenBucket
from engine.chain.rpc import RetryPolicy, RpcClient
from tests.engine.sim.support import running_sim


class FakeTime:
    """A monotonic clock that only moves when something sleeps on it."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


async def test_bucket_spaces_requests_at_the_rate() -> None:
    t = FakeTime()
    bucket = TokenBucket(10, burst=2, monotonic=t.monotonic, sleep=t.sleep)
    stamps = []
    for _ in range(6):
        await bucket.acquire()
        stamps.append(round(t.now, 6))
    # The burst goes out at once, then one request every 100 ms.
    assert stamps == [0.0, 0.0, 0.1, 0.2, 0.3, 0.4]


async def test_bucket_pause_holds_everyone_back() -> None:
    t = FakeTime()
    bucket = TokenBucket(100, burst=5, monotonic=t.monotonic, sleep=t.sleep)
    await bucket.acquire()
    bucket.pause(2.0)
    await bucket.acquire()
    assert t.now >= 2.0


def test_bucket_rejects_bad_settings() -> None:
    with pytest.raises(ValueError, match="rate_per_s"):
        TokenBucket(0)
    with pytest.raises(ValueError, match="burst"):
        TokenBucket(5, burst=0.5)


async def test_budgeted_client_never_trips_the_provider_limit() -> None:
    async with running_sim() as sim:
        # The "provider" allows 100 requests/s with a burst of 2; our budget matches it.
        sim.limit_http(100, burst=2)
        async with RpcClient(sim.http_url, requests_per_s=100, burst=1) as rpc:
            started = time.monotonic()
            slots = await asyncio.gather(*(rpc.get_slot() for _ in range(30)))
            elapsed = time.monotonic() - started
        assert all(s == sim.current_slot for s in slots)
        assert sim.stats["http_429"] == 0
        assert rpc.attempts == 30
        assert elapsed >= 29 / 100 * 0.95  # spaced at the rate, not fired at once
        assert rpc.bucket is not None and rpc.bucket.waited_s > 0


async def test_unbudgeted_client_suffers_429s_and_recovers() -> None:
    async with running_sim() as sim:
        sim.limit_http(100, burst=2, retry_after=0.05)
        retry = RetryPolicy(max_attempts=6, base_delay_s=0.01, max_delay_s=0.05)
        async with RpcClient(sim.http_url, retry=retry) as rpc:
            results = await asyncio.gather(
                *(rpc.get_slot() for _ in range(10)), return_exceptions=True
            )
        # The contrast with the budgeted client: the provider had to refuse some requests.
        assert sim.stats["http_429"] > 0
        assert rpc.attempts > 10
        assert any(isinstance(r, int) for r in results)


async def test_a_429_pauses_the_shared_budget() -> None:
    async with running_sim() as sim:
        retry = RetryPolicy(max_attempts=3, base_delay_s=0.01, max_delay_s=0.01)
        async with RpcClient(sim.http_url, requests_per_s=1000, burst=5, retry=retry) as rpc:
            sim.fail_http(429, 1, retry_after=0.3)
            started = time.monotonic()
            await asyncio.gather(rpc.get_slot(), rpc.get_slot(), rpc.get_slot())
            # Every caller waited for the Retry-After, not only the one that was refused.
            assert time.monotonic() - started >= 0.3
