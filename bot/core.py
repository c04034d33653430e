"""The command core: one entry for commands and one for button presses, for every platform.

It throttles each user politely, records who and where (users, chats), checks group admins for
settings, parses arguments from the command table, calls the handler, and turns every failure
into a translated reply: a user error names the bad argument, anything else is logged and
answered with an apology, never a traceback.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from bot import args as argparse_
from bot.callbacks import BadCallback, Signer
from bot.commands import BY_NAME, COMMANDS, PRESSES, Command
from bot.context import Caller, Ctx, Invocation, Place, PlatformOps, Press
from bot.errors import UserError, from_service
from bot.i18n import N_, gettext_for
from bot.limits import UserRateLimit
from bot.render import render
from bot.reply import Reply
from engine.deps import Deps
from engine.services import accounts
from engine.services.errors import ServiceError

if TYPE_CHECKING:
    from agent.interface import Agent

logger = logging.getLogger(__name__)


class CommandCore:
    """Parses, authorizes and answers commands and button presses, platform-neutrally."""

    def __init__(
        self,
        deps: Deps,
        *,
        agent: Agent | None = None,
        rate_limit: UserRateLimit | None = None,
        commands: Sequence[Command] = COMMANDS,
    ) -> None:
        self.deps = deps
        # The process edge builds the agent into Deps; an explicit one (tests) wins.
        self.agent: Agent | None = agent if agent is not None else deps.agent
        self.rate_limit = rate_limit or UserRateLimit()
        self.commands = tuple(commands)
        self.by_name: Mapping[str, Command] = (
            BY_NAME if commands is COMMANDS else {c.name: c for c in commands}
        )
        self.signer = Signer(deps.settings.secret_key.get_secret_value())

    async def _context(self, caller: Caller, place: Place, ops: PlatformOps) -> Ctx:
        now = self.deps.clock.now_ms()
        async with self.deps.sessions.begin() as session:
            user = await accounts.ensure_user(
                session,
                platform=caller.platform,
                external_id=_int_id(caller.user_id),
                now_ms=now,
                username=caller.username,
                language_code=caller.language_code,
            )
            chat = await accounts.ensure_chat(
                session,
                platform=caller.platform,
                external_id=place.chat_id,
                kind=place.kind,
                now_ms=now,
                title=place.title,
                owner_user_id=user.id if place.kind == "private" else None,
                language=user.language,
            )
            lang = accounts.normalize_language(user.language)
            return Ctx(
                core=self,
                caller=caller,
                place=place,
                ops=ops,
                user_id=user.id,
                chat_id=chat.id,
                lang=lang,
                chat_lang=accounts.normalize_language(chat.language),
                now_ms=now,
                settings=dict(user.settings or {}),
            )

    def _throttled(self, caller: Caller) -> Reply | None:
        allowed, warn = self.rate_limit.check(
            f"{caller.platform}:{caller.user_id}", self.deps.clock.now_ms()
        )
        if allowed:
            return None
        lang = accounts.normalize_language(caller.language_code)
        text = gettext_for(
            lang, N_("You are sending commands faster than I can answer; please wait a moment.")
        )
        # One polite answer per throttled stretch; after it, silence rather than more noise.
        if not warn:
            return Reply("")
        return Reply(render(lang, "error.html", message=text, usage=None), tone="warning")

    async def run(self, inv: Invocation) -> Reply:
        """Answer a command; an empty ``html`` means "say nothing"."""
        throttled = self._throttled(inv.caller)
        if throttled is not None:
            return throttled
        command = self.by_name.get(inv.command.lower())
        ctx = await self._context(inv.caller, inv.place, inv.ops)
        if command is None:
            return _error(ctx, N_("unknown command /%(name)s; see /help"), name=inv.command[:32])
        try:
            if command.private_only and not ctx.private:
                raise UserError(N_("use /%(name)s in a private chat with me"), name=command.name)
            parsed = argparse_.parse(command.args, inv.args)
            return await command.handler(ctx, parsed)
        except UserError as exc:
            return _error(ctx, exc.message, usage=command.usage(), **exc.params)
        except ServiceError as exc:
            err = from_service(exc)
            return _error(ctx, err.message, **err.params)
        except Exception:
            logger.exception("command /%s failed", command.name)
            return _error(ctx, N_("something went wrong on our side; please try again"))

    async def press(self, press: Press) -> Reply:
        """Answer a button press; a tampered or foreign button gets a short notice only."""
        throttled = self._throttled(press.caller)
        if throttled is not None:
            return throttled
        lang = accounts.normalize_language(press.caller.language_code)
        try:
            action, arg = self.signer.unpack(
                press.data, user_id=press.caller.user_id, chat_id=press.place.chat_id
            )
        except BadCallback as exc:
            logger.info("refused button from %s: %s", press.caller.user_id, exc)
            msg = (
                N_("This button is for someone else.")
                if exc.not_yours
                else N_("This button is no longer valid.")
            )
            return Reply("", notice=gettext_for(lang, msg))
        handler = PRESSES.get(action)
        if handler is None:
            return Reply("", notice=gettext_for(lang, N_("This button is no longer valid.")))
        ctx = await self._context(press.caller, press.place, press.ops)
        try:
            return await handler(ctx, arg)
        except UserError as exc:
            return _error(ctx, exc.message, **exc.params)
        except ServiceError as exc:
            err = from_service(exc)
            return _error(ctx, err.message, **err.params)
        except Exception:
            logger.exception("button %s failed", action)
            return _error(ctx, N_("something went wrong on our side; please try again"))


def _error(ctx: Ctx, message: str, *, usage: str | None = None, **params: object) -> Reply:
    text = ctx._(message, **params)
    return Reply(ctx.render("error.html", message=text, usage=usage), tone="error")


def _int_id(value: str) -> int:
    try:
        return int(value)
    except ValueError:
        # Console users have names, not numbers: a stable number from the name.
        return int.from_bytes(value.encode()[:7].ljust(7, b"\0"), "big")
