"""Apply, revert and inspect the Alembic revisions in ``migrations/``."""

from __future__ import annotations

import asyncio
import importlib.util
import io
from pathlib import Path

from alembic import command
from alembic.config import Config


def script_location() -> Path:
    """The folder holding env.py and versions/, wherever the package was installed."""
    spec = importlib.util.find_spec("migrations")
    for folder in (spec.submodule_search_locations or []) if spec else []:
        if (Path(folder) / "env.py").is_file():
            return Path(folder)
    raise RuntimeError("the migrations package (env.py) is not installed next to workers")


def alembic_config(url: str, *, schema: str | None = None) -> Config:
    """An Alembic config pointing at our revisions and the given database."""
    cfg = Config(stdout=io.StringIO())
    cfg.set_main_option("script_location", str(script_location()))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    cfg.attributes["schema"] = schema
    return cfg


def upgrade(url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Upgrade the database to ``revision`` (blocking; runs its own event loop)."""
    command.upgrade(alembic_config(url, schema=schema), revision)


def downgrade(url: str, revision: str, *, schema: str | None = None) -> None:
    """Downgrade the database to ``revision`` (``base`` empties it)."""
    command.downgrade(alembic_config(url, schema=schema), revision)


async def upgrade_async(url: str, revision: str = "head", *, schema: str | None = None) -> None:
    """Upgrade from async code: Alembic's env runs its own loop, so it goes to a thread."""
    await asyncio.to_thread(upgrade, url, revision, schema=schema)


async def downgrade_async(url: str, revision: str, *, schema: str | None = None) -> None:
    """Downgrade from async code (see ``upgrade_async``)."""
    await asyncio.to_thread(downgrade, url, revision, schema=schema)
