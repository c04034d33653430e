"""The one typed bundle of a process's resources, built at the edge and handed inwards."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engine.bus.base import Bus
from engine.clock import Clock
from engine.jobs.base import JobQueue
from engine.settings import Settings


@dataclass(slots=True)
class Deps:
    """Settings, clock, database, bus, jobs and (in production) the Redis client."""

    settings: Settings
    clock: Clock
    db: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    bus: Bus
    jobs: JobQueue
    rpc: Any = None
    """The chain's HTTP JSON-RPC client (``engine.chain.rpc.RpcClient``) of the first provider."""
    redis: Any = None
    agent: Any = None
    """The agent (``agent.interface.Agent``), built at the edge: engine cannot import it."""
