"""The pure pieces: exact prices, validated parameters, bracket and DCA state machines."""

from __future__ import annotations

from typing import Any

import pytest

from engine.events import ChainEvent
from engine.trading.errors import OrderParamsError
from engine.trading.orders import (
    CANCELLED,
    OPEN,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    TRIGGERED,
    Bracket,
    Dca,
    Leg,
    Slice,
    TriggerOutcome,
    bracket_legs,
)
from engine.trading.params import DcaPlan, ExitPlan, parse_params
from engine.trading.price import Price, event_price, min_out

ENTRY = Price(30_000_000_000, 1_000_000_000_000_000)
POSITION = 10_000_000_000_000


def test_price_compares_exactly_without_floats() -> None:
    a, b = Price(1, 3), Price(333_333_333, 1_000_000_000)
    assert a > b and b < a and not a <= b
    assert Price(2, 6).same_as(Price(1, 3)) and Price(2, 6) != Price(1, 3)
    assert ENTRY.scaled_bps(5000).same_as(Price(45_000_000_000, 1_000_000_000_000_000))
    assert ENTRY.scaled_bps(-3000) < ENTRY < ENTRY.scaled_bps(1)
    assert ENTRY.scaled_bps(5000).change_bps(ENTRY) == 5000
    assert ENTRY.value_lamports(POSITION) == 300_000_000
    with pytest.raises(ValueError, match="positive integers"):
        Price(0, 1)
    with pytest.raises(ValueError, match="positive integers"):
        Price(1.5, 2)  # type: ignore[arg-type]


def test_min_out_is_quote_less_slippage_rounded_down() -> None:
    assert min_out(1_000_001, 300) == 970_000
    assert min_out(100, 0) == 100
    with pytest.raises(ValueError, match="slippage_bps"):
        min_out(100, 10_000)


def test_event_price_follows_the_windows_rules() -> None:
    base = {"signature": "s", "slot": 1, "ts": 1, "mint": "m"}
    pump = ChainEvent(
        kind="trade",
        venue="pumpfun",
        sol_lamports=5,
        token_amount=7,
        virtual_sol_reserves=30,
        virtual_token_reserves=1000,
        **base,
    )
    assert event_price(pump) == Price(30, 1000)  # reserves after the trade, not the fill
    swap = ChainEvent(
        kind="swap",
        venue="pumpswap",
        sol_lamports=5,
        token_amount=7,
        virtual_sol_reserves=30,
        virtual_token_reserves=1000,
        **base,
    )
    assert event_price(swap) == Price(5, 7)  # AMM: the swap's own price
    usdc = ChainEvent(kind="swap", venue="raydium_cpmm", quote_mint="USDC", **base)
    assert event_price(usdc) is None
    assert event_price(ChainEvent(kind="migrate", venue="pumpfun", **base)) is None


@pytest.mark.parametrize(
    ("plan", "messages"),
    [
        ({}, ["exit_plan: give at least one of take_profits, stop_loss or trailing"]),
        (
            {"take_profits": [{"gain_bps": 0, "sell_bps": 5000}]},
            ["exit_plan.take_profits[0].gain_bps: Input should be greater than 0"],
        ),
        (
            {"stop_loss": {"loss_bps": 0.3}},
            ["exit_plan.stop_loss.loss_bps: Input should be a valid integer"],
        ),
        (
            {
                "take_profits": [
                    {"gain_bps": 10_000, "sell_bps": 5000},
                    {"gain_bps": 5000, "sell_bps": 5000},
                ]
            },
            ["exit_plan: take_profits must have strictly increasing gain_bps"],
        ),
        (
            {
                "take_profits": [
                    {"gain_bps": 5000, "sell_bps": 6000},
                    {"gain_bps": 9000, "sell_bps": 6000},
                ]
            },
            ["exit_plan: take_profits sell 12000 bps in total, more than the position"],
        ),
        (
            {"trailing": {"trail_bps": 2000, "nope": 1}},
            ["exit_plan.trailing.nope: Extra inputs are not permitted"],
        ),
    ],
)
def test_exit_plan_errors_name_the_field(plan: dict[str, object], messages: list[str]) -> None:
    with pytest.raises(OrderParamsError) as info:
        parse_params(ExitPlan, plan, name="exit_plan")
    assert info.value.errors == messages


def test_dca_plan_validation_and_slices() -> None:
    plan = parse_params(
        DcaPlan,
        {"side": "buy", "total": 1_000_000_001, "slices": 4, "interval_minutes": 5},
        name="dca",
    )
    assert plan.slice_amounts() == [250_000_000, 250_000_000, 250_000_000, 250_000_001]
    assert sum(plan.slice_amounts()) == plan.total
    with pytest.raises(OrderParamsError, match=r"dca\.slices: Input should be greater than"):
        parse_params(
            DcaPlan, {"side": "buy", "total": 10, "slices": 1, "interval_minutes": 5}, name="dca"
        )
    with pytest.raises(OrderParamsError, match="deadline_minutes 10 is shorter than the 15"):
        parse_params(
            DcaPlan,
            {
                "side": "sell",
                "total": 10,
                "slices": 4,
                "interval_minutes": 5,
                "deadline_minutes": 10,
            },
            name="dca",
        )


def _bracket(plan: dict[str, object]) -> Bracket:
    specs = bracket_legs(parse_params(ExitPlan, plan, name="p"), entry=ENTRY, position=POSITION)
    legs = []
    for i, spec in enumerate(specs, start=1):
        p: dict[str, Any] = dict(spec.params)
        legs.append(
            Leg(
                order_id=i,
                kind=spec.kind,
                level=spec.level,
                amount=spec.amount,
                threshold=Price.from_json(p["threshold"]) if p.get("threshold") else None,
                trail_bps=int(p.get("trail_bps", 0)),
                arm=Price.from_json(p["arm"]) if p.get("arm") else None,
            )
        )
    return Bracket(1, 7, "m", ENTRY, POSITION, legs, ENTRY)


def _apply_all(b: Bracket, price: Price, ts: int) -> list[tuple[str, int]]:
    """Observe and accept every fire as the database would (cancelling on a closing fill)."""
    out = []
    for f in b.observe(price, ts):
        others = tuple(
            leg.order_id for leg in b.legs if leg.status == OPEN and leg.order_id != f.order_id
        )
        b.apply(
            TriggerOutcome(
                f.order_id, 1, 7, "m", f.kind, "sell", f.amount, ts, f.reason,
                cancelled=others if f.closes else (),
            )
        )  # fmt: skip
        out.append((f.kind, f.amount))
    return out


PLAN = {
    "take_profits": [{"gain_bps": 5000, "sell_bps": 4000}, {"gain_bps": 10_000, "sell_bps": 3000}],
    "stop_loss": {"loss_bps": 3000},
    "trailing": {"trail_bps": 2000, "activation_gain_bps": 10_000},
}


def test_bracket_pump_takes_profits_then_trails_out() -> None:
    b = _bracket(PLAN)
    path = [10_000, 12_000, 14_999, 15_000, 18_000, 20_000, 30_000, 27_000, 24_001, 23_999]
    fired = [_apply_all(b, ENTRY.scaled_bps(bps - 10_000), i) for i, bps in enumerate(path)]
    assert fired[3] == [(TAKE_PROFIT, POSITION * 4000 // 10_000)]
    assert fired[5] == [(TAKE_PROFIT, POSITION * 3000 // 10_000)]
    assert fired[8] == []  # 20% below the high of 3.0x is 2.4x: 2.4001x is not there yet
    assert fired[9] == [(TRAILING_STOP, POSITION * 3000 // 10_000)]
    assert sum(len(f) for f in fired) == 3
    assert b.closed and b.remaining() == 0
    assert {leg.kind: leg.status for leg in b.legs}[STOP_LOSS] == CANCELLED


def test_bracket_gap_up_fires_both_levels_and_gap_down_fires_only_the_stop() -> None:
    b = _bracket(PLAN)
    assert _apply_all(b, ENTRY.scaled_bps(15_000), 1) == [
        (TAKE_PROFIT, POSITION * 4 // 10),
        (TAKE_PROFIT, POSITION * 3 // 10),
    ]
    rug = _bracket(PLAN)
    assert _apply_all(rug, ENTRY.scaled_bps(-8000), 1) == [(STOP_LOSS, POSITION)]
    assert [leg.status for leg in rug.legs].count(CANCELLED) == 3


def test_trailing_is_unarmed_below_its_activation_and_armed_from_entry_without_one() -> None:
    armed_late = _bracket({"trailing": {"trail_bps": 2000, "activation_gain_bps": 10_000}})
    assert _apply_all(armed_late, ENTRY.scaled_bps(9000), 1) == []
    assert _apply_all(armed_late, ENTRY.scaled_bps(-5000), 2) == []  # never armed: no fire
    from_entry = _bracket({"trailing": {"trail_bps": 2000}})
    assert _apply_all(from_entry, ENTRY.scaled_bps(-2000), 1) == [(TRAILING_STOP, POSITION)]


def test_take_profits_that_sell_everything_close_the_bracket() -> None:
    b = _bracket(
        {
            "take_profits": [
                {"gain_bps": 5000, "sell_bps": 5000},
                {"gain_bps": 8000, "sell_bps": 5000},
            ],
            "stop_loss": {"loss_bps": 5000},
        }
    )
    assert _apply_all(b, ENTRY.scaled_bps(5000), 1) == [(TAKE_PROFIT, POSITION // 2)]
    assert not b.closed
    assert _apply_all(b, ENTRY.scaled_bps(8000), 2) == [(TAKE_PROFIT, POSITION // 2)]
    assert b.closed and [leg.status for leg in b.legs] == [TRIGGERED, TRIGGERED, CANCELLED]


def _dca(guard_bps: int | None = 1000, deadline: int | None = None) -> Dca:
    slices = [Slice(10 + i, i, 250) for i in range(4)]
    return Dca(1, 7, "m", "buy", 0, 300_000, slices, ENTRY, guard_bps, deadline)


def test_dca_fires_one_slice_per_interval_and_waits_on_the_guard() -> None:
    d = _dca()
    assert [f.order_id for f in d.observe(ENTRY, 0)] == [10]
    d.apply(TriggerOutcome(10, 1, 7, "m", "dca_slice", "buy", 250, 0, "s1"))
    assert d.observe(ENTRY, 299_999) == []  # not due yet
    above = ENTRY.scaled_bps(1001)
    assert d.observe(above, 300_000) == [] and d.held_back == 1  # guard holds it back
    fire = d.observe(ENTRY.scaled_bps(1000), 420_000)  # back within +10%: it goes, late
    assert [f.order_id for f in fire] == [11]
    d.apply(TriggerOutcome(11, 1, 7, "m", "dca_slice", "buy", 250, 420_000, "s2"))
    assert d.observe(ENTRY, 600_000) == []  # due by schedule, but 5 min after the last slice
    assert [f.order_id for f in d.observe(ENTRY, 720_000)] == [12]


def test_dca_deadline_and_unknown_price() -> None:
    d = _dca(deadline=100)
    assert d.observe(None, 0) == []  # a guard it cannot check holds the slice
    assert d.past_deadline(101) and d.observe(ENTRY, 101) == []
    unguarded = _dca(guard_bps=None)
    assert [f.order_id for f in unguarded.observe(None, 0)] == [10]
