"""The job outbox: runners mark a row done when its job ends for good (not on a retry), and the
relay re-enqueues only what the queue lost, under the same id, then prunes."""

from __future__ import annotations

import asyncio
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from arq import create_pool
from arq.connections import RedisSettings
from sqlalchemy import select

from engine.clock import FixedClock, SystemClock
from engine.jobs import outbox
from engine.jobs.base import JobContext, JobQueue, JobRegistry, Transient
from engine.storage.models import JobOutbox
from tests.conftest import Db
from workers.jobs.arq import ArqJobs, build_worker, deserialize, serialize
from workers.jobs.inprocess import InProcessJobs


@dataclass
class FakeDeps:
    """What a runner hands its jobs, reduced to what the outbox needs."""

    sessions: object
    clock: object


@dataclass
class Seen:
    runs: Counter[str]
    done_during_retry: list[int | None]


def make_registry(db: Db, seen: Seen) -> JobRegistry:
    reg = JobRegistry()

    @reg.job("ok", timeout_s=5, max_tries=2)
    async def ok(ctx: JobContext) -> int:
        seen.runs[ctx.job_id] += 1
        return 1

    @reg.job("broken", timeout_s=5, max_tries=2)
    async def broken(ctx: JobContext) -> None:
        seen.runs[ctx.job_id] += 1
        raise ValueError("bad input")

    @reg.job("slow", timeout_s=0.2, max_tries=2)
    async def slow(ctx: JobContext) -> None:
        seen.runs[ctx.job_id] += 1
        await asyncio.sleep(5)

    @reg.job("flaky", timeout_s=5, max_tries=3)
    async def flaky(ctx: JobContext) -> int:
        seen.runs[ctx.job_id] += 1
        if ctx.job_try == 1:
            raise Transient("hiccup", defer_s=0.01)
        async with db.sessions() as s:  # a retry is not an end: the row is still open here
            seen.done_during_retry.append(
                await s.scalar(select(JobOutbox.done_ts).where(JobOutbox.job_id == ctx.job_id))
            )
        return ctx.job_try

    return reg


@pytest.fixture(params=["inprocess", pytest.param("arq", marks=pytest.mark.redis)])
async def runner(
    request: pytest.FixtureRequest, db: Db
) -> AsyncIterator[tuple[JobQueue, Seen, FakeDeps]]:
    seen = Seen(Counter(), [])
    registry = make_registry(db, seen)
    deps = FakeDeps(db.sessions, SystemClock())
    if request.param == "inprocess":
        jobs = InProcessJobs(registry, deps=deps, concurrency=4)
        await jobs.start()
        try:
            yield jobs, seen, deps
        finally:
            await jobs.close()
        return
    queue = f"test:outbox:{uuid.uuid4().hex[:8]}"
    redis = await create_pool(
        RedisSettings.from_dsn(request.getfixturevalue("redis_url")),
        job_serializer=serialize,
        job_deserializer=deserialize,
    )
    worker = build_worker(
        registry, redis, queue_name=queue, poll_delay=0.01, handle_signals=False, ctx={"deps": deps}
    )
    task = asyncio.create_task(worker.async_run())
    try:
        yield ArqJobs(redis, queue_name=queue), seen, deps
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        async for k in redis.scan_iter(match="arq:*"):
            if any(jid.encode() in k for jid in seen.runs):
                await redis.delete(k)
        await redis.delete(queue)
        await worker.close()


async def _rows(db: Db) -> dict[str, JobOutbox]:
    async with db.sessions() as s:
        return {r.job_id: r for r in await s.scalars(select(JobOutbox))}


async def test_runner_marks_a_row_done_when_its_job_ends_for_good(
    runner: tuple[JobQueue, Seen, FakeDeps], db: Db
) -> None:
    jobs, seen, _ = runner
    tag = uuid.uuid4().hex[:8]
    planned = [
        outbox.OutboxJob(f"{name}:{tag}", name, {}) for name in ("ok", "broken", "slow", "flaky")
    ]
    async with db.sessions.begin() as s:
        await outbox.add(s, planned, now_ms=1)
        await outbox.add(s, planned[:1], now_ms=2)  # a replayed batch: kept as it was
    for job in planned:
        assert await jobs.enqueue(job.name, job_id=job.job_id) == job.job_id
    results = {j.name: await jobs.result(j.job_id, timeout_s=10) for j in planned}
    assert results["ok"].success and results["flaky"].success
    assert not results["broken"].success and not results["slow"].success
    rows = await _rows(db)
    assert {r.job_id: r.created_ts for r in rows.values()} == {j.job_id: 1 for j in planned}
    assert all(r.done_ts is not None for r in rows.values()), rows
    assert seen.done_during_retry == [None]
    # A job without a row (most jobs) ends without error.
    assert await jobs.enqueue("ok", job_id=f"free:{tag}") is not None
    assert (await jobs.result(f"free:{tag}", timeout_s=10)).success


async def test_relay_re_enqueues_only_what_the_queue_lost_then_prunes(db: Db) -> None:
    seen = Seen(Counter(), [])
    jobs = InProcessJobs(make_registry(db, seen), deps=FakeDeps(db.sessions, SystemClock()))
    await jobs.start()
    clock = FixedClock(10_000_000)
    now = clock.now_ms()
    relay = outbox.OutboxRelay(
        db.sessions, jobs, clock, after_s=30, keep_s=3600, give_up_s=86_400, limit=2
    )
    try:
        async with db.sessions.begin() as s:
            await outbox.add(s, [outbox.OutboxJob("lost-1", "ok", {})], now_ms=now - 60_000)
            await outbox.add(s, [outbox.OutboxJob("lost-2", "ok", {})], now_ms=now - 50_000)
            await outbox.add(s, [outbox.OutboxJob("queued", "slow", {})], now_ms=now - 40_000)
            await outbox.add(s, [outbox.OutboxJob("young", "ok", {})], now_ms=now - 1_000)
            await outbox.add(s, [outbox.OutboxJob("gone", "nope", {})], now_ms=now - 45_000)
            await outbox.add(s, [outbox.OutboxJob("ancient", "ok", {})], now_ms=now - 90_000_000)
            await outbox.add(s, [outbox.OutboxJob("old-done", "ok", {})], now_ms=1)
        await outbox.mark_done(db.sessions, job_id="old-done", now_ms=now - 4_000_000)
        # "queued" is still held by the queue (running): offering it again must not double it.
        await jobs.enqueue("slow", job_id="queued")
        # Two passes cover the stale rows (two per pass, oldest first).
        await relay.run_once()
        await relay.run_once()
        await jobs.join(timeout_s=10)
    finally:
        await jobs.close()
    rows = await _rows(db)
    assert relay.counters.relayed == 2  # lost-1, lost-2
    assert relay.counters.present == 1  # queued
    assert seen.runs == Counter({"lost-1": 1, "lost-2": 1, "queued": 1})
    assert rows["lost-1"].done_ts is not None and rows["lost-2"].done_ts is not None
    assert rows["young"].done_ts is None  # not stale yet: its own enqueue may still be on the way
    assert "old-done" not in rows and "ancient" not in rows and "gone" not in rows
    assert relay.counters.pruned == 1 and relay.counters.abandoned == 2
