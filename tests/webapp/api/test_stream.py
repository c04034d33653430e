"""WS /stream: published signals reach subscribers, trades reach only their owner, bad requests
are refused with a reason, and a slow client loses messages instead of blocking others."""

from __future__ import annotations

import asyncio
import json
from typing import Any
from urllib.parse import quote

import orjson
from websockets.asyncio.client import ClientConnection, connect

from tests.webapp.api.conftest import Api, serve, tma
from webapp.stream import MAX_DROPPED, QUEUE_SIZE, StreamHub


async def _next(ws: ClientConnection) -> dict[str, Any]:
    async with asyncio.timeout(5):
        return dict(json.loads(await ws.recv()))


async def test_signals_and_own_trades_are_pushed(api: Api) -> None:
    alice = (await api.client.get("/me", headers=tma(70))).json()["id"]
    bob = (await api.client.get("/me", headers=tma(71))).json()["id"]
    async with serve(api.app) as host:
        anon = await connect(f"ws://{host}/stream?topics=signals,smart_activity")
        auth = quote(tma(70)["Authorization"])
        mine = await connect(f"ws://{host}/stream?topics=trades&auth={auth}")
        try:
            assert (await _next(anon))["data"]["topics"] == ["signals", "smart_activity"]
            assert (await _next(mine))["type"] == "hello"
            signal = {
                "id": 99,
                "mint": "M1nt",
                "ts": 5,
                "strength": 2.1,
                "components": {"momentum": 1.0},
                "inputs": {"big": "x" * 100},
                "rules": [{"name": "push_time", "role": "trigger", "passed": True, "checks": []}],
                "risk": {"level": "low"},
                "explanation": "why",
            }
            await api.deps.bus.publish("signals", "M1nt", orjson.dumps(signal))
            event = await _next(anon)
            assert event["type"] == "event" and event["topic"] == "signals"
            assert event["data"]["id"] == 99 and event["data"]["strength"] == 2.1
            assert (
                "inputs" not in event["data"] and event["data"]["rules"][0]["name"] == "push_time"
            )
            for owner in (bob, alice):
                trade = {"id": owner * 10, "user_id": owner, "status": "confirmed"}
                await api.deps.bus.publish("trades", str(owner), orjson.dumps(trade))
            got = await _next(mine)
            assert got["topic"] == "trades" and got["data"]["user_id"] == alice
        finally:
            await anon.close()
            await mine.close()


async def test_refusals_say_why(api: Api) -> None:
    async with serve(api.app) as host:
        for path, code in (
            ("/stream?topics=gossip", "bad_topics"),
            ("/stream?topics=trades", "auth_required"),
            ("/stream?topics=signals&auth=tma%20x%3D1", "missing_hash"),
        ):
            async with connect(f"ws://{host}{path}") as ws:
                frame = await _next(ws)
                assert frame["type"] == "error" and frame["error"]["code"] == code
                async with asyncio.timeout(5):
                    await ws.wait_closed()
                assert ws.close_code == 1008


async def test_a_slow_client_loses_messages_not_the_others(api: Api) -> None:
    hub = StreamHub(api.deps)
    slow = hub.subscribe(frozenset({"signals"}), None)
    fast = hub.subscribe(frozenset({"signals"}), None)
    for i in range(QUEUE_SIZE + 10):
        hub.dispatch("signals", str(i), {"n": i})
        fast.queue.get_nowait()  # the fast client keeps up
    assert slow.queue.qsize() == QUEUE_SIZE and slow.dropped == 10
    assert fast.dropped == 0 and not slow.overflow.is_set()
    for i in range(MAX_DROPPED):
        hub.dispatch("signals", str(i), {"n": i})
        fast.queue.get_nowait()
    assert slow.overflow.is_set()  # its connection is closed with 1013
    hub.unsubscribe(slow)
    hub.dispatch("signals", "x", {})
    assert fast.queue.get_nowait() == ("signals", "x", {}) and fast.dropped == 0
