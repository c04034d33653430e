"""The job outbox: jobs decided inside a database transaction outlive a queue that loses them.

Why: the scorer decides jobs per batch (risk checks, narratives, alert fan-out, auto-trade, fill
alerts) and arq keeps queued jobs in Redis. If Redis comes back without its data, those jobs are
gone while the database already holds the signals they were for. So the scorer writes its jobs
as rows in the same transaction as the batch (one multi-row INSERT), still enqueues them right
after the commit, and the job runners mark a row done when its job ends for good (success, a
non-transient error, tries exhausted, timeout). :class:`OutboxRelay` re-enqueues rows still not
done after ``after_s`` under their own job id: a queue refuses an id it still holds (queued,
running, or finished with a kept result), so a job that is merely slow is not doubled.

Done rows are deleted after ``keep_s``; a row still not done after ``give_up_s`` (its job keeps
being refused because a kept result exists but marking it done failed, or its name is no longer
registered) is deleted with a warning.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import and_, delete, or_, select, tuple_, update
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.clock import Clock
from engine.jobs.base import JSON, JobQueue
from engine.storage.models import JobOutbox
from engine.storage.repos._upsert import insert_for

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class OutboxJob:
    """One job as the outbox stores it: enqueued under ``job_id`` with ``kwargs``."""

    job_id: str
    name: str
    kwargs: dict[str, JSON]


async def add(session: AsyncSession, jobs: Sequence[OutboxJob], *, now_ms: int) -> None:
    """Store jobs in the caller's transaction; an id already stored (a replayed batch) is kept."""
    if not jobs:
        return
    rows = {
        j.job_id: {
            "job_id": j.job_id,
            "name": j.name,
            "kwargs": j.kwargs,
            "created_ts": now_ms,
            "done_ts": None,
        }
        for j in jobs
    }
    # An executemany of one cached statement; SQLAlchemy sends it as one multi-row INSERT.
    stmt = insert_for(session, JobOutbox.__table__).on_conflict_do_nothing(
        index_elements=["job_id"]
    )
    await session.execute(stmt, list(rows.values()))


async def mark_done(
    sessions: async_sessionmaker[AsyncSession], *, job_id: str, now_ms: int
) -> bool:
    """Mark a job's row done; False when there is no such row (most jobs are not outboxed)."""
    async with sessions.begin() as session:
        result = await session.execute(
            update(JobOutbox)
            .where(JobOutbox.job_id == job_id, JobOutbox.done_ts.is_(None))
            .values(done_ts=now_ms)
        )
    return bool(getattr(result, "rowcount", 0))


async def job_ended(deps: Any, job_id: str) -> None:
    """What a job runner calls when a job ended for good; never raises.

    ``deps`` may be None (runners in tests run without storage). A failure to mark is logged:
    the row stays and the relay offers the job again, which the queue refuses while it keeps
    the job's result.
    """
    sessions = getattr(deps, "sessions", None)
    clock = getattr(deps, "clock", None)
    if sessions is None or clock is None:
        return
    try:
        await mark_done(sessions, job_id=job_id, now_ms=clock.now_ms())
    except Exception as exc:
        log.warning("could not mark job %s done in the outbox: %s", job_id, exc)


@dataclass
class RelayCounters:
    """What the relay has done (tests and logs)."""

    passes: int = 0
    relayed: int = 0
    """Rows re-enqueued because the queue no longer had their job."""
    present: int = 0
    """Rows offered again but refused: the queue still holds the job (slow, not lost)."""
    pruned: int = 0
    abandoned: int = 0
    errors: int = 0

    def snapshot(self) -> dict[str, int]:
        """A JSON-ready copy."""
        return asdict(self)


class OutboxRelay:
    """Re-enqueues outbox rows not done after ``after_s``; prunes old rows. Called in a loop."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        jobs: JobQueue,
        clock: Clock,
        *,
        after_s: float = 30.0,
        every_s: float = 5.0,
        keep_s: float = 3600.0,
        give_up_s: float = 86_400.0,
        limit: int = 500,
    ) -> None:
        self._sessions = sessions
        self._jobs = jobs
        self._clock = clock
        self._after_ms = int(after_s * 1000)
        self._every_s = every_s
        self._keep_ms = int(keep_s * 1000)
        self._give_up_ms = int(give_up_s * 1000)
        self._limit = limit
        self._next = 0.0
        self._cursor: tuple[int, str] | None = None
        """Where the current sweep is: rows refused as present are not re-read every pass."""
        self.counters = RelayCounters()

    async def maybe_run(self) -> None:
        """Run a pass when ``every_s`` has elapsed since the last; never raises."""
        now = time.monotonic()
        if now < self._next:
            return
        self._next = now + self._every_s
        try:
            await self.run_once()
        except Exception as exc:
            self.counters.errors += 1
            log.warning("outbox relay pass failed: %s", exc)

    async def run_once(self) -> int:
        """One pass: re-enqueue up to ``limit`` stale rows, then prune. Returns rows relayed."""
        self.counters.passes += 1
        now = self._clock.now_ms()
        query = select(JobOutbox.job_id, JobOutbox.name, JobOutbox.kwargs, JobOutbox.created_ts)
        query = query.where(
            JobOutbox.done_ts.is_(None),
            JobOutbox.created_ts <= now - self._after_ms,
            JobOutbox.created_ts >= now - self._give_up_ms,  # past that: pruned, not re-run
        )
        if self._cursor is not None:
            query = query.where(tuple_(JobOutbox.created_ts, JobOutbox.job_id) > self._cursor)
        query = query.order_by(JobOutbox.created_ts, JobOutbox.job_id).limit(self._limit)
        async with self._sessions() as session:
            rows = (await session.execute(query)).all()
        self._cursor = (rows[-1][3], rows[-1][0]) if len(rows) == self._limit else None
        relayed = 0
        unknown: list[str] = []
        for job_id, name, kwargs, _created in rows:
            try:
                got = await self._jobs.enqueue(name, job_id=job_id, **kwargs)
            except KeyError:  # no longer registered: nothing could ever run it
                unknown.append(job_id)
                continue
            except Exception as exc:
                # The queue is down again: the rest waits for the next pass.
                self.counters.errors += 1
                self._cursor = None
                log.warning("outbox relay: cannot enqueue %s: %s", job_id, exc)
                break
            if got is None:
                self.counters.present += 1
            else:
                relayed += 1
        self.counters.relayed += relayed
        if relayed:
            log.warning("outbox relay: re-enqueued %d jobs the queue had lost", relayed)
        await self._prune(now, unknown)
        return relayed

    async def _prune(self, now: int, unknown: list[str]) -> None:
        async with self._sessions.begin() as session:
            done = await session.execute(
                delete(JobOutbox).where(JobOutbox.done_ts < now - self._keep_ms)
            )
            stale = and_(JobOutbox.done_ts.is_(None), JobOutbox.created_ts < now - self._give_up_ms)
            if unknown:
                stale = or_(stale, JobOutbox.job_id.in_(unknown))
            given_up = await session.execute(delete(JobOutbox).where(stale))
        self.counters.pruned += int(getattr(done, "rowcount", 0) or 0)
        abandoned = int(getattr(given_up, "rowcount", 0) or 0)
        if abandoned:
            self.counters.abandoned += abandoned
            log.warning("outbox relay: gave up on %d jobs never marked done", abandoned)
