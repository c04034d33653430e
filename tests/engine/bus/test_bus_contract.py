"""One contract, two buses: in-process and Redis Streams must behave the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator

import pytest
from redis.asyncio import Redis

from engine.bus.base import Bus, BusError, partition_for
from engine.bus.memory import MemoryBus
from engine.bus.redis import RedisBus

PARTS = 4


@pytest.fixture(params=["memory", pytest.param("redis", marks=pytest.mark.redis)])
async def bus(request: pytest.FixtureRequest) -> AsyncIterator[Bus]:
    if request.param == "memory":
        yield MemoryBus(PARTS)
        return
    url = request.getfixturevalue("redis_url")
    client = Redis.from_url(url)
    prefix = f"test:{uuid.uuid4().hex[:8]}:"
    try:
        yield RedisBus(client, PARTS, prefix=prefix)
    finally:
        keys = [k async for k in client.scan_iter(match=prefix + "*")]
        if keys:
            await client.delete(*keys)
        await client.aclose()


async def drain(bus: Bus, group: str, consumer: str, **kw: object) -> list:
    out = []
    while True:
        got = await bus.consume("events", group, consumer, block_ms=0, **kw)  # type: ignore[arg-type]
        if not got:
            return out
        out.extend(got)


async def test_publish_then_consume_keeps_per_key_order(bus: Bus) -> None:
    await bus.ensure_group("events", "scorer")
    items = [(f"mint{i % 5}", f"{i}".encode()) for i in range(50)]
    ids = await bus.publish_many("events", items)
    # Ids are unique within a partition (each partition is its own stream).
    assert len({(partition_for(k, PARTS), i) for (k, _), i in zip(items, ids, strict=True)}) == 50
    got = await drain(bus, "scorer", "c1")
    assert sorted(int(m.payload) for m in got) == list(range(50))
    for key in {k for k, _ in items}:
        seq = [int(m.payload) for m in got if m.key == key]
        assert seq == sorted(seq), f"order broken for {key}"
        assert {m.partition for m in got if m.key == key} == {partition_for(key, PARTS)}


async def test_consumer_owning_partitions_sees_only_its_keys(bus: Bus) -> None:
    await bus.ensure_group("events", "g")
    await bus.publish_many("events", [(f"k{i}", b"x") for i in range(40)])
    mine = [0, 1]
    got = await drain(bus, "g", "a", partitions=mine)
    assert got and all(m.partition in mine for m in got)
    rest = await drain(bus, "g", "b")
    assert len(got) + len(rest) == 40
    assert not {(m.partition, m.id) for m in got} & {(m.partition, m.id) for m in rest}


async def test_unacked_messages_are_reclaimed_by_another_consumer(bus: Bus) -> None:
    await bus.ensure_group("events", "g")
    await bus.publish_many("events", [("a", b"1"), ("b", b"2"), ("c", b"3")])
    first = await drain(bus, "g", "dies")
    assert len(first) == 3
    assert await bus.pending_count("events", "g") == 3
    # Not idle long enough yet: nothing to take over.
    assert await bus.claim_stale("events", "g", "heir", min_idle_ms=60_000) == []
    await asyncio.sleep(0.05)
    claimed = await bus.claim_stale("events", "g", "heir", min_idle_ms=20)
    assert sorted(m.payload for m in claimed) == [b"1", b"2", b"3"]
    assert all(m.deliveries == 2 for m in claimed)
    await bus.ack("g", claimed)
    assert await bus.pending_count("events", "g") == 0
    assert await bus.claim_stale("events", "g", "heir", min_idle_ms=0) == []


async def test_acked_messages_are_not_delivered_again(bus: Bus) -> None:
    await bus.ensure_group("events", "g")
    await bus.publish("events", "a", b"1")
    got = await drain(bus, "g", "c")
    await bus.ack("g", got)
    await bus.publish("events", "a", b"2")
    again = await drain(bus, "g", "c")
    assert [m.payload for m in again] == [b"2"]


async def test_groups_are_independent(bus: Bus) -> None:
    await bus.ensure_group("events", "scorer")
    await bus.ensure_group("events", "archiver")
    await bus.publish_many("events", [("a", b"1"), ("b", b"2")])
    assert len(await drain(bus, "scorer", "s")) == 2
    assert await bus.backlog("events", "archiver") == 2
    assert len(await drain(bus, "archiver", "a")) == 2
    assert await bus.backlog("events", "archiver") == 0


async def test_blocking_consume_wakes_on_publish(bus: Bus) -> None:
    await bus.ensure_group("events", "g")
    task = asyncio.create_task(bus.consume("events", "g", "c", block_ms=3000))
    await asyncio.sleep(0.05)
    await bus.publish("events", "a", b"late")
    got = await asyncio.wait_for(task, 3)
    assert [m.payload for m in got] == [b"late"]


async def test_consume_without_group_names_the_problem(bus: Bus) -> None:
    await bus.publish("events", "a", b"1")
    with pytest.raises(BusError, match="no consumer group 'ghost'"):
        await bus.consume("events", "ghost", "c", block_ms=0)


async def test_bad_partition_is_refused(bus: Bus) -> None:
    await bus.ensure_group("events", "g")
    with pytest.raises(BusError, match="partition 9 out of range"):
        await bus.consume("events", "g", "c", partitions=[9], block_ms=0)


async def test_ensure_group_is_idempotent_and_reads_from_start(bus: Bus) -> None:
    await bus.publish("events", "a", b"before")
    await bus.ensure_group("events", "g")
    await bus.ensure_group("events", "g")
    assert [m.payload for m in await drain(bus, "g", "c")] == [b"before"]
