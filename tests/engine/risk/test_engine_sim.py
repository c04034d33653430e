"""The risk engine against the simulator: the honeypot and the rug are called what they are."""

from __future__ import annotations

import pytest
from solders.pubkey import Pubkey

from engine.chain.rpc import RpcClient
from engine.clock import FixedClock
from engine.risk.checks import NotReadable, RiskSubject
from engine.risk.engine import RiskEngine
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.sim.tx import SimTx


def mint_of(sim: SimServer, token_id: str) -> str:
    return sim.generator.tokens[token_id].mint


async def emit_until_time(sim: SimServer, t_ms: int) -> list[SimTx]:
    out: list[SimTx] = []
    while True:
        batch = await sim.emit(50)
        out.extend(batch)
        if not batch or batch[-1].t_ms >= t_ms:
            return out


@pytest.fixture
async def sim() -> SimServer:  # type: ignore[misc]
    async with SimServer(load_scenario("demo"), seed=42, autostart=False) as server:
        yield server


async def test_honeypot_with_frozen_buyers_is_critical_and_untradeable(sim: SimServer) -> None:
    await emit_until_time(sim, 60_000)
    async with RpcClient(sim.http_url) as rpc:
        engine = RiskEngine(rpc, FixedClock(1))
        v = await engine.assess(RiskSubject(mint=mint_of(sim, "TRAP")))
    assert v.level == "critical" and v.blocks_buy
    assert {"freeze_authority", "untradeable"} <= set(v.badges)
    assert v.view.sellable is False


async def test_token_2022_fee_coin_reads_its_transfer_fee(sim: SimServer) -> None:
    await emit_until_time(sim, 70_000)
    async with RpcClient(sim.http_url) as rpc:
        v = await RiskEngine(rpc, FixedClock(1)).assess(RiskSubject(mint=mint_of(sim, "FEE")))
    assert v.view.transfer_fee_bps == 300
    assert v.view.freeze_authority is None and v.view.mint_authority is None
    assert "freeze_authority" not in v.badges


async def test_curve_token_sells_in_simulation_and_is_not_flagged(sim: SimServer) -> None:
    await emit_until_time(sim, 50_000)
    calm = mint_of(sim, "CALM")
    async with RpcClient(sim.http_url) as rpc:
        v = await RiskEngine(rpc, FixedClock(1)).assess(RiskSubject(mint=calm))
    assert "mint" in v.view.known and "holders" in v.view.known
    assert v.view.freeze_authority is None
    assert v.level in ("low", "medium"), v.badges
    assert "untradeable" not in v.badges


async def test_mint_not_yet_visible_raises_then_fails_closed(sim: SimServer) -> None:
    missing = str(Pubkey.new_unique())  # a mint the chain has never seen
    async with RpcClient(sim.http_url) as rpc:
        engine = RiskEngine(rpc, FixedClock(1))
        with pytest.raises(NotReadable):
            await engine.assess(RiskSubject(mint=missing))
        v = await engine.assess(RiskSubject(mint=missing), fail_closed=True)
    assert v.level == "unknown" and v.risk_score < 3.0


async def test_risk_job_stores_the_verdict_and_fails_closed_on_unreadable_mint(
    sim: SimServer,
    isolated_env,
    tmp_sqlite: str,  # type: ignore[no-untyped-def]
) -> None:
    from engine.settings import RpcProvider, load_settings
    from engine.storage.repos import signals as signal_repo
    from workers.jobs.registry import RISK_MAX_TRIES, default_registry
    from workers.migrate import upgrade_async
    from workers.runtime import open_deps

    await emit_until_time(sim, 60_000)
    await upgrade_async(tmp_sqlite)
    settings = load_settings(
        database_url=tmp_sqlite,
        rpc_providers=[RpcProvider(name="sim", http_url=sim.http_url, ws_url=sim.ws_url)],
    )
    trap, ghost = mint_of(sim, "TRAP"), str(Pubkey.new_unique())
    async with open_deps(settings, default_registry()) as deps:
        await deps.jobs.enqueue("risk_check", job_id=f"risk:{trap}", mint=trap)
        await deps.jobs.enqueue("risk_check", job_id=f"risk:{ghost}", mint=ghost)
        done = await deps.jobs.result(f"risk:{trap}", timeout_s=20)
        unreadable = await deps.jobs.result(f"risk:{ghost}", timeout_s=20)
        async with deps.sessions() as s:
            stored = await signal_repo.get_risk_report(s, mint=trap)
            ghost_report = await signal_repo.get_risk_report(s, mint=ghost)
    assert done.success and done.result["level"] == "critical"
    assert stored is not None and "untradeable" in stored.badges
    # Bounded retries, then a verdict that fails closed rather than an error.
    assert unreadable.success and unreadable.tries == RISK_MAX_TRIES
    assert unreadable.result["level"] == "unknown"
    assert ghost_report is not None and ghost_report.level == "unknown"
