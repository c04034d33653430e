"""Per-wallet statistics from its fills: PnL, hit rate, average size, holding time.

Positions are per (wallet, mint), costed at the average entry price: a sell realizes
``sol_out - cost_of_tokens_sold``. Money stays in integer lamports; ratios are floats.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

DAY_MS = 86_400_000
WINDOWS_DAYS = (7, 30, 90)


@dataclass(frozen=True, slots=True)
class Fill:
    """One buy or sell of a token by the wallet."""

    ts: int
    mint: str
    side: str
    sol_lamports: int
    token_amount: int


@dataclass(slots=True)
class _Position:
    tokens: int = 0
    cost: int = 0
    realized: int = 0
    opened_ts: int | None = None
    closed: list[tuple[int, int, int]] = field(default_factory=list)
    """(closed_ts, realized lamports of the round, holding ms)."""
    round_realized: int = 0


@dataclass(frozen=True, slots=True)
class WalletStats:
    """A wallet's record; ``unrealized_lamports`` needs current prices (None when unknown)."""

    trades: int
    realized_lamports: int
    unrealized_lamports: int | None
    hit_rate: dict[int, float | None]
    """Share of positions closed in the last N days with a profit, per N in 7/30/90."""
    avg_buy_lamports: int
    median_holding_ms: int | None
    open_positions: int


def compute_stats(
    fills: Iterable[Fill],
    *,
    now_ms: int,
    price_of: Callable[[str], float | None] | None = None,
) -> WalletStats:
    """Stats over the fills (any order); ``price_of(mint)`` gives lamports per raw token."""
    ordered = sorted(fills, key=lambda f: (f.ts, f.side != "buy"))
    positions: dict[str, _Position] = {}
    buys: list[int] = []
    for f in ordered:
        pos = positions.setdefault(f.mint, _Position())
        if f.side == "buy":
            buys.append(f.sol_lamports)
            if pos.tokens == 0:
                pos.opened_ts = f.ts
                pos.round_realized = 0
            pos.tokens += f.token_amount
            pos.cost += f.sol_lamports
            continue
        if pos.tokens <= 0 or f.token_amount <= 0:
            continue  # a sell of tokens bought before tracking began: no cost basis
        sold = min(f.token_amount, pos.tokens)
        cost_sold = pos.cost * sold // pos.tokens
        # Selling more than we saw bought: only the known part has a basis.
        proceeds = f.sol_lamports * sold // f.token_amount
        pnl = proceeds - cost_sold
        pos.realized += pnl
        pos.round_realized += pnl
        pos.tokens -= sold
        pos.cost -= cost_sold
        if pos.tokens == 0:
            held = f.ts - (pos.opened_ts if pos.opened_ts is not None else f.ts)
            pos.closed.append((f.ts, pos.round_realized, held))
            pos.opened_ts = None
            pos.cost = 0
    realized = sum(p.realized for p in positions.values())
    open_pos = {m: p for m, p in positions.items() if p.tokens > 0}
    unrealized: int | None = 0
    for mint, p in open_pos.items():
        price = price_of(mint) if price_of else None
        if price is None:
            unrealized = None
            break
        assert unrealized is not None
        unrealized += int(p.tokens * price) - p.cost
    closed = [c for p in positions.values() for c in p.closed]
    hit: dict[int, float | None] = {}
    for days in WINDOWS_DAYS:
        recent = [c for c in closed if c[0] >= now_ms - days * DAY_MS]
        hit[days] = (sum(1 for c in recent if c[1] > 0) / len(recent)) if recent else None
    holds = [c[2] for c in closed]
    return WalletStats(
        trades=len(ordered),
        realized_lamports=realized,
        unrealized_lamports=unrealized if open_pos else 0,
        hit_rate=hit,
        avg_buy_lamports=(sum(buys) // len(buys)) if buys else 0,
        median_holding_ms=int(statistics.median(holds)) if holds else None,
        open_positions=len(open_pos),
    )
