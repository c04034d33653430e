"""``solai replay EVENTS.ndjson``: run recorded events through the signal engine, print signals.

Reads normalized events (the NDJSON that ``solai decode`` prints), in file order, through the same
scorer the live pipeline uses, on the events' own ``ts`` clock, and prints one signal per line as
JSON with sorted keys and floats rounded to 4 places: the same input gives the same bytes.

- ``--watchlist wallets.csv``: the tracked ("smart") wallets, ``address,alias,tags`` (a header
  row is optional, ``#`` starts a comment line).
- ``--risk risk.json``: risk by mint, ``{"MINT": {"view": {RiskView fields}}}``; the risk
  engine's ``judge`` turns the facts into level, badges and penalties, unless the entry gives
  ``level``, ``badges`` and ``penalties`` itself. Without it every token's risk is unknown:
  Risk scores 0 and the risk filters fail closed, and each signal says so.

A malformed line is reported on stderr with its line number and skipped; the exit code is then 1.
"""

from __future__ import annotations

import argparse
import csv
import logging
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Final

import orjson

from engine.events import ChainEvent, EventFormatError
from engine.risk.model import RiskVerdict, RiskView
from engine.risk.verdict import judge
from engine.settings import ConfigError
from engine.signals.scorer import Scorer, Signal

logger = logging.getLogger(__name__)

_BASE58: Final = frozenset("123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz")
OUTPUT_FIELDS: Final = (
    "mint",
    "ts",
    "strength",
    "components",
    "rules",
    "risk",
    "explanation",
    "version",
)


def register(subparsers: Any) -> None:
    """Add the ``replay`` subcommand."""
    parser = subparsers.add_parser(
        "replay",
        help="replay NDJSON events through the signal engine and print the signals",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("events", type=Path, metavar="EVENTS.ndjson", help="normalized events")
    parser.add_argument("--watchlist", type=Path, metavar="wallets.csv", help="tracked wallets")
    parser.add_argument("--risk", type=Path, metavar="risk.json", help="risk verdicts by mint")
    parser.add_argument(
        "--with-inputs", action="store_true", help="also print every signal's inputs"
    )
    parser.add_argument(
        "--stats", action="store_true", help="print event and signal counts to stderr at the end"
    )
    parser.set_defaults(func=run)


def signal_line(signal: Signal, *, with_inputs: bool = False) -> str:
    """One signal as a deterministic JSON line (sorted keys, floats rounded to 4 places)."""
    full = signal.to_dict()
    fields = (*OUTPUT_FIELDS, "inputs") if with_inputs else OUTPUT_FIELDS
    return orjson.dumps({k: full[k] for k in fields}, option=orjson.OPT_SORT_KEYS).decode() + "\n"


def is_address(text: str) -> bool:
    """Looks like a base58 public key (32-44 characters of the base58 alphabet)."""
    return 32 <= len(text) <= 44 and all(c in _BASE58 for c in text)


def read_watchlist(path: Path) -> tuple[dict[str, str], list[str]]:
    """(address -> alias, one message per bad row with its line number)."""
    wallets: dict[str, str] = {}
    errors: list[str] = []
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            for lineno, row in enumerate(csv.reader(fh), start=1):
                if not row or not "".join(row).strip() or row[0].lstrip().startswith("#"):
                    continue
                address = row[0].strip()
                if lineno == 1 and address.lower() == "address":
                    continue  # header
                if not is_address(address):
                    errors.append(f"{path}:{lineno}: not a Solana address: {address!r:.60}")
                    continue
                wallets[address] = row[1].strip() if len(row) > 1 else ""
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read watchlist {path}: {exc}") from None
    return wallets, errors


def read_risk(path: Path) -> dict[str, RiskVerdict]:
    """Risk verdicts by mint from a JSON object; a malformed entry names its mint."""
    try:
        data = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise ConfigError(f"cannot read risk file {path}: {exc}") from None
    if not isinstance(data, dict):
        raise ConfigError(f"risk file {path}: expected a JSON object of mint -> verdict")
    out: dict[str, RiskVerdict] = {}
    for mint, entry in data.items():
        try:
            view_data = dict(entry.get("view") or {})
            view_data.setdefault("mint", mint)
            view_data.setdefault("checked_ts", 0)
            view_data["known"] = frozenset(view_data.get("known") or ())
            view = RiskView(**view_data)
            if "level" not in entry:
                out[mint] = judge(view)  # facts only: the risk engine's own judgement
                continue
            out[mint] = RiskVerdict(
                level=entry["level"],
                badges=tuple(entry.get("badges") or ()),
                penalties={str(k): float(v) for k, v in (entry.get("penalties") or {}).items()},
                view=view,
            )
        except (AttributeError, TypeError, ValueError) as exc:
            raise ConfigError(f"risk file {path}: entry {mint!r:.60}: {exc}") from None
    return out


def read_events(path: Path, errors: list[str]) -> Iterator[ChainEvent]:
    """Events of an NDJSON file in order; a bad line is appended to ``errors`` and skipped."""
    try:
        fh = path.open("rb")
    except OSError as exc:
        raise ConfigError(f"cannot read events {path}: {exc.strerror or exc}") from None
    with fh:
        for lineno, raw in enumerate(fh, start=1):
            if not raw.strip():
                continue
            try:
                yield ChainEvent.from_json(raw)
            except EventFormatError as exc:
                errors.append(f"{path}:{lineno}: {exc}")
                print(f"solai replay: {path}:{lineno}: {exc}", file=sys.stderr)


def run(args: argparse.Namespace) -> int:
    """Replay the file; exit 1 if any line (or watchlist row) was bad."""
    wallets: dict[str, str] = {}
    problems: list[str] = []
    if args.watchlist is not None:
        wallets, bad_rows = read_watchlist(args.watchlist)
        for msg in bad_rows:
            print(f"solai replay: {msg}", file=sys.stderr)
        problems += bad_rows
    verdicts = read_risk(args.risk) if args.risk is not None else {}
    scorer = Scorer(smart=wallets, risk=verdicts.get)
    out = sys.stdout
    signals = 0
    for signal in scorer.feed(read_events(args.events, problems)):
        out.write(signal_line(signal, with_inputs=args.with_inputs))
        signals += 1
    out.flush()
    if args.stats:
        print(
            f"solai replay: events={scorer.events_seen} signals={signals} "
            f"bad={len(problems)} mints={len(scorer.windows)} wallets={len(wallets)}",
            file=sys.stderr,
        )
    return 1 if problems else 0
