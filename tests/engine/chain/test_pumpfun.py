"""pump.fun: events from logs and inner instructions, layouts old and new, truncated logs."""

from __future__ import annotations

import base64
import struct

import base58
import orjson
import pytest

from engine.chain import programs as P
from engine.chain.decode import (
    DecodeError,
    DecodeStats,
    decode_logs,
    decode_logs_notification,
    decode_transaction,
)
from engine.events import ChainEvent

from .conftest import (
    Ix,
    build_tx,
    data_line,
    deep,
    key,
    load_fixture,
    notification,
    result_of,
)

BUY = "pumpfun/pump_buy__enc-json.json"
CREATE = "pumpfun/pump_create_and_dev_buy__enc-json.json"
CREATE_V2 = "pumpfun/pump_create_v2_token2022_cashback_2026__enc-jsonParsed.json"
USDC = P.USDC_MINT


def _logs(rel: str) -> tuple[str, int, list[str]]:
    res = result_of(load_fixture(rel))
    return res["transaction"]["signatures"][0], res["slot"], res["meta"]["logMessages"]


@pytest.mark.parametrize(
    "rel",
    [
        BUY,
        CREATE,
        CREATE_V2,
        "pumpfun/pump_sell__enc-json.json",
        "pumpfun/pump_buy_then_sell_same_tx__enc-jsonParsed.json",
    ],
)
def test_logs_alone_give_the_same_events_as_the_transaction(rel: str) -> None:
    doc = load_fixture(rel)
    from_tx = decode_transaction(doc)
    signature, slot, logs = _logs(rel)
    ts = result_of(doc)["blockTime"] * 1000
    from_logs = decode_logs(signature, slot, logs, ts_ms=ts)
    assert from_logs == from_tx  # same fields, same (signature, index)
    raw = orjson.dumps(notification(logs, signature=signature))
    from_msg = decode_logs_notification(raw, ts_ms=ts)
    assert [e.key for e in from_msg] == [e.key for e in from_tx]
    assert all(e.slot == 123 for e in from_msg)


def test_event_counted_once_from_either_copy() -> None:
    doc = load_fixture(BUY)
    res = result_of(doc)
    (both,) = decode_transaction(doc)

    only_cpi = deep(doc)
    result_of(only_cpi)["meta"]["logMessages"] = [
        line for line in res["meta"]["logMessages"] if not line.startswith("Program data:")
    ]
    (from_cpi,) = decode_transaction(only_cpi)
    assert from_cpi.index >= len(result_of(only_cpi)["meta"]["logMessages"])
    assert {**from_cpi.to_dict(), "index": 0} == {**both.to_dict(), "index": 0}

    only_log = deep(doc)
    for group in result_of(only_log)["meta"]["innerInstructions"]:
        group["instructions"] = [ix for ix in group["instructions"] if ix["programIdIndex"] != 11]
    assert decode_transaction(only_log) == [both]


def test_truncated_logs_fall_back_to_instruction_data_and_balances() -> None:
    doc = deep(load_fixture(BUY))
    meta = result_of(doc)["meta"]
    cut = meta["logMessages"].index("Program log: Instruction: Buy") + 1
    meta["logMessages"] = [*meta["logMessages"][:cut], "Log truncated"]
    for group in meta["innerInstructions"]:  # an old transaction: no emit_cpi copy either
        group["instructions"] = [ix for ix in group["instructions"] if ix["programIdIndex"] != 11]
    (event,) = decode_transaction(doc)
    assert (event.kind, event.side, event.venue) == ("trade", "buy", "pumpfun")
    assert event.mint == "7nYhDYAxQdFn2DRPcjBFPQQz5qb8HeFiJv9o9w6fpump"
    assert event.trader == "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh"
    assert event.token_amount == 34612901212710  # the buy's exact token amount argument
    assert event.sol_lamports == 1000000000  # what the bonding curve account received
    assert event.virtual_sol_reserves is None  # unknown without the event


def test_truncated_create_reads_the_create_instruction() -> None:
    doc = deep(load_fixture(CREATE))
    meta = result_of(doc)["meta"]
    meta["logMessages"] = [*meta["logMessages"][:3], "Log truncated"]
    meta["innerInstructions"] = []
    events = decode_transaction(doc)
    create = next(e for e in events if e.kind == "create")
    assert (create.name, create.symbol) == ("MOO DOG", "MOODOG")
    assert create.mint == "5dNYcCZXEGfGgbdUdq7MMR7KLsNJLLLgL83wLH8Fpump"
    assert create.trader == "6xo262KbDXepWbF3vPTrFXysr5vJwk3mozBXmXk3hmMx"
    assert any(e.kind == "trade" and e.side == "buy" for e in events)


def test_complete_logs_never_use_the_instruction_fallback() -> None:
    doc = deep(load_fixture(BUY))
    meta = result_of(doc)["meta"]
    meta["logMessages"] = [ln for ln in meta["logMessages"] if not ln.startswith("Program data:")]
    for group in meta["innerInstructions"]:
        group["instructions"] = [ix for ix in group["instructions"] if ix["programIdIndex"] != 11]
    # No event anywhere and logs not truncated: nothing is invented from pump instructions; the
    # balance fallback still sees the wallet's buy.
    (event,) = decode_transaction(doc)
    assert event.venue == "unknown"
    assert event.token_amount == 34612901212710


def _trade_2026(*, sol: int, quote_mint: str, quote_amount: int) -> bytes:
    """The 2026 fixture's TradeEvent with its SOL amount and quote fields replaced."""
    _sig, _slot, logs = _logs(CREATE_V2)
    raw = next(
        base64.b64decode(ln[14:])
        for ln in logs
        if ln.startswith("Program data: ") and base64.b64decode(ln[14:])[:8] == P.PUMP_TRADE_EVENT
    )
    assert len(raw) == 371
    out = bytearray(raw)
    struct.pack_into("<Q", out, 40, sol)
    struct.pack_into("<32sQ", out, 371 - 56, base58.b58decode(quote_mint), quote_amount)
    return bytes(out)


def test_usdc_quoted_trade_carries_quote_fields() -> None:
    payload = _trade_2026(sol=0, quote_mint=USDC, quote_amount=1_234_567)
    logs = [f"Program {P.PUMP_PROGRAM} invoke [1]", data_line(payload)]
    logs += [f"Program {P.PUMP_PROGRAM} success"]
    (event,) = decode_logs("sig", 1, logs, ts_ms=5)
    assert event.sol_lamports == 0
    assert (event.quote_mint, event.quote_amount) == (USDC, 1_234_567)
    assert event.mint == "CWiTGbCiDd8BKtNYNE2boT9fJGFG2MU53Uf6HQk4pump"

    sol_quoted = _trade_2026(sol=99, quote_mint=P.WSOL_MINT, quote_amount=99)
    logs[1] = data_line(sol_quoted)
    (event,) = decode_logs("sig", 1, logs, ts_ms=5)
    assert (event.sol_lamports, event.quote_mint, event.quote_amount) == (99, None, None)


def test_unknown_tail_after_the_known_prefix_is_ignored() -> None:
    payload = _trade_2026(sol=7, quote_mint=USDC, quote_amount=1)[:300]  # cut mid-tail
    logs = [f"Program {P.PUMP_PROGRAM} invoke [1]", data_line(payload + b"\xff" * 3)]
    logs += [f"Program {P.PUMP_PROGRAM} success"]
    stats = DecodeStats()
    (event,) = decode_logs("sig", 1, logs, ts_ms=5, stats=stats)
    assert (event.sol_lamports, event.quote_mint) == (7, None)
    assert stats.decode_errors == 0


def test_short_trade_event_is_a_counted_error() -> None:
    logs = [
        f"Program {P.PUMP_PROGRAM} invoke [1]",
        data_line(P.PUMP_TRADE_EVENT + b"\x00" * 40),
        f"Program {P.PUMP_PROGRAM} success",
    ]
    stats = DecodeStats()
    assert decode_logs("sig", 1, logs, ts_ms=5, stats=stats) == []
    assert stats.decode_errors == 1
    assert stats.errors_by_reason == {"pumpfun: DecodeError": 1}


def test_complete_and_migration_events() -> None:
    user, mint, curve, pool = (base58.b58decode(key(i)) for i in (1, 2, 3, 4))
    complete = P.PUMP_COMPLETE_EVENT + user + mint + curve + struct.pack("<q", 1)
    migrate = (
        P.PUMP_COMPLETE_AMM_MIGRATION_EVENT
        + user
        + mint
        + struct.pack("<QQQ", 206_900_000_000_000, 79_000_000_000, 15_000_000)
        + curve
        + struct.pack("<q", 2)
        + pool
    )
    logs = [f"Program {P.PUMP_PROGRAM} invoke [1]", data_line(complete), data_line(migrate)]
    logs += [f"Program {P.PUMP_PROGRAM} success"]
    done, moved = decode_logs("sig", 1, logs, ts_ms=5)
    assert (done.kind, done.mint, done.trader, done.pool) == ("complete", key(2), key(1), key(3))
    assert (moved.kind, moved.mint, moved.pool) == ("migrate", key(2), key(4))
    assert (moved.token_amount, moved.sol_lamports) == (206_900_000_000_000, 79_000_000_000)


def test_failed_transactions_yield_nothing() -> None:
    doc = deep(load_fixture(BUY))
    result_of(doc)["meta"]["err"] = {"InstructionError": [4, {"Custom": 6002}]}
    stats = DecodeStats()
    assert decode_transaction(doc, stats=stats) == []
    assert stats.failed_transactions == 1

    _sig, _slot, logs = _logs(BUY)
    failing = [*logs[:-1], f"Program {P.PUMP_PROGRAM} failed: custom program error: 0x1772"]
    assert decode_logs("sig", 1, failing, ts_ms=1, stats=stats) == []
    msg = notification(logs, err={"InstructionError": [4, {"Custom": 6002}]})
    assert decode_logs_notification(msg, ts_ms=1, stats=stats) == []
    assert stats.failed_transactions == 3


def test_router_pda_trader_is_replaced_by_the_fee_payer() -> None:
    payer, pda, mint = key(10), key(11), key(12)
    payload = P.PUMP_TRADE_EVENT + struct.pack(
        "<32sQQ?32sqQQQQ",
        base58.b58decode(mint),
        5,
        6,
        True,
        base58.b58decode(pda),
        0,
        7,
        8,
        0,
        0,
    )
    router = key(13)
    tx = build_tx(
        signers=[payer],
        instructions=[Ix(router, [pda], b"\x01", inner=[(Ix(P.PUMP_PROGRAM, [pda]), 2)])],
        logs=[
            f"Program {router} invoke [1]",
            f"Program {P.PUMP_PROGRAM} invoke [2]",
            data_line(payload),
            f"Program {P.PUMP_PROGRAM} success",
            f"Program {router} success",
        ],
    )
    (event,) = decode_transaction(tx)
    assert event.trader == payer
    (from_logs,) = decode_logs("s", 1, tx["meta"]["logMessages"], ts_ms=1)
    assert from_logs.trader == pda  # logs alone cannot know who signed


def test_trade_carries_its_own_block_time_even_without_the_transactions() -> None:
    (with_block_time,) = decode_transaction(load_fixture(BUY))
    doc = deep(load_fixture(BUY))
    result_of(doc)["blockTime"] = None
    # The TradeEvent holds the block's timestamp: a receipt time must not replace it.
    (event,) = decode_transaction(doc, receipt_ts_ms=42)
    assert event.ts == with_block_time.ts != 42
    with pytest.raises(DecodeError, match="blockTime"):
        decode_transaction(doc)


def test_logs_path_and_transaction_path_agree_on_ts() -> None:
    (from_tx,) = decode_transaction(load_fixture(BUY))
    logs = result_of(load_fixture(BUY))["meta"]["logMessages"]
    (from_logs,) = decode_logs(from_tx.signature, from_tx.slot, logs, ts_ms=1)
    assert from_logs == from_tx


def test_event_objects_equal_plain_construction() -> None:
    (event,) = decode_transaction(load_fixture(BUY))
    assert event == ChainEvent(**event.to_dict())
    assert hash(event) == hash(ChainEvent(**event.to_dict()))
