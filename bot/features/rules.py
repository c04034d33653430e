"""/rules: list the effective rules; add one (``name kind key=value…``, or a sentence the agent
drafts and the user confirms with a button); enable or disable one by name."""

from __future__ import annotations

import logging
from decimal import Decimal, InvalidOperation
from typing import Any, Final

from bot.args import parse_sol_amount, split_words
from bot.context import Ctx
from bot.errors import UserError
from bot.i18n import N_
from bot.reply import Button, Reply, rows
from engine.services import accounts
from engine.services import rules as rule_service

logger = logging.getLogger(__name__)

ACTIONS: Final = ("list", "add", "enable", "disable")
DRAFT_KEY: Final = "rule_draft"


def _value(key: str, raw: str) -> Any:
    low = raw.strip().lower()
    if low in ("true", "yes", "on"):
        return True
    if low in ("false", "no", "off"):
        return False
    if key.endswith("_lamports") and low.endswith("sol"):
        # Thresholds are stored in lamports; people think in SOL.
        return parse_sol_amount(low.removesuffix("sol"))
    try:
        return int(low)
    except ValueError:
        pass
    try:
        number = Decimal(low)
    except InvalidOperation:
        raise UserError(N_("not a number: %(value)s"), value=raw[:24]) from None
    if not number.is_finite():
        raise UserError(N_("not a number: %(value)s"), value=raw[:24])
    return float(number)


def _params(words: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for word in words:
        key, sep, raw = word.partition("=")
        if not sep or not key or not raw:
            raise UserError(N_("expected key=value, got %(value)s"), value=word[:40])
        out[key.strip().lower()] = _value(key.strip().lower(), raw)
    return out


async def _list(ctx: Ctx) -> Reply:
    async with ctx.deps.sessions() as session:
        views = await rule_service.list_rules(session, user_id=ctx.user_id)
    return Reply(
        ctx.render("rules.html", rules=views, kinds=rule_service.rule_kinds()),
        title=ctx._("Your rules"),
    )


async def _draft(ctx: Ctx, text: str) -> Reply:
    if ctx.agent is None:
        raise UserError(
            N_("write /rules add <name> <kind> key=value …; kinds: %(choices)s"),
            choices=", ".join(rule_service.rule_kinds()),
        )
    draft = await ctx.agent.draft_rule(user_id=ctx.user_id, text=text, language=ctx.lang)
    buttons: tuple[tuple[Button, ...], ...] = ()
    if not draft.problems:
        async with ctx.tx() as session:
            await accounts.update_user_settings(
                session,
                user_id=ctx.user_id,
                values={
                    DRAFT_KEY: {
                        "name": f"my_{draft.kind}",
                        "kind": draft.kind,
                        "params": draft.params,
                    }
                },
            )
        buttons = rows(ctx.button(ctx._("Save this rule"), "rs"))
    body = ctx.render("rule_draft.html", draft=draft)
    return Reply(body, title=ctx._("Rule draft"), buttons=buttons)


async def rules(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """/rules [list|add|enable|disable] […]."""
    action = str(args.get("action") or "list")
    rest = str(args.get("rule") or "").strip()
    if action == "list":
        return await _list(ctx)
    words = split_words(rest)
    if not words:
        raise UserError(N_("missing %(name)s"), name="<rule>")
    if action in ("enable", "disable"):
        async with ctx.tx() as session:
            view = await rule_service.set_rule_enabled(
                session,
                user_id=ctx.user_id,
                name=words[0],
                enabled=action == "enable",
                now_ms=ctx.now_ms,
            )
        return Reply(ctx.render("rule_saved.html", rule=view, action=action))
    if len(words) >= 2 and words[1].lower() in rule_service.rule_kinds():
        params = _params(words[2:])
        async with ctx.tx() as session:
            view = await rule_service.add_rule(
                session,
                user_id=ctx.user_id,
                name=words[0],
                kind=words[1].lower(),
                params=params,
                now_ms=ctx.now_ms,
            )
        return Reply(ctx.render("rule_saved.html", rule=view, action="add"))
    return await _draft(ctx, rest)


async def press_save_draft(ctx: Ctx, arg: str) -> Reply:
    """Save the rule the agent drafted (the button under the draft)."""
    draft = ctx.settings.get(DRAFT_KEY)
    if not isinstance(draft, dict):
        raise UserError(N_("This button is no longer valid."))
    async with ctx.tx() as session:
        view = await rule_service.add_rule(
            session,
            user_id=ctx.user_id,
            name=str(draft["name"]),
            kind=str(draft["kind"]),
            params=dict(draft["params"]),
            now_ms=ctx.now_ms,
        )
        await accounts.update_user_settings(session, user_id=ctx.user_id, remove=(DRAFT_KEY,))
    return Reply(ctx.render("rule_saved.html", rule=view, action="add"), edit=True)
