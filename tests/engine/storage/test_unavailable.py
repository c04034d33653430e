"""Which errors mean "the database is away, retry" (the scorer retries only those)."""

from __future__ import annotations

import sqlite3

import asyncpg
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql.asyncpg import AsyncAdapt_asyncpg_dbapi as PgDbapi

from engine.storage.db import is_unavailable


def raised_from(outer: BaseException, inner: BaseException) -> BaseException:
    try:
        try:
            raise inner
        except BaseException as cause:
            raise outer from cause
    except BaseException as exc:
        return exc


@pytest.mark.parametrize(
    "exc",
    [
        ConnectionRefusedError(111, "Connect call failed"),
        TimeoutError(),  # asyncpg's connect timeout
        sa_exc.DBAPIError(
            "INSERT", {}, Exception("closed mid-operation"), connection_invalidated=True
        ),
        sa_exc.OperationalError("INSERT", {}, sqlite3.OperationalError("database is locked")),
        # How SQLAlchemy wraps asyncpg: DBAPIError(orig=adapted error raised from asyncpg's).
        sa_exc.DBAPIError(
            "SELECT 1",
            {},
            raised_from(PgDbapi.Error("starting up"), asyncpg.CannotConnectNowError()),
        ),
        asyncpg.TooManyConnectionsError(),
        sa_exc.TimeoutError("QueuePool limit reached"),
    ],
)
def test_outages_are_retryable(exc: BaseException) -> None:
    assert is_unavailable(exc)


@pytest.mark.parametrize(
    "exc",
    [
        sa_exc.IntegrityError("INSERT", {}, Exception("duplicate key")),
        sa_exc.ProgrammingError("SELEC 1", {}, Exception("syntax error")),
        ValueError("strength must be within 0.0-3.0"),
        # Redis down is the bus's business, even when redis-py raised it from an OSError.
        raised_from(RedisConnectionError("Error 111 connecting"), ConnectionRefusedError()),
    ],
)
def test_statement_errors_and_other_services_are_not(exc: BaseException) -> None:
    assert not is_unavailable(exc)
