"""Failure injection on the real services: what breaks must lose nothing and double nothing.

Marked ``chaos``; the Redis/PostgreSQL ones run in CI against the real servers (a skip there is
a failure). More scenarios (Redis restart with data loss, PostgreSQL away, Bot API storms) are
listed as open work in docs/performance.md.
"""

from __future__ import annotations

import asyncio
import random
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select

from engine.bus.redis import RedisBus
from engine.clock import SystemClock
from engine.events import ChainEvent
from engine.settings import RpcProvider, load_settings
from engine.signals.windows import Windows
from engine.sim.generator import Generator
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.storage.models import Signal, Tick
from tests.conftest import pg_test_schema
from workers.ingest import IngestSupervisor
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps
from workers.scoring import EVENTS_STREAM, GROUP, ScoringConsumer

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]


def demo_events(n_tx: int, seed: int = 3) -> list[ChainEvent]:
    """The events the demo scenario's first transactions carry, in chain order."""
    gen = Generator(load_scenario("demo"), seed)
    out: list[ChainEvent] = []
    for tx in gen:
        out.extend(tx.intended)
        if len(out) >= n_tx:
            break
    return out


def test_replayed_twice_and_shuffled_gives_identical_aggregates() -> None:
    events = demo_events(400)
    straight = Windows(smart=())
    for e in events:
        straight.add(e)
    chaos = Windows(smart=())
    doubled = events + events
    random.Random(9).shuffle(doubled)
    for e in doubled:
        chaos.add(e)
    mints = {e.mint for e in events}
    for mint in mints:
        a, b = straight.get(mint), chaos.get(mint)
        assert a is not None and b is not None
        assert a.snapshot() == b.snapshot(), mint


@pytest.fixture
async def production(isolated_env: Path, pg_url: str, redis_url: str) -> AsyncIterator[object]:
    """Open deps on real PostgreSQL (fresh schema) and Redis (unique key prefix)."""
    prefix = f"chaos:{uuid.uuid4().hex[:8]}:"
    async with pg_test_schema(pg_url) as (url, schema):
        await upgrade_async(url, schema=schema)
        settings = load_settings(database_url=url, redis_url=redis_url)
        async with open_deps(
            settings, default_registry(), bus_prefix=prefix, db_schema=schema
        ) as deps:
            try:
                yield deps
            finally:
                client = Redis.from_url(redis_url)
                keys = [k async for k in client.scan_iter(match=prefix + "*")]
                if keys:
                    await client.delete(*keys)
                await client.aclose()


@pytest.mark.redis
@pytest.mark.postgres
async def test_consumer_killed_mid_batch_is_reclaimed_and_applied_once(production) -> None:  # type: ignore[no-untyped-def]
    deps = production
    assert isinstance(deps.bus, RedisBus)
    events = demo_events(300)
    await deps.bus.ensure_group(EVENTS_STREAM, GROUP)
    await deps.bus.publish_many(EVENTS_STREAM, [(e.mint, e.to_json()) for e in events])
    # A consumer takes a batch and dies (SIGKILL: no ack, no side effects).
    taken = await deps.bus.consume(EVENTS_STREAM, GROUP, "doomed", count=50, block_ms=0)
    assert taken
    # The survivor re-claims what the dead one left and processes everything.
    survivor = ScoringConsumer(deps, consumer="survivor", claim_idle_ms=50, block_ms=50)
    task = asyncio.create_task(survivor.run())
    await asyncio.sleep(0.2)
    async with asyncio.timeout(30):
        while await deps.bus.pending_count(EVENTS_STREAM, GROUP) or await deps.bus.backlog(
            EVENTS_STREAM, GROUP
        ):
            await asyncio.sleep(0.1)
    # The dead consumer's batch is delivered once more (a zombie coming back): no effect.
    await survivor.process(taken)
    survivor.stop()
    await task
    trades = [e for e in events if e.kind in ("trade", "swap") and e.side and e.trader]
    async with deps.sessions() as s:
        ticks = (await s.execute(select(func.count()).select_from(Tick))).scalar_one()
        per_key = (
            await s.execute(
                select(func.count()).select_from(
                    select(Tick.signature, Tick.idx)
                    .group_by(Tick.signature, Tick.idx)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
        ).scalar_one()
        signals = (await s.execute(select(func.count()).select_from(Signal))).scalar_one()
    assert survivor.counters.reclaimed >= len(taken)
    assert ticks == len({(e.signature, e.index) for e in trades})
    assert per_key == 0
    assert signals == survivor.counters.signals


async def test_malformed_websocket_frames_are_counted_and_lose_nothing(isolated_env: Path) -> None:
    async with SimServer(load_scenario("burst"), seed=4, autostart=False) as sim:
        from engine.bus.memory import MemoryBus

        bus = MemoryBus(2)
        await bus.ensure_group("events", "check")
        sup = IngestSupervisor(
            [RpcProvider(name="sim", http_url=sim.http_url, ws_url=sim.ws_url)],
            bus,
            clock=SystemClock(),
            reconcile_grace_slots=0,
            stall_timeout_s=30,
        )
        task = asyncio.create_task(sup.run())
        try:
            await asyncio.wait_for(sup.connected.wait(), 10)
            first = await sim.emit(20)
            sim.send_malformed_ws(25)
            second = await sim.emit(20)
            want = sum(len(tx.intended) for tx in (*first, *second))
            got: list[ChainEvent] = []
            async with asyncio.timeout(20):
                while len(got) < want:
                    msgs = await bus.consume("events", "check", "c", block_ms=100, count=500)
                    got.extend(ChainEvent.from_json(m.payload) for m in msgs)
        finally:
            sup.stop()
            await task
            await sup.aclose()
    assert len({e.key for e in got}) == len(got) == want
    assert sup.counters.malformed_frames >= 25
    assert sup.counters.reconnects == 0
