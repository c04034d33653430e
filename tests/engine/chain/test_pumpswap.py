"""PumpSwap: base/quote orientation, mints from accounts or vaults, logs-only limits."""

from __future__ import annotations

import struct

import base58

from engine.chain import programs as P
from engine.chain.decode import DecodeStats, decode_logs, decode_transaction

from .conftest import Ix, build_tx, data_line, key, load_fixture, result_of

PAMM = P.PUMPSWAP_PROGRAM
WSOL = P.WSOL_MINT
POOL, USER, TOKEN = key(1), key(2), key(3)
BASE_VAULT, QUOTE_VAULT = key(4), key(5)


def _swap_event(disc: bytes, *, amount: int, quote: int, pool_base: int, pool_quote: int) -> bytes:
    # timestamp, base amount, limit, user base/quote, pool base/quote, quote amount, fees...,
    # pool, user
    fields = (1, amount, 0, 0, 0, pool_base, pool_quote, quote, 20, 1, 5, 1, quote, quote)
    return disc + struct.pack("<q13Q", *fields) + base58.b58decode(POOL) + base58.b58decode(USER)


def _tx(payload: bytes, *, base: str, quote: str, ix_disc: bytes, pool_base: int, pool_quote: int):
    accounts = [POOL, USER, key(9), base, quote, key(6), key(7), BASE_VAULT, QUOTE_VAULT]
    return build_tx(
        signers=[USER],
        instructions=[Ix(PAMM, accounts, ix_disc + b"\x00" * 16)],
        logs=[
            f"Program {PAMM} invoke [1]",
            "Program log: Instruction: Buy",
            data_line(payload),
            f"Program {PAMM} consumed 1 of 2 compute units",
            f"Program {PAMM} success",
        ],
        token_balances=[
            (BASE_VAULT, base, POOL, pool_base, pool_base),
            (QUOTE_VAULT, quote, POOL, pool_quote, pool_quote),
        ],
    )


def test_wsol_base_pool_buy_event_is_a_token_sell() -> None:
    payload = _swap_event(
        P.PUMPSWAP_BUY_EVENT, amount=500, quote=700, pool_base=10_000, pool_quote=90_000
    )
    tx = _tx(
        payload,
        base=WSOL,
        quote=TOKEN,
        ix_disc=P.PUMPSWAP_IX_BUY,
        pool_base=10_000,
        pool_quote=90_000,
    )
    (event,) = decode_transaction(tx)
    assert (event.kind, event.venue, event.side, event.mint) == ("swap", "pumpswap", "sell", TOKEN)
    assert (event.sol_lamports, event.token_amount) == (500, 700)
    assert (event.virtual_sol_reserves, event.virtual_token_reserves) == (10_000, 90_000)
    assert (event.trader, event.pool) == (USER, POOL)


def test_wsol_base_pool_sell_event_is_a_token_buy() -> None:
    payload = _swap_event(
        P.PUMPSWAP_SELL_EVENT, amount=500, quote=700, pool_base=10_000, pool_quote=90_000
    )
    tx = _tx(
        payload,
        base=WSOL,
        quote=TOKEN,
        ix_disc=P.PUMPSWAP_IX_SELL,
        pool_base=10_000,
        pool_quote=90_000,
    )
    (event,) = decode_transaction(tx)
    assert (event.side, event.mint, event.sol_lamports, event.token_amount) == (
        "buy",
        TOKEN,
        500,
        700,
    )


def test_token_base_pool_sell_event_is_a_token_sell() -> None:
    payload = _swap_event(
        P.PUMPSWAP_SELL_EVENT, amount=800, quote=300, pool_base=70_000, pool_quote=20_000
    )
    tx = _tx(
        payload,
        base=TOKEN,
        quote=WSOL,
        ix_disc=P.PUMPSWAP_IX_SELL,
        pool_base=70_000,
        pool_quote=20_000,
    )
    (event,) = decode_transaction(tx)
    assert (event.side, event.mint, event.sol_lamports, event.token_amount) == (
        "sell",
        TOKEN,
        300,
        800,
    )
    assert (event.virtual_sol_reserves, event.virtual_token_reserves) == (20_000, 70_000)


def test_mints_from_vault_balances_when_the_instruction_is_not_a_swap() -> None:
    payload = _swap_event(
        P.PUMPSWAP_BUY_EVENT, amount=500, quote=700, pool_base=70_000, pool_quote=20_000
    )
    # Same accounts, but the data is not a buy/sell: the vaults' balances must name the mints.
    tx = _tx(
        payload, base=TOKEN, quote=WSOL, ix_disc=b"\x09" * 8, pool_base=70_000, pool_quote=20_000
    )
    (event,) = decode_transaction(tx)
    assert (event.side, event.mint, event.sol_lamports, event.token_amount) == (
        "buy",
        TOKEN,
        700,
        500,
    )


def test_unresolvable_pool_is_a_counted_error() -> None:
    payload = _swap_event(P.PUMPSWAP_BUY_EVENT, amount=500, quote=700, pool_base=1, pool_quote=2)
    tx = _tx(
        payload, base=TOKEN, quote=WSOL, ix_disc=b"\x09" * 8, pool_base=70_000, pool_quote=20_000
    )
    stats = DecodeStats()
    events = decode_transaction(tx, stats=stats)
    assert not [e for e in events if e.venue == "pumpswap"]
    assert stats.errors_by_reason["pumpswap: DecodeError"] == 1


def test_swaps_need_accounts_so_logs_alone_yield_nothing() -> None:
    res = result_of(load_fixture("pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json"))
    stats = DecodeStats()
    assert decode_logs("s", 1, res["meta"]["logMessages"], ts_ms=1, stats=stats) == []
    assert stats.decode_errors == 0  # the router's SwapEvent line is not ours to read


def test_create_pool_event_decodes_from_logs() -> None:
    creator, lp = key(20), key(21)
    payload = (
        P.PUMPSWAP_CREATE_POOL_EVENT
        + struct.pack("<qH", 1, 0)
        + base58.b58decode(creator)
        + base58.b58decode(TOKEN)
        + base58.b58decode(WSOL)
        + struct.pack("<BB", 6, 9)
        + struct.pack(
            "<7Q",
            206_900_000_000_000,
            84_990_359_059,
            206_900_000_000_000,
            84_990_359_059,
            1000,
            0,
            0,
        )
        + struct.pack("<B", 255)
        + base58.b58decode(POOL)
        + base58.b58decode(lp)
    )
    logs = [f"Program {PAMM} invoke [1]", data_line(payload), f"Program {PAMM} success"]
    (event,) = decode_logs("s", 1, logs, ts_ms=1)
    assert (event.kind, event.venue, event.mint, event.pool) == (
        "pool_create",
        "pumpswap",
        TOKEN,
        POOL,
    )
    assert (event.creator, event.trader) == (creator, creator)
    assert (event.sol_lamports, event.token_amount) == (84_990_359_059, 206_900_000_000_000)
    assert event.side is None


def test_pool_book_lets_later_swaps_decode_from_logs_alone() -> None:
    from engine.chain.decode import PoolBook, decode_logs

    doc = load_fixture("pumpswap/pumpswap_buy_via_router_6m2C__enc-json.json")
    logs = result_of(doc)["meta"]["logMessages"]
    (from_tx,) = decode_transaction(doc)
    empty = PoolBook()
    # Unknown pool: nothing from the logs, and the miss is reported so the caller fetches.
    assert decode_logs(from_tx.signature, from_tx.slot, logs, ts_ms=1, pools=empty) == []
    assert empty.missed
    book = PoolBook()
    decode_transaction(doc, pools=book)
    assert book.get(from_tx.pool or "") is not None
    (from_logs,) = decode_logs(from_tx.signature, from_tx.slot, logs, ts_ms=1, pools=book)
    assert not book.missed
    # Same swap, same block time; only the trader differs: the logs name the router's PDA,
    # the transaction attributes it to the paying wallet (which is why routed swaps are fetched).
    same = ("mint", "side", "sol_lamports", "token_amount", "pool", "ts", "index", "venue")
    assert {k: getattr(from_logs, k) for k in same} == {k: getattr(from_tx, k) for k in same}
