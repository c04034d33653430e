"""``solai sim``: run the local chain simulator (Solana JSON-RPC on HTTP + PubSub on WebSocket)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import signal
import sys
from typing import Any

from engine.sim.jupiter import LocalJupiter
from engine.sim.scenario import ScenarioError, load_scenario
from engine.sim.server import SimServer

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``sim`` subcommand."""
    p: argparse.ArgumentParser = subparsers.add_parser(
        "sim",
        help="run the local Solana chain simulator",
        description=(
            "Serve a seeded scenario of pump.fun / PumpSwap activity over the real Solana "
            "JSON-RPC (HTTP) and PubSub (WebSocket) protocols."
        ),
    )
    p.add_argument(
        "--scenario",
        default="demo",
        help="scenario JSON file, or the name of a shipped one (demo, burst); default demo",
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (same seed, same chain)")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    p.add_argument("--http-port", type=int, default=8899, help="JSON-RPC port (0 = any free)")
    p.add_argument("--ws-port", type=int, default=8900, help="PubSub port (0 = any free)")
    p.add_argument(
        "--jupiter-port",
        type=int,
        default=8898,
        help=(
            "port of the local Jupiter-compatible swap API (/swap/v1/quote, /swap/v1/swap); "
            "0 = any free, -1 = do not serve it; default 8898"
        ),
    )
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="transactions per second (default: scenario timing)",
    )
    p.add_argument(
        "--speed", type=float, default=1.0, help="scenario clock multiplier when --rate is unset"
    )
    p.add_argument(
        "--prebuild",
        type=int,
        default=0,
        help="generate this many transactions before serving (for high --rate benchmarks)",
    )
    p.add_argument(
        "--start-on-subscribe",
        action="store_true",
        help="hold the clock until the first logsSubscribe arrives (benchmarks)",
    )
    p.add_argument(
        "--history",
        type=int,
        default=100_000,
        help="transactions kept for getTransaction/getSignaturesForAddress (default 100000)",
    )
    p.add_argument(
        "--confirm-delay-ms",
        type=int,
        default=0,
        help=(
            "milliseconds between a transaction's processed and confirmed notifications "
            "(default 0: both at once)"
        ),
    )
    p.set_defaults(func=run)


async def _serve(args: argparse.Namespace) -> int:
    scenario = load_scenario(args.scenario)
    sim = SimServer(
        scenario,
        seed=args.seed,
        rate=args.rate,
        speed=args.speed,
        host=args.host,
        http_port=args.http_port,
        ws_port=args.ws_port,
        prebuild=args.prebuild,
        history_limit=args.history,
        start_on_subscribe=args.start_on_subscribe,
        confirm_delay_ms=args.confirm_delay_ms,
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, stop.set)
    jupiter = (
        LocalJupiter(sim, host=args.host, port=args.jupiter_port)
        if args.jupiter_port >= 0
        else None
    )
    try:
        await sim.start()
        if jupiter is not None:
            await jupiter.start()
    except OSError as exc:
        await sim.stop()
        print(f"solai sim: cannot bind: {exc}", file=sys.stderr)
        return 1
    # The ports on stdout, one line, so scripts and tests can start us with port 0.
    extra = f" jupiter={jupiter.url}" if jupiter is not None else ""
    print(f"solai sim: http={sim.http_url} ws={sim.ws_url}{extra}", flush=True)
    try:
        await stop.wait()
    finally:
        if jupiter is not None:
            await jupiter.stop()
        await sim.stop()
        logger.info("simulator stopped after %d transactions", sim.stats["emitted"])
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the simulator until interrupted; returns the exit code."""
    try:
        return asyncio.run(_serve(args))
    except ScenarioError as exc:
        print(f"solai sim: {exc}", file=sys.stderr)
        return 2
