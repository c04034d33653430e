"""``solai demo``: the whole product on the embedded default, in one process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import signal
import time
from pathlib import Path
from typing import Any

from workers.demo import Demo, DemoConfig, progress_line


def register(sub: Any) -> None:
    """Add the ``demo`` subcommand."""
    p: argparse.ArgumentParser = sub.add_parser(
        "demo", help="run the whole product locally: simulated chain, engine, API, chat"
    )
    p.add_argument("--headless", action="store_true", help="no console; print a JSON summary")
    p.add_argument("--duration", type=float, default=None, help="stop after S seconds")
    p.add_argument("--speed", type=float, default=1.0, help="scenario clock multiplier")
    p.add_argument("--seed", type=int, default=7, help="scenario seed (same seed, same story)")
    p.add_argument("--port", type=int, default=8000, help="API and Mini App port (or next free)")
    p.add_argument("--db", type=Path, default=Path("var/demo.db"), help="SQLite file")
    p.set_defaults(func=run)


def run(args: argparse.Namespace) -> int:
    """Run until Ctrl-C or ``--duration``; headless prints one JSON summary."""
    if args.duration is not None and args.duration <= 0:
        raise SystemExit("solai demo: --duration must be positive")
    if args.speed <= 0:
        raise SystemExit("solai demo: --speed must be positive")
    config = DemoConfig(
        seed=args.seed,
        speed=args.speed,
        duration_s=args.duration,
        api_port=args.port,
        db_path=args.db,
        console=not args.headless,
    )
    logging.getLogger().setLevel(logging.WARNING)
    demo = Demo(config)
    summary = asyncio.run(_main(demo, headless=args.headless))
    if args.headless:
        print(json.dumps(summary, sort_keys=True))
    return 0 if summary["errors"] == 0 else 1


async def _main(demo: Demo, *, headless: bool) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, demo.stop)

    async def ready(d: Demo) -> None:
        if not headless:
            print(banner(d), flush=True)

    last = [0.0]

    def tick(d: Demo) -> None:
        # The console chat shares the terminal: a progress line every 15 s, not a live \r line.
        now = time.monotonic()
        if not headless and now - last[0] >= 15:
            last[0] = now
            print(f"-- {progress_line(d)}", flush=True)

    summary = await demo.run(on_ready=ready, on_tick=tick)
    if not headless:
        print("-- " + progress_line(demo))
        print("stopped cleanly; the SQLite file is at", demo.config.db_path)
    return summary.to_dict()


def banner(d: Demo) -> str:
    """What is running and where, in a few lines."""
    return "\n".join(
        [
            "SolAI Signals demo: a simulated Solana chain playing a 10-minute story.",
            f"  Mini App           {d.mini_app_link('/app')}",
            "                     (signed in as the console user, with a demo wallet on the"
            " simulated chain)",
            f"  API docs           {d.api_url}/docs",
            f"  simulated RPC      {d.sim.http_url if d.sim else '?'}",
            "  connect a real bot: set SOLAI_TELEGRAM_TOKEN or SOLAI_DISCORD_TOKEN (docs/bots.md)",
            "Try in the chat below, as alerts arrive:",
            "  /signal MCAT    /explain MCAT    /watch <wallet from an alert> whale    /list",
            "  /buy MCAT 0.1   (opens the Mini App; the demo wallet signs)    /positions    /help",
            "  Ctrl-D or Ctrl-C stops everything.",
        ]
    )
