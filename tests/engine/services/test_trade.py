"""Trade intents: Decimal parsing into integer lamports / basis points, Mini App links."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from engine.services.errors import InvalidInput
from engine.services.trade import (
    LAMPORTS_PER_SOL,
    MAX_BUY_LAMPORTS,
    MIN_BUY_LAMPORTS,
    buy_intent,
    mini_app_url,
    parse_percent,
    parse_sol,
    parse_startapp,
    sell_intent,
)

MINT = "7nYhDYAxQdFn2DRPcjBFPQQz5qb8HeFiJv9o9w6fpump"


@pytest.mark.parametrize(
    ("text", "lamports"),
    [
        ("1", LAMPORTS_PER_SOL),
        ("0.1", 100_000_000),
        ("0,1", 100_000_000),
        (" 2.5 ", 2_500_000_000),
        ("0.123456789", 123_456_789),
        ("1000", MAX_BUY_LAMPORTS),
        ("0.001", MIN_BUY_LAMPORTS),
    ],
)
def test_sol_amounts_become_exact_lamports(text: str, lamports: int) -> None:
    value = parse_sol(text)
    assert value == lamports and type(value) is int


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("-1", "not_amount"),
        ("+1", "not_amount"),
        ("1e3", "not_amount"),
        ("NaN", "not_amount"),
        ("Infinity", "not_amount"),
        ("0x10", "not_amount"),
        ("1.2.3", "not_amount"),
        ("1,2.3", "not_amount"),
        ("", "not_amount"),
        ("0.0000000001", "sub_lamport"),
        ("0", "sol_out_of_range"),
        ("0.0009", "sol_out_of_range"),
        ("1000.000000001", "sol_out_of_range"),
        ("999999999999", "sol_out_of_range"),
    ],
)
def test_bad_sol_amounts_are_refused_with_a_code(text: str, code: str) -> None:
    with pytest.raises(InvalidInput) as info:
        parse_sol(text)
    assert info.value.code == code and info.value.field == "sol"


@given(st.integers(min_value=MIN_BUY_LAMPORTS, max_value=MAX_BUY_LAMPORTS))
def test_any_lamport_amount_round_trips_through_its_decimal_text(lamports: int) -> None:
    whole, frac = divmod(lamports, LAMPORTS_PER_SOL)
    assert parse_sol(f"{whole}.{frac:09d}") == lamports


def test_percent_becomes_basis_points() -> None:
    assert parse_percent("50") == 5_000
    assert parse_percent("12.5%") == 1_250
    assert parse_percent("0,01") == 1
    assert parse_percent("100") == 10_000
    for bad in ("0", "100.01", "0.001", "-5", "abc"):
        with pytest.raises(InvalidInput):
            parse_percent(bad)


def test_intents_round_trip_through_startapp_and_build_the_mini_app_url() -> None:
    buy = buy_intent(mint=MINT, lamports=500_000_000)
    assert buy.startapp() == f"buy_{MINT}_500000000"
    assert parse_startapp(buy.startapp()) == buy
    sell = sell_intent(mint=MINT, bps=2_500)
    assert parse_startapp(sell.startapp()) == sell
    assert mini_app_url("https://x.example/", buy) == (
        f"https://x.example/app/trade?side=buy&mint={MINT}&lamports=500000000"
    )
    assert len(buy.startapp()) <= 512 and buy.startapp().replace("_", "").isalnum()
    for bad in ("buy_x_1", f"hold_{MINT}_1", f"buy_{MINT}_0", f"sell_{MINT}_10001"):
        with pytest.raises(InvalidInput):
            parse_startapp(bad)
    with pytest.raises(InvalidInput):
        buy_intent(mint=MINT, lamports=0.5)  # type: ignore[arg-type]
