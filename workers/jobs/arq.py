"""arq adapter: our job specs as arq functions, JSON serialization, and a JobQueue over ArqRedis."""

from __future__ import annotations

import asyncio
import functools
from typing import Any

import orjson
from arq import Retry, Worker, func
from arq.connections import ArqRedis
from arq.jobs import Job, JobStatus
from arq.typing import StartupShutdown

from engine.jobs.base import JSON, JobContext, JobRegistry, JobResult, JobSpec, Transient
from engine.jobs.outbox import job_ended
from engine.observability import metrics as M

DEFAULT_QUEUE = "solai:jobs"


def _default(obj: Any) -> Any:
    # arq stores a failed job's exception as its result; keep it readable as JSON.
    if isinstance(obj, BaseException):
        return {"error": type(obj).__name__, "message": str(obj)}
    raise TypeError(f"{type(obj).__name__} is not JSON serializable")


def serialize(obj: Any) -> bytes:
    """arq job/result serializer: JSON (not pickle), exceptions as {error, message}."""
    return orjson.dumps(obj, default=_default)


def deserialize(raw: bytes) -> Any:
    """arq job/result deserializer."""
    return orjson.loads(raw)


class JobTriesExhausted(RuntimeError):
    """A job kept failing transiently until its try budget ran out."""


# arq's own timeout is a backstop only: ours fires first, so a timed-out job is an ordinary
# failure that still gets its outbox row marked done within the margin.
_ARQ_TIMEOUT_MARGIN_S = 5.0


def arq_function(spec: JobSpec) -> Any:
    """Wrap one of our job specs as an arq function with the same limits.

    When the job ends for good (success, a non-transient error, tries exhausted, timeout) its
    row in the job outbox, if it has one, is marked done (``engine.jobs.outbox``). A Retry is
    not an end; neither is a cancellation (arq cancels on shutdown and runs the job again).
    """

    @functools.wraps(spec.func)
    async def run(ctx: dict[str, Any], **kwargs: Any) -> JSON:
        deps = ctx.get("deps")
        job_ctx = JobContext(deps=deps, job_id=ctx["job_id"], job_try=ctx["job_try"])
        try:
            async with asyncio.timeout(spec.timeout_s):
                result = await spec.func(job_ctx, **kwargs)
        except Transient as exc:
            if ctx["job_try"] >= spec.max_tries:
                M.JOB_OUTCOMES.labels(spec.name, "failed").inc()
                await job_ended(deps, job_ctx.job_id)
                raise JobTriesExhausted(f"max {spec.max_tries} tries exceeded: {exc}") from exc
            M.JOB_OUTCOMES.labels(spec.name, "retried").inc()
            raise Retry(defer=exc.defer_s) from exc
        except asyncio.CancelledError:
            M.JOB_OUTCOMES.labels(spec.name, "failed").inc()
            raise
        except Exception:
            M.JOB_OUTCOMES.labels(spec.name, "failed").inc()
            await job_ended(deps, job_ctx.job_id)
            raise
        M.JOB_OUTCOMES.labels(spec.name, "complete").inc()
        await job_ended(deps, job_ctx.job_id)
        return result

    return func(
        run,
        name=spec.name,
        timeout=spec.timeout_s + _ARQ_TIMEOUT_MARGIN_S,
        max_tries=spec.max_tries + 1,
    )


def build_worker(
    registry: JobRegistry,
    redis: ArqRedis,
    *,
    queue_name: str = DEFAULT_QUEUE,
    on_startup: StartupShutdown | None = None,
    on_shutdown: StartupShutdown | None = None,
    ctx: dict[str, Any] | None = None,
    burst: bool = False,
    max_jobs: int = 50,
    poll_delay: float = 0.05,
    handle_signals: bool = True,
    job_completion_wait: int = 0,
) -> Worker:
    """An arq Worker running every job of the registry."""
    return Worker(
        functions=[arq_function(spec) for spec in registry],
        redis_pool=redis,
        queue_name=queue_name,
        on_startup=on_startup,
        on_shutdown=on_shutdown,
        ctx=ctx,
        burst=burst,
        max_jobs=max_jobs,
        poll_delay=poll_delay,
        handle_signals=handle_signals,
        job_completion_wait=job_completion_wait,
        job_serializer=serialize,
        job_deserializer=deserialize,
        keep_result=3600,
    )


class ArqJobs:
    """JobQueue over an arq Redis pool (the pool is owned by the caller)."""

    def __init__(self, redis: ArqRedis, *, queue_name: str = DEFAULT_QUEUE) -> None:
        self._redis = redis
        self._queue = queue_name

    async def enqueue(
        self, name: str, *, job_id: str | None = None, defer_s: float = 0.0, **kwargs: JSON
    ) -> str | None:
        """Queue a job; None when that id is queued, running or has a kept result."""
        orjson.dumps(kwargs)  # refuse what cannot be carried, before touching Redis
        job = await self._redis.enqueue_job(
            name,
            _job_id=job_id,
            _defer_by=defer_s or None,
            _queue_name=self._queue,
            **kwargs,
        )
        return None if job is None else job.job_id

    async def result(self, job_id: str, *, timeout_s: float = 30.0) -> JobResult:
        """Poll until the job has a result, then translate it into ours."""
        job = Job(job_id, self._redis, _queue_name=self._queue, _deserializer=deserialize)
        async with asyncio.timeout(timeout_s):
            while True:
                info = await job.result_info()
                if info is not None:
                    break
                if await job.status() == JobStatus.not_found:
                    raise KeyError(f"unknown job id {job_id!r}")
                await asyncio.sleep(0.02)
        if info.success:
            return JobResult(job_id, info.function, True, info.result, None, info.job_try)
        err = info.result
        if isinstance(err, dict) and "error" in err:
            name = err["error"]
            message = _arq_error_message(name, err.get("message", ""))
        else:
            message = str(err)
        return JobResult(job_id, info.function, False, None, message, info.job_try)


def _arq_error_message(name: str, message: str) -> str:
    if name == "TimeoutError":
        return "timed out"
    if name == "JobTriesExhausted":
        return message
    return f"{name}: {message}"
