"""Helpers shared by the simulator and RPC client tests: a running simulator on ephemeral ports."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import AsyncIterator
from typing import Any

from engine.sim.generator import Generator
from engine.sim.scenario import Scenario, load_scenario
from engine.sim.server import SimServer
from engine.sim.tx import SimTx


@functools.cache
def demo() -> Scenario:
    """The shipped demo scenario (parsed once)."""
    return load_scenario("demo")


@functools.cache
def demo_txs(seed: int = 7) -> tuple[SimTx, ...]:
    """Every transaction of the demo scenario for ``seed`` (generated once per seed)."""
    return tuple(Generator(demo(), seed))


@contextlib.asynccontextmanager
async def running_sim(**kwargs: Any) -> AsyncIterator[SimServer]:
    """A simulator on 127.0.0.1 ephemeral ports; stepped by the test unless autostart=True."""
    kwargs.setdefault("seed", 7)
    kwargs.setdefault("autostart", False)
    sim = SimServer(kwargs.pop("scenario", demo()), **kwargs)
    await sim.start()
    try:
        yield sim
    finally:
        await sim.stop()
