"""No order fires twice: two monitors racing, a worker crashing after the trigger and restarting,
a stale monitor, two safety-net jobs at once. Each leg goes open → triggered exactly once and
its exit is priced and announced once.
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select

from engine.deps import Deps
from engine.jobs.base import JobContext, JobRegistry
from engine.settings import load_settings
from engine.storage.models import Order, Trade
from engine.trading.attach import attach_exit_plan
from engine.trading.jobs import TradingRuntime, build_runtime, trading_jobs
from engine.trading.orders import OPEN, STOP_LOSS, TAKE_PROFIT, TRIGGERED
from engine.trading.ports import OrderNotice
from tests.engine.trading.conftest import MINT, PUBLIC_URL, Rig
from workers.jobs.inprocess import InProcessJobs

POSITION = 10_000_000_000_000
PLAN = {
    "take_profits": [{"gain_bps": 5000, "sell_bps": 5000}],
    "stop_loss": {"loss_bps": 3000},
}


async def _attach(rig: Rig) -> int:
    async with rig.db.sessions.begin() as session:
        attached = await attach_exit_plan(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan=PLAN,
            entry=rig.market.price,
            position=POSITION,
            key="bracket:race",
            now_ms=rig.clock.now_ms(),
        )
    return attached.parent_id


async def _statuses(rig: Rig, parent: int) -> dict[str, str]:
    async with rig.db.sessions() as session:
        rows = await session.scalars(select(Order).where(Order.parent_id == parent))
        return {o.kind: o.status for o in rows}


async def test_two_monitors_on_the_same_ticks_fire_each_leg_once(rig: Rig) -> None:
    parent = await _attach(rig)
    a, b = rig.monitor(), rig.monitor()
    await a.load()
    await b.load()
    for bps, kind in ((15_000, TAKE_PROFIT), (6_000, STOP_LOSS)):
        rig.clock.advance(1000)
        rig.market.set_bps(bps)
        ev = rig.market.event(rig.clock.now_ms())
        first, second = await asyncio.gather(a.on_event(ev), b.on_event(ev))
        fired = first + second
        assert [o.kind for o in fired] == [kind], f"{kind} fired {len(fired)} times"
    assert a.counters.lost + b.counters.lost == 2  # each race had one loser
    assert await _statuses(rig, parent) == {TAKE_PROFIT: TRIGGERED, STOP_LOSS: TRIGGERED}
    notices = await rig.notices()
    assert [n["kind"] for n in notices] == [TAKE_PROFIT, STOP_LOSS]
    # The stop sold only what the take-profit left, though the loser's view was stale.
    assert [n["amount_in"] for n in notices] == [POSITION // 2, POSITION - POSITION // 2]


async def test_a_worker_crash_after_the_trigger_is_repaired_once_after_restart(rig: Rig) -> None:
    parent = await _attach(rig)
    crashed = rig.monitor(inline=False)  # triggers, then "dies" before preparing the exit
    await crashed.load()
    [outcome] = await rig.tick(6_000, crashed)
    assert outcome.kind == STOP_LOSS
    assert await rig.notices() == []

    restarted = rig.monitor()
    assert await restarted.load() == 0  # the group closed with the trigger: nothing to re-fire
    assert await rig.tick(5_000, restarted) == []
    assert await rig.tick(6_000, crashed) == []  # the old process's stale view cannot fire it

    runtime = await _runtime(rig)
    jobs = {s.name: s for s in trading_jobs(lambda _deps: runtime)}
    ctx = JobContext(deps=runtime.deps, job_id="check_orders:1", job_try=1)
    first = await jobs["check_orders"].func(ctx)
    again = await jobs["check_orders"].func(ctx)
    assert first["triggered"] == [] and first["exits"] == {"live": 1}
    assert again["exits"] == {"live": 1}
    notices = await rig.notices()
    assert len(notices) == 1 and notices[0]["order_id"] == outcome.order_id
    assert await _statuses(rig, parent) == {TAKE_PROFIT: "cancelled", STOP_LOSS: TRIGGERED}
    await runtime.deps.jobs.close()


async def test_a_crash_while_announcing_sends_the_notice_once_on_repair(rig: Rig) -> None:
    await _attach(rig)
    sent: list[OrderNotice] = []
    failures = iter([RuntimeError("bus down")])

    class FlakyNotifier:
        async def notify(self, notice: OrderNotice) -> None:
            for exc in failures:
                raise exc
            sent.append(notice)

    rig.exits._notifier = FlakyNotifier()
    monitor = rig.monitor()
    await monitor.load()
    [outcome] = await rig.tick(6_000, monitor)
    assert monitor.counters.after_trigger_errors == 1 and sent == []
    for _ in range(3):
        await rig.exits.sweep()
    assert len(sent) == 1 and sent[0].attempt == 1
    assert len(rig.market.calls) == 1  # the repair reused the stored quote
    async with rig.db.sessions() as session:
        order = await session.get(Order, outcome.order_id)
        assert order is not None and order.params["exit"]["notified"] is True


async def test_two_safety_net_jobs_at_once_trigger_once(rig: Rig) -> None:
    parent = await _attach(rig)
    runtime = await _runtime(rig)
    [check] = [s for s in trading_jobs(lambda _deps: runtime) if s.name == "check_orders"]
    await rig.tick(6_000, rig.monitor(inline=False))  # stored only: no monitor has it loaded
    assert set((await _statuses(rig, parent)).values()) == {OPEN}
    ctx = JobContext(deps=runtime.deps, job_id="c", job_try=1)
    results = await asyncio.gather(check.func(ctx), check.func(ctx))
    assert sorted(len(r["triggered"]) for r in results) == [0, 1]
    assert len(await rig.notices()) == 1
    async with rig.db.sessions() as session:
        trades = await session.scalar(select(func.count()).select_from(Trade))
    assert trades == 0  # an unsigned link writes no trade: the bridge does when the user signs
    await runtime.deps.jobs.close()


async def _runtime(rig: Rig) -> TradingRuntime:
    registry = JobRegistry()
    holder: list[TradingRuntime] = []
    for spec in trading_jobs(lambda _deps: holder[0]):
        registry.add(spec)
    deps = Deps(
        settings=load_settings(database_url=rig.db.url, public_url=PUBLIC_URL),
        clock=rig.clock,
        db=rig.db.engine,
        sessions=rig.db.sessions,
        bus=rig.bus,
        jobs=InProcessJobs(registry),
    )
    runtime = build_runtime(deps, quoter=rig.market, notifier=rig.exits._notifier)
    holder.append(runtime)
    return runtime
