"""Public entry points: Solana RPC JSON in, normalized :class:`ChainEvent`\\ s out.

- :func:`decode_transaction` takes one getTransaction response (envelope, bare result or an
  array of one; encodings json, jsonParsed, base64) and returns every event in it.
- :func:`decode_logs` / :func:`decode_logs_notification` take a logsSubscribe notification.
  Logs carry no accounts and no balances, so only events that are complete on their own come
  out: pump.fun create/trade/complete/migrate, PumpSwap pool creation. PumpSwap swaps and
  Raydium swaps name neither mint nor (for Raydium) user in their payloads: for those, fetch the
  transaction and use :func:`decode_transaction`.

Rules shared by both paths:

- A payload is read only if the program that wrote it (found by walking the invoke stack, see
  ``logs.py``) has a registered venue (``registry.py``).
- A failed transaction (``err`` set, or a ``Program … failed`` line) yields no events: its
  effects were reverted.
- ``index`` is the number of the log line the event was read from, so the same event gets the
  same ``(signature, index)`` from a notification and from the transaction; events read from
  inner instructions or balances (no log line) are numbered after the last log line.
- pump.fun and PumpSwap write each event twice (``Program data:`` line and emit_cpi inner
  instruction): within one top-level instruction a payload seen in the logs is not read again
  from the inner instructions.
- In a transaction, a trade whose user is not a signer (a router's PDA) is attributed to the
  fee payer: the wallet that paid and got the tokens.
- Reserves: pump.fun trades carry the curve's virtual reserves *after* the trade; AMM swaps
  (PumpSwap, Raydium) carry the pool's reserves *before* the swap, as their programs report.

Errors: input that is not a transaction / notification raises :class:`DecodeError` (a
``ValueError``) naming what is wrong. A payload that cannot be decoded inside an otherwise valid
input is skipped and counted in the optional :class:`DecodeStats`; it never raises.
"""

from __future__ import annotations

import binascii
import logging
import struct
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Final

import orjson

from engine.chain import programs as P
from engine.chain.errors import DecodeError, DecodeStats
from engine.chain.fallback import balance_fallback
from engine.chain.logs import DATA, FailedTransaction, data_lines, walk_logs
from engine.chain.pumpswap import ACTIVE_BOOK, PoolBook
from engine.chain.registry import venues_by_program
from engine.chain.txjson import U64_MAX, Transaction, parse_transaction
from engine.chain.venue import EventMeta, Found, Site, Venue
from engine.events import ChainEvent

logger = logging.getLogger(__name__)

__all__ = [
    "DecodeError",
    "DecodeStats",
    "PoolBook",
    "decode_document",
    "decode_logs",
    "decode_logs_notification",
    "decode_transaction",
]

# What a corrupt payload can raise from the decoders (DecodeError and binascii.Error are
# ValueErrors; struct.error comes from unpack_from on short buffers).
_PAYLOAD_ERRORS: Final = (ValueError, struct.error)
_a2b = binascii.a2b_base64
_TRADE_KINDS: Final = frozenset({"trade", "swap"})


def _payload_error(stats: DecodeStats | None, venue: Venue, where: str, exc: Exception) -> None:
    logger.debug("skipping undecodable %s payload in %s: %s", venue.name, where, exc)
    if stats is not None:
        stats.error(f"{venue.name}: {type(exc).__name__}")


def decode_logs(
    signature: str,
    slot: int,
    logs: Sequence[str],
    *,
    ts_ms: int,
    stats: DecodeStats | None = None,
    pools: PoolBook | None = None,
) -> list[ChainEvent]:
    """Events complete from log lines alone (pump.fun; PumpSwap pool creation, and PumpSwap
    swaps of pools ``pools`` knows; ``pools.missed`` tells when one was not known)."""
    if pools is None:
        return _decode_logs(signature, slot, logs, ts_ms, stats, True, False)
    pools.missed = False
    token = ACTIVE_BOOK.set(pools)
    try:
        return _decode_logs(signature, slot, logs, ts_ms, stats, True, False)
    finally:
        ACTIVE_BOOK.reset(token)


def _decode_logs(
    signature: str,
    slot: int,
    logs: Sequence[str],
    ts_ms: int,
    stats: DecodeStats | None,
    check_failed: bool,
    newline_free: bool,
) -> list[ChainEvent]:
    try:
        found = data_lines(logs, check_failed=check_failed, newline_free=newline_free)
        if found is None:  # an entry holds a newline: take the line-by-line walk
            walk = walk_logs(logs)
            if walk.failed:
                raise FailedTransaction
            found = [(n, prog, text) for n, kind, prog, _o, _i, text in walk.items if kind == DATA]
    except FailedTransaction:
        if stats is not None:
            stats.failed_transactions += 1
        return []
    except (TypeError, AttributeError, KeyError, IndexError) as exc:
        # Not a list of strings: garbage from the socket, counted rather than raised.
        logger.debug("logs of %s are not a list of strings: %s", signature, exc)
        if stats is not None:
            stats.error("logs: not a list of strings")
        return []
    by_program = venues_by_program()
    meta = EventMeta(signature, slot, ts_ms)
    out: list[ChainEvent] = []
    for n, program, text in found:
        venue = by_program.get(program)
        if venue is None:
            continue
        try:
            event = venue.decode_event_b64(text, meta, n)
        except _PAYLOAD_ERRORS as exc:
            _payload_error(stats, venue, signature, exc)
            continue
        if event is not None:
            out.append(event)
    if stats is not None:
        stats.events += len(out)
    return out


def decode_logs_notification(
    msg: Mapping[str, Any] | bytes | str,
    *,
    ts_ms: int,
    stats: DecodeStats | None = None,
) -> list[ChainEvent]:
    """Decode one ``logsNotification`` JSON-RPC message (parsed, or raw JSON text/bytes)."""
    doc: Any = msg
    newline_free = False
    if isinstance(doc, bytes):
        # JSON can only carry a newline inside a string as an escape: no backslash in the raw
        # message means no log entry holds one, which spares the fast path a full count.
        newline_free = b"\\" not in doc
    elif isinstance(doc, str):
        newline_free = "\\" not in doc
    if isinstance(doc, (bytes, str)):
        try:
            doc = orjson.loads(doc)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"notification is not valid JSON: {exc}") from exc
    try:
        result = doc["params"]["result"]
        value = result["value"]
        slot = result["context"]["slot"]
        signature = value["signature"]
        logs = value["logs"]
        err = value.get("err")
    except (KeyError, TypeError, AttributeError) as exc:
        raise DecodeError(
            f"not a logsNotification: missing or malformed params.result ({exc!r:.80})"
        ) from exc
    if (
        not isinstance(signature, str)
        or type(slot) is not int
        or not 0 <= slot <= U64_MAX
        or not isinstance(logs, list)
    ):
        raise DecodeError(
            "not a logsNotification: signature must be a string, slot a u64, logs an array"
        )
    if stats is not None:
        stats.notifications += 1
    if err is not None:
        if stats is not None:
            stats.failed_transactions += 1
        return []
    # A notification says whether the transaction failed (err), so no need to look for it.
    return _decode_logs(signature, slot, logs, ts_ms, stats, False, newline_free)


def decode_transaction(
    tx: Mapping[str, Any] | Sequence[Any],
    *,
    receipt_ts_ms: int | None = None,
    stats: DecodeStats | None = None,
    pools: PoolBook | None = None,
) -> list[ChainEvent]:
    """Every event in one getTransaction response; raises :class:`DecodeError` if not one.

    ``pools`` learns the mints of every PumpSwap pool the transaction shows.
    """
    if pools is not None:
        token = ACTIVE_BOOK.set(pools)
        try:
            return decode_transaction(tx, receipt_ts_ms=receipt_ts_ms, stats=stats)
        finally:
            ACTIVE_BOOK.reset(token)
    view = parse_transaction(tx)
    if stats is not None:
        stats.transactions += 1
    if view.block_time is not None:
        ts = view.block_time * 1000
    elif receipt_ts_ms is not None:
        ts = receipt_ts_ms
    else:
        raise DecodeError("transaction has no blockTime and no receipt_ts_ms was given")
    if view.err is not None:
        if stats is not None:
            stats.failed_transactions += 1
        return []
    events = _decode_view(view, EventMeta(view.signature, view.slot, ts), stats)
    if stats is not None:
        stats.events += len(events)
    return events


def decode_document(
    doc: Any, *, receipt_ts_ms: int, stats: DecodeStats | None = None
) -> list[ChainEvent]:
    """Decode a parsed JSON document of any accepted shape (used by ``solai decode``).

    A logsNotification, a getTransaction response (envelope or bare result), or an array of
    those; ``receipt_ts_ms`` stands in for missing block times and stamps notifications.
    """
    if isinstance(doc, list) and doc and all(_is_notification(d) for d in doc):
        out: list[ChainEvent] = []
        for item in doc:
            out.extend(decode_logs_notification(item, ts_ms=receipt_ts_ms, stats=stats))
        return out
    if _is_notification(doc):
        return decode_logs_notification(doc, ts_ms=receipt_ts_ms, stats=stats)
    if isinstance(doc, list):
        if not doc:
            raise DecodeError("empty array: no transaction to decode")
        out = []
        for i, item in enumerate(doc):
            try:
                out.extend(decode_transaction(item, receipt_ts_ms=receipt_ts_ms, stats=stats))
            except DecodeError as exc:
                raise DecodeError(f"item {i}: {exc}") from exc
        return out
    return decode_transaction(doc, receipt_ts_ms=receipt_ts_ms, stats=stats)


def _is_notification(doc: Any) -> bool:
    return isinstance(doc, Mapping) and doc.get("method") == "logsNotification"


def _decode_view(tx: Transaction, meta: EventMeta, stats: DecodeStats | None) -> list[ChainEvent]:
    by_program = venues_by_program()
    scratch: dict[str, Any] = {}
    found: list[Found] = []
    covered: set[tuple[int, int]] = set()  # invocations that produced an event
    in_logs: Counter[tuple[str, int, bytes]] = Counter()
    truncated = True
    next_index = 0
    if tx.logs is not None:
        next_index = len(tx.logs)
        walk = walk_logs(
            tx.logs, want_logs=True, outer_programs=[ix.program for ix in tx.instructions]
        )
        truncated = walk.truncated
        for n, kind, program, outer, inner, text in walk.items:
            venue = by_program.get(program)
            if venue is None or (kind != DATA and not venue.wants_logs):
                continue
            ix = tx.instruction(outer, inner)
            site = Site(
                tx, ix if ix is not None and ix.program == program else None, program, scratch
            )
            try:
                if kind == DATA:
                    payload = _a2b(text)
                    in_logs[(program, outer, payload)] += 1
                    event = venue.decode_event(payload, meta, n, site)
                else:
                    event = venue.decode_log(text, meta, n, site)
            except _PAYLOAD_ERRORS as exc:
                _payload_error(stats, venue, meta.signature, exc)
                continue
            if event is not None:
                found.append(Found(event, outer, inner, program))
                covered.add((outer, inner))

    # emit_cpi copies: an inner instruction of the program to itself, tag + event.
    for outer in sorted(tx.inner):
        for cpi in tx.inner[outer]:
            venue = by_program.get(cpi.program)
            if venue is None:
                continue
            try:
                data = cpi.data()
            except DecodeError as exc:
                _payload_error(stats, venue, meta.signature, exc)
                continue
            if data[:8] != P.EMIT_CPI_TAG:
                continue
            payload = data[8:]
            key = (cpi.program, outer, payload)
            if in_logs[key] > 0:
                in_logs[key] -= 1
                continue
            parent = tx.parent(cpi)
            if parent is not None and parent.program != cpi.program:
                parent = None
            site = Site(tx, parent, cpi.program, scratch)
            index = next_index
            next_index += 1
            try:
                event = venue.decode_event(payload, meta, index, site)
            except _PAYLOAD_ERRORS as exc:
                _payload_error(stats, venue, meta.signature, exc)
                continue
            if event is not None:
                where = (outer, parent.inner if parent is not None else -1)
                found.append(Found(event, where[0], where[1], cpi.program))
                covered.add(where)

    if truncated:
        # Logs cut short (or absent): read the instructions that left no event.
        for ix in _all_instructions(tx):
            venue = by_program.get(ix.program)
            if venue is None or (ix.outer, ix.inner) in covered:
                continue
            try:
                event = venue.decode_instruction(ix, meta, next_index, tx)
            except _PAYLOAD_ERRORS as exc:
                _payload_error(stats, venue, meta.signature, exc)
                continue
            if event is not None:
                next_index += 1
                found.append(Found(event, ix.outer, ix.inner, ix.program))

    for venue in _distinct(by_program.values()):
        try:
            found = venue.finish(tx, found, meta, scratch)
        except _PAYLOAD_ERRORS as exc:
            _payload_error(stats, venue, meta.signature, exc)

    events = [_attribute(f.event, tx) for f in found]
    if not events:
        fallback = balance_fallback(tx, meta, next_index)
        if fallback is not None:
            events.append(fallback)
    for event in events:
        if not _fits(event):
            # Amounts come from u64 fields, but sums over corrupt balances may not fit.
            logger.debug("dropping out-of-range event in %s: %s", meta.signature, event)
            if stats is not None:
                stats.error(f"{event.venue}: amount out of range")
    events = [e for e in events if _fits(e)]
    events.sort(key=lambda e: e.index)
    return events


def _attribute(event: ChainEvent, tx: Transaction) -> ChainEvent:
    """A trade by a non-signer (a router PDA) belongs to the wallet that paid: the fee payer."""
    if event.kind in _TRADE_KINDS and event.trader not in tx.signers:
        return replace(event, trader=tx.fee_payer)
    return event


def _fits(event: ChainEvent) -> bool:
    """Every integer field is a u64 (what the JSON contract and the database can hold)."""
    return all(
        value is None or 0 <= value <= U64_MAX
        for value in (
            event.sol_lamports,
            event.token_amount,
            event.virtual_sol_reserves,
            event.virtual_token_reserves,
            event.quote_amount,
        )
    )


def _all_instructions(tx: Transaction) -> list[Any]:
    out: list[Any] = []
    for ix in tx.instructions:
        out.append(ix)
        out.extend(tx.inner.get(ix.outer, ()))
    return out


def _distinct(venues: Any) -> list[Venue]:
    seen: dict[int, Venue] = {}
    for venue in venues:
        seen.setdefault(id(venue), venue)
    return list(seen.values())
