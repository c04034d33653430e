"""``solai migrate``: apply (or revert) the schema revisions on the configured database."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

from alembic.util.exc import CommandError

from engine.settings import ConfigError, get_settings
from engine.storage.db import make_engine
from workers import migrate
from workers.runtime import check_database, redact


def register(sub: Any) -> None:
    """Add the ``migrate`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "migrate", help="upgrade the database schema (SOLAI_DATABASE_URL) to the latest revision"
    )
    p.add_argument("--revision", default="head", help="target revision (default: head)")
    p.add_argument(
        "--downgrade", metavar="REV", help="downgrade to REV instead (base empties the schema)"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Upgrade to ``--revision`` or downgrade to ``--downgrade``."""
    settings = get_settings()
    url = settings.database_url
    asyncio.run(_check(url))
    try:
        if args.downgrade:
            migrate.downgrade(url, args.downgrade)
            print(f"downgraded {redact(url)} to {args.downgrade}")
        else:
            migrate.upgrade(url, args.revision)
            print(f"upgraded {redact(url)} to {args.revision}")
    except CommandError as exc:
        raise ConfigError(f"migration failed: {exc}") from None
    return 0


async def _check(url: str) -> None:
    # Connect first, so an unreachable database is reported as such and nothing is half-done.
    engine = make_engine(url)
    try:
        await check_database(engine, url)
    finally:
        await engine.dispose()
