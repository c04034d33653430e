"""Integer trade math of the pump.fun bonding curve and the PumpSwap constant-product pool.

Formulas follow the programs (the 2026-05 IDL documents ``buy_exact_sol_in``): all amounts are
raw integers, fees are rounded up, outputs are rounded down. ``sol`` amounts exclude fees as the
TradeEvent reports them: a buyer pays ``sol + fees``, a seller receives ``sol - fees``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

BPS = 10_000


def ceil_div(a: int, b: int) -> int:
    """Integer ceiling of a / b for non-negative a and positive b."""
    return -(-a // b)


def fee(amount: int, bps: int) -> int:
    """A fee of ``bps`` basis points on ``amount``, rounded up as the programs do."""
    return ceil_div(amount * bps, BPS)


@dataclass(frozen=True, slots=True)
class CurveQuote:
    """The outcome of one bonding-curve trade."""

    sol: int
    """SOL moved into (buy) or out of (sell) the curve, fees excluded."""
    tokens: int
    protocol_fee: int
    creator_fee: int

    @property
    def fees(self) -> int:
        """Protocol plus creator fee."""
        return self.protocol_fee + self.creator_fee


def curve_buy_exact_sol_in(
    virtual_sol: int,
    virtual_tokens: int,
    real_tokens: int,
    spendable: int,
    protocol_bps: int,
    creator_bps: int,
) -> CurveQuote:
    """``buy_exact_sol_in``: spend at most ``spendable`` lamports (fees included).

    When the curve has fewer tokens left than the budget would buy, the buy is capped at what is
    left and priced with the exact-tokens formula, as the program does on the last buy.
    """
    net = spendable * BPS // (BPS + protocol_bps + creator_bps)
    fees = fee(net, protocol_bps) + fee(net, creator_bps)
    if net + fees > spendable:
        net -= net + fees - spendable
    if net <= 1:
        return CurveQuote(0, 0, 0, 0)
    tokens = (net - 1) * virtual_tokens // (virtual_sol + net - 1)
    if tokens >= real_tokens:
        return curve_buy_tokens(virtual_sol, virtual_tokens, real_tokens, protocol_bps, creator_bps)
    return CurveQuote(net, tokens, fee(net, protocol_bps), fee(net, creator_bps))


def curve_buy_tokens(
    virtual_sol: int, virtual_tokens: int, tokens: int, protocol_bps: int, creator_bps: int
) -> CurveQuote:
    """``buy(amount)``: the SOL cost of exactly ``tokens`` (the IDL's reverse quote)."""
    if tokens <= 0:
        return CurveQuote(0, 0, 0, 0)
    sol = ceil_div(tokens * virtual_sol, virtual_tokens - tokens) + 1
    return CurveQuote(sol, tokens, fee(sol, protocol_bps), fee(sol, creator_bps))


def curve_sell(
    virtual_sol: int, virtual_tokens: int, tokens: int, protocol_bps: int, creator_bps: int
) -> CurveQuote:
    """``sell(amount)``: SOL out of the curve for ``tokens`` (fees are then taken from it)."""
    if tokens <= 0:
        return CurveQuote(0, 0, 0, 0)
    sol = tokens * virtual_sol // (virtual_tokens + tokens)
    return CurveQuote(sol, tokens, fee(sol, protocol_bps), fee(sol, creator_bps))


@dataclass(frozen=True, slots=True)
class PoolQuote:
    """The outcome of one PumpSwap trade (quote = SOL side, base = token side)."""

    base: int
    quote: int
    """quote_amount_in (buy, before fees) or quote_amount_out (sell, before fees)."""
    lp_fee: int
    protocol_fee: int
    creator_fee: int

    @property
    def user_quote(self) -> int:
        """What the user pays (buy) or receives (sell), fees applied."""
        return self.quote + self.lp_fee + self.protocol_fee + self.creator_fee

    @property
    def user_quote_out(self) -> int:
        """What a seller receives."""
        return self.quote - self.lp_fee - self.protocol_fee - self.creator_fee


def pool_buy_base_out(
    base_reserve: int,
    quote_reserve: int,
    base_out: int,
    lp_bps: int,
    protocol_bps: int,
    creator_bps: int,
) -> PoolQuote:
    """PumpSwap ``buy``: the quote needed for exactly ``base_out`` base tokens."""
    quote_in = ceil_div(quote_reserve * base_out, base_reserve - base_out)
    return PoolQuote(
        base_out,
        quote_in,
        fee(quote_in, lp_bps),
        fee(quote_in, protocol_bps),
        fee(quote_in, creator_bps),
    )


def pool_base_out_for_quote(
    base_reserve: int,
    quote_reserve: int,
    spend: int,
    lp_bps: int,
    protocol_bps: int,
    creator_bps: int,
) -> int:
    """How many base tokens ``spend`` lamports (fees included) buy; the client-side quote."""
    net = spend * BPS // (BPS + lp_bps + protocol_bps + creator_bps)
    if net <= 0:
        return 0
    out = base_reserve * net // (quote_reserve + net)
    # Rounding fees up can push the exact cost a few lamports past the budget: step back.
    while out > 0:
        q = pool_buy_base_out(base_reserve, quote_reserve, out, lp_bps, protocol_bps, creator_bps)
        if q.user_quote <= spend:
            return out
        out -= max(1, out // 1_000_000)
    return 0


def pool_sell(
    base_reserve: int,
    quote_reserve: int,
    base_in: int,
    lp_bps: int,
    protocol_bps: int,
    creator_bps: int,
) -> PoolQuote:
    """PumpSwap ``sell``: quote out for ``base_in`` base tokens, fees taken from it."""
    quote_out = quote_reserve * base_in // (base_reserve + base_in)
    return PoolQuote(
        base_in,
        quote_out,
        fee(quote_out, lp_bps),
        fee(quote_out, protocol_bps),
        fee(quote_out, creator_bps),
    )


def initial_liquidity(base: int, quote: int) -> int:
    """LP tokens minted for a new pool: floor(sqrt(base * quote))."""
    return math.isqrt(base * quote)
