"""The demo story end to end on the embedded mode: simulator → ingest → bus → scorer → risk.

This is the signal engine's acceptance test: the smart-money burst fires a signal that names
its wallets and their SOL, the dev rug and the freeze-authority honeypot are flagged before any
signal could offer a buy, and an organic pump without smart money scores below the burst.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import orjson
import pytest

from engine.clock import SystemClock
from engine.settings import RpcProvider, load_settings
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import wallets as wallet_repo
from workers.ingest import IngestSupervisor
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps
from workers.scoring import ScoringConsumer

pytestmark = pytest.mark.timeout(120)

SOL = 1_000_000_000
STORY_MS = 200_000  # the burst (18 s), the rug (95 s), the honeypot's frozen buyers, and after


async def test_demo_story_signals_and_flags(isolated_env: Path, tmp_sqlite: str) -> None:
    await upgrade_async(tmp_sqlite)
    async with SimServer(load_scenario("demo"), seed=42, autostart=False) as sim:
        gen = sim.generator
        whales = gen.groups["whale"]
        settings = load_settings(
            database_url=tmp_sqlite,
            rpc_providers=[RpcProvider(name="sim", http_url=sim.http_url, ws_url=sim.ws_url)],
        )
        async with open_deps(settings, default_registry(), clock=SystemClock()) as deps:
            async with deps.sessions.begin() as s:
                for i, w in enumerate(whales):
                    await wallet_repo.ensure_wallet(
                        s, address=w, alias=f"whale{i}", tags=["smart"], featured=True, now_ms=1
                    )
            ingest = IngestSupervisor(
                settings.rpc_providers, deps.bus, clock=deps.clock, reconcile_grace_slots=0
            )
            consumer = ScoringConsumer(deps, block_ms=50, refresh_s=0.1)
            tasks = [asyncio.create_task(ingest.run()), asyncio.create_task(consumer.run())]
            try:
                await asyncio.wait_for(ingest.connected.wait(), 10)
                emitted = 0
                while True:
                    batch = await sim.emit(100)
                    emitted += len(batch)
                    if not batch or batch[-1].t_ms >= STORY_MS:
                        break
                    await asyncio.sleep(0.05)  # let ingest and the scorer keep up
                try:
                    async with asyncio.timeout(30):
                        # Quiet for half a second, and the scorer has everything ingest published.
                        last = -1
                        while last != ingest.counters.events or (
                            consumer.counters.events < ingest.counters.events
                        ):
                            last = ingest.counters.events
                            await asyncio.sleep(0.5)
                except TimeoutError:
                    raise AssertionError(
                        f"emitted={emitted} ingest={ingest.counters.snapshot()} "
                        f"scorer={consumer.counters.snapshot()}"
                    ) from None
                await deps.jobs.join(timeout_s=30)  # type: ignore[attr-defined]
                await consumer.refresh_risk_now()
            finally:
                ingest.stop()
                consumer.stop()
                await asyncio.gather(*tasks)
                await ingest.aclose()

            # The whales' fills went out on the smart_activity stream (the API's WS topic).
            await deps.bus.ensure_group("smart_activity", "check")
            fills = await deps.bus.consume("smart_activity", "check", "t", block_ms=0, count=1000)
            fill_wallets = {orjson.loads(m.payload)["wallet"] for m in fills}
            moon, rug, trap, calm = (gen.tokens[t].mint for t in ("MOON", "RUG", "TRAP", "CALM"))
            async with deps.sessions() as s:
                moon_signals = await signal_repo.list_signals(s, mint=moon, limit=100)
                trap_signals = await signal_repo.list_signals(s, mint=trap, limit=100)
                rug_report = await signal_repo.get_risk_report(s, mint=rug)
                trap_report = await signal_repo.get_risk_report(s, mint=trap)

    # The burst: a signal whose explanation names the tracked wallets and their SOL.
    burst = [x for x in moon_signals if any(r["name"] == "smart_buy_burst" for r in x.rules)]
    assert burst, (
        f"no smart_buy_burst signal among {[r['name'] for x in moon_signals for r in x.rules]}"
    )
    first = min(burst, key=lambda x: x.ts)
    named = first.inputs["smart_burst"]["wallets"]
    assert len(named) >= 3 and all(w["address"] in whales for w in named)
    assert all(w["alias"].startswith("whale") for w in named)
    assert all(w["lamports"] > 0 and isinstance(w["lamports"], int) for w in named)
    assert first.inputs["smart_burst"]["smart_buy_lamports"] == sum(w["lamports"] for w in named)

    assert len(fill_wallets) >= 3 and fill_wallets <= set(whales)

    # The honeypot: critical (freeze authority, frozen buyers), never a buyable signal.
    assert trap_report is not None and trap_report.level == "critical"
    assert "freeze_authority" in trap_report.badges
    assert all(x.risk.get("level") in ("critical", "unknown", None) for x in trap_signals)

    # The rug: the dev sold, and the verdict says so.
    assert rug_report is not None and "dev_selling" in rug_report.badges

    # Organic flow without smart money scores below the burst.
    calm_eval = consumer.scorer.evaluate(calm)
    calm_best = max([calm_eval.strength if calm_eval else 0.0])
    assert calm_best < first.strength
