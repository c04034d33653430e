"""The local Bot API server: the protocol python-telegram-bot speaks, recorded, flood-limited."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import httpx
import pytest
from telegram import Bot
from telegram.error import BadRequest, Forbidden, RetryAfter

from bot.limits import TELEGRAM_LIMITS
from bot.local_botapi import LocalBotApi
from engine.net.loopback import LoopbackServer

TOKEN = "123:ABC"


class Clock:
    def __init__(self) -> None:
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


_HTTP: dict[int, httpx.AsyncClient] = {}


async def post(api: LocalBotApi, method: str, *, token: str = TOKEN, **kw: Any) -> httpx.Response:
    """One request; the connection is reused per server (a new one costs ~30 ms)."""
    http = _HTTP.get(id(api))
    if http is None or http.is_closed:
        http = _HTTP[id(api)] = httpx.AsyncClient()
    return await http.post(f"{api.base_url}{token}/{method}", **kw)


@pytest.fixture(autouse=True)
async def close_clients() -> Any:
    yield
    for http in _HTTP.values():
        await http.aclose()
    _HTTP.clear()


async def test_answers_like_telegram_and_records_every_call() -> None:
    async with LocalBotApi(token=TOKEN) as api:
        me = (await post(api, "getMe")).json()
        assert me["ok"] and me["result"]["is_bot"] and me["result"]["username"] == api.bot_username
        bad = await post(api, "getMe", token="999:WRONG")
        assert bad.status_code == 401 and bad.json() == {
            "ok": False,
            "error_code": 401,
            "description": "Unauthorized",
        }
        missing = await post(api, "fooBar")
        assert missing.status_code == 404 and missing.json()["error_code"] == 404
        form = await post(api, "sendMessage", data={"chat_id": "5", "text": "hi"})
        as_json = await post(api, "sendMessage", json={"chat_id": 6, "text": "hi"})
        assert form.json()["result"]["chat"]["id"] == 5
        assert as_json.json()["result"]["chat"]["id"] == 6
        assert [c.method for c in api.calls] == [
            "getMe",
            "getMe",
            "fooBar",
            "sendMessage",
            "sendMessage",
        ]


async def test_python_telegram_bot_talks_to_it_through_base_url() -> None:
    async with LocalBotApi(token=TOKEN, enforce_limits=False) as api:
        async with Bot(TOKEN, base_url=api.base_url) as bot:
            assert bot.username == api.bot_username
            msg = await bot.send_message(1, "<b>bold</b> &amp; text", parse_mode="HTML")
            edited = await bot.edit_message_text("new", chat_id=1, message_id=msg.message_id)
            assert edited.text == "new"  # type: ignore[union-attr]
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                await bot.send_message(1, "<b>open", parse_mode="HTML")
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                await bot.send_message(1, "<blink>x</blink>", parse_mode="HTML")
            with pytest.raises(BadRequest, match=r"(?i)can't parse entities"):
                await bot.send_message(1, "a & b", parse_mode="HTML")
            with pytest.raises(BadRequest, match=r"(?i)message is too long"):
                await bot.send_message(1, "x" * 4097)
            api.blocked.add(2)
            with pytest.raises(Forbidden, match=r"(?i)blocked"):
                await bot.send_message(2, "hi")
        sent = api.calls_to("sendMessage")[0].params
        assert sent["parse_mode"] == "HTML" and sent["text"] == "<b>bold</b> &amp; text"


async def test_keyboards_are_checked() -> None:
    async with LocalBotApi(enforce_limits=False) as api:
        api.add_chat(-10, "supergroup", title="g")
        long_data = {"inline_keyboard": [[{"text": "x", "callback_data": "d" * 65}]]}
        r = await post(
            api,
            "sendMessage",
            data={"chat_id": "1", "text": "t", "reply_markup": json.dumps(long_data)},
        )
        assert r.json()["description"] == "Bad Request: BUTTON_DATA_INVALID"
        web_app = {"inline_keyboard": [[{"text": "x", "web_app": {"url": "https://a.example"}}]]}
        r = await post(
            api,
            "sendMessage",
            data={"chat_id": "-10", "text": "t", "reply_markup": json.dumps(web_app)},
        )
        assert r.json()["description"] == "Bad Request: BUTTON_TYPE_INVALID"
        r = await post(
            api,
            "sendMessage",
            data={"chat_id": "1", "text": "t", "reply_markup": json.dumps(web_app)},
        )
        assert r.json()["ok"]


async def test_flood_limits_answer_429_with_retry_after() -> None:
    clock = Clock()
    async with LocalBotApi(now=clock) as api:
        first = await post(api, "sendMessage", data={"chat_id": "1", "text": "a"})
        second = await post(api, "sendMessage", data={"chat_id": "1", "text": "b"})
        assert first.json()["ok"]
        assert second.status_code == 429
        assert second.json() == {
            "ok": False,
            "error_code": 429,
            "description": "Too Many Requests: retry after 1",
            "parameters": {"retry_after": 1},
        }
        clock.t += 1.0
        assert (await post(api, "sendMessage", data={"chat_id": "1", "text": "c"})).json()["ok"]
        # A group: 20 per minute.
        for _ in range(20):
            clock.t += 1.0
            assert (await post(api, "sendMessage", data={"chat_id": "-5", "text": "g"})).json()[
                "ok"
            ]
        clock.t += 1.0
        refused = (await post(api, "sendMessage", data={"chat_id": "-5", "text": "g"})).json()
        assert refused["error_code"] == 429 and refused["parameters"]["retry_after"] == 40
        # Overall: 30 per second.
        clock.t += 100.0
        results = [
            (
                await post(api, "sendMessage", data={"chat_id": str(100 + i), "text": "o"})
            ).status_code
            for i in range(31)
        ]
        assert results.count(200) == 30 and results[-1] == 429
    assert len(api.rejected_429) == 3
    with pytest.raises(AssertionError):
        assert api.limits is not TELEGRAM_LIMITS


async def test_retry_after_reaches_python_telegram_bot(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PTB_TIMEDELTA", "true")
    clock = Clock()
    async with LocalBotApi(token=TOKEN, now=clock) as api:
        async with Bot(TOKEN, base_url=api.base_url) as bot:
            await bot.send_message(1, "a")
            with pytest.raises(RetryAfter) as info:
                await bot.send_message(1, "b")
    assert info.value.retry_after.total_seconds() == 1  # type: ignore[union-attr]


async def test_get_updates_long_polls_and_forgets_confirmed_updates() -> None:
    async with LocalBotApi() as api:
        api.push_update({"message": {"message_id": 1}})
        first = (await post(api, "getUpdates", data={"timeout": "0"})).json()["result"]
        assert [u["update_id"] for u in first] == [1]
        waiting = asyncio.create_task(post(api, "getUpdates", data={"offset": "2", "timeout": "5"}))
        await asyncio.sleep(0.05)
        api.push_update({"message": {"message_id": 2}})
        second = (await waiting).json()["result"]
        assert [u["update_id"] for u in second] == [2]
        third = (await post(api, "getUpdates", data={"offset": "3", "timeout": "0"})).json()
        assert third["result"] == []


async def test_webhook_delivery_posts_updates_with_the_secret() -> None:
    received: list[tuple[dict[str, Any], str | None]] = []

    async def hook(scope: Any, receive: Any, send: Any) -> None:
        body = (await receive())["body"]
        headers = dict(scope["headers"])
        received.append(
            (json.loads(body), headers.get(b"x-telegram-bot-api-secret-token", b"").decode())
        )
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b""})

    receiver = LoopbackServer(hook, name="webhook receiver", interface="asgi3")
    await receiver.start()
    try:
        async with LocalBotApi() as api:
            url = f"{receiver.url}/hook"
            ok = await post(api, "setWebhook", data={"url": url, "secret_token": "s3"})
            assert ok.json()["ok"]
            api.push_update({"message": {"message_id": 1}})
            assert await api.deliver_webhook() == [200]
    finally:
        await receiver.stop()
    assert received == [({"message": {"message_id": 1}, "update_id": 1}, "s3")]
