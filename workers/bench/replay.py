"""``solai bench replay``: events per second through windows + rules + scoring, in one process.

The workload is generated in memory (seeded, so every run sees the same events): pump.fun
bonding-curve trades on a few hundred mints with constant-product reserves, a skew toward hot
mints, ~3 % of buys from tracked wallets, ~0.5 % out-of-order (backfilled) events and ~0.2 %
duplicates, over about an hour of event time so windows expire and idle mints are evicted. Half
the mints have a clean risk verdict, the rest unknown. ``events_per_s`` times
:meth:`Scorer.feed` over already-built events (the best of ``--repeat`` runs, each with a fresh
scorer); ``events_per_s_with_parsing`` adds ``ChainEvent.from_json`` on the NDJSON lines.
"""

from __future__ import annotations

import argparse
import itertools
import json
import logging
import os
import platform
import random
import time
from typing import Any, Final

from engine.chain.programs import LAMPORTS_PER_SOL as SOL
from engine.chain.programs import (
    PUMP_INITIAL_VIRTUAL_SOL_RESERVES,
    PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES,
)
from engine.events import ChainEvent
from engine.risk.model import RiskVerdict, RiskView
from engine.signals.scorer import Scorer

logger = logging.getLogger(__name__)

DEFAULT_N: Final = 200_000
T0: Final = 1_767_225_600_000
_GRADUATED: Final = 115 * SOL  # past this the curve completes; the workload then sells


def register(subparsers: Any) -> None:
    """Add ``bench replay``."""
    parser = subparsers.add_parser(
        "replay",
        help="events/s through the signal engine (windows + rules + scoring)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=DEFAULT_N, help="events to replay")
    parser.add_argument("--mints", type=int, default=300, help="distinct mints")
    parser.add_argument("--repeat", type=int, default=3, help="runs; the best one is reported")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


_ALPHABET: Final = "123456789ABCDEFGHJKLMNPQRSTUVWXYZabcdefghijkmnopqrstuvwxyz"


def _b58(rng: random.Random, length: int) -> str:
    # Random base58 text of a key's or signature's length: same hashing cost, far cheaper to
    # make than encoding random bytes.
    return "".join(rng.choices(_ALPHABET, k=length))


def _key(rng: random.Random) -> str:
    return _b58(rng, 44)


def generate(
    n: int, *, seed: int = 7, mints: int = 300
) -> tuple[list[ChainEvent], dict[str, str], dict[str, RiskVerdict]]:
    """(events, tracked wallets, risk verdicts) of a seeded pump.fun workload of ``n`` events."""
    rng = random.Random(seed)  # noqa: S311 - a reproducible workload, not a secret
    mint_keys = [_key(rng) for _ in range(max(mints, 1))]
    traders = [_key(rng) for _ in range(20_000)]
    smart = {_key(rng): f"smart{i}" for i in range(200)}
    smart_list = list(smart)
    # Zipf-like popularity: a few hot mints; cumulative once, not per draw.
    cum = list(itertools.accumulate(1.0 / (i + 1) for i in range(len(mint_keys))))
    curves: dict[str, list[int]] = {}
    events: list[ChainEvent] = []
    ts = T0
    slot = 380_000_000
    while len(events) < n:
        ts += rng.randrange(0, 40)
        slot += rng.random() < 0.1
        r = rng.random()
        if r < 0.002 and events:
            events.append(rng.choice(events[-5000:]))  # a duplicate, as after a resubscribe
            continue
        ev_ts = ts - rng.randrange(1_000, 30_000) if r < 0.007 else ts  # backfilled late
        mint = rng.choices(mint_keys, cum_weights=cum)[0]
        sig = _b58(rng, 88)
        curve = curves.get(mint)
        if curve is None:
            curve = curves[mint] = [
                PUMP_INITIAL_VIRTUAL_SOL_RESERVES,
                PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES,
            ]
            creator = rng.choice(traders)
            events.append(
                ChainEvent(
                    kind="create", venue="pumpfun", signature=sig, slot=slot, ts=ev_ts,
                    mint=mint, trader=creator, creator=creator, name="Bench", symbol="BNCH",
                )
            )  # fmt: skip
            continue
        vsol, vtok = curve
        buy = rng.random() < 0.6 and vsol < _GRADUATED
        if buy:
            trader = rng.choice(smart_list) if rng.random() < 0.03 else rng.choice(traders)
            sol = int(SOL * min(20.0, rng.lognormvariate(-1.5, 1.2)))
            tokens = vtok * sol // (vsol + sol)
            vsol, vtok = vsol + sol, vtok - tokens
        else:
            trader = rng.choice(traders)
            tokens = int(vtok * min(0.02, rng.random() * 0.01)) + 1
            sol = vsol * tokens // (vtok + tokens)
            vsol, vtok = vsol - sol, vtok + tokens
        curve[0], curve[1] = vsol, vtok
        events.append(
            ChainEvent(
                kind="trade", venue="pumpfun", signature=sig, slot=slot, ts=ev_ts, mint=mint,
                trader=trader, side="buy" if buy else "sell", sol_lamports=sol,
                token_amount=tokens, virtual_sol_reserves=vsol, virtual_token_reserves=vtok,
            )
        )  # fmt: skip
    clean = frozenset({"mint", "holders"})
    verdicts = {
        m: RiskVerdict(
            level="low",
            badges=(),
            penalties={},
            view=RiskView(mint=m, checked_ts=T0, top10_pct=18.0, known=clean),
        )
        for m in mint_keys[::2]
    }
    return events, smart, verdicts


def measure(
    events: list[ChainEvent], smart: dict[str, str], verdicts: dict[str, RiskVerdict], repeat: int
) -> tuple[float, int]:
    """(best seconds to score every event, signals fired in that run)."""
    best = float("inf")
    fired = 0
    for _ in range(max(repeat, 1)):
        scorer = Scorer(smart=smart, risk=verdicts.get)
        start = time.perf_counter()
        fired = sum(1 for _ in scorer.feed(events))
        best = min(best, time.perf_counter() - start)
    return best, fired


def measure_parsing(events: list[ChainEvent], repeat: int) -> float:
    """Best seconds to parse every event from its NDJSON line."""
    lines = [ev.to_json() for ev in events]
    best = float("inf")
    for _ in range(max(repeat, 1)):
        start = time.perf_counter()
        for line in lines:
            ChainEvent.from_json(line)
        best = min(best, time.perf_counter() - start)
    return best


def run(args: argparse.Namespace) -> int:
    """Generate the workload, time it, print the figures."""
    n = max(args.events, 1_000)
    events, smart, verdicts = generate(n, seed=args.seed, mints=args.mints)
    seconds, fired = measure(events, smart, verdicts, args.repeat)
    parse_s = measure_parsing(events, args.repeat)
    result: dict[str, Any] = {
        "events": n,
        "mints": args.mints,
        "signals": fired,
        "seconds": round(seconds, 3),
        "events_per_s": round(n / seconds),
        "events_per_s_with_parsing": round(n / (seconds + parse_s)),
        "python": platform.python_version(),
        "machine": f"{platform.machine()} {os.cpu_count()} cpu(s)",
    }
    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0
