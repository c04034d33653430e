"""Shared fixtures: loopback-only network, real PostgreSQL/Redis when configured, clocks."""

from __future__ import annotations

import contextlib
import ipaddress
import os
import socket
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from engine.clock import FixedClock
from engine.storage.db import make_engine, make_sessionmaker

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO.parent / "shared" / "fixtures"
IN_CI = os.environ.get("CI", "").lower() == "true"

_real_getaddrinfo = socket.getaddrinfo


def _is_local(host: Any) -> bool:
    if host is None:
        return True
    if isinstance(host, bytes):
        host = host.decode()
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _guarded_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
    # An unplanned network call fails the test: only loopback may be resolved or reached.
    if not _is_local(host):
        raise OSError(f"test tried to reach {host!r}: tests may only use loopback servers")
    return _real_getaddrinfo(host, *args, **kwargs)


def pytest_configure(config: pytest.Config) -> None:
    """Install the network guard for the whole session."""
    socket.getaddrinfo = _guarded_getaddrinfo


def fixtures_dir(*parts: str) -> Path:
    """A path under ../shared/fixtures, or skip the test with the reason when it is absent."""
    if not FIXTURES.is_dir():
        pytest.skip(f"shared fixtures not found at {FIXTURES} (they live beside the repository)")
    return FIXTURES.joinpath(*parts)


def _service_url(var: str, what: str) -> str:
    url = os.environ.get(var)
    if url:
        return url
    if IN_CI:
        pytest.fail(f"{var} is not set: under CI the {what} tests must run, not skip")
    pytest.skip(f"{var} not set: {what} tests need a real {what}")


@pytest.fixture(scope="session")
def pg_url() -> str:
    """URL of the real PostgreSQL test database."""
    return _service_url("SOLAI_TEST_DATABASE_URL", "PostgreSQL")


@pytest.fixture(scope="session")
def redis_url() -> str:
    """URL of the real Redis used by tests."""
    return _service_url("SOLAI_TEST_REDIS_URL", "Redis")


@contextlib.asynccontextmanager
async def pg_test_schema(pg_url: str) -> AsyncIterator[tuple[str, str]]:
    """A fresh PostgreSQL schema, dropped afterwards: yields (normalized url, schema)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    from engine.settings import load_settings

    url = load_settings(database_url=pg_url).database_url
    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    schema = f"t_{uuid.uuid4().hex[:12]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE SCHEMA "{schema}"')
        yield url, schema
    finally:
        await conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await conn.close()


@pytest.fixture
def clock() -> FixedClock:
    """A clock fixed at 2026-01-01T00:00:00Z."""
    return FixedClock(1_767_225_600_000)


@pytest.fixture
def tmp_sqlite(tmp_path: Path) -> str:
    """URL of an empty SQLite file."""
    return f"sqlite+aiosqlite:///{tmp_path / 'solai.db'}"


@pytest.fixture
def isolated_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[Path]:
    """No SOLAI_* variables and no .env from the developer's shell; cwd is a temp dir."""
    for key in list(os.environ):
        if key.startswith("SOLAI_"):
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)
    from engine.settings import get_settings

    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


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
    from workers.migrate import upgrade_async

    await upgrade_async(empty_db.url, schema=empty_db.schema)
    return empty_db


_SERVICE_MARKS = ("postgres", "redis", "chaos")


def pytest_terminal_summary(terminalreporter: Any) -> None:
    """Show how many PostgreSQL/Redis/chaos tests really ran, so a silent skip is visible."""
    counts: dict[str, dict[str, int]] = {m: {} for m in _SERVICE_MARKS}
    for outcome in ("passed", "failed", "skipped", "error"):
        for rep in terminalreporter.stats.get(outcome, []):
            keywords = getattr(rep, "keywords", {})
            for mark in _SERVICE_MARKS:
                if mark in keywords:
                    counts[mark][outcome] = counts[mark].get(outcome, 0) + 1
    terminalreporter.section("real services")
    for mark, c in counts.items():
        parts = ", ".join(f"{n} {o}" for o, n in sorted(c.items())) or "none"
        terminalreporter.write_line(f"{mark:>8}: {parts}")
