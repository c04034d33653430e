"""The ``solai`` CLI: migrate on a fresh SQLite file, clear errors for bad configuration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from engine.jobs.base import JobRegistry
from engine.settings import ConfigError, load_settings
from workers.cli import build_parser, main
from workers.runtime import open_deps


def test_help_lists_only_real_commands(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    commands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    # Every registered command is a real module with a handler: no stub that pretends.
    for name, parser in commands.items():
        assert name in out
        assert callable(parser.get_default("func")), name
    for name in ("migrate", "api", "worker", "ingest", "score", "sim", "decode", "replay", "demo"):
        assert name in commands


def test_migrate_creates_schema_in_an_empty_sqlite_file(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = isolated_env / "fresh" / "solai.db"
    monkeypatch.setenv("SOLAI_DATABASE_URL", f"sqlite:///{db}")
    assert main(["migrate"]) == 0
    assert "upgraded" in capsys.readouterr().out
    with sqlite3.connect(db) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"tokens", "signals", "ticks", "audit_log", "alembic_version"} <= tables
    assert main(["migrate", "--downgrade", "base"]) == 0
    with sqlite3.connect(db) as conn:
        left = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert left == {"alembic_version"}


def test_malformed_database_url_names_the_variable(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOLAI_DATABASE_URL", "postgres//oops")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "SOLAI_DATABASE_URL" in err and "Traceback" not in err


def test_worker_without_redis_explains_the_embedded_mode(
    isolated_env: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["worker"]) == 2
    assert "SOLAI_REDIS_URL is not set" in capsys.readouterr().err


async def test_unreachable_redis_names_the_variable(isolated_env: Path, tmp_sqlite: str) -> None:
    # Port 1 on loopback: nothing listens there, the connection is refused at once.
    settings = load_settings(database_url=tmp_sqlite, redis_url="redis://:hunter2@127.0.0.1:1/0")
    with pytest.raises(ConfigError, match="SOLAI_REDIS_URL: cannot reach Redis") as info:
        async with open_deps(settings, JobRegistry()):
            pass
    assert "hunter2" not in str(info.value)


async def test_unreachable_postgres_names_the_variable(isolated_env: Path) -> None:
    settings = load_settings(database_url="postgresql://u:s3cret@127.0.0.1:1/db")
    with pytest.raises(ConfigError, match="SOLAI_DATABASE_URL: cannot connect") as info:
        async with open_deps(settings, JobRegistry()):
            pass
    assert "s3cret" not in str(info.value)


def test_migrate_reports_an_unreachable_database(
    isolated_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("SOLAI_DATABASE_URL", "postgresql://u:pw@127.0.0.1:1/solai")
    assert main(["migrate"]) == 2
    err = capsys.readouterr().err
    assert "SOLAI_DATABASE_URL: cannot connect to" in err and ":***@" in err


def test_migrations_are_found_outside_the_repository(tmp_path: Path) -> None:
    import subprocess
    import sys

    # Console scripts do not have the repository on sys.path: the lookup must not rely on it.
    code = "from workers.migrate import script_location; print(script_location())"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, check=True
    )
    assert (Path(out.stdout.strip()) / "env.py").is_file()
