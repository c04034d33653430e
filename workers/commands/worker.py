"""``solai worker``: run the arq worker pool on Redis (production mode)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from typing import Any

from engine.settings import ConfigError, get_settings
from workers.jobs.arq import build_worker
from workers.jobs.registry import default_registry
from workers.observability import serve_metrics
from workers.runtime import connect_redis, open_deps


def register(sub: Any) -> None:
    """Add the ``worker`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "worker", help="run the arq job worker (needs SOLAI_REDIS_URL)"
    )
    p.add_argument("--burst", action="store_true", help="exit when the queue is empty")
    p.add_argument("--max-jobs", type=int, default=50, help="jobs run concurrently")
    p.add_argument(
        "--grace",
        type=int,
        default=20,
        help="seconds running jobs get to finish after SIGTERM/SIGINT (default 20)",
    )
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus /metrics, /ops/liveness and /ops/readiness on this port",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the worker until stopped (or, with --burst, until the queue is empty)."""
    if args.metrics_port:
        serve_metrics(args.metrics_port, get_settings().metrics_host)
    settings = get_settings()
    if not settings.redis_url:
        raise ConfigError(
            "SOLAI_REDIS_URL is not set: the embedded default runs jobs in-process "
            "(solai api / solai demo); set it to run a separate worker pool"
        )
    return asyncio.run(_run(args.burst, args.max_jobs, args.grace))


async def _run(burst: bool, max_jobs: int, grace_s: int = 20) -> int:
    settings = get_settings()
    registry = default_registry()
    assert settings.redis_url is not None
    redis = await connect_redis(settings.redis_url)
    stack = contextlib.AsyncExitStack()

    async def startup(ctx: dict[str, Any]) -> None:
        ctx["deps"] = await stack.enter_async_context(open_deps(settings, registry))

    async def shutdown(ctx: dict[str, Any]) -> None:
        await stack.aclose()

    worker = build_worker(
        registry,
        redis,
        queue_name=settings.job_queue,
        on_startup=startup,
        on_shutdown=shutdown,
        burst=burst,
        max_jobs=max_jobs,
        job_completion_wait=grace_s,
    )
    try:
        # async_run, not main(): arq's signal handler stops the worker by cancelling the task
        # async_run records; with main() SIGTERM was ignored and only SIGKILL stopped it (then
        # every send in flight was left in doubt). Running jobs get ``grace_s`` to finish.
        with contextlib.suppress(asyncio.CancelledError):
            await worker.async_run()
    finally:
        await worker.close()
        await redis.aclose()
    return 0
