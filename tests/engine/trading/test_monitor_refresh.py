"""The scorer's monitor picks up groups attached elsewhere without reloading every open one."""

from __future__ import annotations

from engine.trading.attach import attach_exit_plan
from engine.trading.monitor import PriceMonitor
from tests.engine.trading.conftest import MINT, Rig


async def _attach(rig: Rig, key: str) -> None:
    async with rig.db.sessions.begin() as session:
        await attach_exit_plan(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan={"stop_loss": {"loss_bps": 3000}},
            entry=rig.market.price,
            position=10**12,
            key=key,
            now_ms=rig.clock.now_ms(),
        )


async def test_load_new_adds_only_groups_opened_since_the_last_load(rig: Rig) -> None:
    monitor = PriceMonitor(rig.db.sessions, rig.clock)
    await _attach(rig, "bracket:first")
    assert await monitor.load() == 1
    [first] = monitor.machines(MINT)
    assert await monitor.load_new() == 0  # nothing new: the known group is not reloaded
    await _attach(rig, "bracket:second")
    await _attach(rig, "bracket:third")
    assert await monitor.load_new() == 2
    groups = monitor.machines(MINT)
    assert len(groups) == 3
    assert first in groups  # the same object: its in-memory state was kept
    assert await monitor.load_new() == 0
