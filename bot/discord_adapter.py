"""Discord adapter (discord.py app commands): the same command table as slash commands.

Each command of :data:`bot.commands.COMMANDS` becomes a slash command whose options are the
table's arguments (strings; choices where the table lists them), described and translated through
an ``app_commands.Translator`` backed by our gettext catalogues. Replies are embeds (the neutral
markup converted to escaped Discord markdown) with buttons: signed callbacks as persistent
:class:`CallbackButton` dynamic items, links and trades as link buttons to the Mini App page.

Every interaction is deferred first (Discord allows 3 s for the first answer; the agent may take
longer), then answered with follow-up messages. Mentions are never allowed in what we send.
"""

from __future__ import annotations

import contextlib
import inspect
import logging
import re
from collections.abc import AsyncIterator
from typing import Any, Final

import aiohttp
import discord
from discord import app_commands

from bot.context import Caller, ChannelRef, ChatKind, Invocation, Place, Press
from bot.core import CommandCore
from bot.errors import UserError
from bot.fanout import RateLimited, SendFailed, Target
from bot.i18n import N_, gettext_for
from bot.limits import ChatLimiter
from bot.reply import Reply
from bot.text import to_markdown
from engine.services.accounts import normalize_language
from engine.services.trade import mini_app_url
from engine.settings import Settings

logger = logging.getLogger(__name__)

DESCRIPTION_LIMIT: Final = 4096
CHUNK: Final = 4000
TITLE_LIMIT: Final = 256
LABEL_LIMIT: Final = 80
COLORS: Final = {"info": 0x5865F2, "error": 0xED4245, "alert": 0x57F287, "warning": 0xFEE75C}
NO_MENTIONS: Final = discord.AllowedMentions.none()
_CHANNEL_REF: Final = re.compile(r"^(?:<#)?(\d{15,22})>?$")


class CallbackButton(
    discord.ui.DynamicItem[discord.ui.Button[discord.ui.View]],
    template=r"solai:(?P<data>[A-Za-z0-9:_\-]+)",
):
    """A button carrying signed callback data; survives restarts (no stored view needed)."""

    def __init__(self, data: str, label: str = "…") -> None:
        super().__init__(
            discord.ui.Button(
                label=label[:LABEL_LIMIT],
                custom_id=f"solai:{data}",
                style=discord.ButtonStyle.secondary,
            )
        )
        self.data = data

    @classmethod
    async def from_custom_id(
        cls,
        interaction: discord.Interaction[discord.Client],
        item: discord.ui.Item[Any],
        match: re.Match[str],
        /,
    ) -> CallbackButton:
        """Rebuild the button from a pressed component's custom id."""
        label = getattr(item, "label", None) or "…"
        return cls(match["data"], label)

    async def callback(self, interaction: discord.Interaction[discord.Client]) -> None:
        """Pass the press to the core and show its reply."""
        client = interaction.client
        if not isinstance(client, DiscordBot):
            return
        await client.on_press(interaction, self.data)


def view_of(reply: Reply, public_url: str) -> discord.ui.View | None:
    """The reply's buttons as a persistent view (rows kept, at most 5 per row)."""
    view = discord.ui.View(timeout=None)
    count = 0
    for row_index, row in enumerate(reply.buttons[:5]):
        for b in row[:5]:
            label = b.label[:LABEL_LIMIT]
            if b.kind == "callback":
                view.add_item(_in_row(CallbackButton(b.data, label), row_index))
            else:
                url = b.data if b.kind == "url" else mini_app_url(public_url, _intent(b))
                view.add_item(discord.ui.Button(label=label, url=url, row=row_index))
            count += 1
    return view if count else None


def _in_row(item: CallbackButton, row: int) -> CallbackButton:
    item.item.row = row
    return item


def _intent(button: Any) -> Any:
    assert button.intent is not None
    return button.intent


def _chunks(text: str) -> list[str]:
    if len(text) <= CHUNK:
        return [text]
    out: list[str] = []
    current = ""
    for line in text.split("\n"):
        while len(line) > CHUNK:
            if current:
                out.append(current)
                current = ""
            out.append(line[:CHUNK])
            line = line[CHUNK:]
        if len(current) + len(line) + 1 > CHUNK:
            out.append(current)
            current = line
        else:
            current = f"{current}\n{line}" if current else line
    if current:
        out.append(current)
    return out


def embeds_of(reply: Reply) -> list[discord.Embed]:
    """The reply as embeds (one per 4,000 characters of description)."""
    text = to_markdown(reply.html).strip()
    color = COLORS.get(reply.tone, COLORS["info"])
    parts = _chunks(text) if text else [""]
    out = []
    for i, part in enumerate(parts):
        title = reply.title[:TITLE_LIMIT] if reply.title and i == 0 else None
        out.append(discord.Embed(title=title, description=part or None, color=color))
    return out


def payloads(reply: Reply, public_url: str) -> list[tuple[discord.Embed, discord.ui.View | None]]:
    """(embed, view) per message for a reply and its extras; the view rides on the last embed."""
    out: list[tuple[discord.Embed, discord.ui.View | None]] = []
    for part in (reply, *reply.extra):
        if not part.html and not part.title:
            continue
        embeds = embeds_of(part)
        view = view_of(part, public_url)
        out += [(e, view if i == len(embeds) - 1 else None) for i, e in enumerate(embeds)]
    return out


def caller_of(interaction: discord.Interaction[Any]) -> Caller:
    """The person behind an interaction, with the client's language."""
    user = interaction.user
    return Caller("discord", str(user.id), user.name, str(interaction.locale.value))


def place_of(interaction: discord.Interaction[Any]) -> Place:
    """The channel of an interaction: a DM is private, a guild channel a group."""
    channel = interaction.channel
    title = getattr(channel, "name", None)
    kind: ChatKind = "private" if interaction.guild_id is None else "group"
    return Place(str(interaction.channel_id), kind, title, None)


class DiscordOps:
    """Admin checks (guild permissions) and channel lookups for one interaction."""

    def __init__(self, interaction: discord.Interaction[Any]) -> None:
        self.interaction = interaction

    async def is_admin(self) -> bool:
        """Manage Server (or Administrator) in the guild; always in DMs."""
        if self.interaction.guild_id is None:
            return True
        perms = self.interaction.permissions
        return bool(perms.administrator or perms.manage_guild)

    async def resolve_channel(self, ref: str, *, require_admin: bool) -> ChannelRef:
        """A channel by mention or id; linking needs Manage Server in this guild."""
        m = _CHANNEL_REF.match(ref.strip())
        if m is None:
            raise UserError(N_("%(channel)s is not a channel"), channel=ref[:40])
        if require_admin and not await self.is_admin():
            raise UserError(N_("only an admin of %(channel)s can link it"), channel=ref[:40])
        try:
            channel = await self.interaction.client.fetch_channel(int(m.group(1)))
        except discord.HTTPException:
            raise UserError(
                N_("I cannot see %(channel)s: add me to it first"), channel=ref[:40]
            ) from None
        return ChannelRef(str(channel.id), getattr(channel, "name", None))


class BabelTranslator(app_commands.Translator):
    """Command and option descriptions from our catalogues (names stay as in the table)."""

    async def translate(
        self,
        string: app_commands.locale_str,
        locale: discord.Locale,
        context: app_commands.TranslationContextTypes,
    ) -> str | None:
        """The French (or other supported) text of a description; None keeps the source."""
        if context.location in (
            app_commands.TranslationContextLocation.command_name,
            app_commands.TranslationContextLocation.parameter_name,
            app_commands.TranslationContextLocation.choice_name,
        ):
            return None
        lang = normalize_language(locale.value)
        if lang == "en":
            return None
        return gettext_for(lang, string.message)[:100]


class DiscordBot(discord.Client):
    """A discord.py client whose command tree is generated from the command table."""

    def __init__(
        self,
        core: CommandCore,
        *,
        public_url: str,
        sync_commands: bool = True,
        intents: discord.Intents | None = None,
        **options: Any,
    ) -> None:
        # Slash commands and buttons need no privileged intent; guilds keeps the state sane.
        super().__init__(intents=intents or discord.Intents(guilds=True), **options)
        self.core = core
        self.public_url = public_url
        self.sync_commands = sync_commands
        self.tree: app_commands.CommandTree[DiscordBot] = app_commands.CommandTree(self)
        for cmd in core.commands:
            self.tree.add_command(self._slash(cmd))

    async def setup_hook(self) -> None:
        """Register the buttons and the translator, and publish the commands."""
        self.add_dynamic_items(CallbackButton)
        await self.tree.set_translator(BabelTranslator())
        if self.sync_commands:
            await self.tree.sync()

    def _slash(self, cmd: Any) -> app_commands.Command[Any, Any, None]:
        name = cmd.name

        async def callback(interaction: discord.Interaction[Any], **options: str | None) -> None:
            """The slash command: through the core like every other platform."""
            await self.on_command(interaction, name, options)

        params = [
            inspect.Parameter(
                "interaction",
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                annotation=discord.Interaction,
            )
        ]
        for arg in cmd.args:
            params.append(
                inspect.Parameter(
                    arg.name,
                    inspect.Parameter.KEYWORD_ONLY,
                    annotation=str if arg.required else str | None,
                    default=inspect.Parameter.empty if arg.required else None,
                )
            )
        # discord.py reads the options from the callback's signature: one per table argument.
        callback.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
        described: Any = callback
        if cmd.args:
            described = app_commands.describe(
                **{a.name: app_commands.locale_str(a.help) for a in cmd.args}
            )(described)
            choices = {
                a.name: [app_commands.Choice(name=c, value=c) for c in a.choices]
                for a in cmd.args
                if a.choices
            }
            if choices:
                described = app_commands.choices(**choices)(described)
        return app_commands.Command(
            name=name,
            description=app_commands.locale_str(cmd.summary),
            callback=described,
        )

    async def respond(self, interaction: discord.Interaction[Any], reply: Reply) -> None:
        """Send a reply as follow-ups of a deferred interaction."""
        parts = payloads(reply, self.public_url)
        if not parts:
            if reply.notice:
                await interaction.followup.send(
                    reply.notice, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
            else:
                await interaction.delete_original_response()
            return
        for embed, view in parts:
            if view is not None:
                await interaction.followup.send(
                    embed=embed, view=view, allowed_mentions=NO_MENTIONS
                )
            else:
                await interaction.followup.send(embed=embed, allowed_mentions=NO_MENTIONS)

    async def on_command(
        self, interaction: discord.Interaction[Any], name: str, options: dict[str, str | None]
    ) -> None:
        """A slash command: defer, run it through the core, answer."""
        await interaction.response.defer(thinking=True)
        inv = Invocation(
            caller_of(interaction), place_of(interaction), name, options, DiscordOps(interaction)
        )
        await self.respond(interaction, await self.core.run(inv))

    async def on_press(self, interaction: discord.Interaction[Any], data: str) -> None:
        """A button: defer, check the signature in the core, answer (or edit the message)."""
        await interaction.response.defer()
        press = Press(caller_of(interaction), place_of(interaction), data, DiscordOps(interaction))
        reply = await self.core.press(press)
        parts = payloads(reply, self.public_url)
        if reply.edit and len(parts) == 1:
            embed, view = parts[0]
            await interaction.edit_original_response(embed=embed, view=view)
            return
        if not parts:
            if reply.notice:
                await interaction.followup.send(
                    reply.notice, ephemeral=True, allowed_mentions=NO_MENTIONS
                )
            return
        await self.respond(interaction, reply)


# -- alerts --------------------------------------------------------------------------------------


class DiscordSender:
    """Posts alerts to channels through discord.py's REST client, under a limiter."""

    platform = "discord"

    def __init__(self, client: discord.Client, limiter: ChatLimiter, public_url: str) -> None:
        self.client = client
        self.limiter = limiter
        self.public_url = public_url

    async def send(self, target: Target, reply: Reply, *, skip: int = 0) -> str:
        """Post one alert from part ``skip`` on; maps discord.py errors onto RateLimited /
        SendFailed (with the parts accepted so far; a lost answer is ``ambiguous``)."""
        message_id = ""
        channel = self.client.get_partial_messageable(int(target.chat_id))
        for i, (embed, view) in enumerate(payloads(reply, self.public_url)):
            if i < skip:
                continue
            if i > skip:
                await self.limiter.acquire(target.chat_id, group=target.kind != "private")
                await self.limiter.depart(self.limiter.now())
            try:
                if view is not None:
                    sent = await channel.send(embed=embed, view=view, allowed_mentions=NO_MENTIONS)
                else:
                    sent = await channel.send(embed=embed, allowed_mentions=NO_MENTIONS)
            except discord.RateLimited as exc:
                raise RateLimited(exc.retry_after, parts=i) from exc
            except discord.HTTPException as exc:
                if exc.status == 429:
                    raise RateLimited(1.0, parts=i) from exc
                permanent = exc.status in (400, 401, 403, 404)
                raise SendFailed(
                    f"HTTP {exc.status}: {exc.text[:200]}", permanent=permanent, parts=i
                ) from exc
            except aiohttp.ClientConnectorError as exc:
                raise SendFailed(f"{type(exc).__name__}: {exc}", permanent=False, parts=i) from exc
            except (aiohttp.ClientError, TimeoutError) as exc:
                # The request may have been posted and the answer lost: never resend it.
                raise SendFailed(
                    f"{type(exc).__name__}: {exc}", permanent=False, ambiguous=True, parts=i
                ) from exc
            message_id = str(sent.id)
        return message_id

    async def edit(self, target: Target, message_id: str, reply: Reply) -> None:
        """Rewrite a sent message (its last embed) and remove its buttons."""
        found = payloads(reply, self.public_url)
        if not found:
            return
        channel = self.client.get_partial_messageable(int(target.chat_id))
        message = channel.get_partial_message(int(message_id))
        try:
            await message.edit(embed=found[-1][0], view=None)
        except discord.RateLimited as exc:
            raise RateLimited(exc.retry_after) from exc
        except discord.HTTPException as exc:
            if exc.status == 429:
                raise RateLimited(1.0) from exc
            permanent = exc.status in (400, 401, 403, 404)
            raise SendFailed(f"HTTP {exc.status}: {exc.text[:200]}", permanent=permanent) from exc
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}", permanent=False) from exc


@contextlib.asynccontextmanager
async def open_discord_sender(
    settings: Settings, limiter: ChatLimiter, *, token: str | None = None
) -> AsyncIterator[DiscordSender]:
    """A REST-only client (no gateway), logged in for the block and closed after it."""
    secret = token or (settings.discord_token.get_secret_value() if settings.discord_token else "")
    # A bounded wait on Discord's own 429 handling: longer waits come back to our limiter.
    client = discord.Client(intents=discord.Intents(guilds=True), max_ratelimit_timeout=30.0)
    async with client:
        await client.login(secret)
        yield DiscordSender(client, limiter, settings.public_url)
