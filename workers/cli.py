"""The ``solai`` command line: one subcommand per module in ``workers.commands``."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from engine.settings import ConfigError
from workers.observability import configure_logging

# Each module defines ``register(subparsers)`` which adds its parser and sets ``func``.
COMMANDS: tuple[str, ...] = (
    "demo",
    "migrate",
    "api",
    "worker",
    "ingest",
    "score",
    "sim",
    "decode",
    "replay",
    "bench",
    "bot",
)


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser with every subcommand registered."""
    parser = argparse.ArgumentParser(
        prog="solai",
        description="SolAI Signals: Solana memecoin signals, risk and non-custodial trading.",
    )
    parser.add_argument("--log-level", default=None, help="override SOLAI_LOG_LEVEL")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in COMMANDS:
        try:
            module = importlib.import_module(f"workers.commands.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"workers.commands.{name}":
                continue  # not built yet: no stub that pretends
            raise
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the process exit code."""
    parser = build_parser()
    args = parser.parse_args(argv)
    configure_logging(args.log_level or os.environ.get("SOLAI_LOG_LEVEL", "INFO"))
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    try:
        code: int = args.func(args)
    except ConfigError as exc:
        print(f"solai {args.command}: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130
    return code


if __name__ == "__main__":
    raise SystemExit(main())
