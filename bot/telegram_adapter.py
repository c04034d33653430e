"""Telegram adapter (python-telegram-bot v22): updates in, the core's replies out.

Everything is injected through ``ApplicationBuilder``: the token, ``base_url`` (the Bot API
server: ``SOLAI_TELEGRAM_BOT_API_URL``, a self-hosted server, or the local one in tests) and
the request objects. Handlers are generated from the command table.

Two ways to receive updates:

- polling (simple, no public URL): ``async with app:`` then ``app.updater.start_polling()``;
- webhook inside our own ASGI app: build with ``webhook=True`` (``.updater(None)``), call
  ``app.bot.set_webhook(url, secret_token=…)`` and put each POSTed update on
  ``app.update_queue`` (:mod:`bot.telegram_webhook` does both).

Rendering: the neutral reply becomes HTML text split under 4,096 characters; buttons become an
inline keyboard where a trade opens the Mini App as a ``web_app`` button in private chats and as
a ``t.me/<bot>/<app>?startapp=…`` link in groups and channels (Telegram allows ``web_app``
buttons only in private chats).
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import warnings
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx
from telegram import (
    Bot,
    BotCommand,
    BotCommandScopeAllGroupChats,
    BotCommandScopeAllPrivateChats,
    Chat,
    InlineKeyboardButton,
    InlineKeyboardMarkup,
    LinkPreviewOptions,
    Message,
    ReplyParameters,
    Update,
    User,
    WebAppInfo,
)
from telegram.constants import ChatMemberStatus, ParseMode
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.ext import (
    Application,
    ApplicationBuilder,
    CallbackQueryHandler,
    CommandHandler,
    ContextTypes,
    MessageHandler,
    filters,
)
from telegram.request import BaseRequest, HTTPXRequest
from telegram.warnings import PTBDeprecationWarning

from bot.commands import COMMANDS
from bot.context import Caller, ChannelRef, ChatKind, Invocation, Place, Press
from bot.core import CommandCore
from bot.errors import UserError
from bot.fanout import RateLimited, SendFailed, Target
from bot.i18n import N_, gettext_for
from bot.limits import ChatLimiter
from bot.reply import Button, Reply
from bot.text import escape, split_html
from engine.services.accounts import SUPPORTED_LANGUAGES
from engine.services.trade import mini_app_url
from engine.settings import Settings

logger = logging.getLogger(__name__)

BUTTON_LABEL_LIMIT: Final = 64
_NO_PREVIEW: Final = LinkPreviewOptions(is_disabled=True)


@dataclass(frozen=True, slots=True)
class Links:
    """Where trade buttons point: the Mini App URL and the bot's ``t.me`` app link."""

    public_url: str
    bot_username: str | None
    webapp_name: str

    def trade(self, button: Button, chat_kind: str) -> InlineKeyboardButton:
        """A trade button for this kind of chat."""
        assert button.intent is not None
        label = button.label[:BUTTON_LABEL_LIMIT]
        if chat_kind == "private":
            url = mini_app_url(self.public_url, button.intent)
            return InlineKeyboardButton(label, web_app=WebAppInfo(url))
        if self.bot_username:
            link = f"https://t.me/{self.bot_username}/{self.webapp_name}"
            return InlineKeyboardButton(label, url=f"{link}?startapp={button.intent.startapp()}")
        return InlineKeyboardButton(label, url=mini_app_url(self.public_url, button.intent))


def keyboard(reply: Reply, chat_kind: str, links: Links) -> InlineKeyboardMarkup | None:
    """The reply's buttons as an inline keyboard."""
    rows: list[list[InlineKeyboardButton]] = []
    for row in reply.buttons:
        out = []
        for b in row:
            label = b.label[:BUTTON_LABEL_LIMIT]
            if b.kind == "callback":
                out.append(InlineKeyboardButton(label, callback_data=b.data))
            elif b.kind == "url":
                out.append(InlineKeyboardButton(label, url=b.data))
            else:
                out.append(links.trade(b, chat_kind))
        if out:
            rows.append(out)
    return InlineKeyboardMarkup(rows) if rows else None


def messages(
    reply: Reply, chat_kind: str, links: Links
) -> list[tuple[str, InlineKeyboardMarkup | None]]:
    """(HTML text, keyboard) per message: long text split, the keyboard on the last part."""
    text = reply.html
    if reply.title:
        text = f"<b>{escape(reply.title)}</b>\n{text}" if text else f"<b>{escape(reply.title)}</b>"
    if not text.strip():
        return []
    chunks = split_html(text)
    markup = keyboard(reply, chat_kind, links)
    return [(c, markup if i == len(chunks) - 1 else None) for i, c in enumerate(chunks)]


def chat_kind(chat: Chat) -> ChatKind:
    """Our kind of a Telegram chat (supergroups are groups)."""
    if chat.type == Chat.PRIVATE:
        return "private"
    if chat.type == Chat.CHANNEL:
        return "channel"
    return "group"


def caller_of(user: User) -> Caller:
    """The caller behind a Telegram user."""
    return Caller("telegram", str(user.id), user.username, user.language_code)


def place_of(chat: Chat, message: Message | None) -> Place:
    """The conversation of an update, with its forum topic."""
    topic = message.message_thread_id if message is not None and message.is_topic_message else None
    title = chat.title or chat.full_name or chat.username
    return Place(str(chat.id), chat_kind(chat), title, topic)


class TelegramOps:
    """Admin checks and channel lookups through the Bot API."""

    def __init__(self, bot: Bot, chat: Chat, user: User, message: Message | None) -> None:
        self.bot = bot
        self.chat = chat
        self.user = user
        self.message = message

    async def is_admin(self) -> bool:
        """The caller is an owner or admin of the chat (anonymous admins post as the chat)."""
        if self.chat.type == Chat.PRIVATE:
            return True
        sender = self.message.sender_chat if self.message is not None else None
        if sender is not None and sender.id == self.chat.id:
            return True
        member = await self.bot.get_chat_member(self.chat.id, self.user.id)
        return member.status in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER)

    async def resolve_channel(self, ref: str, *, require_admin: bool) -> ChannelRef:
        """A channel by ``@name`` or id; with ``require_admin`` both we and the caller admin it."""
        ref = ref.strip()
        key: str | int = int(ref) if ref.lstrip("-").isdigit() else "@" + ref.lstrip("@")
        try:
            found = await self.bot.get_chat(key)
        except (BadRequest, Forbidden):
            raise UserError(
                N_("I cannot see %(channel)s: add me to it first"), channel=ref[:40]
            ) from None
        if found.type != Chat.CHANNEL:
            raise UserError(N_("%(channel)s is not a channel"), channel=ref[:40])
        if require_admin:
            me = await self.bot.get_chat_member(found.id, self.bot.id)
            if me.status != ChatMemberStatus.ADMINISTRATOR:
                raise UserError(N_("make me an admin of %(channel)s first"), channel=ref[:40])
            them = await self.bot.get_chat_member(found.id, self.user.id)
            if them.status not in (ChatMemberStatus.ADMINISTRATOR, ChatMemberStatus.OWNER):
                raise UserError(N_("only an admin of %(channel)s can link it"), channel=ref[:40])
        return ChannelRef(str(found.id), found.title)


class TelegramBot:
    """The handlers: each command of the table and every signed button, through the core."""

    def __init__(self, core: CommandCore, links: Links) -> None:
        self.core = core
        self.links = links

    def _links(self, bot: Bot) -> Links:
        if self.links.bot_username is None:
            with contextlib.suppress(RuntimeError):
                return Links(self.links.public_url, bot.username, self.links.webapp_name)
        return self.links

    async def send(
        self,
        bot: Bot,
        chat: Chat,
        reply: Reply,
        *,
        topic: int | None,
        reply_to: int | None,
    ) -> list[Message]:
        """Send a reply (and its extra messages) to a chat."""
        out = []
        for part in (reply, *reply.extra):
            for text, markup in messages(part, chat_kind(chat), self._links(bot)):
                out.append(
                    await bot.send_message(
                        chat.id,
                        text,
                        parse_mode=ParseMode.HTML,
                        reply_markup=markup,
                        message_thread_id=topic,
                        link_preview_options=_NO_PREVIEW,
                        reply_parameters=ReplyParameters(reply_to, allow_sending_without_reply=True)
                        if reply_to is not None
                        else None,
                    )
                )
        return out

    def command(self, name: str) -> Any:
        """The callback of one command."""

        async def on_command(update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
            """Run the command through the core and send its reply (in the same topic)."""
            message, chat, user = (
                update.effective_message,
                update.effective_chat,
                update.effective_user,
            )
            if message is None or chat is None or user is None:
                return
            text = message.text or ""
            rest = text.split(maxsplit=1)[1] if len(text.split(maxsplit=1)) > 1 else ""
            place = place_of(chat, message)
            inv = Invocation(
                caller_of(user),
                place,
                name,
                rest,
                TelegramOps(context.bot, chat, user, message),
            )
            reply = await self.core.run(inv)
            if reply.html or reply.extra:
                await self.send(
                    context.bot,
                    chat,
                    reply,
                    topic=place.topic_id,
                    reply_to=message.message_id if place.kind != "private" else None,
                )

        return on_command

    async def on_unknown(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """An unknown /command in a private chat gets a pointer to /help."""
        message = update.effective_message
        if message is None or not message.text:
            return
        name = message.text.split(maxsplit=1)[0].lstrip("/").split("@", 1)[0]
        await self.command(name)(update, context)

    async def on_button(self, update: Update, context: ContextTypes.DEFAULT_TYPE) -> None:
        """A pressed inline button: verify its signature, answer, then show the result."""
        query = update.callback_query
        if query is None or query.data is None:
            return
        message = query.message if isinstance(query.message, Message) else None
        chat = message.chat if message is not None else None
        if chat is None:
            await query.answer()
            return
        press = Press(
            caller_of(query.from_user),
            place_of(chat, message),
            query.data,
            TelegramOps(context.bot, chat, query.from_user, None),
        )
        reply = await self.core.press(press)
        await query.answer(text=reply.notice[:200] if reply.notice else None)
        if not reply.html:
            return
        parts = messages(reply, chat_kind(chat), self._links(context.bot))
        if reply.edit and message is not None and len(parts) == 1:
            text, markup = parts[0]
            await context.bot.edit_message_text(
                text,
                chat_id=chat.id,
                message_id=message.message_id,
                parse_mode=ParseMode.HTML,
                reply_markup=markup,
                link_preview_options=_NO_PREVIEW,
            )
            return
        topic = (
            message.message_thread_id if message is not None and message.is_topic_message else None
        )
        await self.send(context.bot, chat, reply, topic=topic, reply_to=None)

    async def on_error(self, update: object, context: ContextTypes.DEFAULT_TYPE) -> None:
        """Log handler errors (never the token; PTB's messages do not carry it)."""
        logger.error("telegram update failed: %r", context.error, exc_info=context.error)

    def register(self, app: Application[Any, Any, Any, Any, Any, Any]) -> None:
        """Add one handler per command of the table, the button handler and the error hook."""
        # New messages only: editing "/buy …" must not run it again.
        new = filters.UpdateType.MESSAGE
        for cmd in self.core.commands:
            app.add_handler(CommandHandler(cmd.name, self.command(cmd.name), filters=new))
        app.add_handler(CallbackQueryHandler(self.on_button))
        app.add_handler(
            MessageHandler(new & filters.COMMAND & filters.ChatType.PRIVATE, self.on_unknown)
        )
        app.add_error_handler(self.on_error)


def bot_commands(lang: str, *, private: bool) -> list[BotCommand]:
    """The command menu of one language, generated from the table."""
    return [
        BotCommand(c.name, gettext_for(lang, c.summary)[:256])
        for c in COMMANDS
        if private or not c.private_only
    ]


async def publish_commands(bot: Bot) -> None:
    """Set the command menus (private and group chats, each language) from the table."""
    for lang in SUPPORTED_LANGUAGES:
        code = None if lang == "en" else lang
        await bot.set_my_commands(
            bot_commands(lang, private=True),
            scope=BotCommandScopeAllPrivateChats(),
            language_code=code,
        )
        await bot.set_my_commands(
            bot_commands(lang, private=False),
            scope=BotCommandScopeAllGroupChats(),
            language_code=code,
        )


_TOKEN_IN_URL: Final = re.compile(r"/bot\d+:[A-Za-z0-9_-]+")


class RedactBotToken(logging.Filter):
    """Masks ``/bot<token>`` in log records (httpx logs every request URL at INFO)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Rewrite the message with the token replaced; never drops a record."""
        message = record.getMessage()
        if "/bot" in message:
            redacted = _TOKEN_IN_URL.sub("/bot<token>", message)
            if redacted != message:
                record.msg, record.args = redacted, None
        return True


def redact_tokens_in_logs() -> None:
    """Install the token filter on the loggers that print Bot API URLs (idempotent)."""
    for name in ("httpx", "telegram", "telegram.ext"):
        target = logging.getLogger(name)
        if not any(isinstance(f, RedactBotToken) for f in target.filters):
            target.addFilter(RedactBotToken())


def use_timedelta_periods() -> None:
    """Opt into python-telegram-bot's ``timedelta`` time periods (``PTB_TIMEDELTA``).

    Without it PTB 22.2+ warns on every ``RetryAfter`` it builds; the setting is only read from
    the environment, so it is set here, where our Telegram clients are built.
    """
    os.environ.setdefault("PTB_TIMEDELTA", "true")


def file_url(base_url: str) -> str:
    """The file URL that goes with a Bot API base URL (``…/bot`` -> ``…/file/bot``)."""
    head, sep, tail = base_url.rpartition("/bot")
    return f"{head}/file/bot{tail}" if sep else base_url


def build_application(
    settings: Settings,
    core: CommandCore,
    *,
    token: str | None = None,
    base_url: str | None = None,
    request: BaseRequest | None = None,
    get_updates_request: BaseRequest | None = None,
    webhook: bool = False,
) -> Application[Any, Any, Any, Any, Any, Any]:
    """The python-telegram-bot Application with our handlers.

    ``webhook`` builds it without an Updater: feed ``application.update_queue`` yourself.
    """
    secret = token or (
        settings.telegram_token.get_secret_value() if settings.telegram_token else None
    )
    if not secret:
        raise ValueError("SOLAI_TELEGRAM_TOKEN is not set")
    use_timedelta_periods()
    redact_tokens_in_logs()
    url = base_url or settings.telegram_bot_api_url
    builder = (
        ApplicationBuilder()
        .token(secret)
        .base_url(url)
        .base_file_url(file_url(url))
        .concurrent_updates(16)
    )
    builder = builder.request(request or HTTPXRequest(connection_pool_size=32))
    if get_updates_request is not None:
        builder = builder.get_updates_request(get_updates_request)
    if webhook:
        builder = builder.updater(None)
    app = builder.build()
    links = Links(settings.public_url, None, settings.telegram_webapp_name)
    TelegramBot(core, links).register(app)
    return app


# -- alerts --------------------------------------------------------------------------------------


def retry_after_s(exc: RetryAfter) -> float:
    """Seconds to wait from a RetryAfter, whether PTB gives an int or a timedelta."""
    with warnings.catch_warnings():
        # PTB 22.2+ warns on int access unless PTB_TIMEDELTA is set; both forms are handled.
        warnings.simplefilter("ignore", PTBDeprecationWarning)
        value = exc.retry_after
    return float(value.total_seconds()) if hasattr(value, "total_seconds") else float(value)


class TelegramSender:
    """Posts alerts with a python-telegram-bot ``Bot`` under a limiter."""

    platform = "telegram"

    def __init__(
        self,
        bot: Bot,
        limiter: ChatLimiter,
        links: Links,
        *,
        on_migrate: Callable[[str, str], Awaitable[None]] | None = None,
    ) -> None:
        self.bot = bot
        self.limiter = limiter
        self.links = links
        self.on_migrate = on_migrate
        """Told (old chat id, new chat id) when a group turned out upgraded to a supergroup."""

    async def send(self, target: Target, reply: Reply, *, skip: int = 0) -> str:
        """Post one alert from part ``skip`` on; maps PTB errors onto RateLimited / SendFailed.

        Each error carries ``parts``, the parts accepted so far, so a retry skips them. An error
        after the request may have reached Telegram (a read timeout, a dropped connection, an
        unreadable 200) is ``ambiguous``: retrying it could post the message twice.
        """
        parts = messages(reply, target.kind, self.links)
        message_id = ""
        chat_id = int(target.chat_id)
        migrated = False
        for i, (text, markup) in enumerate(parts):
            if i < skip:
                continue
            if i > skip:
                await self.limiter.acquire(target.chat_id, group=target.kind != "private")
                await self.limiter.depart(self.limiter.now())
            try:
                try:
                    sent = await self._post(chat_id, text, markup, target)
                except ChatMigrated as exc:
                    # The group became a supergroup: nothing was posted; the new id takes it,
                    # and the caller stores it so the next alert goes there directly.
                    if migrated:
                        raise
                    migrated = True
                    old, chat_id = chat_id, int(exc.new_chat_id)
                    logger.info("telegram chat %s migrated to %s", old, chat_id)
                    if self.on_migrate is not None:
                        await self.on_migrate(str(old), str(chat_id))
                    sent = await self._post(chat_id, text, markup, target)
            except RetryAfter as exc:
                raise RateLimited(retry_after_s(exc), parts=i) from exc
            except (Forbidden, InvalidToken, ChatMigrated) as exc:
                raise SendFailed(f"{type(exc).__name__}: {exc}", permanent=True, parts=i) from exc
            except BadRequest as exc:
                raise SendFailed(f"BadRequest: {exc}", permanent=True, parts=i) from exc
            except TelegramError as exc:
                raise SendFailed(
                    f"{type(exc).__name__}: {exc}",
                    permanent=False,
                    ambiguous=answer_lost(exc),
                    parts=i,
                ) from exc
            message_id = str(sent.message_id)
        return message_id

    async def _post(self, chat_id: int, text: str, markup: Any, target: Target) -> Any:
        return await self.bot.send_message(
            chat_id,
            text,
            parse_mode=ParseMode.HTML,
            reply_markup=markup,
            message_thread_id=target.topic_id,
            link_preview_options=_NO_PREVIEW,
        )

    async def edit(self, target: Target, message_id: str, reply: Reply) -> None:
        """Rewrite a sent message (its last part) with ``editMessageText``, without buttons.

        "message is not modified" counts as done: the edit of an earlier try landed.
        """
        parts = messages(reply, target.kind, self.links)
        if not parts:
            return
        text = parts[-1][0]
        try:
            await self.bot.edit_message_text(
                text,
                chat_id=int(target.chat_id),
                message_id=int(message_id),
                parse_mode=ParseMode.HTML,
                link_preview_options=_NO_PREVIEW,
            )
        except RetryAfter as exc:
            raise RateLimited(retry_after_s(exc)) from exc
        except BadRequest as exc:
            if "not modified" in str(exc).lower():
                return
            raise SendFailed(f"BadRequest: {exc}", permanent=True) from exc
        except (Forbidden, InvalidToken, ChatMigrated) as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}", permanent=True) from exc
        except TelegramError as exc:
            raise SendFailed(f"{type(exc).__name__}: {exc}", permanent=False) from exc


_NOT_SENT: Final = (
    httpx.ConnectError,
    httpx.ConnectTimeout,
    httpx.PoolTimeout,
    httpx.WriteError,
    httpx.WriteTimeout,
)
"""httpx failures that happen before a whole request left: Telegram cannot have acted on it."""


def answer_lost(exc: TelegramError) -> bool:
    """True when the request may have been processed but its answer never arrived.

    PTB raises ``TimedOut``/``NetworkError`` from the httpx error (kept as ``__cause__``); an
    error *answer* (a 5xx with a JSON body) has no such cause and means nothing was posted. A
    failure to connect, or to write the request, means nothing was posted either; a read
    timeout, a dropped connection or an unreadable answer may follow a posted message.
    """
    cause = exc.__cause__
    if isinstance(exc, (TimedOut, NetworkError)):
        if cause is None:
            return False  # Telegram answered an error status
        return not isinstance(cause, _NOT_SENT)
    return True  # e.g. "Invalid server response": a 200 whose body we could not read


@contextlib.asynccontextmanager
async def open_telegram_sender(
    settings: Settings,
    limiter: ChatLimiter,
    *,
    base_url: str | None = None,
    token: str | None = None,
) -> AsyncIterator[TelegramSender]:
    """A sender with its own Bot, initialized (getMe) and shut down around the block."""
    secret = token or (
        settings.telegram_token.get_secret_value() if settings.telegram_token else ""
    )
    url = base_url or settings.telegram_bot_api_url
    use_timedelta_periods()
    redact_tokens_in_logs()
    bot = Bot(
        secret,
        base_url=url,
        base_file_url=file_url(url),
        request=HTTPXRequest(connection_pool_size=64),
    )
    async with bot:
        links = Links(settings.public_url, bot.username, settings.telegram_webapp_name)
        yield TelegramSender(bot, limiter, links)
