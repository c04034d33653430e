"""PumpSwap AMM (``pAMMBay…EA``): BuyEvent, SellEvent, CreatePoolEvent.

Buy and Sell are named from the pool's point of view: the user buys or sells the pool's *base*
mint. In a pump.fun-migrated pool base is the token and quote is WSOL, so a BuyEvent is a token
buy; in a pool whose base is WSOL, a BuyEvent is the user *selling* the token. The events name
neither mint: they come from the swap instruction's accounts (``base_mint``, ``quote_mint``)
or, failing that, from the token balances of the pool's vaults (owned by the pool), matched
on the reserves. The reserves in the events are taken *before* the swap.

``sol_lamports`` follows pump.fun's convention: the amount before fees (``quote_amount_in`` for a
buy, ``quote_amount_out`` for a sell). When the event's ``user`` is not a signer (a router PDA)
the decode driver attributes the trade to the fee payer.

From a logsSubscribe notification alone the mints are unknown, so Buy/Sell yield nothing unless
the caller passes a :class:`PoolBook`: the pool's mints never change, so once a transaction (or
a CreatePoolEvent) has shown them, later swaps of that pool decode from their logs alone. A swap
of a pool the book does not know sets ``book.missed`` and yields nothing (fetch the transaction).
CreatePoolEvent names its mints and is decoded from logs too.
"""

from __future__ import annotations

import logging
import struct
from collections import OrderedDict
from contextvars import ContextVar
from typing import ClassVar, Final

from engine.chain import programs as P
from engine.chain.borsh import pubkey_str
from engine.chain.errors import DecodeError
from engine.chain.venue import (
    EventMeta,
    Site,
    SwapView,
    Venue,
    interpret_swap,
    swap_event,
)
from engine.events import ChainEvent

logger = logging.getLogger(__name__)


class PoolBook:
    """Pool address → (base mint, quote mint), learned from decoded transactions; caller-owned."""

    def __init__(self, capacity: int = 200_000) -> None:
        self._capacity = capacity
        self._pools: OrderedDict[str, tuple[str, str]] = OrderedDict()
        self.missed = False
        """Set when a swap's pool was unknown during the current decode call."""

    def learn(self, pool: str, base_mint: str, quote_mint: str) -> None:
        """Remember a pool's mints (they never change)."""
        if pool not in self._pools:
            self._pools[pool] = (base_mint, quote_mint)
            if len(self._pools) > self._capacity:
                self._pools.popitem(last=False)

    def get(self, pool: str) -> tuple[str, str] | None:
        """The pool's (base, quote) mints, or None when never seen."""
        return self._pools.get(pool)

    def __len__(self) -> int:
        return len(self._pools)


ACTIVE_BOOK: ContextVar[PoolBook | None] = ContextVar("solai_pool_book", default=None)
"""The book of the decode call in progress (set by ``decode_logs``/``decode_transaction``)."""

# timestamp, base_amount, limit, user_base, user_quote, pool_base, pool_quote, quote_amount,
# lp_fee_bps, lp_fee, protocol_fee_bps, protocol_fee, quote_with_lp_fee, user_quote, pool, user
_SWAP: Final = struct.Struct("<q13Q32s32s")
_SWAP_MIN: Final = 8 + _SWAP.size
# timestamp, index, creator, base_mint, quote_mint, base_decimals, quote_decimals,
# base_amount_in, quote_amount_in, pool_base_amount, pool_quote_amount, minimum_liquidity,
# initial_liquidity, lp_token_amount_out, pool_bump, pool
_CREATE_POOL: Final = struct.Struct("<qH32s32s32sBBQQQQQQQB32s")
_CREATE_POOL_MIN: Final = 8 + _CREATE_POOL.size
_SWAP_INSTRUCTIONS: Final = frozenset(
    {P.PUMPSWAP_IX_BUY, P.PUMPSWAP_IX_SELL, P.PUMPSWAP_IX_BUY_EXACT_QUOTE_IN}
)


class PumpSwap(Venue):
    """Events of the PumpSwap constant-product AMM."""

    name: ClassVar[str] = "pumpswap"
    programs: ClassVar[frozenset[str]] = frozenset({P.PUMPSWAP_PROGRAM})

    def decode_event(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        """BuyEvent/SellEvent (transactions only) and CreatePoolEvent."""
        disc = payload[:8]
        if disc == P.PUMPSWAP_BUY_EVENT or disc == P.PUMPSWAP_SELL_EVENT:
            return self._swap(payload, disc == P.PUMPSWAP_BUY_EVENT, meta, index, site)
        if disc == P.PUMPSWAP_CREATE_POOL_EVENT:
            return self._create_pool(payload, meta, index)
        return None

    def _swap(
        self, payload: bytes, is_buy: bool, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        if len(payload) < _SWAP_MIN:
            raise DecodeError(f"PumpSwap swap event is {len(payload)} bytes, need {_SWAP_MIN}")
        (block_ts, base_amount, _limit, _ub, _uq, pool_base, pool_quote, quote_amount, *_fees) = (
            _SWAP.unpack_from(payload, 8)
        )
        meta = meta.at_block_time(block_ts)
        pool_raw, user_raw = _fees[-2], _fees[-1]
        pool = pubkey_str(pool_raw)
        user = pubkey_str(user_raw)
        book = ACTIVE_BOOK.get()
        if site is None:  # logs only: the book may know the pool
            mints = book.get(pool) if book is not None else None
            if mints is None:
                if book is not None:
                    book.missed = True
                return None
        else:
            mints = _pool_mints(site, pool, pool_base, pool_quote)
            if mints is None:
                raise DecodeError(f"PumpSwap pool {pool} mints not found in accounts or balances")
            if book is not None:
                book.learn(pool, *mints)
        base_mint, quote_mint = mints
        reserves = {base_mint: pool_base, quote_mint: pool_quote}
        view: SwapView | None
        if is_buy:  # user pays quote, receives base
            view = interpret_swap(quote_mint, quote_amount, base_mint, base_amount, reserves)
        else:  # user pays base, receives quote
            view = interpret_swap(base_mint, base_amount, quote_mint, quote_amount, reserves)
        if view is None:
            return None
        return swap_event(view, venue="pumpswap", meta=meta, index=index, trader=user, pool=pool)

    def _create_pool(self, payload: bytes, meta: EventMeta, index: int) -> ChainEvent | None:
        if len(payload) < _CREATE_POOL_MIN:
            raise DecodeError(
                f"PumpSwap CreatePoolEvent is {len(payload)} bytes, need {_CREATE_POOL_MIN}"
            )
        (
            block_ts,
            _idx,
            creator_raw,
            base_raw,
            quote_raw,
            _bd,
            _qd,
            base_in,
            quote_in,
            pool_base,
            pool_quote,
            _min_liq,
            _init_liq,
            _lp_out,
            _bump,
            pool_raw,
        ) = _CREATE_POOL.unpack_from(payload, 8)
        meta = meta.at_block_time(block_ts)
        base_mint = pubkey_str(base_raw)
        quote_mint = pubkey_str(quote_raw)
        book = ACTIVE_BOOK.get()
        if book is not None:
            book.learn(pubkey_str(pool_raw), base_mint, quote_mint)
        reserves = {base_mint: pool_base, quote_mint: pool_quote}
        # Liquidity goes in on both sides: read it as "quote in, base out" to name the token.
        view = interpret_swap(quote_mint, quote_in, base_mint, base_in, reserves)
        if view is None:
            view = SwapView(base_mint, "buy", 0, base_in, quote_mint, quote_in, None, pool_base)
        creator = pubkey_str(creator_raw)
        return ChainEvent(
            kind="pool_create",
            venue="pumpswap",
            signature=meta.signature,
            slot=meta.slot,
            ts=meta.ts,
            mint=view.mint,
            index=index,
            trader=creator,
            sol_lamports=view.sol_lamports,
            token_amount=view.token_amount,
            virtual_sol_reserves=view.sol_reserves,
            virtual_token_reserves=view.token_reserves,
            pool=pubkey_str(pool_raw),
            creator=creator,
            quote_mint=view.quote_mint,
            quote_amount=view.quote_amount,
        )


def _pool_mints(site: Site, pool: str, pool_base: int, pool_quote: int) -> tuple[str, str] | None:
    """(base_mint, quote_mint) of ``pool``: instruction accounts first, then vault balances."""
    ix = site.ix
    if (
        ix is not None
        and ix.program == P.PUMPSWAP_PROGRAM
        and len(ix.accounts) >= 9
        and ix.accounts[0] == pool
        and ix.data()[:8] in _SWAP_INSTRUCTIONS
    ):
        return ix.accounts[3], ix.accounts[4]
    # The vaults are token accounts owned by the pool; their pre balances are the reserves.
    base = quote = None
    for tb in site.tx.pre_token_balances:
        if tb.owner != pool:
            continue
        if tb.amount == pool_base and base is None:
            base = tb.mint
        elif tb.amount == pool_quote and quote is None:
            quote = tb.mint
    if base is not None and quote is not None and base != quote:
        return base, quote
    return None
