"""``solai api``: serve the REST API (and, later, the Mini App) with uvicorn."""

from __future__ import annotations

import argparse
import asyncio
from typing import Any

import uvicorn

from engine.settings import get_settings
from webapp.app import create_app
from workers import migrate
from workers.jobs.registry import default_registry
from workers.runtime import open_deps


def register(sub: Any) -> None:
    """Add the ``api`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser("api", help="serve the HTTP API")
    p.add_argument("--host", default=None, help="bind address (default SOLAI_API_HOST)")
    p.add_argument("--port", type=int, default=None, help="port (default SOLAI_API_PORT)")
    p.add_argument(
        "--no-migrate", action="store_true", help="do not upgrade the schema before starting"
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Open resources, build the app, serve until interrupted."""
    settings = get_settings()
    host = args.host or settings.api_host
    port = args.port or settings.api_port
    if not args.no_migrate:
        migrate.upgrade(settings.database_url)
    return asyncio.run(serve(host, port))


async def serve(host: str, port: int) -> int:
    """Serve the API on host:port with resources opened for the app's lifetime."""
    settings = get_settings()
    async with open_deps(settings, default_registry()) as deps:
        app = create_app(deps)
        config = uvicorn.Config(app, host=host, port=port, log_level="info")
        server = uvicorn.Server(config)
        print(f"SolAI API on http://{host}:{port} (health: /ops/readiness, docs: /docs)")
        await server.serve()
    return 0
