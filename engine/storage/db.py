"""Database engine and sessions for SQLite (aiosqlite) and PostgreSQL (asyncpg).

Outages: ``pool_pre_ping`` replaces a pooled connection the server or the network dropped, so
the first statement after PostgreSQL comes back succeeds; connects give up after
``CONNECT_TIMEOUT_S`` (asyncpg waits 60 s by default), so a caller retrying in a loop or a
readiness probe is not held by a silent network. :func:`is_unavailable` tells "the database is
away, try again" from "this statement is wrong".
"""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Any

import asyncpg  # type: ignore[import-untyped]  # no stubs; only its exception classes
from sqlalchemy import event
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)
from sqlalchemy.pool import ConnectionPoolEntry

log = logging.getLogger(__name__)

CONNECT_TIMEOUT_S = 5.0
"""How long a new PostgreSQL connection may take before the attempt fails."""

_AWAY = (
    OSError,  # refused, reset, unreachable; TimeoutError (a connect timeout) is one too
    asyncpg.PostgresConnectionError,  # the connection does not exist, or failed
    asyncpg.CannotConnectNowError,  # the server is starting up or in recovery
    asyncpg.AdminShutdownError,  # the server is shutting down
    asyncpg.TooManyConnectionsError,
    sa_exc.TimeoutError,  # no pooled connection came free in time
)
_DB_STACK = ("sqlalchemy", "asyncpg", "sqlite3", "aiosqlite")


def _sqlite_pragmas(dbapi_conn: Any, _record: ConnectionPoolEntry) -> None:
    # WAL lets the API read while the ingest writes; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    cur.close()


def make_engine(url: str, *, schema: str | None = None, echo: bool = False) -> AsyncEngine:
    """Create an async engine; for SQLite the file's folder is created and pragmas are set.

    ``schema`` puts every PostgreSQL connection on that ``search_path`` (used to isolate tests).
    """
    parsed = make_url(url)
    kwargs: dict[str, Any] = {"echo": echo, "pool_pre_ping": True}
    if parsed.drivername.startswith("sqlite"):
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, **kwargs)
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        return engine
    connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT_S}
    if schema is not None:
        connect_args["server_settings"] = {"search_path": schema}
    kwargs["connect_args"] = connect_args
    kwargs.update(pool_size=10, max_overflow=10)
    return create_async_engine(url, **kwargs)


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    """A session factory whose objects stay readable after commit."""
    return async_sessionmaker(engine, expire_on_commit=False)


def is_unavailable(exc: BaseException) -> bool:
    """True when ``exc`` means the database cannot be reached now (retrying later may work).

    A lost, refused or timed-out connection, a server starting or shutting down, too many
    connections, SQLite's "database is locked". Constraint violations, bad SQL and the like are
    not: retrying those would never succeed. Errors of the database stack (SQLAlchemy, asyncpg,
    sqlite3) are looked through to what they wrap (``orig``, ``raise … from``).
    """
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        if isinstance(cur, sa_exc.DBAPIError) and cur.connection_invalidated:
            return True
        if isinstance(cur, _AWAY):
            return True
        if isinstance(cur, sqlite3.OperationalError) and "locked" in str(cur):
            return True
        if not type(cur).__module__.startswith(_DB_STACK):
            return False  # e.g. a Redis error raised from an OSError is not the database's
        orig = getattr(cur, "orig", None)
        cur = orig if isinstance(orig, BaseException) else cur.__cause__
    return False
