"""The trading jobs: registered with their limits, idempotent by id, retried only when a quote is
missing, and runnable by the in-process runner end to end (monitor → job → exit → notice)."""

from __future__ import annotations

import asyncio

import pytest

from engine.deps import Deps
from engine.jobs.base import JobContext, JobRegistry, Transient
from engine.settings import load_settings
from engine.trading.attach import attach_exit_plan
from engine.trading.jobs import TradingRuntime, build_runtime, enqueue_exit, trading_jobs
from tests.engine.trading.conftest import MINT, PUBLIC_URL, Rig
from workers.jobs.inprocess import InProcessJobs
from workers.jobs.registry import default_registry


def test_the_trading_jobs_are_registered_with_their_limits() -> None:
    registry = default_registry()
    for name, tries in (
        ("check_orders", 1),
        ("prepare_exit", 5),
        ("reprice_exit", 3),
        ("auto_trade", 3),
    ):
        assert name in registry
        assert registry.get(name).max_tries == tries


async def _setup(rig: Rig) -> tuple[TradingRuntime, InProcessJobs]:
    holder: list[TradingRuntime] = []
    registry = JobRegistry()
    for spec in trading_jobs(lambda _deps: holder[0]):
        registry.add(spec)
    jobs = InProcessJobs(registry)
    deps = Deps(
        settings=load_settings(database_url=rig.db.url, public_url=PUBLIC_URL),
        clock=rig.clock,
        db=rig.db.engine,
        sessions=rig.db.sessions,
        bus=rig.bus,
        jobs=jobs,
    )
    jobs.deps = deps
    holder.append(build_runtime(deps, quoter=rig.market, notifier=rig.exits._notifier))
    return holder[0], jobs


async def test_a_monitor_hands_triggers_to_the_prepare_exit_job(rig: Rig) -> None:
    runtime, jobs = await _setup(rig)
    async with rig.db.sessions.begin() as session:
        await attach_exit_plan(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan={"stop_loss": {"loss_bps": 3000}},
            entry=rig.market.price,
            position=10**12,
            key="bracket:job",
            now_ms=rig.clock.now_ms(),
        )
    monitor = runtime.monitor(after_trigger=enqueue_exit(jobs))
    await monitor.load()
    await jobs.start()
    try:
        [outcome] = await rig.tick(5_000, monitor)
        result = await jobs.result(f"prepare_exit:{outcome.order_id}", timeout_s=10)
        assert result.success and result.result["state"] == "live"
        # The same trigger handed on again (a replayed batch) is the same job: not run twice.
        assert (
            await jobs.enqueue(
                "prepare_exit", job_id=f"prepare_exit:{outcome.order_id}", order_id=outcome.order_id
            )
            is None
        )
        [notice] = await rig.notices()
        assert notice["order_id"] == outcome.order_id
    finally:
        await jobs.close()


async def test_missing_quotes_are_retried_and_a_signal_without_rules_is_a_no_op(rig: Rig) -> None:
    runtime, jobs = await _setup(rig)
    specs = {s.name: s for s in trading_jobs(lambda _deps: runtime)}
    async with rig.db.sessions.begin() as session:
        await attach_exit_plan(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan={"stop_loss": {"loss_bps": 3000}},
            entry=rig.market.price,
            position=10**12,
            key="bracket:retry",
            now_ms=rig.clock.now_ms(),
        )
    rig.market.fail = True
    monitor = rig.monitor(inline=False)
    await monitor.load()
    [outcome] = await rig.tick(5_000, monitor)
    ctx = JobContext(deps=runtime.deps, job_id="j", job_try=1)
    with pytest.raises(Transient, match="no quote"):
        await specs["prepare_exit"].func(ctx, order_id=outcome.order_id)
    rig.market.fail = False
    done = await specs["reprice_exit"].func(ctx, order_id=outcome.order_id)
    assert done == {"order_id": outcome.order_id, "state": "live", "attempt": 1}
    # Same keyword arguments the scoring consumer gives its per-signal jobs.
    assert await specs["auto_trade"].func(ctx, signal_id=42, ts=1) == {"signal_id": 42, "runs": {}}
    await jobs.close()
    await asyncio.sleep(0)
