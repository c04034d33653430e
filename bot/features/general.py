"""/start, /help and /lang, and the language and quick-action buttons."""

from __future__ import annotations

import logging
from typing import Any

from bot.context import Ctx
from bot.errors import UserError
from bot.i18n import N_, gettext_for
from bot.reply import Button, Reply, rows
from engine.services import accounts
from engine.services.accounts import SUPPORTED_LANGUAGES
from engine.smartmoney.registry import valid_address

logger = logging.getLogger(__name__)

LANGUAGE_NAMES = {"en": "English", "fr": "Français"}


def _quick_buttons(ctx: Ctx) -> list[Button]:
    from bot.commands import quick_commands

    return [ctx.button(f"/{c.name}", "q", c.name) for c in quick_commands() if c.name != "help"]


def _language_buttons(ctx: Ctx) -> list[Button]:
    return [ctx.button(LANGUAGE_NAMES[code], "lg", code) for code in SUPPORTED_LANGUAGES]


async def start(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """Onboarding: what the bot does, the disclaimer, language choice, quick actions."""
    async with ctx.tx() as session:
        await accounts.accept_disclaimer(session, user_id=ctx.user_id, now_ms=ctx.now_ms)
    body = ctx.render(
        "start.html",
        group=not ctx.private,
        language=LANGUAGE_NAMES.get(ctx.lang, ctx.lang),
    )
    reply = Reply(
        body,
        title=ctx._("SolAI Signals"),
        buttons=rows(*_language_buttons(ctx), *_quick_buttons(ctx)),
    )
    payload = str(args.get("payload") or "")
    # Deep links from shared cards: t.me/<bot>?start=s_<mint> opens that token's card.
    if payload.startswith("s_") and valid_address(payload[2:]):
        from bot.features.signals import card_reply

        try:
            card = await card_reply(ctx, payload[2:])
        except UserError:
            return reply
        return Reply(reply.html, reply.title, reply.buttons, extra=(card,))
    return reply


async def help_(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """Every command with its usage, grouped, generated from the command table."""
    from bot.commands import CATEGORIES

    groups: dict[str, list[dict[str, Any]]] = {}
    for cmd in ctx.core.commands:
        if cmd.name == "start":
            continue
        groups.setdefault(cmd.category, []).append(
            {
                "usage": cmd.usage(),
                "summary": ctx._(cmd.summary),
                "admin": cmd.admin_in_groups and not ctx.private,
                "private_only": cmd.private_only and not ctx.private,
            }
        )
    sections = [
        {"title": ctx._(CATEGORIES[key]), "commands": cmds}
        for key, cmds in groups.items()
        if key in CATEGORIES
    ]
    return Reply(
        ctx.render("help.html", sections=sections),
        title=ctx._("Commands"),
        buttons=rows(*_quick_buttons(ctx)),
    )


async def _set_language(ctx: Ctx, code: str) -> Reply:
    language = accounts.check_language(code)
    async with ctx.tx() as session:
        if ctx.private:
            await accounts.set_user_language(session, user_id=ctx.user_id, language=language)
            await accounts.set_chat_language(session, chat_id=ctx.chat_id, language=language)
        else:
            # In a group the language is the group's alert language: a setting, for admins.
            await ctx.require_admin()
            await accounts.set_chat_language(session, chat_id=ctx.chat_id, language=language)
    text = gettext_for(
        language,
        N_("I will answer in %(language)s.")
        if ctx.private
        else N_("This group's alerts will be in %(language)s."),
        language=LANGUAGE_NAMES[language],
    )
    return Reply(ctx.render("message.html", message=text), notice=text)


async def lang(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """Show the language with buttons, or change it."""
    code = args.get("language")
    if code:
        return await _set_language(ctx, str(code))
    current = ctx.lang if ctx.private else ctx.chat_lang
    text = ctx._("Language: %(language)s", language=LANGUAGE_NAMES.get(current, current))
    return Reply(ctx.render("message.html", message=text), buttons=rows(*_language_buttons(ctx)))


async def press_lang(ctx: Ctx, arg: str) -> Reply:
    """A language button."""
    reply = await _set_language(ctx, arg)
    return Reply(reply.html, notice=reply.notice, edit=True)


async def press_quick(ctx: Ctx, arg: str) -> Reply:
    """A quick-action button runs its command without arguments."""
    command = ctx.core.by_name.get(arg)
    if command is None or any(a.required for a in command.args):
        raise UserError(N_("unknown command /%(name)s; see /help"), name=arg[:32])
    return await command.handler(ctx, {})
