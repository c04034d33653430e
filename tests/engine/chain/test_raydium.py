"""Raydium AMM v4 (ray_log) and CPMM (SwapEvent)."""

from __future__ import annotations

import base64
import json
import struct

import base58
import pytest

from engine.chain import programs as P
from engine.chain.decode import DecodeStats, decode_logs, decode_transaction

from .conftest import FIXTURES, Ix, build_tx, data_line, deep, key, load_fixture, result_of

V4_BUY = "raydium_v4/raydium_v4_buy_token_with_sol__enc-json.json"


def _layout_examples() -> list[dict]:
    path = FIXTURES / "solana" / "raydium_v4" / "ray_log_layout_and_examples.json"
    if not path.exists():
        pytest.skip(f"shared fixtures not found at {FIXTURES.resolve()}")
    return json.loads(path.read_text())["examples"]


def _with_ray_log(line: str) -> dict:
    doc = deep(load_fixture(V4_BUY))
    logs = result_of(doc)["meta"]["logMessages"]
    i = next(i for i, ln in enumerate(logs) if ln.startswith("Program log: ray_log: "))
    logs[i] = line
    return doc


def test_ray_log_layout_matches_the_published_decodings() -> None:
    names = (
        "log_type",
        "amount_in",
        "minimum_out",
        "direction",
        "user_source",
        "pool_coin",
        "pool_pc",
        "out_amount",
    )
    for example in _layout_examples():
        raw = base64.b64decode(example["line"].removeprefix("Program log: ray_log: "))
        decoded = dict(zip(names, struct.unpack("<B7Q", raw), strict=True))
        assert decoded == {k: v for k, v in example["decoded"].items() if k != "kind"}


def test_sell_direction_reads_pc_to_coin() -> None:
    # The published sell line (direction 1) replayed in the buy fixture's pool (coin = WSOL).
    sell = next(
        e
        for e in _layout_examples()
        if e["interpretation"]["side"] == "sell" and e["decoded"]["amount_in"] == 836112233953
    )
    (event,) = decode_transaction(_with_ray_log(sell["line"]))
    assert (event.venue, event.side) == ("raydium_amm_v4", "sell")
    assert event.mint == "E8yBUD4AGdxK7MbQEf85oaAvVBuSoRsGCvX2sMxSpump"
    assert (event.token_amount, event.sol_lamports) == (836112233953, 352936256)
    assert (event.virtual_sol_reserves, event.virtual_token_reserves) == (
        88247040317,
        207702130444871,
    )


def test_swap_base_out_uses_deduct_in_and_amount_out() -> None:
    raw = struct.pack(
        "<B7Q", 4, 200_000_000, 50_000, 2, 200_000_000, 212568283055, 91773319775102, 123_456_789
    )
    (event,) = decode_transaction(
        _with_ray_log("Program log: ray_log: " + base64.b64encode(raw).decode())
    )
    assert (event.side, event.sol_lamports, event.token_amount) == ("buy", 123_456_789, 50_000)


def test_vaults_found_by_balances_when_the_instruction_does_not_fit() -> None:
    doc = deep(load_fixture(V4_BUY))
    ixs = result_of(doc)["transaction"]["message"]["instructions"]
    swap = next(ix for ix in ixs if len(ix["accounts"]) == 18)
    swap["accounts"] = swap["accounts"][:16]  # too short to be a swap: use the vault balances
    (event,) = decode_transaction(doc)
    assert event.mint == "E8yBUD4AGdxK7MbQEf85oaAvVBuSoRsGCvX2sMxSpump"
    assert (event.sol_lamports, event.token_amount) == (100000000, 43045438075)
    assert event.trader == "ECvj86nDupkVh1cDgxrJw3zJkw3ahcDiVB3pPTbpskjD"  # the fee payer
    assert event.pool is None


def test_ray_log_needs_accounts_and_ignores_other_log_types() -> None:
    res = result_of(load_fixture(V4_BUY))
    assert decode_logs("s", 1, res["meta"]["logMessages"], ts_ms=1) == []
    deposit = base64.b64encode(struct.pack("<B7Q", 1, 1, 2, 3, 4, 5, 6, 7)).decode()
    events = decode_transaction(_with_ray_log(f"Program log: ray_log: {deposit}"))
    assert not [e for e in events if e.venue == "raydium_amm_v4"]


def test_garbage_ray_log_is_counted() -> None:
    stats = DecodeStats()
    short = base64.b64encode(b"\x03" + b"\x00" * 10).decode()
    events = decode_transaction(_with_ray_log(f"Program log: ray_log: {short}"), stats=stats)
    assert not [e for e in events if e.venue == "raydium_amm_v4"]
    assert stats.errors_by_reason == {"raydium_amm_v4: DecodeError": 1}


def test_ray_log_from_another_program_is_not_amm_v4() -> None:
    doc = load_fixture(V4_BUY)
    res = result_of(doc)
    line = next(ln for ln in res["meta"]["logMessages"] if "ray_log" in ln)
    clmm = P.RAYDIUM_CLMM_PROGRAM
    tx = build_tx(
        signers=[key(1)],
        instructions=[Ix(clmm, [key(2)])],
        logs=[f"Program {clmm} invoke [1]", line, f"Program {clmm} success"],
    )
    assert decode_transaction(tx) == []


def _cpmm_event(*, with_mints: bool, in_mint: str, out_mint: str) -> bytes:
    body = P.RAYDIUM_CPMM_SWAP_EVENT + base58.b58decode(key(30))
    body += struct.pack("<6Q?", 5_000_000_000, 900_000_000_000, 1_000_000, 170_000_000, 0, 0, True)
    if with_mints:
        body += (
            base58.b58decode(in_mint)
            + base58.b58decode(out_mint)
            + struct.pack("<QQ?", 2500, 0, True)
        )
    return body


@pytest.mark.parametrize("with_mints", [True, False])
def test_cpmm_swap_event(with_mints: bool) -> None:
    payer, token = key(31), key(32)
    accounts = [
        payer,
        key(33),
        key(34),
        key(30),
        key(35),
        key(36),
        key(37),
        key(38),
        P.TOKEN_PROGRAM,
        P.TOKEN_PROGRAM,
        P.WSOL_MINT,
        token,
        key(39),
    ]
    cpmm = P.RAYDIUM_CPMM_PROGRAM
    payload = _cpmm_event(with_mints=with_mints, in_mint=P.WSOL_MINT, out_mint=token)
    tx = build_tx(
        signers=[payer],
        instructions=[Ix(cpmm, accounts, P.RAYDIUM_CPMM_IX_SWAP_BASE_INPUT + b"\x00" * 16)],
        logs=[f"Program {cpmm} invoke [1]", data_line(payload), f"Program {cpmm} success"],
    )
    (event,) = decode_transaction(tx)
    assert (event.venue, event.kind, event.side, event.mint) == (
        "raydium_cpmm",
        "swap",
        "buy",
        token,
    )
    assert (event.sol_lamports, event.token_amount) == (1_000_000, 170_000_000)
    assert (event.virtual_sol_reserves, event.virtual_token_reserves) == (
        5_000_000_000,
        900_000_000_000,
    )
    assert (event.trader, event.pool) == (payer, key(30))
