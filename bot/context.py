"""Who is asking, where, and what a handler may use to answer: the command core's vocabulary."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bot.callbacks import Binding
from bot.errors import UserError
from bot.i18n import N_, gettext_for, ngettext_for
from bot.render import render
from bot.reply import Button, Reply
from engine.deps import Deps

if TYPE_CHECKING:
    from agent.interface import Agent
    from bot.core import CommandCore

Platform = Literal["telegram", "discord", "console"]
ChatKind = Literal["private", "group", "channel"]


@dataclass(frozen=True, slots=True)
class Caller:
    """The person behind a command or a button press."""

    platform: Platform
    user_id: str
    """Their platform id (digits on Telegram and Discord)."""
    username: str | None = None
    language_code: str | None = None


@dataclass(frozen=True, slots=True)
class Place:
    """The conversation: its platform id, kind, title and forum topic."""

    chat_id: str
    kind: ChatKind
    title: str | None = None
    topic_id: int | None = None


@dataclass(frozen=True, slots=True)
class ChannelRef:
    """A channel as the platform resolved it."""

    external_id: str
    title: str | None


class PlatformOps(Protocol):
    """What only the platform can answer; adapters implement it per update."""

    async def is_admin(self) -> bool:
        """Whether the caller administers the current chat (always True in private)."""
        ...

    async def resolve_channel(self, ref: str, *, require_admin: bool) -> ChannelRef:
        """A channel by ``@name`` or id; with ``require_admin`` the bot and the caller must
        both administer it. Raises UserError otherwise."""
        ...


class NoPlatformOps:
    """For places without admins or channels (the console, tests of the core alone)."""

    def __init__(self, *, admin: bool = True) -> None:
        self.admin = admin

    async def is_admin(self) -> bool:
        """The fixed answer."""
        return self.admin

    async def resolve_channel(self, ref: str, *, require_admin: bool) -> ChannelRef:
        """Channels are ids here, taken as given."""
        ref = ref.strip().lstrip("@")
        if not ref:
            raise UserError(N_("missing %(name)s"), name="<channel>")
        return ChannelRef(ref, ref)


@dataclass(frozen=True, slots=True)
class Invocation:
    """A command as typed (``args`` text) or as Discord sends it (named options)."""

    caller: Caller
    place: Place
    command: str
    args: str | Mapping[str, str | None] = ""
    ops: PlatformOps = field(default_factory=NoPlatformOps)


@dataclass(frozen=True, slots=True)
class Press:
    """A button press with its signed data."""

    caller: Caller
    place: Place
    data: str
    ops: PlatformOps = field(default_factory=NoPlatformOps)


@dataclass(slots=True)
class Ctx:
    """Everything a handler needs; created by the core for one command or press."""

    core: CommandCore
    caller: Caller
    place: Place
    ops: PlatformOps
    user_id: int
    chat_id: int
    lang: str
    """The language the caller is answered in."""
    chat_lang: str
    """The language of the chat's alerts."""
    now_ms: int
    settings: dict[str, Any]
    """The user's settings (a copy)."""

    @property
    def deps(self) -> Deps:
        """The process's resources."""
        return self.core.deps

    @property
    def agent(self) -> Agent | None:
        """The agent, when configured."""
        return self.core.agent

    @property
    def private(self) -> bool:
        """True in a one-to-one chat with the bot."""
        return self.place.kind == "private"

    def _(self, message: str, **params: Any) -> str:
        """``message`` translated into the caller's language."""
        return gettext_for(self.lang, message, **params)

    def n_(self, singular: str, plural: str, n: int, **params: Any) -> str:
        """The plural form for ``n``."""
        return ngettext_for(self.lang, singular, plural, n, **params)

    def render(self, template: str, **context: Any) -> str:
        """A template in the caller's language, with ``now`` and ``private`` available."""
        return render(self.lang, template, now=self.now_ms, private=self.private, **context)

    @contextlib.asynccontextmanager
    async def tx(self) -> AsyncIterator[AsyncSession]:
        """A short transaction (committed on success)."""
        async with self.deps.sessions.begin() as session:
            yield session

    def button(self, label: str, action: str, arg: str = "", *, chat: bool = False) -> Button:
        """A signed callback button for the caller (or, with ``chat``, anyone in the chat)."""
        bind = Binding("c", self.place.chat_id) if chat else Binding("u", self.caller.user_id)
        return Button(label, "callback", self.core.signer.pack(action, arg, bind))

    async def require_admin(self) -> None:
        """In a group, only its admins may go on."""
        if self.place.kind != "private" and not await self.ops.is_admin():
            raise UserError(N_("only this chat's admins can change its settings"))


Handler = Callable[[Ctx, dict[str, Any]], Awaitable[Reply]]
PressHandler = Callable[[Ctx, str], Awaitable[Reply]]
