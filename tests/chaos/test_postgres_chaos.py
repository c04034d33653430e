"""PostgreSQL away for 10 s mid-stream, on the real services (PostgreSQL, Redis Streams).

The scoring consumer reaches PostgreSQL through a TCP proxy that cuts it: first refused
connections, then a silent network (connections accepted, never answered). Meanwhile events keep
arriving on the bus, both readiness endpoints (the API's, the worker's ops port) must say
"degraded" promptly, and once the database is back every tick is stored once and the signals
are exactly those of an uninterrupted run over the same events.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from redis.asyncio import Redis
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from engine.deps import Deps
from engine.events import ChainEvent
from engine.net.loopback import LoopbackServer
from engine.settings import load_settings
from engine.sim.generator import Generator
from engine.sim.scenario import load_scenario
from engine.storage.models import Signal, Tick
from engine.storage.repos import wallets as wallet_repo
from tests.chaos.test_chaos import demo_events
from tests.conftest import pg_test_schema
from tests.support.proxy import TcpProxy
from webapp.app import create_app
from workers.commands.score import report_readiness
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.observability import OpsServer, Readiness
from workers.runtime import open_deps
from workers.scoring import EVENTS_STREAM, GROUP, ScoringConsumer

pytestmark = [
    pytest.mark.chaos,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.timeout(120),
]

OUTAGE_S = 10.0
SEED = 3


@contextlib.asynccontextmanager
async def production(
    pg_url: str, redis_url: str, proxy: TcpProxy | None = None
) -> AsyncIterator[Deps]:
    """Deps on a fresh schema and key prefix; with ``proxy``, PostgreSQL is reached through it.

    One bus partition: the momentum baseline is shared across mints, so the reference run must
    see the events in the same order for its signals to be comparable.
    """
    prefix = f"chaos:{uuid.uuid4().hex[:8]}:"
    async with pg_test_schema(pg_url) as (url, schema):
        await upgrade_async(url, schema=schema)
        if proxy is not None:
            url = make_url(url).set(host="127.0.0.1", port=proxy.port).render_as_string(False)
        settings = load_settings(database_url=url, redis_url=redis_url, bus_partitions=1)
        async with open_deps(
            settings,
            default_registry(),
            bus_prefix=prefix,
            queue_name=prefix + "jobs",  # nobody works it: no verdict can land mid-run
            db_schema=schema,
        ) as deps:
            try:
                async with deps.sessions.begin() as s:
                    for i, w in enumerate(Generator(load_scenario("demo"), SEED).groups["whale"]):
                        await wallet_repo.ensure_wallet(
                            s, address=w, alias=f"w{i}", tags=["smart"], featured=True, now_ms=1
                        )
                yield deps
            finally:
                client = Redis.from_url(redis_url)
                keys = [k async for k in client.scan_iter(match=prefix + "*")]
                if keys:
                    await client.delete(*keys)
                await client.aclose()


async def publish(deps: Deps, events: list[ChainEvent]) -> None:
    await deps.bus.publish_many(EVENTS_STREAM, [(e.mint, e.to_json()) for e in events])


async def drained(deps: Deps, consumer: ScoringConsumer, n_events: int, timeout: float) -> None:
    """Poll until the consumer has stored and acked ``n_events`` events."""
    async with asyncio.timeout(timeout):
        while consumer.counters.events < n_events or await deps.bus.pending_count(
            EVENTS_STREAM, GROUP
        ):
            await asyncio.sleep(0.05)


async def stored(deps: Deps) -> tuple[int, int, Counter[tuple[Any, ...]]]:
    """(ticks, ticks stored more than once, signals by content: everything but the id)."""
    async with deps.sessions() as s:
        ticks = (await s.execute(select(func.count()).select_from(Tick))).scalar_one()
        doubled = (
            await s.execute(
                select(func.count()).select_from(
                    select(Tick.signature, Tick.idx)
                    .group_by(Tick.signature, Tick.idx)
                    .having(func.count() > 1)
                    .subquery()
                )
            )
        ).scalar_one()
        rows = (await s.scalars(select(Signal))).all()
    signals = Counter(
        (r.mint, r.ts, r.strength, repr(sorted(r.components.items())), repr(r.rules), repr(r.risk))
        for r in rows
    )
    return ticks, doubled, signals


async def readiness(http: httpx.AsyncClient, url: str) -> tuple[int, dict[str, Any], float]:
    started = time.monotonic()
    r = await http.get(url + "/ops/readiness")
    return r.status_code, r.json(), time.monotonic() - started


async def until_degraded(http: httpx.AsyncClient, url: str) -> dict[str, Any]:
    async with asyncio.timeout(10):
        while True:
            status, body, _ = await readiness(http, url)
            if status == 503:
                return body
            await asyncio.sleep(0.05)


async def run_uninterrupted(
    pg_url: str, redis_url: str, events: list[ChainEvent]
) -> tuple[int, int, Counter[tuple[Any, ...]]]:
    """The reference: the same events through a consumer that never loses its database."""
    async with production(pg_url, redis_url) as deps:
        consumer = ScoringConsumer(deps, consumer="reference", batch=50, block_ms=50)
        task = asyncio.create_task(consumer.run())
        try:
            await publish(deps, events)
            await drained(deps, consumer, len(events), 30)
        finally:
            consumer.stop()
            await asyncio.wait_for(task, 30)
        return await stored(deps)


async def test_postgres_away_for_ten_seconds_loses_and_doubles_nothing(
    isolated_env: Any, pg_url: str, redis_url: str
) -> None:
    events = demo_events(1200, seed=SEED)
    uninterrupted = await run_uninterrupted(pg_url, redis_url, events)
    assert sum(uninterrupted[2].values()) >= 2, "the stream should fire signals"
    # The outage starts right before the event that fires the first signal: the batch held
    # during the outage has fired it (a retry that scored again would lose it to the cooldown).
    first = min(uninterrupted[2], key=lambda k: k[1])
    k = next(i for i, e in enumerate(events) if (e.mint, e.ts) == first[:2])
    assert k > 0
    mid, late = (k + len(events)) // 2, (k + 3 * len(events)) // 4
    before, during, later, after = events[:k], events[k:mid], events[mid:late], events[late:]

    pg = make_url(pg_url)
    proxy = TcpProxy(pg.port or 5432, pg.host or "127.0.0.1")
    await proxy.up()
    checks = Readiness()
    async with (
        production(pg_url, redis_url, proxy) as deps,
        httpx.AsyncClient(timeout=30) as http,
    ):
        consumer = ScoringConsumer(deps, consumer="steady", batch=50, block_ms=50)
        report_readiness(consumer, checks)
        ops = OpsServer(0, readiness=checks)
        api = LoopbackServer(create_app(deps), name="api")
        await api.start()
        worker_url, api_url = f"http://127.0.0.1:{ops.port}", api.url
        task = asyncio.create_task(consumer.run())
        try:
            await publish(deps, before)
            await drained(deps, consumer, len(before), 30)
            assert (await readiness(http, worker_url))[0] == 200
            assert (await readiness(http, api_url))[0] == 200

            # Refused: the pooled connections are cut, new ones refused.
            await proxy.down()
            down_at = time.monotonic()
            await publish(deps, during)
            worker = await until_degraded(http, worker_url)
            assert worker["checks"]["database"].startswith("error:")
            assert worker["checks"]["consumer"] == "ok"  # alive, waiting
            status, body, took = await readiness(http, api_url)
            assert status == 503 and body["checks"]["database"].startswith("error:")
            assert body["checks"]["redis"] == "ok"
            assert took < 2.0
            async with asyncio.timeout(10):
                while consumer.write_pending_since is None:
                    await asyncio.sleep(0.05)
            metrics = (await http.get(worker_url + "/metrics")).text
            assert "solai_scorer_write_pending 1.0" in metrics
            # The scored batch (with its signal) is held unacked; nothing more is read meanwhile.
            assert consumer.scorer.signals_fired > consumer.counters.signals
            assert await deps.bus.pending_count(EVENTS_STREAM, GROUP) > 0
            await publish(deps, later)

            # Silent: connections accepted, never answered. Readiness still answers in time.
            while time.monotonic() - down_at < OUTAGE_S / 2:
                await asyncio.sleep(0.1)
            await proxy.blackhole()
            status, body, took = await readiness(http, api_url)
            assert status == 503 and body["checks"]["database"] == "error: TimeoutError"
            assert took < 3.5  # the 2 s bound, not the 5 s connect timeout or a 60 s hang
            assert (await readiness(http, worker_url))[0] == 503
            assert await deps.bus.backlog(EVENTS_STREAM, GROUP) > 0  # the bus is the buffer
            stored_during = consumer.counters.events
            while time.monotonic() - down_at < OUTAGE_S:
                await asyncio.sleep(0.1)
            assert consumer.counters.events == stored_during == len(before)
            assert not task.done()

            await proxy.up()
            await drained(deps, consumer, len(events) - len(after), 30)
            await publish(deps, after)
            await drained(deps, consumer, len(events), 30)
            assert (await readiness(http, worker_url))[0] == 200
            assert (await readiness(http, api_url))[0] == 200
            metrics = (await http.get(worker_url + "/metrics")).text
            assert "solai_scorer_write_pending 0.0" in metrics
            assert not task.done(), "the consumer died"
            ticks, doubled, signals = await stored(deps)
        finally:
            consumer.stop()
            await asyncio.wait_for(task, 30)
            await api.stop()
            ops.close()
            await proxy.down()

    trades = {(e.signature, e.index) for e in events if e.kind in ("trade", "swap") and e.trader}
    assert consumer.write_retries > 0
    assert ticks == len(trades) == uninterrupted[0]
    assert doubled == 0
    assert signals == uninterrupted[2]
