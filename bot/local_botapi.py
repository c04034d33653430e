"""A local Telegram Bot API server: what ``api.telegram.org`` answers, on 127.0.0.1.

It speaks the Bot API over HTTP as python-telegram-bot calls it (``POST /bot<token>/<method>``,
form-encoded or JSON bodies; ``{"ok": true, "result": …}`` or ``{"ok": false, "error_code": …,
"description": …, "parameters": {"retry_after": N}}``), records every call, and enforces
Telegram's flood limits with 429s: per chat, per group and overall, as sliding windows at the
published counts (:data:`bot.limits.TELEGRAM_LIMITS`, or a time-compressed copy for tests).
HTML text is parsed as Telegram does: an unsupported tag, an unbalanced one or a stray ``<``/``&``
is a 400 "can't parse entities", and text over 4,096 characters is "message is too long".

Updates are queued with :meth:`LocalBotApi.push_update` and served by ``getUpdates`` (long
polling with ``offset``/``timeout``), or POSTed to the webhook set with ``setWebhook`` (with its
``X-Telegram-Bot-Api-Secret-Token``). Chats, their admins and forum topics are declared with
:meth:`LocalBotApi.add_chat`; unknown positive ids are private chats, negative ones supergroups.

    async with LocalBotApi() as api:
        app = ApplicationBuilder().token("1:T").base_url(api.base_url).build()

Faults, for chaos tests (only on the methods that post a message, :data:`SEND_METHODS`):

- :meth:`LocalBotApi.fail_next`: the next N sends (to one chat, or any) answer an error;
- :meth:`LocalBotApi.fail_for`: every send answers an error for a time window (a 429 storm
  with ``retry_after``, a 5xx outage);
- both refuse *before* delivering: nothing is stored, as when Telegram answers an error;
- :attr:`LocalBotApi.latency_s`: each accepted send is stored at once and answered that much
  later, so a client that dies while waiting leaves a message delivered but unconfirmed
  (:attr:`LocalBotApi.in_flight` counts such open requests).

Multipart uploads (files) are not supported: the product sends none.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final
from urllib.parse import parse_qsl

import httpx

from bot.limits import TELEGRAM_LIMITS, PlatformLimits, Rate, SlidingWindow
from bot.text import TELEGRAM_TEXT_LIMIT, MarkupError, telegram_html_text, utf16_len
from engine.net.loopback import LoopbackServer

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

SEND_METHODS: Final = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendAnimation",
        "sendVideo",
        "sendAudio",
        "sendVoice",
        "sendSticker",
        "sendMediaGroup",
        "sendLocation",
        "sendPoll",
        "copyMessage",
        "forwardMessage",
    }
)
"""Methods that post a message and count against the flood limits."""
_JSON_FIELDS: Final = frozenset(
    {
        "reply_markup",
        "entities",
        "caption_entities",
        "allowed_updates",
        "commands",
        "scope",
        "link_preview_options",
        "reply_parameters",
        "media",
        "results",
    }
)
_INT_FIELDS: Final = frozenset(
    {"offset", "limit", "timeout", "message_id", "message_thread_id", "user_id", "cache_time"}
)
_BOOL_FIELDS: Final = frozenset(
    {"drop_pending_updates", "disable_notification", "protect_content", "show_alert"}
)
ANONYMOUS_ADMIN_ID: Final = 1087968824
"""Telegram's "GroupAnonymousBot": the sender of messages by anonymous group admins."""


class ApiError(Exception):
    """A Bot API error answer."""

    def __init__(
        self,
        code: int,
        description: str,
        retry_after: int | None = None,
        migrate_to: int | None = None,
    ) -> None:
        super().__init__(description)
        self.code = code
        self.description = description
        self.retry_after = retry_after
        self.migrate_to = migrate_to


@dataclass(slots=True)
class ApiCall:
    """One request as the server saw it and how it answered."""

    method: str
    params: dict[str, Any]
    at: float
    """Monotonic time of arrival (the server's clock)."""
    status: int
    ok: bool
    error_code: int | None = None
    description: str | None = None
    result: Any = None
    answered_at: float | None = None
    """Monotonic time the answer was written (``at`` plus :attr:`LocalBotApi.latency_s`)."""


_DESCRIPTIONS: Final = {
    429: "Too Many Requests: retry after {retry_after}",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


@dataclass(frozen=True, slots=True)
class Fault:
    """An error answer injected instead of a send."""

    code: int
    description: str
    retry_after: int | None = None

    @classmethod
    def of(cls, code: int, description: str | None, retry_after: int | None) -> Fault:
        """The fault with Telegram's wording for ``code`` unless a description is given."""
        if code == 429 and retry_after is None:
            retry_after = 1
        text = description or _DESCRIPTIONS.get(code, f"Error {code}")
        return cls(code, text.format(retry_after=retry_after), retry_after)


@dataclass(slots=True)
class _Window:
    until: float
    chat_id: int | None
    fault: Fault


@dataclass(slots=True)
class ChatInfo:
    """A chat the server knows: type, title, members' roles, forum flag."""

    id: int
    type: str
    title: str | None = None
    username: str | None = None
    first_name: str | None = None
    is_forum: bool = False
    owner: int | None = None
    admins: set[int] = field(default_factory=set)
    bot_is_admin: bool = True

    def as_chat(self) -> dict[str, Any]:
        """The ``Chat`` object."""
        out: dict[str, Any] = {"id": self.id, "type": self.type}
        if self.title is not None:
            out["title"] = self.title
        if self.username is not None:
            out["username"] = self.username
        if self.first_name is not None:
            out["first_name"] = self.first_name
        if self.is_forum:
            out["is_forum"] = True
        return out


class _Windows:
    """One sliding window per key at the exact published limit (the server adds no headroom)."""

    def __init__(self, rate: Rate) -> None:
        self.rate = rate
        self._by_key: dict[Any, SlidingWindow] = {}

    def _window(self, key: Any) -> SlidingWindow:
        w = self._by_key.get(key)
        if w is None:
            w = self._by_key[key] = SlidingWindow(self.rate, margin=0.0)
        return w

    def wait(self, key: Any, now: float) -> float:
        """Seconds until ``key`` may send again (0 when it may now)."""
        return self._window(key).wait(now)

    def record(self, key: Any, now: float) -> None:
        """Count a send of ``key`` at ``now``."""
        self._window(key).record(now)


class LocalBotApi:
    """The server: start/stop in-process on an ephemeral 127.0.0.1 port."""

    def __init__(
        self,
        *,
        token: str | None = None,
        limits: PlatformLimits = TELEGRAM_LIMITS,
        enforce_limits: bool = True,
        bot_id: int = 7_000_000_001,
        bot_username: str = "solai_local_bot",
        host: str = "127.0.0.1",
        port: int = 0,
        now: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        """When set, any other token is answered 401."""
        self.limits = limits
        self.enforce_limits = enforce_limits
        self.bot_id = bot_id
        self.bot_username = bot_username
        self.host = host
        self.port = port
        self._now = now
        self.calls: list[ApiCall] = []
        self.chats: dict[int, ChatInfo] = {}
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.webhook: dict[str, Any] | None = None
        self._updates: deque[dict[str, Any]] = deque()
        self._update_ids = itertools.count(1)
        self._message_ids = itertools.count(1)
        self._arrived = asyncio.Event()
        self._overall = _Windows(limits.overall)
        self._per_chat = _Windows(limits.per_chat)
        self._per_group = _Windows(limits.per_group) if limits.per_group else None
        # A burst opens many connections at once: a deep accept backlog.
        self._server = LoopbackServer(
            self._asgi,
            host=host,
            port=port,
            name="local Bot API",
            backlog=1024,
            interface="asgi3",
        )
        self._http: httpx.AsyncClient | None = None
        self._closing = False
        self.blocked: set[int] = set()
        """Chats whose user blocked the bot: sending there is 403 Forbidden."""
        self.migrated: dict[int, int] = {}
        """Groups upgraded to a supergroup (old id → new id): sending to the old id is a 400
        carrying ``migrate_to_chat_id``, as Telegram answers."""
        self._faults: dict[int | None, deque[Fault | None]] = {}
        self._windows: list[_Window] = []
        self.latency_s = 0.0
        """Delay between storing an accepted send and answering it."""
        self.in_flight = 0
        """Sends accepted (stored) whose answer has not been written yet."""

    # -- lifecycle ------------------------------------------------------------------------------

    async def __aenter__(self) -> LocalBotApi:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://{self.host}:{self.port}"

    @property
    def base_url(self) -> str:
        """python-telegram-bot's ``base_url`` (it appends the token)."""
        return f"{self.url}/bot"

    @property
    def base_file_url(self) -> str:
        """python-telegram-bot's ``base_file_url``."""
        return f"{self.url}/file/bot"

    async def start(self) -> None:
        """Bind the port and serve."""
        self._closing = False
        self._http = httpx.AsyncClient(timeout=10.0)
        self.port = await self._server.start()
        logger.info("local Bot API on %s", self.url)

    async def stop(self) -> None:
        """Answer pending long polls, stop serving and release the port."""
        self._closing = True
        self._arrived.set()
        await self._server.stop()
        if self._http is not None:
            await self._http.aclose()
            self._http = None

    # -- set-up and inspection ------------------------------------------------------------------

    def add_chat(
        self,
        chat_id: int,
        type: str,
        *,
        title: str | None = None,
        username: str | None = None,
        first_name: str | None = None,
        is_forum: bool = False,
        owner: int | None = None,
        admins: set[int] | None = None,
        bot_is_admin: bool = True,
    ) -> ChatInfo:
        """Declare a chat (``private``, ``group``, ``supergroup`` or ``channel``)."""
        info = ChatInfo(
            chat_id,
            type,
            title,
            username.lstrip("@") if username else None,
            first_name,
            is_forum,
            owner,
            set(admins or ()),
            bot_is_admin,
        )
        self.chats[chat_id] = info
        return info

    def push_update(self, update: dict[str, Any]) -> int:
        """Queue an update (its ``update_id`` assigned when missing); returns the id."""
        payload = dict(update)
        if "update_id" not in payload:
            payload["update_id"] = next(self._update_ids)
        self._updates.append(payload)
        self._arrived.set()
        return int(payload["update_id"])

    async def deliver_webhook(self) -> list[int]:
        """POST every queued update to the webhook; returns the HTTP statuses."""
        if self.webhook is None or self._http is None:
            raise RuntimeError("no webhook is set")
        statuses = []
        while self._updates:
            update = self._updates.popleft()
            headers = {}
            if self.webhook.get("secret_token"):
                headers["X-Telegram-Bot-Api-Secret-Token"] = str(self.webhook["secret_token"])
            resp = await self._http.post(self.webhook["url"], json=update, headers=headers)
            statuses.append(resp.status_code)
        return statuses

    def fail_next(
        self,
        count: int = 1,
        *,
        chat_id: int | None = None,
        code: int = 502,
        description: str | None = None,
        retry_after: int | None = None,
        after: int = 0,
    ) -> None:
        """Answer the next ``count`` sends (to ``chat_id``, or any) with an error, for chaos.

        ``code=429`` answers "Too Many Requests" with ``parameters.retry_after`` (1 s unless
        given); 5xx codes answer Telegram's wording. Nothing is delivered. ``after`` lets that
        many sends through first (part 2 of a split message failing, say).
        """
        queue = self._faults.setdefault(chat_id, deque())
        queue.extend([None] * after)
        queue.extend([Fault.of(code, description, retry_after)] * count)

    def fail_for(
        self,
        seconds: float,
        *,
        chat_id: int | None = None,
        code: int = 502,
        description: str | None = None,
        retry_after: int | None = None,
    ) -> None:
        """Answer every send (to ``chat_id``, or any) with an error for ``seconds`` from now.

        A 429 storm is ``fail_for(5, code=429, retry_after=2)``; an outage ``code=500``.
        """
        fault = Fault.of(code, description, retry_after)
        self._windows.append(_Window(self._now() + seconds, chat_id, fault))

    def clear_faults(self) -> None:
        """Forget every queued fault and window."""
        self._faults.clear()
        self._windows.clear()

    def calls_to(self, method: str) -> list[ApiCall]:
        """Every recorded call of one method, in arrival order."""
        return [c for c in self.calls if c.method == method]

    def sent(self, chat_id: int | None = None) -> list[dict[str, Any]]:
        """Messages accepted by sendMessage (optionally to one chat), in order."""
        return [
            c.result
            for c in self.calls
            if c.method == "sendMessage"
            and c.ok
            and (chat_id is None or c.result["chat"]["id"] == chat_id)
        ]

    @property
    def rejected_429(self) -> list[ApiCall]:
        """Calls refused with 429 Too Many Requests."""
        return [c for c in self.calls if c.error_code == 429]

    # -- HTTP --------------------------------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            msg = await receive()
            body += msg.get("body", b"")
            more = msg.get("more_body", False)
        status, payload = await self._handle(scope, body)
        data = json.dumps(payload, ensure_ascii=False).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(data)).encode()),
                ],
            }
        )
        await send({"type": "http.response.body", "body": data})

    async def _handle(self, scope: Scope, body: bytes) -> tuple[int, dict[str, Any]]:
        path: str = scope["path"]
        parts = path.strip("/").split("/")
        if len(parts) != 2 or not parts[0].startswith("bot"):
            return 404, {"ok": False, "error_code": 404, "description": "Not Found"}
        token, method = parts[0][3:], parts[1]
        at = self._now()
        try:
            params = _params(scope, body)
        except ValueError as exc:
            params = {}
            return self._answer(method, params, at, ApiError(400, f"Bad Request: {exc}"))
        if self.token is not None and token != self.token:
            return self._answer(method, params, at, ApiError(401, "Unauthorized"))
        try:
            result = await self._call(method, params)
        except ApiError as exc:
            return self._answer(method, params, at, exc)
        call = ApiCall(method, params, at, 200, True, result=result)
        self.calls.append(call)
        if self.latency_s > 0 and method in SEND_METHODS:
            # Stored already: a client that gives up now has still posted the message.
            self.in_flight += 1
            try:
                await asyncio.sleep(self.latency_s)
            finally:
                self.in_flight -= 1
        call.answered_at = self._now()
        return 200, {"ok": True, "result": result}

    def _answer(
        self, method: str, params: dict[str, Any], at: float, exc: ApiError
    ) -> tuple[int, dict[str, Any]]:
        self.calls.append(
            ApiCall(method, params, at, exc.code, False, exc.code, exc.description, answered_at=at)
        )
        payload: dict[str, Any] = {
            "ok": False,
            "error_code": exc.code,
            "description": exc.description,
        }
        if exc.retry_after is not None:
            payload["parameters"] = {"retry_after": exc.retry_after}
        if exc.migrate_to is not None:
            payload["parameters"] = {"migrate_to_chat_id": exc.migrate_to}
        return exc.code, payload

    # -- methods -----------------------------------------------------------------------------------

    async def _call(self, method: str, p: dict[str, Any]) -> Any:
        handler = getattr(self, f"_m_{method}", None)
        if handler is None:
            raise ApiError(404, "Not Found: method not found")
        if method in SEND_METHODS:
            self._inject_faults(p)
            self._check_flood(p)
        return await handler(p)

    def _inject_faults(self, p: dict[str, Any]) -> None:
        try:
            chat_id: int | None = int(p.get("chat_id"))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            chat_id = None
        for key in (chat_id, None):
            queue = self._faults.get(key)
            if queue:
                fault = queue.popleft()
                if fault is None:
                    continue  # this queue lets one send by; the global one may still refuse
                raise ApiError(fault.code, fault.description, fault.retry_after)
        if self._windows:
            now = self._now()
            self._windows = [w for w in self._windows if w.until > now]
            for w in self._windows:
                if w.chat_id is None or w.chat_id == chat_id:
                    raise ApiError(w.fault.code, w.fault.description, w.fault.retry_after)
        if chat_id in self.blocked:
            raise ApiError(403, "Forbidden: bot was blocked by the user")
        if chat_id in self.migrated:
            raise ApiError(
                400,
                "Bad Request: group chat was upgraded to a supergroup chat",
                migrate_to=self.migrated[chat_id],
            )

    def _bot_user(self) -> dict[str, Any]:
        return {
            "id": self.bot_id,
            "is_bot": True,
            "first_name": "SolAI (local)",
            "username": self.bot_username,
        }

    def _chat(self, chat_id: Any, *, create: bool = True) -> ChatInfo:
        if isinstance(chat_id, str) and chat_id.startswith("@"):
            for known in self.chats.values():
                if known.username and known.username.lower() == chat_id[1:].lower():
                    return known
            raise ApiError(400, "Bad Request: chat not found")
        try:
            cid = int(chat_id)
        except (TypeError, ValueError):
            raise ApiError(400, "Bad Request: chat_id is empty") from None
        info = self.chats.get(cid)
        if info is None:
            if not create:
                raise ApiError(400, "Bad Request: chat not found")
            kind = "private" if cid > 0 else "supergroup"
            info = self.add_chat(
                cid,
                kind,
                first_name="User" if kind == "private" else None,
                title=None if kind == "private" else f"Group {cid}",
            )
        return info

    def _check_flood(self, p: dict[str, Any]) -> None:
        if not self.enforce_limits:
            return
        info = self._chat(p.get("chat_id"))
        now = self._now()
        group = info.type != "private"
        waits = [self._overall.wait("all", now), self._per_chat.wait(info.id, now)]
        if group and self._per_group is not None:
            waits.append(self._per_group.wait(info.id, now))
        wait = max(waits)
        if wait > 0:
            retry = max(1, math.ceil(wait))
            raise ApiError(429, f"Too Many Requests: retry after {retry}", retry_after=retry)
        self._overall.record("all", now)
        self._per_chat.record(info.id, now)
        if group and self._per_group is not None:
            self._per_group.record(info.id, now)

    async def _m_getMe(self, p: dict[str, Any]) -> Any:
        return {
            **self._bot_user(),
            "can_join_groups": True,
            "can_read_all_group_messages": False,
            "supports_inline_queries": False,
            "can_connect_to_business": False,
            "has_main_web_app": False,
        }

    async def _m_logOut(self, p: dict[str, Any]) -> Any:
        return True

    async def _m_close(self, p: dict[str, Any]) -> Any:
        return True

    def _text(self, p: dict[str, Any]) -> str:
        text = p.get("text")
        if not isinstance(text, str) or not text.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        visible = text
        if str(p.get("parse_mode") or "").upper() == "HTML":
            try:
                visible = telegram_html_text(text)
            except MarkupError as exc:
                raise ApiError(400, f"Bad Request: can't parse entities: {exc}") from None
        if utf16_len(visible) > TELEGRAM_TEXT_LIMIT:
            raise ApiError(400, "Bad Request: message is too long")
        if not visible.strip():
            raise ApiError(400, "Bad Request: message text is empty")
        return text

    def _markup(self, p: dict[str, Any], chat: ChatInfo) -> dict[str, Any] | None:
        markup = p.get("reply_markup")
        if markup is None:
            return None
        if not isinstance(markup, dict):
            raise ApiError(400, "Bad Request: can't parse reply keyboard markup JSON object")
        for row in markup.get("inline_keyboard", []):
            for button in row:
                text = button.get("text")
                if not isinstance(text, str) or not text.strip():
                    raise ApiError(
                        400, "Bad Request: text buttons are unallowed in the inline keyboard"
                    )
                data = button.get("callback_data")
                if data is not None and not 1 <= len(str(data).encode()) <= 64:
                    raise ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if "web_app" in button and chat.type != "private":
                    raise ApiError(400, "Bad Request: BUTTON_TYPE_INVALID")
                kinds = {"callback_data", "url", "web_app"} & set(button)
                if len(kinds) != 1:
                    raise ApiError(400, 'Bad Request: can\'t find field "callback_data"')
        return markup

    def _message(self, chat: ChatInfo, p: dict[str, Any], text: str) -> dict[str, Any]:
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "date": int(time.time()),
            "chat": chat.as_chat(),
            "from": self._bot_user(),
            "text": text,
        }
        thread = p.get("message_thread_id")
        if thread is not None:
            if not chat.is_forum:
                raise ApiError(400, "Bad Request: message thread not found")
            message["message_thread_id"] = thread
            message["is_topic_message"] = True
        return message

    async def _m_sendMessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p.get("chat_id"))
        text = self._text(p)
        markup = self._markup(p, chat)
        message = self._message(chat, p, text)
        if markup is not None:
            message["reply_markup"] = markup
        self.messages[(chat.id, message["message_id"])] = message
        return message

    async def _m_editMessageText(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p.get("chat_id"), create=False)
        key = (chat.id, int(p.get("message_id") or 0))
        message = self.messages.get(key)
        if message is None:
            raise ApiError(400, "Bad Request: message to edit not found")
        text = self._text(p)
        markup = self._markup(p, chat)
        if text == message["text"] and markup == message.get("reply_markup"):
            raise ApiError(400, "Bad Request: message is not modified")
        message = {**message, "text": text, "edit_date": int(time.time())}
        if markup is not None:
            message["reply_markup"] = markup
        else:
            message.pop("reply_markup", None)
        self.messages[key] = message
        return message

    async def _m_deleteMessage(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p.get("chat_id"), create=False)
        if self.messages.pop((chat.id, int(p.get("message_id") or 0)), None) is None:
            raise ApiError(400, "Bad Request: message to delete not found")
        return True

    async def _m_answerCallbackQuery(self, p: dict[str, Any]) -> Any:
        if not p.get("callback_query_id"):
            raise ApiError(400, "Bad Request: query is too old and response timeout expired")
        return True

    async def _m_sendChatAction(self, p: dict[str, Any]) -> Any:
        self._chat(p.get("chat_id"))
        return True

    async def _m_setMyCommands(self, p: dict[str, Any]) -> Any:
        commands = p.get("commands")
        if not isinstance(commands, list) or len(commands) > 100:
            raise ApiError(400, "Bad Request: commands must be a list of at most 100")
        for c in commands:
            name, desc = str(c.get("command", "")), str(c.get("description", ""))
            if not (1 <= len(name) <= 32 and name.islower() and name.replace("_", "").isalnum()):
                raise ApiError(400, f"Bad Request: BOT_COMMAND_INVALID ({name!r})")
            if not 1 <= len(desc) <= 256:
                raise ApiError(400, "Bad Request: BOT_COMMAND_DESCRIPTION_INVALID")
        self.commands[_scope_key(p)] = commands
        return True

    async def _m_getMyCommands(self, p: dict[str, Any]) -> Any:
        return self.commands.get(_scope_key(p), [])

    async def _m_deleteMyCommands(self, p: dict[str, Any]) -> Any:
        self.commands.pop(_scope_key(p), None)
        return True

    async def _m_setWebhook(self, p: dict[str, Any]) -> Any:
        url = p.get("url")
        if not isinstance(url, str) or not url.startswith(("http://", "https://")):
            raise ApiError(400, "Bad Request: bad webhook: an HTTPS URL must be provided")
        self.webhook = {
            "url": url,
            "secret_token": p.get("secret_token"),
            "allowed_updates": p.get("allowed_updates"),
        }
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_deleteWebhook(self, p: dict[str, Any]) -> Any:
        self.webhook = None
        if p.get("drop_pending_updates"):
            self._updates.clear()
        return True

    async def _m_getWebhookInfo(self, p: dict[str, Any]) -> Any:
        return {
            "url": self.webhook["url"] if self.webhook else "",
            "has_custom_certificate": False,
            "pending_update_count": len(self._updates),
        }

    async def _m_getUpdates(self, p: dict[str, Any]) -> Any:
        if self.webhook is not None:
            raise ApiError(
                409,
                "Conflict: can't use getUpdates method while webhook is active; "
                "use deleteWebhook to delete the webhook first",
            )
        offset = int(p.get("offset") or 0)
        while self._updates and offset and int(self._updates[0]["update_id"]) < offset:
            self._updates.popleft()  # confirmed by the offset, as Telegram forgets them
        timeout = min(float(p.get("timeout") or 0), 50.0)
        if not self._updates and timeout > 0 and not self._closing:
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(timeout):
                    await self._arrived.wait()
        limit = int(p.get("limit") or 100)
        return [u for u in list(self._updates)[:limit] if int(u["update_id"]) >= offset]

    async def _m_getChat(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p.get("chat_id"), create=False)
        return {
            **chat.as_chat(),
            "accent_color_id": 0,
            "max_reaction_count": 11,
            "accepted_gift_types": {
                "unlimited_gifts": False,
                "limited_gifts": False,
                "unique_gifts": False,
                "premium_subscription": False,
                "gifts_from_channels": False,
            },
        }

    def _member(self, chat: ChatInfo, user_id: int) -> dict[str, Any]:
        user = {"id": user_id, "is_bot": user_id == self.bot_id, "first_name": f"U{user_id}"}
        if user_id == self.bot_id:
            if not chat.bot_is_admin:
                return {"status": "member", "user": self._bot_user()}
            return {"status": "administrator", "user": self._bot_user(), **_admin_rights()}
        if chat.type == "private" and user_id == chat.id:
            return {"status": "member", "user": user}
        if user_id == chat.owner:
            return {"status": "creator", "user": user, "is_anonymous": False}
        if user_id in chat.admins:
            return {"status": "administrator", "user": user, **_admin_rights(can_be_edited=False)}
        return {"status": "member", "user": user}

    async def _m_getChatMember(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p.get("chat_id"), create=False)
        return self._member(chat, int(p.get("user_id") or 0))

    async def _m_getChatAdministrators(self, p: dict[str, Any]) -> Any:
        chat = self._chat(p.get("chat_id"), create=False)
        ids = ([chat.owner] if chat.owner else []) + sorted(chat.admins)
        if chat.bot_is_admin:
            ids.append(self.bot_id)
        return [self._member(chat, i) for i in ids]


def _admin_rights(*, can_be_edited: bool = False) -> dict[str, Any]:
    return {
        "can_be_edited": can_be_edited,
        "is_anonymous": False,
        "can_manage_chat": True,
        "can_delete_messages": True,
        "can_manage_video_chats": True,
        "can_restrict_members": True,
        "can_promote_members": False,
        "can_change_info": True,
        "can_invite_users": True,
        "can_post_stories": False,
        "can_edit_stories": False,
        "can_delete_stories": False,
        "can_post_messages": True,
        "can_edit_messages": True,
        "can_pin_messages": True,
    }


def _scope_key(p: dict[str, Any]) -> str:
    scope = p.get("scope") or {"type": "default"}
    return f"{scope.get('type')}:{p.get('language_code') or ''}"


def _params(scope: Scope, body: bytes) -> dict[str, Any]:
    headers = {k.decode().lower(): v.decode() for k, v in scope.get("headers", [])}
    ctype = headers.get("content-type", "")
    raw: dict[str, Any] = {}
    query = scope.get("query_string", b"").decode()
    if query:
        raw.update(parse_qsl(query, keep_blank_values=True))
    if ctype.startswith("application/json"):
        data = json.loads(body or b"{}")
        if not isinstance(data, dict):
            raise ValueError("the JSON body must be an object")
        raw.update(data)
        return raw
    if ctype.startswith("multipart/"):
        raise ValueError("multipart bodies (file uploads) are not supported by the local server")
    if body:
        # Form fields are strings; python-telegram-bot JSON-encodes the structured ones.
        for key, value in parse_qsl(body.decode(), keep_blank_values=True):
            raw[key] = value
    out: dict[str, Any] = {}
    for key, value in raw.items():
        if isinstance(value, str) and key in _JSON_FIELDS:
            out[key] = json.loads(value)
        elif isinstance(value, str) and key in _INT_FIELDS:
            out[key] = int(value)
        elif isinstance(value, str) and key in _BOOL_FIELDS:
            out[key] = value.lower() == "true"
        else:
            out[key] = value
    return out
