"""Alembic environment: runs revisions over the async engine of SQLite or PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

from alembic import context
from sqlalchemy.engine import Connection

from engine.storage.db import make_engine
from engine.storage.models import Base

config = context.config
target_metadata = Base.metadata


def _do_run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


async def _run_async(url: str, schema: str | None) -> None:
    engine = make_engine(url, schema=schema)
    try:
        async with engine.connect() as conn:
            await conn.run_sync(_do_run)
            await conn.commit()
    finally:
        await engine.dispose()


def run() -> None:
    """Entry point Alembic calls: online mode only (we always have a live database)."""
    connection: Any = config.attributes.get("connection")
    if connection is not None:
        _do_run(connection)
        return
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        raise RuntimeError("no database URL: set SOLAI_DATABASE_URL")
    asyncio.run(_run_async(url, config.attributes.get("schema")))


run()
