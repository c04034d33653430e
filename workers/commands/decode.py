"""``solai decode FILE...``: print the normalized events of recorded RPC JSON as NDJSON.

Each file holds a getTransaction response (full JSON-RPC envelope or bare ``result``; one object
or an array of them) or a logsNotification message (or an array of them). Events go to stdout,
one ``ChainEvent`` JSON object per line. A file that cannot be decoded gets one line on stderr
naming it and the reason, prints no events, and makes the exit code 1; the other files are
still decoded. Notifications and transactions without a block time are stamped with the time
the file is read (the receipt time, as in the ingest path).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import Any

import orjson

from engine.chain.decode import DecodeError, DecodeStats, decode_document

logger = logging.getLogger(__name__)


def register(subparsers: Any) -> None:
    """Add the ``decode`` subcommand."""
    parser = subparsers.add_parser(
        "decode",
        help="decode getTransaction / logsNotification JSON files into NDJSON events",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("files", nargs="+", metavar="FILE", type=Path, help="JSON file(s)")
    parser.add_argument(
        "--stats", action="store_true", help="print decode counters to stderr at the end"
    )
    parser.set_defaults(func=run)


def decode_file(path: Path, *, stats: DecodeStats) -> list[bytes]:
    """The NDJSON lines for one file; raises :class:`DecodeError` or ``OSError``."""
    raw = path.read_bytes()
    try:
        doc = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise DecodeError(f"not valid JSON: {exc}") from exc
    events = decode_document(doc, receipt_ts_ms=int(time.time() * 1000), stats=stats)
    return [event.to_json() + b"\n" for event in events]


def run(args: argparse.Namespace) -> int:
    """Decode every file; exit 1 if any failed."""
    stats = DecodeStats()
    failed = 0
    out = sys.stdout
    for path in args.files:
        try:
            lines = decode_file(path, stats=stats)
        except (DecodeError, OSError) as exc:
            failed += 1
            reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
            print(f"solai decode: {path}: {reason}", file=sys.stderr)
            continue
        # Text rather than out.buffer: pytest's capsys and some pipes have no buffer.
        out.write(b"".join(lines).decode())
    out.flush()
    if args.stats:
        print(
            f"solai decode: files={len(args.files)} failed={failed} "
            f"transactions={stats.transactions} notifications={stats.notifications} "
            f"events={stats.events} failed_transactions={stats.failed_transactions} "
            f"decode_errors={stats.decode_errors}",
            file=sys.stderr,
        )
    return 1 if failed else 0
