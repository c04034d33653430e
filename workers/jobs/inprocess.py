"""In-process job runner for the embedded default, with arq's retry and timeout semantics."""

from __future__ import annotations

import asyncio
import logging
import uuid
from dataclasses import dataclass

import orjson

from engine.jobs.base import JSON, JobContext, JobRegistry, JobResult, Transient
from engine.jobs.base import JobCounters as JobCounters
from engine.jobs.outbox import job_ended
from engine.observability import metrics as M

log = logging.getLogger(__name__)


@dataclass(slots=True)
class _Queued:
    job_id: str
    name: str
    kwargs_json: bytes
    job_try: int = 1


class InProcessJobs:
    """Runs registered jobs on ``concurrency`` asyncio tasks in this process.

    50 by default, as many as an arq worker runs (``solai worker --max-jobs``): jobs wait on
    I/O (RPC, the Bot API, the model), and with 8 a start-of-run wave of risk checks (~0.7 s
    each) held the first signal's fan-out back ~2.4 s (``solai bench pipeline``).
    """

    def __init__(
        self,
        registry: JobRegistry,
        deps: object = None,
        *,
        concurrency: int = 50,
        keep_result_s: float = 3600.0,
    ) -> None:
        self._registry = registry
        self.deps = deps
        self._concurrency = concurrency
        self._keep_result_s = keep_result_s
        self._queue: asyncio.Queue[_Queued] = asyncio.Queue()
        self._active: set[str] = set()
        self._results: dict[str, JobResult] = {}
        self._done: dict[str, asyncio.Event] = {}
        self._workers: list[asyncio.Task[None]] = []
        self._timers: set[asyncio.TimerHandle] = set()
        self.counters = JobCounters()
        self._idle = asyncio.Event()

    async def start(self) -> None:
        """Start the worker tasks."""
        if not self._workers:
            self._workers = [
                asyncio.create_task(self._work(), name=f"job-worker-{i}")
                for i in range(self._concurrency)
            ]

    async def close(self) -> None:
        """Stop the workers; queued jobs that have not started are dropped with the process."""
        for t in self._timers:
            t.cancel()
        for w in self._workers:
            w.cancel()
        await asyncio.gather(*self._workers, return_exceptions=True)
        self._workers = []

    async def enqueue(
        self, name: str, *, job_id: str | None = None, defer_s: float = 0.0, **kwargs: JSON
    ) -> str | None:
        """Queue a job; None when the id is queued, running or has a kept result."""
        self._registry.get(name)
        job_id = job_id or uuid.uuid4().hex
        if job_id in self._active or job_id in self._results:
            return None
        # JSON round trip now, so the embedded mode refuses what arq could not carry either.
        item = _Queued(job_id, name, orjson.dumps(kwargs))
        self._active.add(job_id)
        self._done[job_id] = asyncio.Event()
        self._schedule(item, defer_s)
        return job_id

    def _schedule(self, item: _Queued, defer_s: float) -> None:
        if defer_s <= 0:
            self._queue.put_nowait(item)
            return
        loop = asyncio.get_running_loop()
        handle: asyncio.TimerHandle

        def fire() -> None:
            self._timers.discard(handle)
            self._queue.put_nowait(item)

        handle = loop.call_later(defer_s, fire)
        self._timers.add(handle)

    async def _work(self) -> None:
        while True:
            item = await self._queue.get()
            try:
                await self._run(item)
            except Exception:  # a bug in the runner itself must not kill the worker
                log.exception("job runner error on %s", item.job_id)

    async def _run(self, item: _Queued) -> None:
        spec = self._registry.get(item.name)
        ctx = JobContext(deps=self.deps, job_id=item.job_id, job_try=item.job_try)
        kwargs = orjson.loads(item.kwargs_json)
        success, value, error = False, None, None
        try:
            async with asyncio.timeout(spec.timeout_s):
                value = await spec.func(ctx, **kwargs)
            value = orjson.loads(orjson.dumps(value))
        except Transient as exc:
            if item.job_try < spec.max_tries:
                self.counters.retried += 1
                log.info("job %s try %d: %s; retrying", item.job_id, item.job_try, exc)
                item.job_try += 1
                self._schedule(item, exc.defer_s)
                return
            error = f"max {spec.max_tries} tries exceeded: {exc}"
        except TimeoutError:
            error = f"timed out after {spec.timeout_s}s"
        except Exception as exc:
            log.exception("job %s (%s) failed", item.job_id, item.name)
            error = f"{type(exc).__name__}: {exc}"
        else:
            success = True
        # Ended for good: its outbox row (if it has one) is done before anyone sees the result.
        await job_ended(self.deps, item.job_id)
        self._finish(item, success, value if success else None, error)

    def _finish(self, item: _Queued, success: bool, value: JSON, error: str | None) -> None:
        if success:
            self.counters.complete += 1
        else:
            self.counters.failed += 1
        M.JOB_OUTCOMES.labels(item.name, "complete" if success else "failed").inc()
        self._active.discard(item.job_id)
        self._results[item.job_id] = JobResult(
            item.job_id, item.name, success, value, error, item.job_try
        )
        self._done[item.job_id].set()
        if not self._active:
            self._idle.set()
        if self._keep_result_s > 0:
            asyncio.get_running_loop().call_later(
                self._keep_result_s, self._results.pop, item.job_id, None
            )

    async def result(self, job_id: str, *, timeout_s: float = 30.0) -> JobResult:
        """Wait for a job to finish and return how it ended."""
        if job_id in self._results:
            return self._results[job_id]
        done = self._done.get(job_id)
        if done is None:
            raise KeyError(f"unknown job id {job_id!r}")
        await asyncio.wait_for(done.wait(), timeout_s)
        return self._results[job_id]

    async def join(self, *, timeout_s: float = 30.0) -> None:
        """Wait until no job is queued or running (for tests and orderly shutdown)."""
        async with asyncio.timeout(timeout_s):
            while self._active:
                self._idle.clear()
                await self._idle.wait()
