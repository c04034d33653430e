"""Jupiter v6 aggregator (``JUP6…aV4``): routes, read from their per-hop ``SwapEvent``\\ s.

Jupiter emits one ``SwapEvent`` (amm program, input mint and amount, output mint and amount) per
hop and a ``FeeEvent`` for platform fees, only as emit_cpi inner instructions. A route's net is
its first input and its last output; amounts are summed per mint so split routes net correctly.

Hops through a venue we decode (pump.fun, PumpSwap, Raydium) already produced their own events.
When every hop of a route is such a direct token/SOL swap, those events stand (they carry the
pool and its reserves; the fixture's one-hop Raydium route stays a ``raydium_amm_v4`` event).
Otherwise (a hop through an intermediate mint, or through a venue we cannot read) the hop events
of that route would misstate what the wallet did, so they are replaced by one ``jupiter`` event
for the route's net.
"""

from __future__ import annotations

import logging
import struct
from dataclasses import dataclass
from typing import Any, ClassVar, Final

from engine.chain import programs as P
from engine.chain.borsh import pubkey_str
from engine.chain.errors import DecodeError
from engine.chain.txjson import Transaction
from engine.chain.venue import EventMeta, Found, Site, Venue, interpret_swap, swap_event
from engine.events import ChainEvent

logger = logging.getLogger(__name__)

# amm, input_mint, input_amount, output_mint, output_amount
_SWAP: Final = struct.Struct("<32s32sQ32sQ")
_SWAP_MIN: Final = 8 + _SWAP.size
_HOPS_KEY: Final = "jupiter.hops"
_ROUTE_USER_ACCOUNT: Final = {
    bytes.fromhex("e517cb977ae3ad2a"): 1,  # route
    bytes.fromhex("c1209b3341d69c81"): 2,  # shared_accounts_route
    bytes.fromhex("d033ef977b2bed5c"): 1,  # exact_out_route
}


@dataclass(slots=True, frozen=True)
class Hop:
    """One ``SwapEvent`` of a route."""

    outer: int
    index: int
    amm: str
    input_mint: str
    input_amount: int
    output_mint: str
    output_amount: int


class Jupiter(Venue):
    """Jupiter v6 routes: keeps direct hop events, or replaces them by the route's net."""

    name: ClassVar[str] = "jupiter"
    programs: ClassVar[frozenset[str]] = frozenset({P.JUPITER_V6_PROGRAM})

    def decode_event(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        """Collect a hop for :meth:`finish`; a hop alone is never an event."""
        if payload[:8] != P.JUPITER_SWAP_EVENT or site is None:
            return None
        if len(payload) < _SWAP_MIN:
            raise DecodeError(f"Jupiter SwapEvent is {len(payload)} bytes, need {_SWAP_MIN}")
        amm, in_mint, in_amount, out_mint, out_amount = _SWAP.unpack_from(payload, 8)
        outer = site.ix.outer if site.ix is not None else -1
        hop = Hop(
            outer,
            index,
            pubkey_str(amm),
            pubkey_str(in_mint),
            in_amount,
            pubkey_str(out_mint),
            out_amount,
        )
        site.scratch.setdefault(_HOPS_KEY, []).append(hop)
        return None

    def finish(
        self, tx: Transaction, found: list[Found], meta: EventMeta, scratch: dict[str, Any]
    ) -> list[Found]:
        """Per route: keep direct hop events, else replace them by one net ``jupiter`` event."""
        hops: list[Hop] = scratch.get(_HOPS_KEY, [])
        routes: dict[int, list[Hop]] = {}
        for hop in hops:
            routes.setdefault(hop.outer, []).append(hop)
        for outer, route in routes.items():
            found = self._route(tx, found, meta, outer, route)
        return found

    def _route(
        self, tx: Transaction, found: list[Found], meta: EventMeta, outer: int, route: list[Hop]
    ) -> list[Found]:
        in_mint, out_mint = route[0].input_mint, route[-1].output_mint
        if in_mint == out_mint:
            return found  # a cycle (arbitrage): the hops are the story
        in_amount = sum(h.input_amount for h in route if h.input_mint == in_mint) - sum(
            h.output_amount for h in route if h.output_mint == in_mint
        )
        out_amount = sum(h.output_amount for h in route if h.output_mint == out_mint) - sum(
            h.input_amount for h in route if h.input_mint == out_mint
        )
        view = interpret_swap(in_mint, in_amount, out_mint, out_amount)
        if view is None or in_amount <= 0 or out_amount <= 0:
            return found
        legs = [f for f in found if f.outer == outer and f.event.kind in ("trade", "swap")]
        direct = all(
            f.event.mint == view.mint
            and f.event.side == view.side
            and f.event.quote_mint == view.quote_mint
            for f in legs
        )
        if direct and len(legs) == len(route):
            return found
        trader = tx.fee_payer
        ix = tx.instruction(outer, -1)
        if ix is not None and ix.program == P.JUPITER_V6_PROGRAM:
            pos = _ROUTE_USER_ACCOUNT.get(ix.data()[:8])
            if pos is not None and pos < len(ix.accounts) and ix.accounts[pos] in tx.signers:
                trader = ix.accounts[pos]
        net = swap_event(
            view, venue="jupiter", meta=meta, index=route[0].index, trader=trader, pool=None
        )
        kept = [f for f in found if not (f.outer == outer and f.event.kind in ("trade", "swap"))]
        kept.append(Found(net, outer, -1, P.JUPITER_V6_PROGRAM))
        return kept
