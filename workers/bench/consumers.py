"""``solai bench consumers``: how fast scoring consumers drain Redis Streams into PostgreSQL.

The end-to-end benchmark (``bench pipeline``) shares this 2-core machine with a simulator that
needs most of a core at 5,000 tx/s, so it cannot show what the consuming side could sustain.
This one takes the simulator out: it generates ``--events`` events of a scenario (the events
the simulated transactions carry, as ingest would publish them), publishes them to the ``events``
stream in pipelined batches, then starts ``--consumers`` scoring processes, each owning an
equal share of the partitions, and times them from "go" until every event is acked. Each
process is a real ``ScoringConsumer`` on its own event loop: ticks, smart trades, signals and
jobs (queued in Redis; no job worker runs) are written to a fresh PostgreSQL database.

Figures: ``events_per_s`` (events / drain time), per-consumer counters, the publish rate. The
database ``solai_bench_<hex>`` and the Redis keys under the run's prefix are removed afterwards.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing as mp
import os
import platform
import sys
import time
import uuid
from collections.abc import Sequence
from typing import Any

from engine.bus.redis import RedisBus
from engine.clock import SystemClock
from engine.events import ChainEvent
from engine.settings import load_settings
from engine.sim.generator import Generator
from engine.sim.scenario import load_scenario

GROUP = "scorer"
STREAM = "events"


def register(subparsers: Any) -> None:
    """Add ``bench consumers``."""
    parser = subparsers.add_parser(
        "consumers",
        help="scoring consumers' drain rate: Redis Streams → scorer → PostgreSQL",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=100_000, help="events to publish")
    parser.add_argument("--consumers", type=int, default=1, help="scoring processes")
    parser.add_argument("--batch", type=int, default=500, help="scorer batch per partition")
    parser.add_argument("--scenario", default="bench")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--redis", required=True, help="Redis URL")
    parser.add_argument("--database", required=True, help="PostgreSQL URL (server to use)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def scenario_events(name: str, seed: int, n: int) -> tuple[list[ChainEvent], list[str]]:
    """The first ``n`` events of a scenario in chain order, and its smart-money wallets."""
    gen = Generator(load_scenario(name), seed, rate=5000)
    out: list[ChainEvent] = []
    for tx in gen:
        out.extend(tx.intended)
        if len(out) >= n:
            break
    return out[:n], gen.groups.get("whale", [])


def shares(partitions: int, consumers: int) -> list[list[int]]:
    """Partitions dealt round-robin to ``consumers`` (each gets at least one)."""
    if not 1 <= consumers <= partitions:
        raise ValueError(f"--consumers must be 1..{partitions} (one partition at least each)")
    return [list(range(i, partitions, consumers)) for i in range(consumers)]


def _consumer_main(*args: Any) -> None:
    """One scoring process (spawned): :func:`_consume` on its own event loop."""
    asyncio.run(_consume(*args))


async def _consume(
    db_url: str,
    redis_url: str,
    prefix: str,
    partitions: Sequence[int],
    batch: int,
    name: str,
    ready: Any,
    go: Any,
    stop: Any,
    results: Any,
) -> None:
    from workers.jobs.registry import default_registry
    from workers.runtime import open_deps
    from workers.scoring import ScoringConsumer

    settings = load_settings(database_url=db_url, redis_url=redis_url)
    async with open_deps(
        settings,
        default_registry(),
        clock=SystemClock(),
        bus_prefix=prefix,
        queue_name=prefix + "jobs",
    ) as deps:
        consumer = ScoringConsumer(
            deps, consumer=name, partitions=list(partitions), batch=batch, block_ms=50
        )
        ready.set()
        while not go.is_set():  # noqa: ASYNC110 - a multiprocessing.Event, not an asyncio one
            await asyncio.sleep(0.01)
        started = time.perf_counter()
        task = asyncio.create_task(consumer.run())
        while not stop.is_set() and not task.done():  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        consumer.stop()
        await task
        results.put(
            {
                "name": name,
                "partitions": list(partitions),
                "busy_s": round(time.perf_counter() - started, 2),
                **consumer.counters.snapshot(),
            }
        )


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    from redis.asyncio import Redis

    from workers.bench.pipeline import fresh_database, seed
    from workers.migrate import upgrade_async
    from workers.runtime import open_deps

    settings = load_settings()
    parts = shares(settings.bus_partitions, args.consumers)
    t = time.perf_counter()
    events, whales = scenario_events(args.scenario, args.seed, args.events)
    generate_s = time.perf_counter() - t
    prefix = f"solai-bench-{uuid.uuid4().hex[:8]}:"
    redis = Redis.from_url(args.redis)
    bus = RedisBus(redis, settings.bus_partitions, prefix=prefix, maxlen=len(events) + 1000)
    try:
        async with fresh_database(args.database) as db_url:
            await upgrade_async(db_url)
            seeded = load_settings(database_url=db_url, redis_url=args.redis)
            from workers.jobs.registry import default_registry

            async with open_deps(
                seeded, default_registry(), bus_prefix=prefix, queue_name=prefix + "jobs"
            ) as deps:
                await seed(deps, whales, chats=0)
            await bus.ensure_group(STREAM, GROUP)
            t = time.perf_counter()
            for i in range(0, len(events), 5000):
                chunk = events[i : i + 5000]
                await bus.publish_many(STREAM, [(e.mint, e.to_json()) for e in chunk])
            publish_s = time.perf_counter() - t
            ctx = mp.get_context("spawn")
            go, stop = ctx.Event(), ctx.Event()
            results = ctx.Queue()
            procs = []
            readies = []
            for i, share in enumerate(parts):
                ready = ctx.Event()
                readies.append(ready)
                p = ctx.Process(
                    target=_consumer_main,
                    args=(
                        db_url,
                        args.redis,
                        prefix,
                        share,
                        args.batch,
                        f"bench-{i}",
                        ready,
                        go,
                        stop,
                        results,
                    ),
                )
                p.start()
                procs.append(p)
            for ready in readies:
                while not ready.wait(0.1):
                    if any(p.exitcode not in (None, 0) for p in procs):
                        raise RuntimeError("a consumer process failed to start")
                    await asyncio.sleep(0)
            t0 = time.perf_counter()
            go.set()
            while True:
                left = await bus.backlog(STREAM, GROUP) + await bus.pending_count(STREAM, GROUP)
                if left == 0:
                    break
                if any(p.exitcode not in (None, 0) for p in procs):
                    raise RuntimeError("a consumer process died")
                await asyncio.sleep(0.05)
            drain_s = time.perf_counter() - t0
            stop.set()
            per = [results.get(timeout=60) for _ in procs]
            for p in procs:
                p.join(30)
    finally:
        # arq keys its jobs globally (arq:job:<id>), not under the queue: drop this run's, or
        # the next run's identical job ids (same scenario, same mints) would be deduplicated.
        job_ids = await redis.zrange(prefix + "jobs", 0, -1)
        for i in range(0, len(job_ids), 500):
            await redis.delete(*(b"arq:job:" + j for j in job_ids[i : i + 500]))
        keys = [k async for k in redis.scan_iter(match=prefix + "*")]
        for i in range(0, len(keys), 500):
            await redis.delete(*keys[i : i + 500])
        await redis.aclose()
    return {
        "events": len(events),
        "consumers": args.consumers,
        "events_per_s": round(len(events) / drain_s),
        "drain_s": round(drain_s, 2),
        "publish_events_per_s": round(len(events) / publish_s),
        "generate_s": round(generate_s, 1),
        "signals": sum(r["signals"] for r in per),
        "per_consumer": sorted(per, key=lambda r: r["name"]),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu(s)",
    }


def run(args: argparse.Namespace) -> int:
    """Publish, drain, print."""
    try:
        result = asyncio.run(_bench(args))
    except ValueError as exc:
        print(f"solai bench consumers: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps(result))
    else:
        for key, value in result.items():
            print(f"{key:<22}  {value}")
    return 0
