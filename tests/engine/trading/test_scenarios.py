"""Simulator-like scenarios from price paths: a pump takes profits and trails out, a rug hits the
stop (priced from the fresh quote during the drop), a DCA completes its slices under its guard.

Every tick goes through the monitor exactly as the scorer's events would, every trigger through
the database compare-and-set, every exit through a fresh quote and a notice on the bus.
"""

from __future__ import annotations

from sqlalchemy import select

from engine.storage.models import Order
from engine.trading.attach import attach_exit_plan, start_dca
from engine.trading.monitor import PriceMonitor
from engine.trading.orders import (
    CANCELLED,
    DONE,
    EXPIRED,
    STOP_LOSS,
    TAKE_PROFIT,
    TRAILING_STOP,
    TRIGGERED,
    Bracket,
)
from engine.trading.price import BPS, Price, min_out
from tests.engine.trading.conftest import MINT, PUBLIC_URL, SOL, Rig

POSITION = 10_000_000_000_000  # 1% of the curve's virtual tokens: a visible price impact
PLAN = {
    "take_profits": [{"gain_bps": 5000, "sell_bps": 4000}, {"gain_bps": 10_000, "sell_bps": 3000}],
    "stop_loss": {"loss_bps": 3000},
    "trailing": {"trail_bps": 2000, "activation_gain_bps": 10_000},
}


async def _attach(rig: Rig, plan: dict[str, object] = PLAN, key: str = "bracket:test") -> int:
    async with rig.db.sessions.begin() as session:
        attached = await attach_exit_plan(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan=plan,
            entry=rig.market.price,
            position=POSITION,
            key=key,
            now_ms=rig.clock.now_ms(),
        )
    return attached.parent_id


async def _orders(rig: Rig, parent_id: int) -> dict[str, Order]:
    async with rig.db.sessions() as session:
        rows = await session.scalars(select(Order).where(Order.parent_id == parent_id))
        return {f"{o.kind}{o.params.get('level', o.params.get('index'))}": o for o in rows}


async def test_pump_hits_tp1_and_tp2_and_the_rest_trails_out(rig: Rig) -> None:
    parent = await _attach(rig)
    monitor = rig.monitor()
    assert await monitor.load() == 1
    expected: list[tuple[str, int, int]] = []  # (kind, amount, fresh quote at that moment)
    path = [11_000, 14_000, 15_000, 17_000, 20_000, 25_000, 30_000, 27_000, 24_500, 23_900]
    for bps in path:
        for outcome in await rig.tick(bps, monitor):
            expected.append((outcome.kind, outcome.amount, rig.market.sell_out(outcome.amount)))
    assert [(k, a) for k, a, _ in expected] == [
        (TAKE_PROFIT, POSITION * 4000 // BPS),
        (TAKE_PROFIT, POSITION * 3000 // BPS),
        (TRAILING_STOP, POSITION * 3000 // BPS),
    ]
    legs = await _orders(rig, parent)
    assert legs["take_profit1"].status == legs["take_profit2"].status == TRIGGERED
    assert legs["trailing_stop1"].status == TRIGGERED
    assert legs["stop_loss1"].status == CANCELLED  # OCO: the trailing fill closed the position
    async with rig.db.sessions() as session:
        assert (await session.get(Order, parent)).status == DONE  # type: ignore[union-attr]
    notices = await rig.notices()
    assert [n["event"] for n in notices] == ["exit_ready"] * 3
    for notice, (kind, amount, quoted) in zip(notices, expected, strict=True):
        assert notice["kind"] == kind and notice["amount_in"] == amount
        assert notice["user_id"] == rig.user_id and notice["mint"] == MINT
        assert notice["min_out"] == min_out(quoted, 300)  # from the quote at trigger time
        assert notice["link"].startswith(f"{PUBLIC_URL}/app/trade?side=sell&mint={MINT}")
        assert f"exit={notice['order_id']}" in notice["link"]
        assert notice["expires_ts"] > rig.clock.now_ms() - 60_000
    assert monitor.mints == []  # nothing left to watch
    assert await rig.tick(10_000, monitor) == []


async def test_rug_hits_the_stop_priced_from_the_fresh_quote_not_the_entry(rig: Rig) -> None:
    entry = rig.market.price
    parent = await _attach(rig)
    monitor = rig.monitor()
    await monitor.load()
    assert await rig.tick(11_000, monitor) == []
    assert await rig.tick(9_000, monitor) == []
    [stop] = await rig.tick(1_500, monitor)  # the dev dumps: -85% in one trade
    assert stop.kind == STOP_LOSS and stop.amount == POSITION
    [notice] = await rig.notices()
    fresh = rig.market.sell_out(POSITION)
    assert notice["min_out"] == min_out(fresh, 300)
    # The entry-based floor (entry -30% less slippage) would make the swap fail in this drop.
    from_entry = min_out(entry.scaled_bps(-3000).value_lamports(POSITION), 300)
    assert notice["min_out"] < fresh < from_entry
    assert rig.market.calls[-1] == (MINT, "sell", POSITION)
    legs = await _orders(rig, parent)
    assert {k: o.status for k, o in legs.items()} == {
        "take_profit1": CANCELLED,
        "take_profit2": CANCELLED,
        "stop_loss1": TRIGGERED,
        "trailing_stop1": CANCELLED,
    }
    assert stop.price is not None and stop.price < entry.scaled_bps(-3000)


async def test_dca_completes_its_slices_and_respects_the_price_guard(rig: Rig) -> None:
    async with rig.db.sessions.begin() as session:
        dca = await start_dca(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan={
                "side": "buy",
                "total": SOL,
                "slices": 4,
                "interval_minutes": 5,
                "guard_bps": 1000,
            },
            key="dca:test",
            now_ms=rig.clock.now_ms(),
            reference=rig.market.price,
        )
    monitor = rig.monitor()
    await monitor.load()
    minute = 60_000
    fired_at: list[int] = []
    # (minutes since start, price bps): the 10 min slice waits while the price is 20% up.
    path = [(0, 10_000), (5, 10_500), (10, 12_000), (12, 11_500), (13, 10_800), (15, 10_000)]
    path += [(17, 10_000), (18, 9_000), (25, 9_000)]
    start = rig.clock.now_ms()
    for minutes, bps in path:
        rig.clock.set(start + minutes * minute - 1000)
        for outcome in await rig.tick(bps, monitor):
            fired_at.append((outcome.ts - start) // minute)
            assert outcome.side == "buy"
    assert fired_at == [0, 5, 13, 18]
    notices = await rig.notices()
    assert [n["amount_in"] for n in notices] == [SOL // 4] * 4
    assert all(n["kind"] == "dca_slice" for n in notices)
    for n in notices:
        assert n["side"] == "buy" and n["min_out"] > 0
    async with rig.db.sessions() as session:
        assert (await session.get(Order, dca.parent_id)).status == DONE  # type: ignore[union-attr]


async def test_dca_deadline_cancels_the_rest_through_the_time_driven_tick(rig: Rig) -> None:
    async with rig.db.sessions.begin() as session:
        dca = await start_dca(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan={
                "side": "sell",
                "total": POSITION,
                "slices": 3,
                "interval_minutes": 1,
                "deadline_minutes": 2,
            },
            key="dca:deadline",
            now_ms=rig.clock.now_ms(),
            reference=None,
        )
    monitor = rig.monitor()
    await monitor.load()
    assert len(await monitor.tick()) == 1  # the first slice is due at once, on a quiet token
    rig.clock.advance(3 * 60_000)
    assert await monitor.tick() == []
    legs = await _orders(rig, dca.parent_id)
    assert sorted(o.status for o in legs.values()) == [CANCELLED, CANCELLED, TRIGGERED]
    async with rig.db.sessions() as session:
        assert (await session.get(Order, dca.parent_id)).status == EXPIRED  # type: ignore[union-attr]


async def test_a_tick_of_an_unwatched_mint_costs_no_database_work(rig: Rig) -> None:
    monitor = rig.monitor()
    await monitor.load()
    await rig.db.engine.dispose()  # any database access would now have to reconnect
    ev = rig.market.event(rig.clock.now_ms())
    assert await monitor.on_event(ev) == []
    assert await monitor.on_price("other", Price(1, 1), 1) == []
    assert monitor.counters.prices == 0


async def test_a_restart_does_not_forget_the_trailing_high(rig: Rig) -> None:
    await _attach(rig, {"trailing": {"trail_bps": 2000}}, key="bracket:trail")
    first = PriceMonitor(rig.db.sessions, rig.clock, high_flush_ms=3_600_000)
    await first.load()
    for bps in (15_000, 30_000):  # the high is 3x; the throttled save has not happened yet
        assert await rig.tick(bps, first) == []
    restarted = rig.monitor()
    await restarted.load()  # caught up from the stored ticks, not reset to the saved high
    [bracket] = restarted.machines(MINT)
    assert isinstance(bracket, Bracket) and bracket.high == rig.market.price
    [trail] = await rig.tick(23_900, restarted)  # -20.3% from 3x, but +139% from entry
    assert trail.kind == TRAILING_STOP and trail.amount == POSITION
