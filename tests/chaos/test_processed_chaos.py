"""Ingest at ``processed``: a signal is alerted before its transaction is confirmed, and when the
cluster drops that transaction the signal is retracted: its ticks deleted, its status
``retracted``, every alert already sent edited to say so. When everything confirms, nothing is.

The simulator confirms ``CONFIRM_DELAY_MS`` after emission and ``drop_next`` makes the smart-money
burst's transactions processed-only; ingest subscribes at ``processed``, the scorer and the
in-process jobs run on real PostgreSQL, and the local Bot API server stands in for Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bot.fanout import JOBS as FANOUT_JOBS
from bot.fanout import RETRACTED_LINE, Fanout, attached
from bot.limits import TELEGRAM_LIMITS, ChatLimiter
from bot.local_botapi import LocalBotApi
from bot.telegram_adapter import open_telegram_sender
from engine.deps import Deps
from engine.jobs.base import JobContext, JobRegistry
from engine.services.signals import signal_view
from engine.settings import RpcProvider, load_settings
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.sim.tx import SimTx
from engine.storage.models import AlertDelivery, Tick
from engine.storage.models import Signal as StoredSignal
from engine.storage.repos import wallets as wallet_repo
from tests.bot.conftest import PUBLIC_URL, TOKEN
from tests.bot.test_fanout import make_chats
from tests.conftest import pg_test_schema
from workers.ingest import IngestSupervisor
from workers.migrate import upgrade_async
from workers.runtime import open_deps
from workers.scoring import ScoringConsumer

pytestmark = [pytest.mark.chaos, pytest.mark.postgres, pytest.mark.timeout(120)]

CONFIRM_DELAY_MS = 1500
EXPIRY_SLOTS = 150
"""The production bound. Stepped emission runs the slot clock faster than the wall clock, so a
shorter one would expire transactions before their (wall-clock) confirmation."""
CHATS = 3
SEED = 42


async def _no_risk(ctx: JobContext, *, mint: str) -> None:
    """Risk verdicts are not this test's subject: every mint stays unverified (fail closed)."""


def _registry() -> JobRegistry:
    registry = JobRegistry()
    registry.job("risk_check", timeout_s=5, max_tries=1)(_no_risk)
    import bot.fanout as fanout

    for name, (timeout_s, tries) in FANOUT_JOBS.items():
        registry.job(name, timeout_s=timeout_s, max_tries=tries)(getattr(fanout, name))
    return registry


@dataclass
class Rig:
    sim: SimServer
    deps: Deps
    api: LocalBotApi
    ingest: IngestSupervisor
    consumer: ScoringConsumer


@pytest.fixture
async def rig(isolated_env: Path, pg_url: str) -> AsyncIterator[Rig]:
    async with (
        pg_test_schema(pg_url) as (url, schema),
        SimServer(
            load_scenario("demo"), seed=SEED, autostart=False, confirm_delay_ms=CONFIRM_DELAY_MS
        ) as sim,
        LocalBotApi(token=TOKEN, enforce_limits=False) as api,
    ):
        await upgrade_async(url, schema=schema)
        provider = RpcProvider(name="sim", http_url=sim.http_url, ws_url=sim.ws_url)
        settings = load_settings(
            database_url=url,
            secret_key="processed-secret",
            public_url=PUBLIC_URL,
            rpc_providers=[provider],
            rpc_commitment="processed",
        )
        async with open_deps(settings, _registry(), db_schema=schema) as deps:
            async with deps.sessions.begin() as s:
                for i, w in enumerate(sim.generator.groups["whale"]):
                    await wallet_repo.ensure_wallet(
                        s, address=w, alias=f"whale{i}", tags=["smart"], featured=True, now_ms=1
                    )
            await make_chats(deps, privates=CHATS, groups=0, min_strength=0.0)
            ingest = IngestSupervisor(
                [provider],
                deps.bus,
                clock=deps.clock,
                commitment="processed",
                reconcile_grace_slots=0,
                confirm_expiry_slots=EXPIRY_SLOTS,
                confirm_poll_s=0.1,
            )
            consumer = ScoringConsumer(deps, block_ms=20, refresh_s=0.1)
            async with open_telegram_sender(
                settings, ChatLimiter(TELEGRAM_LIMITS), base_url=api.base_url, token=TOKEN
            ) as sender:
                with attached(deps, Fanout(deps, {"telegram": sender})):
                    tasks = [asyncio.create_task(ingest.run()), asyncio.create_task(consumer.run())]
                    try:
                        await asyncio.wait_for(ingest.connected.wait(), 10)
                        yield Rig(sim, deps, api, ingest, consumer)
                    finally:
                        ingest.stop()
                        consumer.stop()
                        await asyncio.gather(*tasks)
                        await ingest.aclose()


async def _caught_up(r: Rig, timeout_s: float = 10) -> None:
    """The scorer has stored everything ingest published so far."""
    async with asyncio.timeout(timeout_s):
        while len(r.ingest.publisher) or r.consumer.counters.events < r.ingest.counters.events:
            await asyncio.sleep(0.002)


async def _signals(deps: Deps) -> list[StoredSignal]:
    async with deps.sessions() as s:
        return list(await s.scalars(select(StoredSignal).order_by(StoredSignal.ts)))


async def _until_first_signal(r: Rig, *, drop: bool) -> tuple[StoredSignal, list[SimTx], int]:
    """Emit until the first signal is stored; from the first whale buy on, one transaction at
    a time through the pipeline, each made processed-only when ``drop`` (so the trigger is among
    them). Returns the signal, the transactions emitted from the first whale buy on, and when
    the signal was first seen (``time.monotonic_ns()``)."""
    sim = r.sim
    whales = set(sim.generator.groups["whale"])
    from_burst: list[SimTx] = []
    async with asyncio.timeout(60):
        while True:
            nxt = sim._next()
            assert nxt is not None, "the scenario ended without a signal"
            in_burst = bool(from_burst) or any(e.trader in whales for e in nxt.intended)
            if not in_burst:
                await sim.emit(1)
                if sim.stats["emitted"] % 50 == 0:
                    await _caught_up(r)
                continue
            if drop:
                sim.drop_next(1)
            notes = r.ingest.counters.notifications
            (tx,) = await sim.emit(1)
            from_burst.append(tx)
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(1):
                    while r.ingest.counters.notifications <= notes:
                        await asyncio.sleep(0.002)
            await _caught_up(r)
            found = await _signals(r.deps)
            if found:
                return found[0], from_burst, time.monotonic_ns()


async def _advance_slots(r: Rig, slots: int) -> None:
    """The chain moves ``slots`` slots on, quietly (no transaction to confirm meanwhile)."""
    r.sim.advance_slots(slots)
    await asyncio.sleep(0)


async def test_a_dropped_trigger_retracts_the_signal_and_edits_its_alerts(rig: Rig) -> None:
    r = rig
    signal, emitted, seen_ns = await _until_first_signal(r, drop=True)
    trigger = signal.inputs["signatures"][0]
    by_sig = {tx.signature: tx for tx in emitted}
    assert trigger in by_sig, "the signal's trigger is one of the dropped transactions"
    # Alerted at processed: stored before the confirmed notification could have arrived.
    assert (seen_ns - (by_sig[trigger].emitted_ns or 0)) / 1e6 < CONFIRM_DELAY_MS
    assert signal.status == "live"
    async with asyncio.timeout(20):
        while len({m["chat"]["id"] for m in r.api.sent()}) < CHATS:
            await asyncio.sleep(0.02)
    # The chain moves on; the dropped transactions never confirm: retraction.
    async with asyncio.timeout(30):
        while True:
            await _advance_slots(r, 5)
            async with r.deps.sessions() as s:
                status = await s.scalar(
                    select(StoredSignal.status).where(StoredSignal.id == signal.id)
                )
            if status == "retracted" and len(r.api.calls_to("editMessageText")) >= CHATS:
                break
            await asyncio.sleep(0.05)
    async with r.deps.sessions() as s:
        left = await s.scalar(
            select(func.count()).select_from(Tick).where(Tick.signature.in_(list(by_sig)))
        )
        rows = list(
            await s.scalars(
                select(AlertDelivery).where(AlertDelivery.alert_key == f"signal:{signal.id}")
            )
        )
    assert left == 0
    assert r.ingest.counters.retractions >= 1
    assert r.ingest.confirmations is not None and r.ingest.confirmations.retracted >= 1
    edits = [c for c in r.api.calls_to("editMessageText") if c.ok]
    assert len({c.result["chat"]["id"] for c in edits}) == CHATS == len(rows)
    sent_ids = {(m["chat"]["id"], m["message_id"]) for m in r.api.sent()}
    assert {(c.result["chat"]["id"], c.result["message_id"]) for c in edits} <= sent_ids
    assert all(RETRACTED_LINE.split(":")[0] in c.result["text"] for c in edits)
    assert all(row.status == "sent" for row in rows)
    async with r.deps.sessions() as s:
        stored = await s.get(StoredSignal, (signal.id, signal.ts))
    assert stored is not None and signal_view(stored).status == "retracted"  # what the API shows


async def test_confirmed_transactions_retract_nothing(rig: Rig) -> None:
    r = rig
    signal, _, _ = await _until_first_signal(r, drop=False)
    async with asyncio.timeout(20):
        while len({m["chat"]["id"] for m in r.api.sent()}) < CHATS:
            await asyncio.sleep(0.02)
    tracker = r.ingest.confirmations
    assert tracker is not None
    # The confirmations arrive (wall clock); then the chain moves past the expiry.
    async with asyncio.timeout(10):
        while len(tracker):
            await asyncio.sleep(0.02)
    await _advance_slots(r, EXPIRY_SLOTS + 10)
    await _caught_up(r)
    await asyncio.sleep(0.3)  # a few tracker polls: nothing may come of them
    await _caught_up(r)
    async with r.deps.sessions() as s:
        status = await s.scalar(select(StoredSignal.status).where(StoredSignal.id == signal.id))
        retracted = await s.scalar(
            select(func.count()).select_from(StoredSignal).where(StoredSignal.status != "live")
        )
    assert status == "live" and retracted == 0
    assert tracker.confirmed > 0 and tracker.retracted == 0
    assert r.ingest.counters.retractions == 0
    assert r.api.calls_to("editMessageText") == []
