"""Ingest against the simulator over real sockets: drops, gaps and failover lose nothing."""

from __future__ import annotations

import asyncio
import contextlib
from collections import Counter
from collections.abc import AsyncIterator, Iterable

import pytest

from engine.bus.memory import MemoryBus
from engine.clock import SystemClock
from engine.events import ChainEvent
from engine.settings import RpcProvider
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.sim.tx import SimTx
from tests.support.proxy import TcpProxy
from workers.ingest import IngestSupervisor, needs_transaction

pytestmark = pytest.mark.timeout(60)


def provider(name: str, http_url: str, ws_url: str) -> RpcProvider:
    return RpcProvider(name=name, http_url=http_url, ws_url=ws_url, requests_per_s=2000)


def supervisor(
    providers: list[RpcProvider], bus: MemoryBus, *, reconcile_s: float = 60
) -> IngestSupervisor:
    return IngestSupervisor(
        providers,
        bus,
        clock=SystemClock(),
        reconcile_interval_s=reconcile_s,
        reconcile_grace_slots=0,
        stall_timeout_s=30,
        health_interval_s=0.2,
        backoff_base_s=0.05,
        backoff_max_s=0.5,
    )


class Collector:
    """Reads the bus like the scorer will, and counts every event it sees."""

    def __init__(self, bus: MemoryBus) -> None:
        self.bus = bus
        self.seen: Counter[tuple[str, int]] = Counter()
        self.events: dict[tuple[str, int], ChainEvent] = {}

    async def drain(self) -> None:
        while True:
            got = await self.bus.consume("events", "check", "c", block_ms=0, count=1000)
            if not got:
                return
            for m in got:
                e = ChainEvent.from_json(m.payload)
                self.seen[e.key] += 1
                self.events[e.key] = e
            await self.bus.ack("check", got)

    def contents(self) -> Counter[tuple[object, ...]]:
        return Counter(content(e) for e in self.events.values())

    async def wait_for(self, want: Counter[tuple[object, ...]], timeout: float = 20) -> None:
        async with asyncio.timeout(timeout):
            while want - self.contents():
                await asyncio.sleep(0.05)
                await self.drain()
        await asyncio.sleep(0.3)  # anything doubled would arrive now
        await self.drain()


def content(e: ChainEvent) -> tuple[object, ...]:
    """What an event is and moves (not its receipt-dependent ts or its position number)."""
    return (e.signature, e.kind, e.venue, e.mint, e.trader, e.side, e.sol_lamports, e.token_amount)


def intended(txs: Iterable[SimTx]) -> Counter[tuple[object, ...]]:
    return Counter(content(e) for tx in txs for e in tx.intended)


async def reconnected(sup: IngestSupervisor, *, times: int) -> None:
    async with asyncio.timeout(10):
        while sup.counters.reconnects < times or not sup.connected.is_set():
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def running(sup: IngestSupervisor) -> AsyncIterator[asyncio.Task[None]]:
    task = asyncio.create_task(sup.run())
    try:
        yield task
    finally:
        sup.stop()
        await asyncio.wait_for(task, 10)
        await sup.aclose()


async def test_websocket_killed_mid_burst_loses_and_doubles_nothing() -> None:
    async with SimServer(load_scenario("burst"), seed=11, autostart=False) as sim:
        bus = MemoryBus(4)
        await bus.ensure_group("events", "check")
        col = Collector(bus)
        sup = supervisor([provider("sim", sim.http_url, sim.ws_url)], bus)
        async with running(sup):
            await asyncio.wait_for(sup.connected.wait(), 10)
            before = await sim.emit(40)
            await col.wait_for(intended(before))
            # Mid-burst: the connection is cut and the burst goes on while ingest is away.
            assert await sim.drop_ws_connections() == 1
            during = await sim.emit(80)
            await reconnected(sup, times=1)
            await col.wait_for(intended(during))
            # Five transactions are never pushed at all: only a backfill can find them, and the
            # next break of the feed (here a second cut) triggers it.
            sim.drop_next_ws(5)
            after = await sim.emit(40)
            assert await sim.drop_ws_connections() == 1
            await reconnected(sup, times=2)
            tail = await sim.emit(10)
            expected = intended([*before, *during, *after, *tail])
            await col.wait_for(expected)
    # Every intended event arrived, with exactly its amounts, and nothing else did.
    assert col.contents() == expected
    assert max(col.seen.values()) == 1, "an event reached the bus twice"
    assert sup.counters.reconnects >= 2
    assert sup.counters.backfilled > 0


async def test_silently_skipped_notifications_are_found_without_a_reconnect() -> None:
    async with SimServer(load_scenario("burst"), seed=2, autostart=False) as sim:
        bus = MemoryBus(2)
        await bus.ensure_group("events", "check")
        col = Collector(bus)
        sup = supervisor([provider("sim", sim.http_url, sim.ws_url)], bus, reconcile_s=0.3)
        async with running(sup):
            await asyncio.wait_for(sup.connected.wait(), 10)
            first = await sim.emit(20)
            await col.wait_for(intended(first))
            sim.drop_next_ws(7)
            rest = await sim.emit(30)
            expected = intended([*first, *rest])
            await col.wait_for(expected)
    assert col.contents() == expected
    assert sup.counters.reconnects == 0
    assert sup.counters.backfilled == 7


async def test_failover_to_second_provider_and_back_to_the_first() -> None:
    async with SimServer(load_scenario("burst"), seed=5, autostart=False) as sim:
        http_proxy, ws_proxy = TcpProxy(sim.http_port), TcpProxy(sim.ws_port)
        primary = provider(
            "primary", f"http://127.0.0.1:{http_proxy.port}", f"ws://127.0.0.1:{ws_proxy.port}"
        )
        backup = provider("backup", sim.http_url, sim.ws_url)
        bus = MemoryBus(4)
        await bus.ensure_group("events", "check")
        col = Collector(bus)
        sup = supervisor([primary, backup], bus)
        # The primary is down from the start: ingestion must begin on the backup within seconds.
        async with running(sup):
            await asyncio.wait_for(sup.connected.wait(), 5)
            assert sup.counters.provider == "backup"
            first = await sim.emit(30)
            await col.wait_for(intended(first))
            # The primary comes back: the health probe moves ingestion to it.
            await http_proxy.up()
            await ws_proxy.up()
            async with asyncio.timeout(10):
                while sup.counters.provider != "primary" or not sup.connected.is_set():
                    await asyncio.sleep(0.05)
            second = await sim.emit(30)
            await col.wait_for(intended(second))
            # And goes away again mid-stream: back to the backup, nothing lost.
            await ws_proxy.down()
            await http_proxy.down()
            third = await sim.emit(30)
            expected = intended([*first, *second, *third])
            await col.wait_for(expected)
            assert sup.counters.provider == "backup"
    assert col.contents() == expected
    assert max(col.seen.values()) == 1
    assert sup.counters.failovers >= 2


def test_logs_alone_suffice_only_for_plain_pump_transactions() -> None:
    pump = "6EF8rrecthR5Dkzon8Nwu78hRvfCKubJ14M5uBEwF6P"
    budget = "ComputeBudget111111111111111111111111111111"
    jup = "JUP6LkbZbjS1jKKwapdHNy74zcZ3tLUZoi5QUvGbbn6a"
    plain = [f"Program {budget} invoke [1]", f"Program {pump} invoke [1]", "Program data: x"]
    routed = [f"Program {jup} invoke [1]", f"Program {pump} invoke [2]"]
    assert not needs_transaction(plain)
    assert needs_transaction(routed)
