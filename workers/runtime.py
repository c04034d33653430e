"""Build a process's resources from settings, check they work, and close them symmetrically."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator

from arq import create_pool
from arq.connections import ArqRedis, RedisSettings
from sqlalchemy import text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine

from agent.service import AgentService
from engine.bus.base import Bus
from engine.bus.memory import MemoryBus
from engine.bus.redis import RedisBus
from engine.chain.rpc import RpcClient
from engine.clock import Clock, SystemClock
from engine.deps import Deps
from engine.jobs.base import JobQueue, JobRegistry
from engine.settings import ConfigError, Settings
from engine.storage.db import make_engine, make_sessionmaker
from workers.jobs.arq import ArqJobs, deserialize, serialize
from workers.jobs.inprocess import InProcessJobs

log = logging.getLogger(__name__)


def redact(url: str) -> str:
    """A URL safe to print: the password replaced by ***."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url.split("@")[-1]


async def check_database(engine: AsyncEngine, url: str) -> None:
    """Connect once; a failure names SOLAI_DATABASE_URL and the reason."""
    try:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except Exception as exc:
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise ConfigError(
            f"SOLAI_DATABASE_URL: cannot connect to {redact(url)}: {reason}"
        ) from None


async def connect_redis(url: str) -> ArqRedis:
    """An arq Redis pool (also used by the bus), checked with PING; errors name SOLAI_REDIS_URL."""
    settings = RedisSettings.from_dsn(url)
    settings.conn_retries = 0
    settings.conn_timeout = 3
    try:
        redis = await create_pool(settings, job_serializer=serialize, job_deserializer=deserialize)
        await redis.ping()
    except Exception as exc:
        raise ConfigError(
            f"SOLAI_REDIS_URL: cannot reach Redis at {redact(url)}: {exc or type(exc).__name__}"
        ) from None
    return redis


@contextlib.asynccontextmanager
async def open_deps(
    settings: Settings,
    registry: JobRegistry,
    *,
    clock: Clock | None = None,
    start_jobs: bool = True,
    bus_prefix: str | None = None,
    queue_name: str | None = None,
    db_schema: str | None = None,
) -> AsyncIterator[Deps]:
    """Open storage, bus and jobs for the configured mode, and close them in reverse order."""
    clock = clock or SystemClock()
    db = make_engine(settings.database_url, schema=db_schema)
    redis: ArqRedis | None = None
    inprocess: InProcessJobs | None = None
    provider = settings.rpc_providers[0]
    # `processed` is for ingest's subscriptions; reads here (risk, trades: getTransaction
    # refuses `processed`) stay at `confirmed`, never on state a dropped transaction made.
    commitment = "confirmed" if settings.rpc_commitment == "processed" else settings.rpc_commitment
    rpc = RpcClient.from_provider(provider, timeout_s=settings.rpc_timeout_s, commitment=commitment)
    try:
        await check_database(db, settings.database_url)
        bus: Bus
        jobs: JobQueue
        if settings.redis_url:
            redis = await connect_redis(settings.redis_url)
            bus = RedisBus(
                redis,
                settings.bus_partitions,
                prefix=bus_prefix or settings.bus_prefix,
                maxlen=settings.bus_maxlen,
            )
            jobs = ArqJobs(redis, queue_name=queue_name or settings.job_queue)
        else:
            bus = MemoryBus(settings.bus_partitions, maxlen=settings.bus_maxlen, clock=clock)
            inprocess = InProcessJobs(registry)
            jobs = inprocess
        deps = Deps(
            settings=settings,
            clock=clock,
            db=db,
            sessions=make_sessionmaker(db),
            bus=bus,
            jobs=jobs,
            rpc=rpc,
            redis=redis,
        )
        deps.agent = AgentService.from_deps(deps)
        if inprocess is not None:
            inprocess.deps = deps
            if start_jobs:
                await inprocess.start()
        log.info(
            "resources open: storage=%s bus=%s jobs=%s",
            "sqlite" if settings.is_sqlite else "postgresql",
            "redis" if redis else "in-process",
            "arq" if redis else "in-process",
        )
        try:
            yield deps
        finally:
            await deps.agent.aclose()
        await bus.close()
    finally:
        if inprocess is not None:
            await inprocess.close()
        if redis is not None:
            await redis.aclose()
        await rpc.aclose()
        await db.dispose()
