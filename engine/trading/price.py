"""Exact prices: lamports per raw token as an integer pair, compared by cross-multiplication.

A price is what the windows keep (``MintWindows.price_num / price_den``): ``num`` lamports buy
``den`` raw token units. Thresholds such as "entry +50%" are built by scaling the pair with basis
points, so no float ever decides whether an order fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final

from engine.chain.programs import (
    PUMP_INITIAL_VIRTUAL_SOL_RESERVES,
    PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES,
)
from engine.events import ChainEvent

BPS: Final = 10_000


@dataclass(frozen=True, slots=True)
class Price:
    """``num`` lamports per ``den`` raw token units (both positive integers)."""

    num: int
    den: int

    def __post_init__(self) -> None:
        if type(self.num) is not int or type(self.den) is not int or self.num <= 0 or self.den <= 0:
            raise ValueError(f"a price is two positive integers, got {self.num!r}/{self.den!r}")

    def __lt__(self, other: Price) -> bool:
        return self.num * other.den < other.num * self.den

    def __le__(self, other: Price) -> bool:
        return self.num * other.den <= other.num * self.den

    def __gt__(self, other: Price) -> bool:
        return self.num * other.den > other.num * self.den

    def __ge__(self, other: Price) -> bool:
        return self.num * other.den >= other.num * self.den

    def same_as(self, other: Price) -> bool:
        """Equal in value (``==`` compares the pairs themselves)."""
        return self.num * other.den == other.num * self.den

    def scaled_bps(self, delta_bps: int) -> Price:
        """This price moved by ``delta_bps`` basis points (+5000 is +50%, -3000 is -30%)."""
        factor = BPS + delta_bps
        if factor <= 0:
            raise ValueError(f"cannot move a price by {delta_bps} bps")
        return Price(self.num * factor, self.den * BPS)

    def value_lamports(self, raw_tokens: int) -> int:
        """What ``raw_tokens`` are worth at this price, in lamports (rounded down)."""
        return raw_tokens * self.num // self.den

    def change_bps(self, reference: Price) -> int:
        """This price against ``reference`` in basis points (rounded toward minus infinity)."""
        return (self.num * reference.den * BPS) // (reference.num * self.den) - BPS

    def as_float(self) -> float:
        """Lamports per raw token, for display only."""
        return self.num / self.den

    def to_json(self) -> list[int]:
        """``[num, den]`` for JSON columns."""
        return [self.num, self.den]

    @classmethod
    def from_json(cls, raw: Any) -> Price:
        """Read ``[num, den]`` back (ValueError when malformed)."""
        if not isinstance(raw, list | tuple) or len(raw) != 2:
            raise ValueError(f"a stored price is [num, den], got {raw!r}")
        return cls(int(raw[0]), int(raw[1]))

    @classmethod
    def of(cls, lamports: int, raw_tokens: int) -> Price:
        """The price of a fill: ``lamports`` paid or received for ``raw_tokens``."""
        return cls(lamports, raw_tokens)


def event_price(ev: ChainEvent) -> Price | None:
    """The SOL price a chain event reveals, by the rules of ``engine.signals.windows``.

    pump.fun trades carry the curve's virtual reserves after the trade; AMM swaps are priced by
    the trade's own SOL per token; a pump.fun create starts at the curve's initial reserves.
    Trades quoted in another mint carry no SOL price.
    """
    if ev.quote_mint is not None:
        return None
    sol = ev.sol_lamports or 0
    tok = ev.token_amount or 0
    if ev.kind == "swap":
        return Price(sol, tok) if sol > 0 and tok > 0 else None
    vs = ev.virtual_sol_reserves or 0
    vt = ev.virtual_token_reserves or 0
    if vs > 0 and vt > 0:
        return Price(vs, vt)
    if ev.kind == "trade" and sol > 0 and tok > 0:
        return Price(sol, tok)
    if ev.kind == "create" and ev.venue == "pumpfun":
        return Price(PUMP_INITIAL_VIRTUAL_SOL_RESERVES, PUMP_INITIAL_VIRTUAL_TOKEN_RESERVES)
    return None


def min_out(quoted_out: int, slippage_bps: int) -> int:
    """The least output accepted for a quote: ``quoted_out`` less the slippage, rounded down."""
    if not 0 <= slippage_bps < BPS:
        raise ValueError(f"slippage_bps must be 0..9999, got {slippage_bps}")
    return quoted_out * (BPS - slippage_bps) // BPS
