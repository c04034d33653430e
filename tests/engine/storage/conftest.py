"""Storage fixtures: a migrated database per test, on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engine.storage.db import make_engine, make_sessionmaker
from tests.conftest import pg_test_schema
from workers.migrate import upgrade_async


@dataclass
class Db:
    url: str
    schema: str | None
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name


async def open_db(url: str, schema: str | None) -> Db:
    engine = make_engine(url, schema=schema)
    return Db(url, schema, engine, make_sessionmaker(engine))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def empty_db(request: pytest.FixtureRequest, tmp_sqlite: str) -> AsyncIterator[Db]:
    """An empty database (no schema yet) of each kind."""
    if request.param == "sqlite":
        db = await open_db(tmp_sqlite, None)
        try:
            yield db
        finally:
            await db.engine.dispose()
        return
    async with pg_test_schema(request.getfixturevalue("pg_url")) as (url, schema):
        db = await open_db(url, schema)
        try:
            yield db
        finally:
            await db.engine.dispose()


@pytest.fixture
async def db(empty_db: Db) -> Db:
    """A database upgraded to the latest revision."""
    await upgrade_async(empty_db.url, schema=empty_db.schema)
    return empty_db
