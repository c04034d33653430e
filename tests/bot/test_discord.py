"""The Discord adapter: slash commands generated from the table, handlers run with Interaction
objects built from payloads (as discord.py's own tests do), answered over HTTP to a local stub of
Discord's REST API; the same replies as Telegram, as embeds with buttons."""

from __future__ import annotations

import itertools
import re
from collections.abc import AsyncIterator
from typing import Any

import discord
import pytest

from bot.commands import COMMANDS
from bot.core import CommandCore
from bot.discord_adapter import DiscordBot, DiscordSender, embeds_of, payloads
from bot.fanout import Fanout, Target
from bot.limits import DISCORD_LIMITS, ChatLimiter
from bot.reply import Reply
from bot.text import to_plain
from engine.deps import Deps
from engine.services import accounts, alerts
from engine.services.alerts import Recipient
from tests.bot.conftest import PUBLIC_URL
from tests.bot.discord_stub import APP_ID, DiscordStub
from tests.bot.seed import MINT, WHALE, add_risk, add_signal, add_token
from tests.bot.test_core import run

USER = 3_000_000_000_000_000_001
GUILD = 999
DM_CHANNEL = 4_000_000_000_000_000_001
GUILD_CHANNEL = 4_000_000_000_000_000_002
MANAGE_GUILD = 1 << 5
_ids = itertools.count(5_000_000_000_000_000_000)


@pytest.fixture
async def discord_bot(
    core: CommandCore, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[DiscordBot, DiscordStub]]:
    """Our client, logged in over REST to the local stub (no gateway), commands synced."""
    async with DiscordStub() as stub:
        monkeypatch.setattr(discord.http.Route, "BASE", stub.base)
        client = DiscordBot(core, public_url=PUBLIC_URL)
        async with client:
            await client.login("local-test-token")
            yield client, stub


def interaction_payload(
    name: str,
    options: dict[str, str] | None = None,
    *,
    guild: bool = False,
    permissions: int = 0,
    user: int = USER,
    locale: str = "en-US",
    kind: int = 2,
    custom_id: str | None = None,
) -> dict[str, Any]:
    """An INTERACTION_CREATE payload: a slash command (type 2) or a button press (type 3)."""
    person = {
        "id": str(user),
        "username": f"user{user % 1000}",
        "discriminator": "0",
        "global_name": "Trader",
        "avatar": None,
    }
    payload: dict[str, Any] = {
        "id": str(next(_ids)),
        "application_id": str(APP_ID),
        "type": kind,
        "token": f"itoken-{next(_ids)}",
        "version": 1,
        "locale": locale,
        "attachment_size_limit": 8_388_608,
        "app_permissions": "0",
        "entitlements": [],
    }
    if guild:
        payload |= {
            "guild_id": str(GUILD),
            "guild_locale": "en-US",
            "channel_id": str(GUILD_CHANNEL),
            "channel": {
                "id": str(GUILD_CHANNEL),
                "type": 0,
                "name": "degens",
                "guild_id": str(GUILD),
                "position": 0,
                "permission_overwrites": [],
            },
            "member": {
                "user": person,
                "roles": [],
                "joined_at": "2025-01-01T00:00:00+00:00",
                "deaf": False,
                "mute": False,
                "flags": 0,
                "permissions": str(permissions),
            },
            "context": 0,
        }
    else:
        payload |= {
            "channel_id": str(DM_CHANNEL),
            "channel": {"id": str(DM_CHANNEL), "type": 1, "recipients": [person]},
            "user": person,
            "context": 1,
        }
    if kind == 2:
        payload["data"] = {
            "id": str(next(_ids)),
            "name": name,
            "type": 1,
            "options": [{"name": k, "type": 3, "value": v} for k, v in (options or {}).items()],
        }
    else:
        payload["data"] = {"custom_id": custom_id, "component_type": 2}
        payload["message"] = {
            "id": str(next(_ids)),
            "channel_id": payload["channel_id"],
            "type": 0,
            "content": "",
            "author": {"id": "1", "username": "solai", "discriminator": "0", "avatar": None},
            "embeds": [],
            "attachments": [],
            "mentions": [],
            "mention_roles": [],
            "mention_everyone": False,
            "pinned": False,
            "tts": False,
            "timestamp": "2026-01-01T00:00:00+00:00",
            "edited_timestamp": None,
            "flags": 0,
            "components": [],
        }
    return payload


async def invoke(
    client: DiscordBot, name: str, options: dict[str, str] | None = None, **kw: Any
) -> None:
    """Build the Interaction and call the registered slash command's callback."""
    interaction = discord.Interaction(
        data=interaction_payload(name, options, **kw),  # type: ignore[arg-type]
        state=client._connection,
    )
    command = client.tree.get_command(name)
    assert isinstance(command, discord.app_commands.Command)
    await command.callback(interaction, **(options or {}))  # type: ignore[call-arg]


async def press(client: DiscordBot, custom_id: str, **kw: Any) -> None:
    """A button press dispatched through the registered dynamic item."""
    from bot.discord_adapter import CallbackButton

    interaction = discord.Interaction(
        data=interaction_payload("", kind=3, custom_id=custom_id, **kw),  # type: ignore[arg-type]
        state=client._connection,
    )
    match = re.fullmatch(CallbackButton.__discord_ui_compiled_template__, custom_id)
    assert match is not None
    item = await CallbackButton.from_custom_id(interaction, discord.ui.Button(label="x"), match)
    await item.callback(interaction)


def last_followup(stub: DiscordStub) -> dict[str, Any]:
    return stub.calls("POST", "/api/v10/webhooks/")[-1].body  # type: ignore[no-any-return]


DISCORD_CASES: dict[str, tuple[dict[str, str], str]] = {
    "start": ({}, "Disclaimer"),
    "help": ({}, "`/watch <address> [alias] [tags]`"),
    "lang": ({"language": "fr"}, "Je répondrai en Français."),
    "signal": ({"token": "BONK2"}, "Strength **2.20**/3"),
    "explain": ({"token": "BONK2"}, "three tracked wallets bought"),
    "buy": ({"mint": MINT, "sol": "0.5"}, "Buy for 0.5 SOL"),
    "sell": ({"mint": MINT, "percent": "50"}, "Sell 50% of your holding"),
    "watch": ({"address": WHALE, "alias": "whale"}, "Watching whale"),
    "unwatch": ({"address": WHALE}, "is not on your watchlist"),
    "list": ({}, "You watch no wallets yet"),
    "positions": ({}, "No open positions"),
    "alerts": ({"action": "on"}, "Signals: **on**"),
    "rules": ({"action": "disable", "rule": "momentum"}, "Rule momentum disabled."),
    "publish": ({"mint": MINT}, "link your channel first"),
    "kol": ({}, "No KOL channels yet"),
    "follow": ({"channel": "<#4000000000000000009>"}, "no KOL channel"),
    "unfollow": ({"channel": "4000000000000000009"}, "no KOL channel"),
}


def test_every_command_has_a_discord_case() -> None:
    assert set(DISCORD_CASES) == {c.name for c in COMMANDS}


async def test_slash_commands_are_generated_from_the_table_and_synced(
    discord_bot: tuple[DiscordBot, DiscordStub],
) -> None:
    _client, stub = discord_bot
    synced = {c["name"]: c for c in stub.commands}
    assert set(synced) == {c.name for c in COMMANDS}
    for cmd in COMMANDS:
        options = synced[cmd.name].get("options", [])
        assert [o["name"] for o in options] == [a.name for a in cmd.args]
        assert [o["required"] for o in options] == [a.required for a in cmd.args]
        for o, a in zip(options, cmd.args, strict=True):
            assert [c["value"] for c in o.get("choices", [])] == list(a.choices)
    assert synced["help"]["description_localizations"]["fr"] == "Lister les commandes"
    signal_opt = synced["signal"]["options"][0]
    assert signal_opt["description_localizations"]["fr"] == "adresse du mint ou $SYMBOLE"


@pytest.mark.parametrize("name", sorted(DISCORD_CASES))
async def test_each_command_through_a_constructed_interaction(
    discord_bot: tuple[DiscordBot, DiscordStub], deps: Deps, name: str
) -> None:
    client, stub = discord_bot
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 3)
    options, expected = DISCORD_CASES[name]
    await invoke(client, name, options)
    (callback,) = stub.calls("POST", "/api/v10/interactions/")
    assert callback.body["type"] == 5  # deferred: the agent may take longer than 3 s
    body = last_followup(stub)
    description = body["embeds"][0].get("description", "")
    assert expected in description, description
    assert body["allowed_mentions"] == {"parse": []}
    assert all(r.status < 400 for r in stub.requests), [r for r in stub.requests if r.status >= 400]


async def test_embeds_carry_the_same_reply_as_telegram(
    discord_bot: tuple[DiscordBot, DiscordStub], deps: Deps, core: CommandCore
) -> None:
    client, stub = discord_bot
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 3)
    await invoke(client, "signal", {"token": MINT})
    sent = last_followup(stub)
    reply = await run(core, "signal", MINT)  # the same command through the core
    (embed,) = embeds_of(reply)
    assert sent["embeds"][0]["title"] == reply.title == embed.title
    unescaped = re.sub(r"\\(.)", r"\1", embed.description or "").replace("**", "").replace("`", "")
    assert unescaped == to_plain(reply.html).strip()
    rows = sent["components"]
    labels = [b["label"] for row in rows for b in row["components"]]
    assert labels == ["Buy 0.1 SOL", "Buy 0.5 SOL", "Buy 1 SOL", "Refresh", "Explain"]
    buy = rows[0]["components"][0]
    assert buy["style"] == 5 and buy["url"].startswith(f"{PUBLIC_URL}/app/trade?side=buy")
    refresh = rows[1]["components"][0]
    assert refresh["custom_id"].startswith("solai:d:")


async def test_buttons_are_signed_and_bound_to_their_user(
    discord_bot: tuple[DiscordBot, DiscordStub], deps: Deps
) -> None:
    client, stub = discord_bot
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 3)
    await invoke(client, "signal", {"token": MINT})
    refresh = last_followup(stub)["components"][1]["components"][0]["custom_id"]
    await press(client, refresh)
    assert stub.calls("POST", "/api/v10/interactions/")[-1].body["type"] == 6  # deferred update
    assert "$BONK2" in last_followup(stub)["embeds"][0]["title"]
    await press(client, refresh, user=USER + 1)
    notice = last_followup(stub)
    assert notice["content"] == "This button is for someone else." and notice["flags"] == 64


async def test_language_button_edits_the_original_message(
    discord_bot: tuple[DiscordBot, DiscordStub],
) -> None:
    client, stub = discord_bot
    await invoke(client, "start")
    rows = last_followup(stub)["components"]
    fr = next(b for row in rows for b in row["components"] if b["label"] == "Français")
    await press(client, fr["custom_id"])
    (edit,) = stub.calls("PATCH", "/api/v10/webhooks/")
    assert "Je répondrai en Français." in edit.body["embeds"][0]["description"]


async def test_guild_settings_need_manage_server(
    discord_bot: tuple[DiscordBot, DiscordStub],
) -> None:
    client, stub = discord_bot
    await invoke(client, "alerts", {"action": "on"}, guild=True, permissions=0)
    assert "only this chat's admins" in last_followup(stub)["embeds"][0]["description"]
    await invoke(client, "alerts", {"action": "on"}, guild=True, permissions=MANAGE_GUILD)
    assert "Signals: **on**" in last_followup(stub)["embeds"][0]["description"]


async def test_french_clients_are_answered_in_french(
    discord_bot: tuple[DiscordBot, DiscordStub],
) -> None:
    client, stub = discord_bot
    await invoke(client, "help", locale="fr", user=USER + 7)
    assert last_followup(stub)["embeds"][0]["title"] == "Commandes"


async def test_alerts_reach_discord_channels_through_the_sender(
    discord_bot: tuple[DiscordBot, DiscordStub], deps: Deps
) -> None:
    client, stub = discord_bot
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 3)
    async with deps.sessions.begin() as s:
        chat = await accounts.ensure_chat(
            s, platform="discord", external_id=str(GUILD_CHANNEL), kind="group", now_ms=1
        )
        await alerts.update_alerts(s, chat_id=chat.id, now_ms=1, enabled=True, min_strength=0)
    sender = DiscordSender(client, ChatLimiter(DISCORD_LIMITS.scaled(100)), PUBLIC_URL)
    fanout = Fanout(deps, {"discord": sender})
    from bot.alerts import signal_alert

    async with deps.sessions() as s:
        alert = await signal_alert(s, signal_id=3, signer=fanout.signer, now_ms=1)
    assert alert is not None
    report = await fanout.deliver(alert, [Recipient(chat, None)])
    assert report.sent == 1
    (post,) = stub.calls("POST", f"/api/v10/channels/{GUILD_CHANNEL}/messages")
    assert "New signal" in post.body["embeds"][0]["description"]
    labels = [b["label"] for b in post.body["components"][0]["components"]]
    assert labels == ["Buy", "Details", "Explain"]
    assert await sender.send(Target(str(GUILD_CHANNEL), "group"), Reply("x" * 9000, title="t"))


def test_long_replies_become_several_embeds_within_discord_limits() -> None:
    reply = Reply("\n".join(f"line {i} " + "y" * 80 for i in range(200)), title="Long")
    parts = payloads(reply, PUBLIC_URL)
    assert len(parts) > 1
    assert all(len(e.description or "") <= 4096 for e, _ in parts)
    assert parts[0][0].title == "Long" and parts[1][0].title is None
