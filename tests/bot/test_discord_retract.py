"""The Discord sender edits a sent alert in place (the retraction of a signal): one PATCH of the
message with the new embed and no buttons left."""

from __future__ import annotations

from bot.discord_adapter import DiscordBot, DiscordSender
from bot.fanout import Target
from bot.limits import DISCORD_LIMITS, ChatLimiter
from bot.reply import Button, Reply
from tests.bot import test_discord
from tests.bot.conftest import PUBLIC_URL
from tests.bot.discord_stub import DiscordStub

discord_bot = test_discord.discord_bot  # our client logged in to the local stub, as a fixture

CHANNEL = 1_100_000_000_000_000_777


async def test_an_alert_is_edited_in_place_without_its_buttons(
    discord_bot: tuple[DiscordBot, DiscordStub],
) -> None:
    client, stub = discord_bot
    sender = DiscordSender(client, ChatLimiter(DISCORD_LIMITS.scaled(100)), PUBLIC_URL)
    target = Target(str(CHANNEL), "group")
    first = Reply("New signal", title="$BONK", buttons=((Button("Details", "callback", "d"),),))
    message_id = await sender.send(target, first)
    await sender.edit(target, message_id, Reply("New signal\n\n<b>Retracted</b>", title="$BONK"))
    (patch,) = stub.calls("PATCH", f"/api/v10/channels/{CHANNEL}/messages/{message_id}")
    assert patch.status == 200
    (embed,) = patch.body["embeds"]
    assert embed["title"] == "$BONK" and "Retracted" in embed["description"]
    assert patch.body["components"] == []
