"""The PubSub client against the simulator over real sockets: subscriptions deliver, and every
way a feed breaks (drop, server gone, stall, garbage) surfaces as a WsError or is skipped."""

from __future__ import annotations

import asyncio
import socket
import time

import pytest

from engine.chain import programs as P
from engine.chain.ws import (
    LogsNotification,
    Notification,
    SlotNotification,
    WsClient,
    WsConnectError,
    WsDisconnected,
    WsStalled,
)
from tests.engine.sim.support import running_sim


async def _next_logs(ws: WsClient) -> LogsNotification:
    while True:
        note = await ws.recv()
        if isinstance(note, LogsNotification):
            return note


async def test_logs_and_slot_subscriptions_deliver() -> None:
    async with running_sim() as sim, WsClient(sim.ws_url) as ws:
        logs_sub = await ws.logs_subscribe(P.PUMP_PROGRAM)
        slot_sub = await ws.slot_subscribe()
        emitted = await sim.emit(3)
        seen: list[Notification] = []
        async with asyncio.timeout(5):
            while sum(isinstance(n, LogsNotification) for n in seen) < 3:
                seen.append(await ws.recv())
        logs = [n for n in seen if isinstance(n, LogsNotification)]
        assert [n.signature for n in logs] == [t.signature for t in emitted]
        assert all(n.subscription == logs_sub for n in logs)
        assert logs[0].logs == list(emitted[0].logs) and logs[0].slot == emitted[0].slot
        slots = [n for n in seen if isinstance(n, SlotNotification)]
        assert slots and all(n.subscription == slot_sub and n.parent == n.slot - 1 for n in slots)
        assert ws.subscriptions == {logs_sub: "logsUnsubscribe", slot_sub: "slotUnsubscribe"}


async def test_mentions_filter_and_unsubscribe() -> None:
    async with running_sim() as sim, WsClient(sim.ws_url) as ws:
        sub = await ws.logs_subscribe(P.PUMPSWAP_PROGRAM)
        tx = await sim.emit_until(lambda t: P.PUMPSWAP_PROGRAM in t.account_keys)
        note = await _next_logs(ws)
        assert note.signature == tx.signature  # pump.fun-only transactions were not delivered
        assert await ws.unsubscribe(sub) is True
        await sim.emit_until(lambda t: P.PUMPSWAP_PROGRAM in t.account_keys)
        with pytest.raises(WsStalled):
            ws.idle_timeout_s = 0.2
            await ws.recv()


async def test_dropped_connection_raises_disconnected() -> None:
    async with running_sim() as sim, WsClient(sim.ws_url) as ws:
        await ws.logs_subscribe(P.PUMP_PROGRAM)
        assert await sim.drop_ws_connections() == 1
        with pytest.raises(WsDisconnected):
            async with asyncio.timeout(5):
                await ws.recv()
        assert not ws.connected and ws.subscriptions == {}


async def test_server_going_away_raises_disconnected() -> None:
    async with running_sim() as sim, WsClient(sim.ws_url) as ws:
        await ws.slot_subscribe()
        await sim.stop()
        with pytest.raises(WsDisconnected) as gone:
            async with asyncio.timeout(5):
                while True:
                    await ws.recv()
        assert gone.value.code == 1001  # going away


async def test_stall_without_close_raises_stalled() -> None:
    async with running_sim() as sim, WsClient(sim.ws_url, idle_timeout_s=0.3) as ws:
        await ws.logs_subscribe(P.PUMP_PROGRAM)
        sim.stall_ws()
        await sim.emit(5)
        started = time.monotonic()
        with pytest.raises(WsStalled):
            await ws.recv()
        assert time.monotonic() - started >= 0.3


async def test_malformed_frames_are_counted_and_skipped() -> None:
    async with running_sim() as sim, WsClient(sim.ws_url) as ws:
        await ws.logs_subscribe(P.PUMP_PROGRAM)
        sim.send_malformed_ws(5)
        [tx] = await sim.emit(1)
        note = await _next_logs(ws)
        assert note.signature == tx.signature
        assert ws.malformed_frames == 5


async def test_lag_delays_delivery() -> None:
    async with running_sim() as sim, WsClient(sim.ws_url) as ws:
        await ws.logs_subscribe(P.PUMP_PROGRAM)
        sim.lag_ws(150)
        [tx] = await sim.emit(1)
        note = await _next_logs(ws)
        assert tx.emitted_ns is not None
        assert (note.received_ns - tx.emitted_ns) / 1e6 >= 150


async def test_connect_refused() -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(WsConnectError):
        await WsClient(f"ws://127.0.0.1:{port}", open_timeout_s=2).connect()


async def test_not_connected_is_an_error() -> None:
    ws = WsClient("ws://127.0.0.1:9")
    with pytest.raises(WsDisconnected, match="not connected"):
        await ws.recv()
