"""Every command through python-telegram-bot: real Updates built from captured payloads, processed
by the Application, answered over HTTP to the local Bot API server (which parses our HTML)."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import httpx
import pytest

from bot.commands import COMMANDS
from bot.local_botapi import LocalBotApi
from bot.telegram_adapter import build_application, publish_commands
from bot.telegram_webhook import set_webhook, webhook_app, webhook_secret
from bot.text import TELEGRAM_TEXT_LIMIT, telegram_html_text, utf16_len
from engine.deps import Deps
from engine.services import watchlist
from tests.bot.conftest import (
    FORUM,
    GROUP,
    PUBLIC_URL,
    TOKEN,
    USER_ID,
    Telegram,
    button_update,
    command_update,
    load_update,
)
from tests.bot.seed import MINT, SOL, WHALE, add_risk, add_signal, add_token, address

COMMAND_CASES: dict[str, tuple[str, str]] = {
    "start": ("/start", "Disclaimer"),
    "help": ("/help", "/watch <address> [alias] [tags]"),
    "lang": ("/lang fr", "Je répondrai en Français."),
    "signal": ("/signal BONK2", "Strength 2.20/3"),
    "explain": ("/explain BONK2", "three tracked wallets bought"),
    "buy": (f"/buy {MINT} 0.5", "Buy for 0.5 SOL"),
    "sell": (f"/sell {MINT} 50", "Sell 50% of your holding"),
    "watch": (f"/watch {WHALE} whale kol", "Watching whale"),
    "unwatch": (f"/unwatch {WHALE}", "is not on your watchlist"),
    "list": ("/list", "You watch no wallets yet"),
    "alerts": ("/alerts on", "Signals: on"),
    "rules": ("/rules disable momentum", "Rule momentum disabled."),
    "publish": (f"/publish {MINT}", "link your channel first"),
    "kol": ("/kol", "No KOL channels yet"),
    "follow": ("/follow @kolchan", "no KOL channel"),
    "unfollow": ("/unfollow @kolchan", "no KOL channel"),
    "positions": ("/positions", "No open positions."),
}


def visible(text: str) -> str:
    return telegram_html_text(text)


async def seeded(deps: Deps) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 11)


def test_every_command_of_the_table_has_a_telegram_case() -> None:
    assert set(COMMAND_CASES) == {c.name for c in COMMANDS}


@pytest.mark.parametrize("name", sorted(COMMAND_CASES))
async def test_each_command_through_the_application(
    telegram: Telegram, deps: Deps, name: str
) -> None:
    await seeded(deps)
    telegram.api.add_chat(-100777, "channel", title="KOL Chan", username="kolchan")
    command, expected = COMMAND_CASES[name]
    await telegram.feed(command_update(command))
    replies = telegram.api.sent(USER_ID)
    assert replies, f"no reply to {command}"
    assert expected in visible(replies[-1]["text"])
    assert all(c.ok for c in telegram.api.calls), [c.description for c in telegram.api.calls]
    assert replies[-1]["chat"]["type"] == "private"


async def test_captured_start_with_a_deep_link_payload_is_answered(telegram: Telegram) -> None:
    await telegram.feed(load_update("captured_message_start_with_deeplink_payload.json"))
    (reply,) = telegram.api.sent(996202131)
    assert "Disclaimer" in visible(reply["text"])
    sent = telegram.api.calls_to("sendMessage")[0].params
    assert sent["parse_mode"] == "HTML" and sent["link_preview_options"]["is_disabled"]


async def test_buy_is_a_web_app_button_in_private_and_a_startapp_link_in_groups(
    telegram: Telegram, deps: Deps
) -> None:
    await seeded(deps)
    await telegram.feed(command_update(f"/buy {MINT} 0.5"))
    (button,) = telegram.api.sent(USER_ID)[-1]["reply_markup"]["inline_keyboard"][0]
    assert button["web_app"]["url"] == (
        f"{PUBLIC_URL}/app/trade?side=buy&mint={MINT}&lamports={SOL // 2}"
    )
    await telegram.feed(command_update(f"/buy@solai_local_bot {MINT} 2", chat=GROUP))
    reply = telegram.api.sent(GROUP["id"])[-1]
    (button,) = reply["reply_markup"]["inline_keyboard"][0]
    assert "web_app" not in button
    assert button["url"] == f"https://t.me/solai_local_bot/app?startapp=buy_{MINT}_{2 * SOL}"
    params = telegram.api.calls_to("sendMessage")[-1].params
    assert params["reply_parameters"]["allow_sending_without_reply"] is True


async def test_group_settings_need_an_admin_checked_with_get_chat_member(
    telegram: Telegram,
) -> None:
    telegram.api.add_chat(GROUP["id"], "supergroup", title="Degens", admins={42})
    await telegram.feed(command_update("/alerts on", chat=GROUP))
    assert "only this chat's admins" in visible(telegram.replies(GROUP["id"])[-1])
    await telegram.feed(command_update("/alerts on", chat=GROUP, user_id=42))
    assert "Signals: on" in visible(telegram.replies(GROUP["id"])[-1])
    members = telegram.api.calls_to("getChatMember")
    assert [c.params["user_id"] for c in members] == [USER_ID, 42]
    await telegram.feed(command_update("/alerts", chat=GROUP))  # anyone may look
    assert "Signals: on" in visible(telegram.replies(GROUP["id"])[-1])


async def test_forum_topics_are_honoured(telegram: Telegram) -> None:
    telegram.api.add_chat(FORUM["id"], "supergroup", title="Forum", is_forum=True, admins={USER_ID})
    await telegram.feed(command_update("/alerts topic", chat=FORUM, thread_id=9))
    call = telegram.api.calls_to("sendMessage")[-1]
    assert call.ok and call.params["message_thread_id"] == 9
    assert "posted in forum topic 9" in visible(call.result["text"])


async def test_buttons_answer_the_query_and_are_bound_to_their_user(
    telegram: Telegram, deps: Deps
) -> None:
    await seeded(deps)
    await telegram.feed(command_update(f"/signal {MINT}"))
    card = telegram.api.sent(USER_ID)[-1]
    keyboard = [b for row in card["reply_markup"]["inline_keyboard"] for b in row]
    refresh = next(b["callback_data"] for b in keyboard if b["text"] == "Refresh")
    assert len(refresh.encode()) <= 64
    await telegram.feed(button_update(refresh, message_id=card["message_id"]))
    assert telegram.api.calls_to("answerCallbackQuery")[-1].ok
    assert len(telegram.api.sent(USER_ID)) == 2
    await telegram.feed(button_update(refresh, user_id=555, message_id=card["message_id"]))
    answer = telegram.api.calls_to("answerCallbackQuery")[-1]
    assert answer.params["text"] == "This button is for someone else."
    assert len(telegram.api.sent(USER_ID)) == 2


async def test_language_button_edits_its_message(telegram: Telegram) -> None:
    await telegram.feed(command_update("/start"))
    start = telegram.api.sent(USER_ID)[-1]
    buttons = [b for row in start["reply_markup"]["inline_keyboard"] for b in row]
    fr = next(b["callback_data"] for b in buttons if b["text"] == "Français")
    await telegram.feed(button_update(fr, message_id=start["message_id"]))
    (edit,) = telegram.api.calls_to("editMessageText")
    assert edit.ok and "Je répondrai en Français." in visible(edit.params["text"])
    assert telegram.api.calls_to("answerCallbackQuery")[-1].params["text"]


async def test_long_replies_are_split_never_dropped(telegram: Telegram, deps: Deps) -> None:
    from engine.services import accounts

    async with deps.sessions.begin() as s:
        user = await accounts.ensure_user(
            s, platform="telegram", external_id=USER_ID, now_ms=deps.clock.now_ms()
        )
        for i in range(watchlist.MAX_WATCHED):
            await watchlist.watch_wallet(
                s, user_id=user.id, address=address(f"w{i}"), alias=f"wallet{i}", now_ms=1
            )
    await telegram.feed(command_update("/list"))
    parts = [visible(t) for t in telegram.replies(USER_ID)]
    assert len(parts) > 1
    assert all(utf16_len(p) <= TELEGRAM_TEXT_LIMIT for p in parts)
    joined = "\n".join(parts)
    assert all(f"wallet{i}" in joined for i in range(watchlist.MAX_WATCHED))


async def test_unknown_commands_in_private_get_a_pointer_to_help(telegram: Telegram) -> None:
    await telegram.feed(command_update("/frobnicate"))
    assert "unknown command /frobnicate; see /help" in visible(telegram.replies(USER_ID)[-1])
    await telegram.feed(command_update("/frobnicate", chat=GROUP))
    assert telegram.replies(GROUP["id"]) == []  # other bots' commands in groups are not ours


async def test_command_menus_are_generated_per_scope_and_language(telegram: Telegram) -> None:
    await publish_commands(telegram.app.bot)
    menus = telegram.api.commands
    assert set(menus) == {
        "all_private_chats:",
        "all_private_chats:fr",
        "all_group_chats:",
        "all_group_chats:fr",
    }
    private = {c["command"]: c["description"] for c in menus["all_private_chats:"]}
    assert set(private) == {c.name for c in COMMANDS}
    assert "publish" not in {c["command"] for c in menus["all_group_chats:"]}
    fr = {c["command"]: c["description"] for c in menus["all_private_chats:fr"]}
    assert fr["help"] == "Lister les commandes"


async def _until(predicate: Any, timeout: float = 5.0) -> None:
    async with asyncio.timeout(timeout):
        while not predicate():
            await asyncio.sleep(0.01)


async def test_polling_reads_queued_updates_with_get_updates(deps: Deps, core: Any) -> None:
    async with LocalBotApi(token=TOKEN, enforce_limits=False) as api:
        app = build_application(deps.settings, core, token=TOKEN, base_url=api.base_url)
        async with app:
            await app.start()
            assert app.updater is not None
            await app.updater.start_polling(poll_interval=0.0, timeout=1)
            api.push_update(command_update("/help"))
            await _until(lambda: api.sent(USER_ID))
            await app.updater.stop()
            await app.stop()
        polls = api.calls_to("getUpdates")
        assert any(int(c.params.get("offset") or 0) > 0 for c in polls)
        assert "Commands" in visible(api.sent(USER_ID)[0]["text"])


async def test_webhook_receiver_feeds_the_update_queue(deps: Deps, core: Any) -> None:
    async with LocalBotApi(token=TOKEN, enforce_limits=False) as api:
        app = build_application(
            deps.settings, core, token=TOKEN, base_url=api.base_url, webhook=True
        )
        secret = webhook_secret(deps.settings)
        async with app:
            await app.start()
            await set_webhook(app, "https://bots.example/telegram", secret)
            assert api.webhook is not None and api.webhook["secret_token"] == secret
            receiver = webhook_app(app, secret=secret)
            transport = httpx.ASGITransport(app=receiver)
            async with httpx.AsyncClient(transport=transport, base_url="http://hook") as http:
                bad = await http.post(
                    "/telegram",
                    json=command_update("/help"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": "wrong"},
                )
                ok = await http.post(
                    "/telegram",
                    json=command_update("/help"),
                    headers={"X-Telegram-Bot-Api-Secret-Token": secret},
                )
            assert (bad.status_code, ok.status_code) == (403, 200)
            await _until(lambda: api.sent(USER_ID))
            await app.stop()
        assert len(api.sent(USER_ID)) == 1
        # While a webhook is set, getUpdates is refused as Telegram does.
        assert "webhook is active" in (await _get_updates(api)).get("description", "")


async def _get_updates(api: LocalBotApi) -> dict[str, Any]:
    async with httpx.AsyncClient() as http:
        return dict((await http.post(f"{api.base_url}{TOKEN}/getUpdates")).json())


async def test_the_token_never_reaches_the_logs(
    telegram: Telegram, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    await telegram.feed(command_update("/help"))
    assert "sendMessage" in caplog.text  # httpx logged the request URL…
    assert TOKEN not in caplog.text and TOKEN.split(":")[1] not in caplog.text  # …masked


async def test_an_edited_command_does_not_run_again(telegram: Telegram) -> None:
    update = command_update("/help")
    update["edited_message"] = {**update.pop("message"), "edit_date": 1709659400}
    await telegram.feed(update)
    assert telegram.api.sent() == []
