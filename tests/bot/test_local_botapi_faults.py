"""The local Bot API server's fault injection: 429 storms, 5xx outages, slow answers."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from bot.local_botapi import LocalBotApi

TOKEN = "123:ABC"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


async def send(http: httpx.AsyncClient, api: LocalBotApi, chat: int, text: str) -> Any:
    resp = await http.post(
        f"{api.base_url}{TOKEN}/sendMessage", data={"chat_id": str(chat), "text": text}
    )
    return resp.status_code, resp.json()


async def test_a_429_storm_refuses_every_send_for_its_window_and_delivers_nothing() -> None:
    clock = Clock()
    async with LocalBotApi(now=clock, enforce_limits=False) as api, httpx.AsyncClient() as http:
        api.fail_for(5.0, code=429, retry_after=3)
        for chat in (1, 2, -7):
            status, body = await send(http, api, chat, "storm")
            assert status == 429
            assert body == {
                "ok": False,
                "error_code": 429,
                "description": "Too Many Requests: retry after 3",
                "parameters": {"retry_after": 3},
            }
        clock.t += 4.9
        assert (await send(http, api, 1, "still"))[0] == 429
        clock.t += 0.2  # the window is over
        assert (await send(http, api, 1, "after"))[1]["ok"]
    assert [m["text"] for m in api.sent()] == ["after"]
    assert len(api.rejected_429) == 4


async def test_5xx_for_the_next_sends_or_a_window_then_normal_service() -> None:
    clock = Clock()
    async with LocalBotApi(now=clock, enforce_limits=False) as api, httpx.AsyncClient() as http:
        api.fail_next(2, code=500)
        api.fail_next(1, chat_id=9, code=502, after=1)  # chat 9: its second send fails
        api.fail_for(1.0, chat_id=8, code=503)
        results = [await send(http, api, c, f"m{c}") for c in (9, 9, 9, 8, 8)]
        assert [(s, b.get("description")) for s, b in results] == [
            (500, "Internal Server Error"),  # chat 9's queue lets one by; the global one not
            (502, "Bad Gateway"),
            (500, "Internal Server Error"),
            (503, "Service Unavailable"),
            (503, "Service Unavailable"),
        ]
        assert (await send(http, api, 9, "ok9"))[1]["ok"]
        clock.t += 1.5
        assert (await send(http, api, 8, "ok8"))[1]["ok"]
        api.fail_for(60.0, code=500)
        api.clear_faults()
        assert (await send(http, api, 7, "ok7"))[1]["ok"]
    assert [m["text"] for m in api.sent()] == ["ok9", "ok8", "ok7"]


async def test_a_slow_answer_is_stored_before_it_is_answered() -> None:
    async with LocalBotApi(enforce_limits=False) as api, httpx.AsyncClient() as http:
        api.latency_s = 0.3
        task = asyncio.create_task(send(http, api, 5, "slow"))
        async with asyncio.timeout(5):
            while api.in_flight == 0:
                await asyncio.sleep(0.01)
        # Delivered already, not answered yet: a client dying now has still posted it.
        assert [m["text"] for m in api.sent(5)] == ["slow"]
        (call,) = api.calls_to("sendMessage")
        assert call.answered_at is None
        status, _ = await task
        assert status == 200 and api.in_flight == 0
        assert call.answered_at is not None and call.answered_at - call.at >= 0.3
