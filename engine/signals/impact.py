"""Constant-product price impact in integer math (pump.fun curve, PumpSwap, Raydium pools)."""

from __future__ import annotations

from typing import Final

BPS: Final = 10_000


def buy_out(sol_reserves: int, token_reserves: int, sol_in: int, fee_bps: int = 0) -> int:
    """Raw tokens received for ``sol_in`` lamports on an x*y=k pool, rounded down."""
    if sol_reserves <= 0 or token_reserves <= 0 or sol_in <= 0:
        return 0
    net = sol_in * (BPS - fee_bps) // BPS
    return token_reserves * net // (sol_reserves + net)


def price_impact_bps(sol_reserves: int, token_reserves: int, sol_in: int, fee_bps: int = 0) -> int:
    """How many bps fewer tokens a ``sol_in`` buy gets than the spot price promises.

    Spot would give ``sol_in * T / S`` tokens; the pool gives ``T * sol_in / (S + sol_in)``, so
    without fees the shortfall is ``sol_in / (S + sol_in)``: 1 SOL on the 30 SOL of a fresh
    pump.fun curve costs 323 bps, on a 1,000 SOL pool 10 bps. Rounded up (never understated).
    Returns 10,000 when the reserves are unknown or empty.
    """
    if sol_reserves <= 0 or token_reserves <= 0:
        return BPS
    if sol_in <= 0:
        return 0
    spot = token_reserves * sol_in // sol_reserves
    if spot <= 0:
        return BPS
    got = buy_out(sol_reserves, token_reserves, sol_in, fee_bps)
    return min(BPS, -(-(spot - got) * BPS // spot))
