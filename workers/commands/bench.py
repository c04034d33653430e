"""``solai bench NAME``: run one benchmark; each module in ``workers.bench`` adds one NAME."""

from __future__ import annotations

import argparse
import importlib
import logging
from typing import Any

logger = logging.getLogger(__name__)

# Each module defines ``register(subparsers)``, adding its parser with ``set_defaults(func=run)``.
BENCHES: tuple[str, ...] = ("decode", "replay", "pipeline", "consumers")


def register(subparsers: Any) -> None:
    """Add the ``bench`` subcommand and one sub-subcommand per benchmark module."""
    parser = subparsers.add_parser("bench", help="run a benchmark (see `solai bench -h`)")
    sub = parser.add_subparsers(dest="bench", metavar="BENCH")
    for name in BENCHES:
        try:
            module = importlib.import_module(f"workers.bench.{name}")
        except ModuleNotFoundError as exc:
            if exc.name == f"workers.bench.{name}":
                continue  # listed but not written yet
            raise
        module.register(sub)
    parser.set_defaults(func=_usage(parser))


def _usage(parser: argparse.ArgumentParser) -> Any:
    def run(args: argparse.Namespace) -> int:
        parser.print_help()
        return 2

    return run
