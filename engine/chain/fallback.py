"""Balance-delta fallback: a swap we cannot read event by event, read from the wallet's balances.

Jupiter routes through Meteora, Orca, Raydium CLMM and the like, or any DEX we have no venue
for, still change the signer's balances. When a transaction produced no event and invoked some
program beyond plumbing (system, token, ATA, compute budget, memo, …), the fee payer's SOL and
token deltas tell trader, mint, side and amounts:

- SOL = lamport delta of the fee payer with the transaction fee added back, plus the delta of
  its wrapped-SOL token accounts, minus the rent parked in (or plus the rent returned by) token
  accounts it opened (closed) in this transaction;
- exactly one other mint moved: token up and SOL down is a buy, the reverse a sell;
- two mints moved, one of them USDC/USDT: priced in that quote (``sol_lamports`` 0).

Amounts are what the wallet paid or got, so they include venue fees and tips (unlike pump.fun's
``sol_amount``). Venue is ``jupiter`` when Jupiter was invoked, else ``unknown``; no reserves.
"""

from __future__ import annotations

import logging

from engine.chain import programs as P
from engine.chain.txjson import TokenBalance, Transaction
from engine.chain.venue import QUOTE_MINTS, EventMeta, SwapView, swap_event
from engine.events import ChainEvent

logger = logging.getLogger(__name__)


def balance_fallback(tx: Transaction, meta: EventMeta, index: int) -> ChainEvent | None:
    """One ``swap`` event from the fee payer's balance changes, or ``None`` if not a swap."""
    programs = tx.programs
    if not programs - P.PLUMBING_PROGRAMS:
        return None
    payer = tx.fee_payer
    sol = tx.lamport_delta(payer) + tx.fee
    pre_by_idx = {tb.account_index: tb for tb in tx.pre_token_balances}
    post_by_idx = {tb.account_index: tb for tb in tx.post_token_balances}
    moved: dict[str, int] = {}
    for idx in pre_by_idx.keys() | post_by_idx.keys():
        pre = pre_by_idx.get(idx)
        post = post_by_idx.get(idx)
        ref = post if post is not None else pre
        if ref is None or ref.owner != payer:
            continue
        delta = (post.amount if post else 0) - (pre.amount if pre else 0)
        if ref.mint == P.WSOL_MINT:
            sol += delta
        else:
            moved[ref.mint] = moved.get(ref.mint, 0) + delta
        sol += _rent_adjustment(tx, idx, pre, post)
    nonzero = {mint: d for mint, d in moved.items() if d != 0}
    view: SwapView | None = None
    if len(nonzero) == 1:
        ((mint, delta),) = nonzero.items()
        if delta > 0 and sol < 0:
            view = SwapView(mint, "buy", -sol, delta)
        elif delta < 0 and sol > 0:
            view = SwapView(mint, "sell", sol, -delta)
    elif len(nonzero) == 2:
        quotes = [m for m in nonzero if m in QUOTE_MINTS]
        if len(quotes) == 1:
            quote = quotes[0]
            (token,) = (m for m in nonzero if m != quote)
            dq, dt = nonzero[quote], nonzero[token]
            if dt > 0 and dq < 0:
                view = SwapView(token, "buy", 0, dt, quote_mint=quote, quote_amount=-dq)
            elif dt < 0 and dq > 0:
                view = SwapView(token, "sell", 0, -dt, quote_mint=quote, quote_amount=dq)
    if view is None:
        return None
    venue = "jupiter" if P.JUPITER_V6_PROGRAM in programs else "unknown"
    return swap_event(view, venue=venue, meta=meta, index=index, trader=payer, pool=None)


def _rent_adjustment(
    tx: Transaction, idx: int, pre: TokenBalance | None, post: TokenBalance | None
) -> int:
    """Rent deposited into a token account opened here (+) or refunded by one closed (-)."""
    pre_l = tx.pre_balances[idx] if idx < len(tx.pre_balances) else 0
    post_l = tx.post_balances[idx] if idx < len(tx.post_balances) else 0
    if pre is None and post is not None and pre_l == 0:
        # A wrapped-SOL account's lamports also hold the wrapped amount, counted already.
        return post_l - (post.amount if post.mint == P.WSOL_MINT else 0)
    if post is None and pre is not None and post_l == 0:
        return -(pre_l - (pre.amount if pre.mint == P.WSOL_MINT else 0))
    return 0
