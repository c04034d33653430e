"""``solai ingest``: follow the configured RPC providers and put decoded events on the bus."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import sys
from typing import Any

from engine.clock import SystemClock
from engine.settings import get_settings
from workers.ingest import IngestSupervisor
from workers.jobs.registry import default_registry
from workers.observability import READINESS, serve_metrics
from workers.runtime import open_deps

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``ingest`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "ingest", help="ingest chain events from SOLAI_RPC_PROVIDERS onto the bus"
    )
    p.add_argument("--stats-every", type=float, default=10.0, help="seconds between stat lines")
    p.add_argument("--duration", type=float, default=None, help="stop after this many seconds")
    p.add_argument(
        "--metrics-port",
        type=int,
        default=None,
        help="serve Prometheus /metrics, /ops/liveness and /ops/readiness on this port",
    )
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run the supervisor until interrupted (or for ``--duration``)."""
    if args.metrics_port:
        serve_metrics(args.metrics_port, get_settings().metrics_host)
    return asyncio.run(_run(args.stats_every, args.duration))


async def _run(stats_every: float, duration: float | None) -> int:
    settings = get_settings()
    async with open_deps(settings, default_registry()) as deps:
        sup = IngestSupervisor(
            settings.rpc_providers,
            deps.bus,
            clock=SystemClock(),
            commitment=settings.rpc_commitment,
            rpc_timeout_s=settings.rpc_timeout_s,
            confirm_expiry_slots=settings.rpc_confirm_expiry_slots,
        )
        READINESS.add("rpc", lambda: "ok" if sup.connected.is_set() else "error: no provider")
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.add_signal_handler(sig, sup.stop)
        if duration is not None:
            loop.call_later(duration, sup.stop)
        reporter = asyncio.create_task(_report(sup, stats_every))
        try:
            await sup.run()
        finally:
            reporter.cancel()
            await sup.aclose()
        print(json.dumps(sup.counters.snapshot(), sort_keys=True))
    return 0


async def _report(sup: IngestSupervisor, every: float) -> None:
    last = 0
    while True:
        await asyncio.sleep(every)
        c = sup.counters
        rate = (c.events - last) / every
        last = c.events
        print(
            f"ingest provider={c.provider or '-'} events={c.events} ({rate:.0f}/s) "
            f"lag={c.lag_slots} slots reconnects={c.reconnects} backfilled={c.backfilled} "
            f"duplicates={c.duplicates} decode_errors={c.decode_errors}",
            file=sys.stderr,
        )
