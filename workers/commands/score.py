"""``solai score``: consume bus events, score them, store and announce signals."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import socket
from typing import Any

from engine.settings import get_settings
from workers.jobs.registry import default_registry
from workers.observability import READINESS, Readiness, serve_metrics
from workers.runtime import open_deps
from workers.scoring import ScoringConsumer


def register(sub: Any) -> None:
    """Add the ``score`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "score", help="score events from the bus into signals (one consumer per partition set)"
    )
    p.add_argument(
        "--partitions",
        default=None,
        help="partitions this consumer owns, e.g. 0-3 or 0,2,4 (default: all)",
    )
    p.add_argument("--name", default=None, help="consumer name (default: host-pid)")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus /metrics, /ops/liveness and /ops/readiness on this port",
    )
    p.set_defaults(func=run)


def parse_partitions(spec: str | None, total: int) -> list[int] | None:
    """``0-3`` / ``0,2,5`` → partition numbers, checked against the bus's partition count."""
    if spec is None:
        return None
    out: set[int] = set()
    for part in spec.split(","):
        lo, _, hi = part.strip().partition("-")
        try:
            a, b = int(lo), int(hi or lo)
        except ValueError:
            raise ValueError(f"--partitions: {part!r} is not N or N-M") from None
        if not 0 <= a <= b < total:
            raise ValueError(f"--partitions: {part!r} is outside 0-{total - 1}")
        out.update(range(a, b + 1))
    return sorted(out)


def run(args: argparse.Namespace) -> int:
    """Run one scoring consumer until interrupted."""
    if args.metrics_port:
        serve_metrics(args.metrics_port, get_settings().metrics_host)
    settings = get_settings()
    partitions = parse_partitions(args.partitions, settings.bus_partitions)
    name = args.name or f"{socket.gethostname()}-{os.getpid()}"
    return asyncio.run(_run(partitions, name))


def report_readiness(consumer: ScoringConsumer, readiness: Readiness = READINESS) -> None:
    """The consumer's readiness checks: the database as its writes see it, and that it runs.

    While a batch waits for an unavailable database the ``database`` check fails (503), so a
    load balancer or an operator sees the stall before the backlog grows large.
    """
    readiness.add("database", consumer.storage_status)
    readiness.add("consumer", lambda: "ok" if consumer.running else "error: not consuming")


async def _run(partitions: list[int] | None, name: str) -> int:
    settings = get_settings()
    async with open_deps(settings, default_registry()) as deps:
        consumer = ScoringConsumer(deps, consumer=name, partitions=partitions)
        report_readiness(consumer)
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, consumer.stop)
        await consumer.run()
        print(json.dumps(consumer.counters.snapshot(), sort_keys=True))
    return 0
