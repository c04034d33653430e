"""Migrations: upgrade an empty database, match the models, downgrade and upgrade again."""

from __future__ import annotations

from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError, IntegrityError

from engine.storage.models import Base
from tests.conftest import Db
from workers.migrate import downgrade_async, upgrade_async


def _schema(conn: Connection) -> dict[str, Any]:
    insp = inspect(conn)
    out: dict[str, Any] = {}
    for table in sorted(insp.get_table_names()):
        out[table] = {
            "columns": sorted(
                (c["name"], str(c["type"]), c["nullable"]) for c in insp.get_columns(table)
            ),
            "pk": sorted(insp.get_pk_constraint(table)["constrained_columns"]),
            "indexes": sorted(
                (i["name"], tuple(i["column_names"]), bool(i["unique"]))
                for i in insp.get_indexes(table)
            ),
            "fks": sorted(
                (tuple(f["constrained_columns"]), f["referred_table"])
                for f in insp.get_foreign_keys(table)
            ),
        }
    return out


async def test_upgrade_downgrade_upgrade_leaves_same_schema(empty_db: Db) -> None:
    await upgrade_async(empty_db.url, schema=empty_db.schema)
    async with empty_db.engine.connect() as conn:
        first = await conn.run_sync(_schema)
    assert set(Base.metadata.tables) <= set(first)

    await downgrade_async(empty_db.url, "base", schema=empty_db.schema)
    async with empty_db.engine.connect() as conn:
        emptied = await conn.run_sync(_schema)
    assert set(emptied) == {"alembic_version"}

    await upgrade_async(empty_db.url, schema=empty_db.schema)
    async with empty_db.engine.connect() as conn:
        again = await conn.run_sync(_schema)
    assert again == first


async def test_migrations_match_the_models(db: Db) -> None:
    def diff(conn: Connection) -> list[Any]:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(ctx, Base.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_audit_log_refuses_update_and_delete(db: Db) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            text(
                "INSERT INTO audit_log (ts, actor, action, data) "
                "VALUES (1, 'u:1', 'trade.submit', '{}')"
            )
        )
    for stmt in ("UPDATE audit_log SET actor = 'x'", "DELETE FROM audit_log"):
        with pytest.raises((IntegrityError, DBAPIError), match="append-only"):
            async with db.engine.begin() as conn:
                await conn.execute(text(stmt))
    async with db.engine.connect() as conn:
        assert (await conn.execute(text("SELECT actor FROM audit_log"))).scalar_one() == "u:1"
