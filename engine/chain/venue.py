"""The venue base class: one small subclass per program family, listed in ``registry.py``.

A venue turns payloads written by its programs into :class:`ChainEvent`\\ s. The decode driver
(``decode.py``) walks logs and inner instructions, attributes every payload to the program and
instruction that produced it, and hands it to the venue registered for that program:

- ``decode_event``: an Anchor event (8-byte discriminator + Borsh), from a ``Program data:`` line
  or an emit_cpi inner instruction (the driver counts the two copies once);
- ``decode_event_b64``: the same from the base64 text, on the logs-only hot path (the default
  decodes everything and calls ``decode_event``; pump.fun decodes only the prefix it needs);
- ``decode_log``: a ``Program log:`` line (Raydium AMM v4's ``ray_log``), transactions only;
- ``decode_instruction``: instruction data, used only when the logs were truncated or absent
  and no event was seen for that instruction;
- ``finish``: a last look at everything found in the transaction (Jupiter routes).

``site`` is ``None`` when decoding a logsSubscribe notification: there are no accounts, balances
or instructions then, and venues whose events do not name their mints return ``None``.
The base class decodes nothing, so a venue overrides only what its programs produce.
"""

from __future__ import annotations

import binascii
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar, Final

from engine.chain import programs as P
from engine.chain.txjson import Instruction, Transaction
from engine.events import ChainEvent

logger = logging.getLogger(__name__)

QUOTE_MINTS = frozenset({P.USDC_MINT, P.USDT_MINT})
"""Non-SOL quote currencies: a pool against these is priced in ``quote_mint``/``quote_amount``."""
NO_KEY = frozenset({P.DEFAULT_PUBKEY})


@dataclass(slots=True)
class EventMeta:
    """Where every event of one transaction or notification comes from."""

    signature: str
    slot: int
    ts: int

    def at_block_time(self, block_ts: int) -> EventMeta:
        """The same origin stamped with the block time an event carries (unix seconds), if any.

        Logs notifications have no block time; without this a live event would carry its
        receipt time while the same event fetched later carries the block's: live and replay
        would disagree, and one feed would mix two clocks.
        """
        if block_ts <= 0 or block_ts * 1000 == self.ts:
            return self
        return EventMeta(self.signature, self.slot, block_ts * 1000)


@dataclass(slots=True)
class Site:
    """Transaction context of one payload: the instruction whose execution wrote it."""

    tx: Transaction
    ix: Instruction | None
    program: str
    scratch: dict[str, Any]
    """Per-transaction state shared by the venues (Jupiter collects route hops here)."""


@dataclass(slots=True)
class Found:
    """An event plus where it came from, until the transaction is fully decoded."""

    event: ChainEvent
    outer: int
    inner: int
    program: str


@dataclass(slots=True)
class SwapView:
    """One swap reduced to the product's terms (token vs SOL, or token vs a quote mint)."""

    mint: str
    side: str
    sol_lamports: int
    token_amount: int
    quote_mint: str | None = None
    quote_amount: int | None = None
    sol_reserves: int | None = None
    token_reserves: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


def interpret_swap(
    input_mint: str,
    input_amount: int,
    output_mint: str,
    output_amount: int,
    reserves: dict[str, int] | None = None,
) -> SwapView | None:
    """Read a swap of ``input`` for ``output`` as a buy or sell of the non-SOL token.

    SOL-paired: the token is the other side. Paired with USDC/USDT: the token is the other side
    and the price is in ``quote_mint``/``quote_amount`` with ``sol_lamports`` 0, as pump.fun
    reports USDC-quoted coins. Anything else (token for token) returns ``None``.
    """
    reserves = reserves or {}
    if input_mint == output_mint:
        return None
    if input_mint == P.WSOL_MINT:
        return SwapView(
            output_mint,
            "buy",
            input_amount,
            output_amount,
            sol_reserves=reserves.get(input_mint),
            token_reserves=reserves.get(output_mint),
        )
    if output_mint == P.WSOL_MINT:
        return SwapView(
            input_mint,
            "sell",
            output_amount,
            input_amount,
            sol_reserves=reserves.get(output_mint),
            token_reserves=reserves.get(input_mint),
        )
    if input_mint in QUOTE_MINTS:
        return SwapView(
            output_mint,
            "buy",
            0,
            output_amount,
            quote_mint=input_mint,
            quote_amount=input_amount,
            token_reserves=reserves.get(output_mint),
        )
    if output_mint in QUOTE_MINTS:
        return SwapView(
            input_mint,
            "sell",
            0,
            input_amount,
            quote_mint=output_mint,
            quote_amount=output_amount,
            token_reserves=reserves.get(input_mint),
        )
    return None


def swap_event(
    view: SwapView,
    *,
    venue: str,
    meta: EventMeta,
    index: int,
    trader: str | None,
    pool: str | None,
    kind: str = "swap",
) -> ChainEvent:
    """Build the normalized event for a :class:`SwapView`."""
    return ChainEvent(
        kind=kind,
        venue=venue,
        signature=meta.signature,
        slot=meta.slot,
        ts=meta.ts,
        mint=view.mint,
        index=index,
        trader=trader,
        side=view.side,
        sol_lamports=view.sol_lamports,
        token_amount=view.token_amount,
        virtual_sol_reserves=view.sol_reserves,
        virtual_token_reserves=view.token_reserves,
        pool=pool,
        quote_mint=view.quote_mint,
        quote_amount=view.quote_amount,
    )


# -- hot path: building events without the frozen dataclass's __init__ ---------------------------
# A frozen dataclass sets each of ChainEvent's 21 fields through object.__setattr__ (~2.4 us an
# event, a quarter of a pump.fun notification's budget). Writing the slots through their
# descriptors gives an identical object in about half the time. Used only where events are
# built per notification; guarded so a change of ChainEvent's fields falls back to __init__.
_FAST_FIELDS: Final = (
    "kind",
    "venue",
    "signature",
    "slot",
    "ts",
    "mint",
    "index",
    "trader",
    "side",
    "sol_lamports",
    "token_amount",
    "virtual_sol_reserves",
    "virtual_token_reserves",
    "pool",
    "name",
    "symbol",
    "uri",
    "creator",
    "quote_mint",
    "quote_amount",
    "token_program",
)
_FAST_OK: Final = tuple(f.name for f in fields(ChainEvent)) == _FAST_FIELDS
_new = object.__new__
_Setter = Callable[[ChainEvent, Any], None]


def _setter(name: str) -> _Setter:
    setter: _Setter = getattr(ChainEvent.__dict__[name], "__set__")  # noqa: B009
    return setter


if _FAST_OK:
    (
        _s_kind,
        _s_venue,
        _s_signature,
        _s_slot,
        _s_ts,
        _s_mint,
        _s_index,
        _s_trader,
        _s_side,
        _s_sol,
        _s_token,
        _s_vsol,
        _s_vtoken,
        _s_pool,
        _s_name,
        _s_symbol,
        _s_uri,
        _s_creator,
        _s_quote_mint,
        _s_quote_amount,
        _s_token_program,
    ) = (_setter(name) for name in _FAST_FIELDS)


def trade_event(
    venue: str,
    meta: EventMeta,
    index: int,
    mint: str,
    trader: str | None,
    side: str,
    sol_lamports: int,
    token_amount: int,
    virtual_sol_reserves: int | None,
    virtual_token_reserves: int | None,
    creator: str | None = None,
    quote_mint: str | None = None,
    quote_amount: int | None = None,
) -> ChainEvent:
    """A ``trade`` event, built fast (same object as ``ChainEvent(...)`` would give)."""
    if not _FAST_OK:
        return ChainEvent(
            kind="trade",
            venue=venue,
            signature=meta.signature,
            slot=meta.slot,
            ts=meta.ts,
            mint=mint,
            index=index,
            trader=trader,
            side=side,
            sol_lamports=sol_lamports,
            token_amount=token_amount,
            virtual_sol_reserves=virtual_sol_reserves,
            virtual_token_reserves=virtual_token_reserves,
            creator=creator,
            quote_mint=quote_mint,
            quote_amount=quote_amount,
        )
    ev: ChainEvent = _new(ChainEvent)
    _s_kind(ev, "trade")
    _s_venue(ev, venue)
    _s_signature(ev, meta.signature)
    _s_slot(ev, meta.slot)
    _s_ts(ev, meta.ts)
    _s_mint(ev, mint)
    _s_index(ev, index)
    _s_trader(ev, trader)
    _s_side(ev, side)
    _s_sol(ev, sol_lamports)
    _s_token(ev, token_amount)
    _s_vsol(ev, virtual_sol_reserves)
    _s_vtoken(ev, virtual_token_reserves)
    _s_pool(ev, None)
    _s_name(ev, None)
    _s_symbol(ev, None)
    _s_uri(ev, None)
    _s_creator(ev, creator)
    _s_quote_mint(ev, quote_mint)
    _s_quote_amount(ev, quote_amount)
    _s_token_program(ev, None)
    return ev


def account(ix: Instruction | None, pos: int) -> str | None:
    """Account ``pos`` of ``ix`` (negative counts from the end), or ``None``."""
    if ix is None:
        return None
    accounts = ix.accounts
    if -len(accounts) <= pos < len(accounts):
        return accounts[pos]
    return None


class Venue:
    """Base class: decodes nothing; subclasses override what their programs produce."""

    name: ClassVar[str] = "unknown"
    """The ``venue`` value of the events this class produces."""
    programs: ClassVar[frozenset[str]] = frozenset()
    """Program ids whose payloads are routed here."""
    wants_logs: ClassVar[bool] = False
    """Whether ``Program log:`` lines of these programs should be passed to ``decode_log``."""

    def decode_event(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        """Decode one Anchor event payload (discriminator + Borsh); ``None`` if not ours."""
        return None

    def decode_event_b64(self, text: str, meta: EventMeta, index: int) -> ChainEvent | None:
        """Logs-only path: decode an event given as the base64 text of a ``Program data:`` line.

        The default decodes the whole payload; a venue whose hot events need only a prefix may
        decode less (pump.fun trades do). Raises ``ValueError`` on bad base64.
        """
        return self.decode_event(binascii.a2b_base64(text), meta, index, None)

    def decode_log(
        self, text: str, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        """Decode one ``Program log:`` line (text after the prefix); ``None`` if not ours."""
        return None

    def decode_instruction(
        self, ix: Instruction, meta: EventMeta, index: int, tx: Transaction
    ) -> ChainEvent | None:
        """Decode an instruction whose events are missing (truncated logs); ``None`` if not ours."""
        return None

    def finish(
        self, tx: Transaction, found: list[Found], meta: EventMeta, scratch: dict[str, Any]
    ) -> list[Found]:
        """Adjust the transaction's events once all payloads are decoded (default: keep)."""
        return found
