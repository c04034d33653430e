"""One contract, two job runners: the in-process runner and arq on Redis behave the same."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

import pytest
from arq import create_pool
from arq.connections import RedisSettings

from engine.jobs.base import JobContext, JobQueue, JobRegistry, Transient
from workers.jobs.arq import ArqJobs, build_worker, deserialize, serialize
from workers.jobs.inprocess import InProcessJobs


@dataclass
class Calls:
    tries: dict[str, list[int]] = field(default_factory=dict)


def make_registry(calls: Calls) -> JobRegistry:
    reg = JobRegistry()

    @reg.job("flaky", timeout_s=5, max_tries=5)
    async def flaky(ctx: JobContext, *, fail_times: int, value: int) -> dict[str, int]:
        calls.tries.setdefault(ctx.job_id, []).append(ctx.job_try)
        if ctx.job_try <= fail_times:
            raise Transient("rpc hiccup", defer_s=0.01)
        return {"value": value * 2, "try": ctx.job_try}

    @reg.job("slow", timeout_s=0.2, max_tries=3)
    async def slow(ctx: JobContext) -> str:
        calls.tries.setdefault(ctx.job_id, []).append(ctx.job_try)
        await asyncio.sleep(5)
        return "never"

    @reg.job("broken", timeout_s=5, max_tries=5)
    async def broken(ctx: JobContext) -> None:
        calls.tries.setdefault(ctx.job_id, []).append(ctx.job_try)
        raise ValueError("bad input: mint is not base58")

    @reg.job("always_transient", timeout_s=5, max_tries=2)
    async def always_transient(ctx: JobContext) -> None:
        calls.tries.setdefault(ctx.job_id, []).append(ctx.job_try)
        raise Transient("still down", defer_s=0.01)

    return reg


@pytest.fixture(params=["inprocess", pytest.param("arq", marks=pytest.mark.redis)])
async def runner(request: pytest.FixtureRequest) -> AsyncIterator[tuple[JobQueue, Calls]]:
    calls = Calls()
    registry = make_registry(calls)
    if request.param == "inprocess":
        jobs = InProcessJobs(registry, deps=None, concurrency=4)
        await jobs.start()
        try:
            yield jobs, calls
        finally:
            await jobs.close()
        return
    url = request.getfixturevalue("redis_url")
    queue = f"test:jobs:{uuid.uuid4().hex[:8]}"
    redis = await create_pool(
        RedisSettings.from_dsn(url), job_serializer=serialize, job_deserializer=deserialize
    )
    worker = build_worker(
        registry, redis, queue_name=queue, poll_delay=0.01, handle_signals=False, ctx={"deps": None}
    )
    task = asyncio.create_task(worker.async_run())
    try:
        yield ArqJobs(redis, queue_name=queue), calls
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        # arq keys carry the job id; ours are random, so deleting them is safe.
        async for k in redis.scan_iter(match="arq:*"):
            if any(jid.encode() in k for jid in calls.tries):
                await redis.delete(k)
        await redis.delete(queue)
        await worker.close()  # closes the pool it was given


async def test_fails_twice_then_succeeds(runner: tuple[JobQueue, Calls]) -> None:
    jobs, calls = runner
    job_id = f"flaky-{uuid.uuid4().hex}"
    assert await jobs.enqueue("flaky", job_id=job_id, fail_times=2, value=21) == job_id
    result = await jobs.result(job_id, timeout_s=10)
    assert result.success, result.error
    assert result.result == {"value": 42, "try": 3}
    assert calls.tries[job_id] == [1, 2, 3]


async def test_job_past_its_timeout_fails_without_retry(runner: tuple[JobQueue, Calls]) -> None:
    jobs, calls = runner
    job_id = f"slow-{uuid.uuid4().hex}"
    await jobs.enqueue("slow", job_id=job_id)
    result = await jobs.result(job_id, timeout_s=10)
    assert not result.success
    assert result.error is not None and "timed out" in result.error
    assert calls.tries[job_id] == [1]


async def test_duplicate_enqueue_with_same_id_runs_once(runner: tuple[JobQueue, Calls]) -> None:
    jobs, calls = runner
    job_id = f"dup-{uuid.uuid4().hex}"
    first = await jobs.enqueue("flaky", job_id=job_id, fail_times=0, value=1)
    second = await jobs.enqueue("flaky", job_id=job_id, fail_times=0, value=999)
    assert first == job_id and second is None
    result = await jobs.result(job_id, timeout_s=10)
    assert result.result == {"value": 2, "try": 1}
    # Still refused after it finished: the kept result guards the id.
    assert await jobs.enqueue("flaky", job_id=job_id, fail_times=0, value=3) is None
    assert calls.tries[job_id] == [1]


async def test_non_transient_error_fails_at_once(runner: tuple[JobQueue, Calls]) -> None:
    jobs, calls = runner
    job_id = f"broken-{uuid.uuid4().hex}"
    await jobs.enqueue("broken", job_id=job_id)
    result = await jobs.result(job_id, timeout_s=10)
    assert not result.success
    assert result.error == "ValueError: bad input: mint is not base58"
    assert calls.tries[job_id] == [1]


async def test_transient_errors_stop_at_max_tries(runner: tuple[JobQueue, Calls]) -> None:
    jobs, calls = runner
    job_id = f"down-{uuid.uuid4().hex}"
    await jobs.enqueue("always_transient", job_id=job_id)
    result = await jobs.result(job_id, timeout_s=10)
    assert not result.success
    assert result.error is not None and "max 2 tries exceeded" in result.error
    assert calls.tries[job_id] == [1, 2]


async def test_arguments_must_be_json(runner: tuple[JobQueue, Calls]) -> None:
    jobs, _ = runner
    with pytest.raises(TypeError):
        await jobs.enqueue("flaky", fail_times=0, value=object())
