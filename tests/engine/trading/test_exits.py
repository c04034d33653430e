"""A triggered exit's life: priced fresh, re-priced when its link expires unsigned or its swap
fails, followed once the user signs (through the bridge's Idempotency-Key), filled, or given up.
"""

from __future__ import annotations

from typing import Any

from engine.jobs.base import JobResult
from engine.storage.models import Order, Trade
from engine.storage.repos import trading as trading_repo
from engine.trading.attach import attach_exit_plan, start_dca
from engine.trading.exits import exit_for_link
from engine.trading.orders import EXPIRED, FILLED, TRIGGERED
from engine.trading.prefs import save_prefs
from engine.trading.price import min_out
from tests.engine.trading.conftest import MINT, Rig

POSITION = 10_000_000_000_000


class RecordingJobs:
    """Our JobQueue protocol, recording what would be enqueued."""

    def __init__(self) -> None:
        self.enqueued: list[tuple[str, str | None, float, dict[str, Any]]] = []

    async def enqueue(
        self, name: str, *, job_id: str | None = None, defer_s: float = 0.0, **kwargs: Any
    ) -> str | None:
        self.enqueued.append((name, job_id, defer_s, kwargs))
        return job_id

    async def result(self, job_id: str, *, timeout_s: float = 30.0) -> JobResult:
        raise NotImplementedError


async def _stopped(rig: Rig) -> int:
    """A stop-loss triggered by a drop; returns the order id (exit attempt 1 announced)."""
    async with rig.db.sessions.begin() as session:
        await attach_exit_plan(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan={"stop_loss": {"loss_bps": 3000}},
            entry=rig.market.price,
            position=POSITION,
            key="bracket:exit",
            now_ms=rig.clock.now_ms(),
        )
    monitor = rig.monitor()
    await monitor.load()
    [outcome] = await rig.tick(6_000, monitor)
    return outcome.order_id


async def _order(rig: Rig, order_id: int) -> Order:
    async with rig.db.sessions() as session:
        order = await session.get(Order, order_id)
        assert order is not None
        return order


async def _bridge_trade(rig: Rig, *, key: str, status: str, out: int | None = None) -> int:
    """A trade as the bridge records it when the user signs (keyed ``<user>:<Idempotency-Key>``)."""
    now = rig.clock.now_ms()
    async with rig.db.sessions.begin() as session:
        trade, _ = await trading_repo.record_trade(
            session,
            idempotency_key=f"{rig.user_id}:{key}",
            user_id=rig.user_id,
            mint=MINT,
            side="sell",
            in_amount=POSITION,
            min_out_amount=1,
            now_ms=now,
        )
        for step in {"submitted": ["submitted"], "confirmed": ["submitted", "confirmed"]}.get(
            status, ["submitted", status]
        ):
            await trading_repo.update_trade(
                session,
                trade_id=trade.id,
                status=step,
                now_ms=now,
                out_amount=out if step == "confirmed" else None,
            )
        return trade.id


async def test_an_unsigned_link_is_repriced_from_a_fresh_quote_at_expiry(rig: Rig) -> None:
    jobs = RecordingJobs()
    rig.exits._jobs = jobs
    order_id = await _stopped(rig)
    [first] = await rig.notices()
    assert [(j[0], j[1], j[2]) for j in jobs.enqueued] == [
        ("reprice_exit", f"reprice_exit:{order_id}:1", 120.0)
    ]
    rig.market.set_bps(4_000)  # still falling
    rig.clock.advance(119_000)
    assert (await rig.exits.advance(order_id)).state == "live"  # not expired yet: no new quote
    assert len(rig.market.calls) == 1
    rig.clock.advance(1_000)
    state = await rig.exits.advance(order_id)
    assert (state.state, state.attempt) == ("live", 2)
    [second] = await rig.notices()
    assert second["event"] == "exit_repriced" and second["attempt"] == 2
    assert second["min_out"] == min_out(rig.market.sell_out(POSITION), 300) < first["min_out"]
    assert second["expires_ts"] == rig.clock.now_ms() + 120_000
    assert second["dedupe_key"] == f"exit:{order_id}:2" != first["dedupe_key"]
    async with rig.db.sessions() as session:
        view = await exit_for_link(session, user_id=rig.user_id, order_id=order_id)
    assert view["idempotency_key"] == f"exit:{order_id}:2" and view["amount_in"] == POSITION


async def test_a_signed_exit_is_followed_to_filled_and_never_repriced(rig: Rig) -> None:
    order_id = await _stopped(rig)
    await rig.notices()
    trade_id = await _bridge_trade(rig, key=f"exit:{order_id}:1", status="submitted")
    rig.clock.advance(10 * 60_000)  # long past the link's expiry
    state = await rig.exits.advance(order_id)
    assert (state.state, state.trade_id) == ("pending", trade_id)
    assert len(rig.market.calls) == 1
    async with rig.db.sessions.begin() as session:
        await trading_repo.update_trade(
            session, trade_id=trade_id, status="confirmed", out_amount=123, now_ms=1
        )
    assert (await rig.exits.advance(order_id)).state == "filled"
    assert (await _order(rig, order_id)).status == FILLED
    [filled] = await rig.notices()
    assert filled["event"] == "order_filled" and filled["quoted_out"] == 123
    assert (await rig.exits.advance(order_id)).state == "not_triggered"


async def test_a_failed_swap_is_repriced_once_not_over_and_over(rig: Rig) -> None:
    order_id = await _stopped(rig)
    await _bridge_trade(rig, key=f"exit:{order_id}:1", status="failed")
    rig.clock.advance(1000)
    assert (await rig.exits.advance(order_id)).attempt == 2
    for _ in range(3):
        state = await rig.exits.advance(order_id)
        assert (state.state, state.attempt) == ("live", 2)
    assert len(rig.market.calls) == 2


async def test_a_swap_signed_without_the_key_is_still_recognised(rig: Rig) -> None:
    order_id = await _stopped(rig)
    rig.clock.advance(1000)
    await _bridge_trade(rig, key="some-client-uuid", status="submitted")
    assert (await rig.exits.advance(order_id)).state == "pending"


async def test_an_exit_never_signed_expires_after_the_attempts_allowed(rig: Rig) -> None:
    async with rig.db.sessions.begin() as session:
        await save_prefs(session, user_id=rig.user_id, prefs={"max_exit_attempts": 2})
    order_id = await _stopped(rig)
    for _ in range(2):
        rig.clock.advance(121_000)
        await rig.exits.advance(order_id)
    assert (await _order(rig, order_id)).status == EXPIRED
    events = [n["event"] for n in await rig.notices()]
    assert events == ["exit_ready", "exit_repriced", "exit_expired"]


async def test_no_quote_leaves_the_order_triggered_for_the_safety_net(rig: Rig) -> None:
    rig.market.fail = True
    order_id = await _stopped(rig)
    order = await _order(rig, order_id)
    assert order.status == TRIGGERED and "exit" not in order.params
    assert await rig.notices() == []
    rig.market.fail = False
    [state] = await rig.exits.sweep()
    assert (state.state, state.attempt) == ("live", 1)
    assert len(await rig.notices()) == 1


async def test_exit_state_is_in_params_and_no_trade_is_written_until_signed(rig: Rig) -> None:
    order_id = await _stopped(rig)
    ex = (await _order(rig, order_id)).params["exit"]
    assert ex["attempt"] == 1 and ex["notified"] is True and ex["link"]
    assert ex["idempotency_key"] == f"exit:{order_id}:1"
    async with rig.db.sessions() as session:
        assert (await session.get(Trade, 1)) is None


async def test_equal_dca_slices_do_not_share_a_signed_trade(rig: Rig) -> None:
    async with rig.db.sessions.begin() as session:
        await start_dca(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan={"side": "sell", "total": 2 * POSITION, "slices": 2, "interval_minutes": 1},
            key="dca:keys",
            now_ms=rig.clock.now_ms(),
            reference=None,
        )
    monitor = rig.monitor()
    await monitor.load()
    [first] = await rig.tick(10_000, monitor)
    [second] = await rig.tick(10_000, monitor, advance_ms=60_000)
    await _bridge_trade(rig, key=f"exit:{second.order_id}:1", status="submitted")
    assert (await rig.exits.advance(second.order_id)).state == "pending"
    assert (await rig.exits.advance(first.order_id)).state == "live"
