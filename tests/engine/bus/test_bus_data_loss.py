"""How a bus says it lost its data, and that a missing group is ``NoGroup`` on both buses.

The Redis cases reproduce on the shared test Redis (under a unique prefix) what a restart does
to the keys: the epoch key gone (restarted empty), a stream rolled back behind the last id this
bus appended while the epoch survived (``appendfsync everysec`` losing its last second).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from engine.bus.base import Bus, NoGroup
from engine.bus.memory import MemoryBus
from engine.bus.redis import RedisBus


@contextlib.asynccontextmanager
async def _redis(url: str) -> AsyncIterator[tuple[RedisBus, Redis, str]]:
    client = Redis.from_url(url)
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    try:
        yield RedisBus(client, 1, prefix=prefix), client, prefix
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


@pytest.fixture
async def redis_bus(redis_url: str) -> AsyncIterator[tuple[RedisBus, Redis, str]]:
    async with _redis(redis_url) as got:
        yield got


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        yield MemoryBus(1)
        return
    async with _redis(request.getfixturevalue("redis_url")) as (b, _, _):
        yield b


async def test_missing_group_is_no_group_until_ensured(bus: Bus) -> None:
    await bus.publish("events", "mint", b"x")
    with pytest.raises(NoGroup):
        await bus.consume("events", "scorer", "c", block_ms=0)
    with pytest.raises(NoGroup):
        await bus.claim_stale("events", "scorer", "c", min_idle_ms=0)
    await bus.ensure_group("events", "scorer")
    assert [m.payload for m in await bus.consume("events", "scorer", "c", block_ms=0)] == [b"x"]
    assert await bus.lost_data() is False


@pytest.mark.redis
async def test_epoch_gone_means_lost_once(redis_bus: tuple[RedisBus, Redis, str]) -> None:
    bus, client, prefix = redis_bus
    assert await bus.lost_data() is False  # learns the epoch
    assert await bus.lost_data() is False
    await client.delete(f"{prefix}epoch")  # what a restart without data looks like
    assert await bus.lost_data() is True
    assert await bus.lost_data() is False  # the new epoch is known now
    # Another process got there first and wrote its own epoch: still a loss for this one.
    await client.set(f"{prefix}epoch", "someone-else")
    assert await bus.lost_data() is True
    assert await bus.lost_data() is False


@pytest.mark.redis
async def test_stream_rolled_back_behind_our_last_id_means_lost(
    redis_bus: tuple[RedisBus, Redis, str],
) -> None:
    bus, client, prefix = redis_bus
    assert await bus.lost_data() is False
    await bus.publish_many("events", [("a", b"1"), ("b", b"2"), ("a", b"3")])
    assert await bus.lost_data() is False
    # The epoch survived but a stream's tail did not: it is back to an older last id.
    key = f"{prefix}events:0"
    await client.delete(key)
    await client.xadd(key, {b"k": b"a", b"d": b"0"}, id="1-1")
    assert await bus.lost_data() is True
    assert await bus.lost_data() is False  # forgotten after a loss: the new stream is the truth
    # A stream that vanished altogether (its partition emptied by the restart) is a loss too.
    await bus.publish("events", "a", b"4")
    await client.delete(key)
    assert await bus.lost_data() is True
