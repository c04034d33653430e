"""A mint the node cannot read yet when its first events arrive: bounded retries, fail closed.

The simulator answers ``getAccountInfo`` for the mint with ``null`` (its ``hideAccount`` fault,
set through ``simControl`` like a test would on any node stand-in), the events are scored on
the embedded pipeline, and the real ``risk_check`` job runs in-process against the simulator.
"""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest
from solders.pubkey import Pubkey

from engine.bus.base import Bus
from engine.chain.rpc import RpcClient
from engine.events import ChainEvent
from engine.jobs.base import JobResult
from engine.services.signals import risk_info
from engine.settings import RpcProvider, load_settings
from engine.signals.scorer import Signal
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.storage.repos import wallets as wallet_repo
from workers.jobs.registry import RISK_MAX_TRIES, default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps
from workers.scoring import EVENTS_STREAM, GROUP, RISK_BUCKET_MS, ScoringConsumer

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]

RISK_FILTERS = ("no_mint", "no_freeze", "top10")
"""The filters fed by the risk verdict: without one they fail (closed)."""


async def hide(rpc: RpcClient, address: str, **how: float) -> None:
    assert await rpc.call("simControl", [{"action": "hideAccount", "address": address, **how}])


async def test_simulator_hides_an_account_for_n_reads_or_t_seconds() -> None:
    async with (
        SimServer(load_scenario("demo"), seed=1, autostart=False) as sim,
        RpcClient(sim.http_url) as rpc,
    ):
        await sim.emit(10)
        moon = sim.generator.tokens["MOON"].mint
        assert await rpc.get_account_info(moon) is not None
        await hide(rpc, moon, reads=2)
        assert await rpc.get_multiple_accounts([moon]) == [None]  # a read like any other
        assert await rpc.get_account_info(moon) is None
        assert await rpc.get_account_info(moon) is not None  # caught up after two reads
        await hide(rpc, moon, seconds=0.3)
        started = time.monotonic()
        assert await rpc.get_account_info(moon) is None
        assert await rpc.get_account_info(moon) is None  # reads do not count for a time limit
        async with asyncio.timeout(5):
            while await rpc.get_account_info(moon) is None:
                await asyncio.sleep(0.02)
        assert time.monotonic() - started >= 0.3
        assert sim.stats["accounts_hidden"] >= 4


async def scored(bus: Bus, consumer: ScoringConsumer, events: list[ChainEvent]) -> list[Signal]:
    """Publish events, consume them as the consumer's loop would, and return what fired."""
    await bus.publish_many(EVENTS_STREAM, [(e.mint, e.to_json()) for e in events])
    fired: list[Signal] = []
    while messages := await bus.consume(EVENTS_STREAM, GROUP, "c", count=500, block_ms=0):
        fired += await consumer.process(messages)
    return fired


async def emit_until(sim: SimServer, t_ms: int) -> list[ChainEvent]:
    events: list[ChainEvent] = []
    while True:
        txs = await sim.emit(10)
        events += [e for tx in txs for e in tx.intended]
        if not txs or txs[-1].t_ms >= t_ms:
            return events


def first_job(events: list[ChainEvent], mint: str) -> str:
    ts = next(e.ts for e in events if e.mint == mint)
    return f"risk:{mint}:first:{ts // RISK_BUCKET_MS}"


async def test_unreadable_mint_retries_a_bounded_number_of_times_and_fails_closed(
    isolated_env: Path, tmp_sqlite: str
) -> None:
    await upgrade_async(tmp_sqlite)
    async with SimServer(load_scenario("demo"), seed=42, autostart=False) as sim:
        gen = sim.generator
        moon, rug = gen.tokens["MOON"].mint, gen.tokens["RUG"].mint
        settings = load_settings(
            database_url=tmp_sqlite,
            bus_partitions=1,
            rpc_providers=[RpcProvider(name="sim", http_url=sim.http_url, ws_url=sim.ws_url)],
        )
        async with open_deps(settings, default_registry()) as deps, RpcClient(sim.http_url) as rpc:
            # MOON's mint reads as absent twice (then the node has caught up); RUG's never does.
            await hide(rpc, moon, reads=2)
            await hide(rpc, rug, seconds=3600)
            async with deps.sessions.begin() as s:
                for i, w in enumerate(gen.groups["whale"]):
                    await wallet_repo.ensure_wallet(
                        s, address=w, alias=f"whale{i}", tags=["smart"], featured=True, now_ms=1
                    )
            consumer = ScoringConsumer(deps)
            await consumer.start()

            # The launches and MOON's smart-money burst (~18 s) arrive before any verdict: the
            # scorer fails closed (the verdicts are read back only on refresh, below).
            early = await emit_until(sim, 25_000)
            fired_early = await scored(deps.bus, consumer, early)
            moon_early = [s for s in fired_early if s.mint == moon]
            assert moon_early, "the burst should fire even with risk unknown"
            for sig in moon_early:
                assert sig.risk["known"] is False and sig.risk["blocks_buy"] is True
                assert "risk not checked yet" in sig.explanation
            before = consumer.scorer.evaluate(moon)
            assert before is not None and before.verdict is None
            risk_filters = [r for r in before.results if r.name in RISK_FILTERS]
            assert len(risk_filters) == len(RISK_FILTERS)
            assert not any(r.passed for r in risk_filters)

            # The real risk_check job, run by the in-process runner against the simulator.
            moon_job: JobResult = await deps.jobs.result(first_job(early, moon), timeout_s=30)
            rug_job: JobResult = await deps.jobs.result(first_job(early, rug), timeout_s=30)
            assert moon_job.success and moon_job.tries == 3  # two null reads, then readable
            assert moon_job.result["level"] != "unknown"
            assert rug_job.success and rug_job.tries == RISK_MAX_TRIES  # bounded, then closed
            assert rug_job.result["level"] == "unknown"

            # Once the verdicts are in, scoring goes on with them.
            await consumer.refresh_risk_now()
            after = consumer.scorer.evaluate(moon)
            assert after is not None and after.verdict is not None
            assert after.verdict.level == moon_job.result["level"]
            assert after.components.risk == after.verdict.risk_score
            later = await emit_until(sim, 60_000)
            fired_later = await scored(deps.bus, consumer, later)
            assert consumer.counters.events == len(early) + len(later)
            moon_later = [s for s in fired_later if s.mint == moon]
            assert moon_later, "MOON keeps firing once its verdict is in"
            for sig in moon_later:
                assert sig.risk["known"] is True
                assert sig.risk["level"] == moon_job.result["level"]
            for sig in fired_later:
                if sig.mint == rug:  # flagged, never offered for buying
                    assert sig.risk["level"] == "unknown" and sig.risk["blocks_buy"] is True
            rug_eval = consumer.scorer.evaluate(rug)
            assert rug_eval is not None and rug_eval.verdict is not None
            assert rug_eval.verdict.level == "unknown" and rug_eval.verdict.blocks_buy

            # What the API, the bot and the trade bridge read: RUG stays unbuyable.
            async with deps.sessions() as s:
                rug_risk = await risk_info(s, mint=rug, now_ms=deps.clock.now_ms())
                moon_risk = await risk_info(s, mint=moon, now_ms=deps.clock.now_ms())
                ghost = await risk_info(
                    s, mint=str(Pubkey.new_unique()), now_ms=deps.clock.now_ms()
                )
            assert (rug_risk.known, rug_risk.level, rug_risk.blocks_buy) == (True, "unknown", True)
            assert moon_risk.known and moon_risk.level == moon_job.result["level"]
            assert (ghost.known, ghost.blocks_buy) == (False, True)
            assert sim.stats["accounts_hidden"] >= 2 + RISK_MAX_TRIES
