"""Positions and PnL per user, from confirmed trades, by average cost.

A buy spends ``in_amount`` lamports for ``out_amount`` raw tokens; a sell spends ``in_amount``
raw tokens for ``out_amount`` lamports. Average cost: a sell takes out the cost of the tokens it
sold in proportion (integer division; the rounding stays in the position's cost and comes out
with the last token), and realizes proceeds minus that cost. Tokens sold beyond what the trades
show as bought (a wallet funded elsewhere) realize nothing, since their cost is unknown.

Unrealized PnL is the position's value at the current price (an injected price source: the live
windows or the newest tick) minus its cost. USD figures are integer micro-dollars from an
injected SOL/USD rate; without a rate or a price they are None, never a guess.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain.programs import LAMPORTS_PER_SOL
from engine.storage.models import Trade
from engine.trading.ports import PriceSource, SolUsd
from engine.trading.price import Price

logger = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Fill:
    """A confirmed trade, reduced to what PnL needs."""

    mint: str
    side: str
    in_amount: int
    out_amount: int
    ts: int


@dataclass(slots=True)
class Position:
    """Holdings and cost of one mint."""

    mint: str
    qty: int = 0
    cost_lamports: int = 0
    realized_lamports: int = 0
    bought_lamports: int = 0
    sold_lamports: int = 0
    trades: int = 0
    last_ts: int = 0

    @property
    def avg_price(self) -> Price | None:
        """Average cost per raw token (None when flat)."""
        return (
            Price(self.cost_lamports, self.qty) if self.qty > 0 and self.cost_lamports > 0 else None
        )

    def apply(self, fill: Fill) -> None:
        """Fold one confirmed fill in."""
        self.trades += 1
        self.last_ts = max(self.last_ts, fill.ts)
        if fill.side == "buy":
            self.qty += fill.out_amount
            self.cost_lamports += fill.in_amount
            self.bought_lamports += fill.in_amount
            return
        sold, proceeds = fill.in_amount, fill.out_amount
        self.sold_lamports += proceeds
        matched = min(sold, self.qty)
        if matched <= 0:
            logger.info("sell of %d %s with no recorded buy; no PnL realized", sold, self.mint)
            return
        cost_out = (
            self.cost_lamports if matched == self.qty else self.cost_lamports * matched // self.qty
        )
        attributed = proceeds if matched == sold else proceeds * matched // sold
        self.realized_lamports += attributed - cost_out
        self.qty -= matched
        self.cost_lamports -= cost_out


def fold(fills: Iterable[Fill]) -> dict[str, Position]:
    """Positions by mint from fills in time order."""
    out: dict[str, Position] = {}
    for f in sorted(fills, key=lambda f: f.ts):
        out.setdefault(f.mint, Position(f.mint)).apply(f)
    return out


def usd_micros(lamports: int | None, sol_usd_micros: int | None) -> int | None:
    """Lamports in micro-dollars at a SOL/USD rate (rounded toward zero), None if unknown."""
    if lamports is None or sol_usd_micros is None:
        return None
    value = abs(lamports) * sol_usd_micros // LAMPORTS_PER_SOL
    return value if lamports >= 0 else -value


@dataclass(frozen=True, slots=True)
class PositionView:
    """One position with its valuation, for ``/positions`` and the Mini App."""

    mint: str
    qty: int
    cost_lamports: int
    avg_price: Price | None
    price: Price | None
    value_lamports: int | None
    realized_lamports: int
    unrealized_lamports: int | None
    realized_usd_micros: int | None
    unrealized_usd_micros: int | None
    value_usd_micros: int | None
    trades: int
    last_ts: int

    @property
    def open(self) -> bool:
        """True while tokens are held."""
        return self.qty > 0


@dataclass(frozen=True, slots=True)
class Portfolio:
    """A user's positions and totals."""

    user_id: int
    positions: list[PositionView]
    realized_lamports: int
    unrealized_lamports: int
    realized_usd_micros: int | None
    unrealized_usd_micros: int | None
    sol_usd_micros: int | None
    unpriced: list[str]
    """Open positions without a current price (excluded from the unrealized total)."""


async def confirmed_fills(session: AsyncSession, *, user_id: int) -> list[Fill]:
    """A user's confirmed trades as fills, oldest first."""
    stmt = (
        select(Trade)
        .where(Trade.user_id == user_id, Trade.status == "confirmed")
        .order_by(Trade.updated_ts, Trade.id)
    )
    fills = []
    for t in await session.scalars(stmt):
        if t.out_amount is None:
            logger.warning("confirmed trade %s has no out_amount; skipped in PnL", t.id)
            continue
        fills.append(Fill(t.mint, t.side, t.in_amount, t.out_amount, t.updated_ts))
    return fills


async def position_of(session: AsyncSession, *, user_id: int, mint: str) -> Position:
    """A user's position in one mint (flat when none)."""
    fills = [f for f in await confirmed_fills(session, user_id=user_id) if f.mint == mint]
    return fold(fills).get(mint, Position(mint))


async def portfolio(
    session: AsyncSession,
    *,
    user_id: int,
    prices: PriceSource,
    sol_usd: SolUsd,
    include_closed: bool = False,
) -> Portfolio:
    """Every position of a user with realized and unrealized PnL in lamports and USD."""
    positions = fold(await confirmed_fills(session, user_id=user_id))
    rate = await sol_usd.sol_usd_micros()
    views: list[PositionView] = []
    unpriced: list[str] = []
    total_unrealized = 0
    for pos in sorted(positions.values(), key=lambda p: -p.last_ts):
        if pos.qty <= 0 and not include_closed:
            continue
        price = await prices.price(pos.mint) if pos.qty > 0 else None
        value = unrealized = None
        if pos.qty > 0 and price is not None:
            value = price.value_lamports(pos.qty)
            unrealized = value - pos.cost_lamports
            total_unrealized += unrealized
        elif pos.qty > 0:
            unpriced.append(pos.mint)
        views.append(
            PositionView(
                mint=pos.mint,
                qty=pos.qty,
                cost_lamports=pos.cost_lamports,
                avg_price=pos.avg_price,
                price=price,
                value_lamports=value,
                realized_lamports=pos.realized_lamports,
                unrealized_lamports=unrealized,
                realized_usd_micros=usd_micros(pos.realized_lamports, rate),
                unrealized_usd_micros=usd_micros(unrealized, rate),
                value_usd_micros=usd_micros(value, rate),
                trades=pos.trades,
                last_ts=pos.last_ts,
            )
        )
    realized = sum(p.realized_lamports for p in positions.values())
    return Portfolio(
        user_id=user_id,
        positions=views,
        realized_lamports=realized,
        unrealized_lamports=total_unrealized,
        realized_usd_micros=usd_micros(realized, rate),
        unrealized_usd_micros=usd_micros(total_unrealized, rate),
        sol_usd_micros=rate,
        unpriced=unpriced,
    )
