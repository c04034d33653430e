"""open_deps builds the right implementations for each mode, and jobs see the resources."""

from __future__ import annotations

from pathlib import Path

import pytest

from engine.bus.memory import MemoryBus
from engine.bus.redis import RedisBus
from engine.settings import load_settings
from engine.storage.repos import audit
from tests.conftest import pg_test_schema
from workers.jobs.arq import ArqJobs
from workers.jobs.inprocess import InProcessJobs
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps


async def test_embedded_mode_runs_a_real_job_end_to_end(
    isolated_env: Path, tmp_sqlite: str
) -> None:
    await upgrade_async(tmp_sqlite)
    settings = load_settings(database_url=tmp_sqlite)
    async with open_deps(settings, default_registry()) as deps:
        assert isinstance(deps.bus, MemoryBus) and isinstance(deps.jobs, InProcessJobs)
        job_id = await deps.jobs.enqueue(
            "audit_append", job_id="a1", actor="u:1", action="watch.add", subject="w:1"
        )
        assert job_id == "a1"
        result = await deps.jobs.result("a1", timeout_s=5)
        assert result.success, result.error
        async with deps.sessions() as s:
            rows = await audit.entries(s, subject="w:1")
        assert [(r.id, r.action) for r in rows] == [(result.result, "watch.add")]


@pytest.mark.redis
@pytest.mark.postgres
async def test_production_mode_uses_redis_and_postgres(
    isolated_env: Path, pg_url: str, redis_url: str
) -> None:
    async with pg_test_schema(pg_url) as (url, schema):
        # The production settings path: only the two URLs change.
        settings = load_settings(database_url=url, redis_url=redis_url)
        await upgrade_async(url, schema=schema)
        async with open_deps(settings, default_registry(), bus_prefix="test:rt:") as deps:
            assert isinstance(deps.bus, RedisBus) and isinstance(deps.jobs, ArqJobs)
            assert deps.db.dialect.name == "postgresql"
            assert await deps.redis.ping()
