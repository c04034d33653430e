"""pump.fun bonding curve (``6EF8…F6P``): CreateEvent, TradeEvent, CompleteEvent, migration.

Layouts follow the published IDLs (``idl/pump_6EF8_*``): every event only ever grew by appending
fields, so each is decoded as "the known prefix, then whatever later fields fit".

- TradeEvent: 129 bytes in 2024 (mint, sol_amount, token_amount, is_buy, user, timestamp,
  virtual and real reserves); 358-371 bytes in 2026 (fees, creator, volume tracking,
  ``ix_name``, cashback, buyback, shareholders, ``quote_mint``/``quote_amount``). ``sol_amount``
  excludes fees; reserves are taken *after* the trade. A coin quoted in USDC reports
  ``sol_amount`` 0 and carries ``quote_mint``/``quote_amount``.
- CreateEvent: name, symbol, uri, mint, bonding_curve, user, then (2025) creator, timestamp,
  then (2026, create_v2 / Token-2022) reserves, supply, token_program, mayhem, cashback, quote.
- CompleteEvent -> kind ``complete``; CompletePumpAmmMigrationEvent -> kind ``migrate``.

When logs were truncated and an instruction has no event, ``decode_instruction`` reads the
create/buy/sell instruction and takes amounts from balance changes (reserves then unknown).
"""

from __future__ import annotations

import base64
import binascii
import logging
import struct
from collections.abc import Callable
from typing import ClassVar, Final

import base58

from engine.chain import programs as P
from engine.chain.borsh import Reader, cached_key, pubkey_str
from engine.chain.errors import DecodeError
from engine.chain.txjson import Instruction, Transaction
from engine.chain.venue import NO_KEY, EventMeta, Site, Venue, account, trade_event
from engine.events import ChainEvent

logger = logging.getLogger(__name__)

# mint, sol_amount, token_amount, is_buy, user, timestamp, virtual_sol, virtual_token
_TRADE: Final = struct.Struct("<32sQQ?32sqQQ")
_TRADE_MIN: Final = 8 + _TRADE.size
# 2025+: real_sol, real_token, fee_recipient, fee_bps, fee, creator
_TRADE_CREATOR_AT: Final = 8 + _TRADE.size + 16 + 32 + 16
# 2026: ... creator_fee_bps, creator_fee, track_volume, 3 x u64 volume, last_update_timestamp
_TRADE_IX_NAME_AT: Final = _TRADE_CREATOR_AT + 32 + 16 + 1 + 32
_SHAREHOLDER_SIZE: Final = 32 + 2
_NOT_A_QUOTE: Final = frozenset({P.WSOL_MINT, P.DEFAULT_PUBKEY})
_NOT_A_QUOTE_RAW: Final = frozenset({base58.b58decode(P.WSOL_MINT), bytes(32)})
_NO_CREATOR_RAW: Final = bytes(32)
_U32: Final = struct.Struct("<I")
_a2b: Final = binascii.a2b_base64
# base64 of TradeEvent's discriminator: its 8 bytes fix the first 10 characters.
_TRADE_B64_HEAD: Final = base64.b64encode(P.PUMP_TRADE_EVENT).decode()[:10]
_TRADE_B64_PREFIX: Final = 280  # characters -> 210 bytes: up to and including ``creator``
_U64: Final = struct.Struct("<Q")

_BUY_INSTRUCTIONS: Final = frozenset({P.PUMP_IX_BUY, P.PUMP_IX_BUY_EXACT_SOL_IN})
_V2_TRADE_INSTRUCTIONS: Final = frozenset(
    {P.PUMP_IX_BUY_V2, P.PUMP_IX_SELL_V2, P.PUMP_IX_BUY_EXACT_QUOTE_IN_V2}
)


class PumpFun(Venue):
    """Events and (fallback) instructions of the pump.fun bonding-curve program."""

    name: ClassVar[str] = "pumpfun"
    programs: ClassVar[frozenset[str]] = frozenset({P.PUMP_PROGRAM})

    def __init__(self) -> None:
        self._by_disc: dict[
            bytes, Callable[[bytes, EventMeta, int, Site | None], ChainEvent | None]
        ] = {
            P.PUMP_TRADE_EVENT: self._trade,
            P.PUMP_CREATE_EVENT: self._create,
            P.PUMP_COMPLETE_EVENT: self._complete,
            P.PUMP_COMPLETE_AMM_MIGRATION_EVENT: self._migration,
        }

    def decode_event(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        """Dispatch on the 8-byte discriminator; unknown events (fees, params) are ignored."""
        handler = self._by_disc.get(payload[:8])
        return handler(payload, meta, index, site) if handler is not None else None

    def decode_event_b64(self, text: str, meta: EventMeta, index: int) -> ChainEvent | None:
        """Logs-only fast path: a TradeEvent is read from the base64 prefix that holds its fields.

        A 2026 TradeEvent is ~370 bytes, but everything a SOL-quoted trade needs sits in the
        first 210 (up to ``creator``); base64 decodes in independent 4-character groups, so
        decoding 280 characters instead of ~500 is exact. ``sol_amount`` 0 (quoted in another
        mint) needs the tail: then the whole payload is decoded.
        """
        if not text.startswith(_TRADE_B64_HEAD) or len(text) <= _TRADE_B64_PREFIX:
            return self.decode_event(_a2b(text), meta, index, None)
        event = self._trade(_a2b(text[:_TRADE_B64_PREFIX]), meta, index, None)
        if event is not None and event.sol_lamports == 0:
            return self._trade(_a2b(text), meta, index, None)
        return event

    # -- events ---------------------------------------------------------------------------------

    def _trade(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        if len(payload) < _TRADE_MIN:
            raise DecodeError(f"pump.fun TradeEvent is {len(payload)} bytes, need {_TRADE_MIN}")
        mint, sol, token, is_buy, user, block_ts, vsol, vtoken = _TRADE.unpack_from(payload, 8)
        meta = meta.at_block_time(block_ts)
        creator = quote_mint = quote_amount = None
        if len(payload) >= _TRADE_CREATOR_AT + 32:
            raw_creator = payload[_TRADE_CREATOR_AT : _TRADE_CREATOR_AT + 32]
            if raw_creator != _NO_CREATOR_RAW:
                creator = cached_key(raw_creator) or pubkey_str(raw_creator)
            if sol == 0 and len(payload) > _TRADE_IX_NAME_AT:
                # Only a coin quoted in another mint trades with sol_amount 0 (README of the
                # fixtures): the variable-length tail is walked only then.
                quote_mint, quote_amount = _trade_quote(payload)
        return trade_event(
            "pumpfun",
            meta,
            index,
            cached_key(mint) or pubkey_str(mint),
            cached_key(user) or pubkey_str(user),
            "buy" if is_buy else "sell",
            sol,
            token,
            vsol,
            vtoken,
            creator,
            quote_mint,
            quote_amount,
        )

    def _create(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        r = Reader(payload, 8)
        name = r.string(max_len=1_000)
        symbol = r.string(max_len=1_000)
        uri = r.string(max_len=4_000)
        mint = r.pubkey()
        bonding_curve = r.pubkey()
        user = r.pubkey()
        creator = user
        token_program: str | None = None
        quote_mint: str | None = None
        if r.remaining() >= 40:  # 2025: creator, timestamp
            creator = r.pubkey()
            meta = meta.at_block_time(r.i64())
            if r.remaining() >= 32 + 32:  # 2026: reserves/supply (32 bytes), token_program
                r.skip(32)
                token_program = r.pubkey()
                if r.remaining() >= 2 + 32:  # mayhem, cashback, quote_mint
                    r.skip(2)
                    q = r.pubkey()
                    quote_mint = None if q in _NOT_A_QUOTE else q
        if token_program is None:
            # Layouts without token_program predate create_v2 (Token-2022): only the legacy
            # ``create`` made them, and it only makes SPL Token mints.
            token_program = P.TOKEN_PROGRAM
        return ChainEvent(
            kind="create",
            venue="pumpfun",
            signature=meta.signature,
            slot=meta.slot,
            ts=meta.ts,
            mint=mint,
            index=index,
            trader=user,
            pool=bonding_curve,
            name=name,
            symbol=symbol,
            uri=uri,
            creator=creator if creator not in NO_KEY else user,
            quote_mint=quote_mint,
            token_program=token_program,
        )

    def _complete(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        r = Reader(payload, 8)
        user = r.pubkey()
        mint = r.pubkey()
        bonding_curve = r.pubkey()
        if r.remaining() >= 8:  # 2025 on: the block's timestamp
            meta = meta.at_block_time(r.i64())
        return ChainEvent(
            kind="complete",
            venue="pumpfun",
            signature=meta.signature,
            slot=meta.slot,
            ts=meta.ts,
            mint=mint,
            index=index,
            trader=user,
            pool=bonding_curve,
        )

    def _migration(
        self, payload: bytes, meta: EventMeta, index: int, site: Site | None
    ) -> ChainEvent | None:
        r = Reader(payload, 8)
        user = r.pubkey()
        mint = r.pubkey()
        mint_amount = r.u64()
        sol_amount = r.u64()
        r.skip(8)  # pool_migration_fee
        r.skip(32)  # bonding_curve
        meta = meta.at_block_time(r.i64())
        pool = r.pubkey()
        quote_mint = None
        if r.remaining() >= 32:
            q = r.pubkey()
            quote_mint = None if q in _NOT_A_QUOTE else q
        return ChainEvent(
            kind="migrate",
            venue="pumpfun",
            signature=meta.signature,
            slot=meta.slot,
            ts=meta.ts,
            mint=mint,
            index=index,
            trader=user,
            sol_lamports=sol_amount,
            token_amount=mint_amount,
            pool=pool,
            quote_mint=quote_mint,
        )

    # -- instructions (truncated logs) ----------------------------------------------------------

    def decode_instruction(
        self, ix: Instruction, meta: EventMeta, index: int, tx: Transaction
    ) -> ChainEvent | None:
        """Read create/buy/sell instruction data; amounts come from balance changes."""
        data = ix.data()
        disc = data[:8]
        if disc in (P.PUMP_IX_CREATE, P.PUMP_IX_CREATE_V2):
            return _create_from_instruction(ix, data, meta, index)
        if disc in _BUY_INSTRUCTIONS or disc == P.PUMP_IX_SELL:
            return _trade_from_instruction(ix, data, meta, index, tx)
        if disc in _V2_TRADE_INSTRUCTIONS:
            return _trade_v2_from_instruction(ix, disc, meta, index, tx)
        return None


def _trade_quote(payload: bytes) -> tuple[str | None, int | None]:
    """``quote_mint``/``quote_amount`` of a 2026 TradeEvent when it is not SOL-quoted.

    Walks ix_name (string), mayhem + cashback + buyback (33 bytes) and the shareholders vector
    with plain offsets: this runs for every 2026 trade on the ingest path.
    """
    size = len(payload)
    at = _TRADE_IX_NAME_AT
    if size < at + 4:
        return None, None
    at += 4 + _U32.unpack_from(payload, at)[0] + 33
    if size < at + 4:
        return None, None
    at += 4 + _U32.unpack_from(payload, at)[0] * _SHAREHOLDER_SIZE
    if size < at + 40:
        return None, None
    raw_mint = payload[at : at + 32]
    if raw_mint in _NOT_A_QUOTE_RAW:
        return None, None
    return pubkey_str(raw_mint), int(_U64.unpack_from(payload, at + 32)[0])


def _create_from_instruction(
    ix: Instruction, data: bytes, meta: EventMeta, index: int
) -> ChainEvent | None:
    r = Reader(data, 8)
    name = r.string(max_len=1_000)
    symbol = r.string(max_len=1_000)
    uri = r.string(max_len=4_000)
    v2 = data[:8] == P.PUMP_IX_CREATE_V2
    user = account(ix, 5 if v2 else 7)
    creator = r.pubkey() if r.remaining() >= 32 else user
    mint = account(ix, 0)
    if mint is None or user is None:
        return None
    return ChainEvent(
        kind="create",
        venue="pumpfun",
        signature=meta.signature,
        slot=meta.slot,
        ts=meta.ts,
        mint=mint,
        index=index,
        trader=user,
        pool=account(ix, 2),
        name=name,
        symbol=symbol,
        uri=uri,
        creator=creator,
        token_program=account(ix, 7) if v2 else P.TOKEN_PROGRAM,
    )


def _trade_from_instruction(
    ix: Instruction, data: bytes, meta: EventMeta, index: int, tx: Transaction
) -> ChainEvent | None:
    # Accounts: global, fee_recipient, mint, bonding_curve, associated_bonding_curve,
    # associated_user, user, ...
    mint, curve, curve_ata, user = (account(ix, i) for i in (2, 3, 4, 6))
    if mint is None or curve is None or curve_ata is None or user is None:
        return None
    r = Reader(data, 8)
    first_arg = r.u64()
    disc = data[:8]
    is_buy = disc in _BUY_INSTRUCTIONS
    # Exact-in/out arguments are the token amount for buy and sell; buy_exact_sol_in names SOL.
    token_amount = _token_delta(tx, curve_ata)
    if disc != P.PUMP_IX_BUY_EXACT_SOL_IN:
        token_amount = first_arg
    # The curve account receives (buy) or pays out (sell) exactly sol_amount; fees go elsewhere.
    sol = abs(tx.lamport_delta(curve))
    return ChainEvent(
        kind="trade",
        venue="pumpfun",
        signature=meta.signature,
        slot=meta.slot,
        ts=meta.ts,
        mint=mint,
        index=index,
        trader=user,
        side="buy" if is_buy else "sell",
        sol_lamports=sol,
        token_amount=abs(token_amount),
        pool=curve,
    )


def _trade_v2_from_instruction(
    ix: Instruction, disc: bytes, meta: EventMeta, index: int, tx: Transaction
) -> ChainEvent | None:
    # Accounts: global, base_mint, quote_mint, ..., bonding_curve (10),
    # associated_base_bonding_curve (11), associated_quote_bonding_curve (12), user (13)
    mint, quote, curve, base_ata, quote_ata, user = (account(ix, i) for i in (1, 2, 10, 11, 12, 13))
    if None in (mint, quote, curve, base_ata, quote_ata, user):
        return None
    assert mint is not None and quote is not None and base_ata is not None
    assert quote_ata is not None
    quote_amount = abs(_token_delta(tx, quote_ata))
    is_sol = quote == P.WSOL_MINT
    return ChainEvent(
        kind="trade",
        venue="pumpfun",
        signature=meta.signature,
        slot=meta.slot,
        ts=meta.ts,
        mint=mint,
        index=index,
        trader=user,
        side="sell" if disc == P.PUMP_IX_SELL_V2 else "buy",
        sol_lamports=quote_amount if is_sol else 0,
        token_amount=abs(_token_delta(tx, base_ata)),
        pool=curve,
        quote_mint=None if is_sol else quote,
        quote_amount=None if is_sol else quote_amount,
    )


def _token_delta(tx: Transaction, token_account: str) -> int:
    pre = tx.pre_token(token_account)
    post = tx.post_token(token_account)
    return (post.amount if post else 0) - (pre.amount if pre else 0)
