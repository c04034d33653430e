"""/alerts: what this chat receives. Anyone may look; in a group only admins change it.

``/alerts on|off``, ``/alerts min 1.8``, ``/alerts filter risk medium`` (also ``liquidity <SOL>``,
``venue pumpfun,pumpswap``, ``smart <n>``, each with ``any`` to drop it, or ``filter clear``),
``/alerts fills on|off``, ``/alerts topic`` (send alerts to this forum topic) or ``topic off``.
"""

from __future__ import annotations

from typing import Any, Final

from bot.args import parse_sol_amount, parse_strength, split_words
from bot.context import Ctx
from bot.errors import UserError
from bot.i18n import N_
from bot.reply import Reply
from engine.services import alerts as alert_service
from engine.services.alerts import RISK_ORDER, AlertSettings

ACTIONS: Final = ("show", "on", "off", "min", "filter", "fills", "topic")
FILTERS: Final = ("risk", "liquidity", "venue", "smart", "clear")
_FIELD: Final = {
    "risk": "max_risk",
    "liquidity": "min_liquidity_lamports",
    "venue": "venues",
    "smart": "min_smart_wallets",
}


def _on_off(value: str) -> bool:
    v = value.strip().lower()
    if v in ("on", "yes", "true", "1"):
        return True
    if v in ("off", "no", "false", "0"):
        return False
    raise UserError(N_("%(value)s is not one of %(choices)s"), value=value[:16], choices="on, off")


def _filter_value(name: str, value: str) -> Any:
    if value.lower() in ("any", "none", "off"):
        return None
    if name == "risk":
        level = value.lower()
        if level not in RISK_ORDER:
            raise UserError(
                N_("%(value)s is not one of %(choices)s"),
                value=value[:16],
                choices=", ".join((*RISK_ORDER, "any")),
            )
        return level
    if name == "liquidity":
        return parse_sol_amount(value)
    if name == "venue":
        return [v for v in value.replace(",", " ").split() if v]
    try:
        n = int(value)
    except ValueError:
        raise UserError(N_("not a whole number: %(value)s"), value=value[:16]) from None
    return n


def _render(ctx: Ctx, settings: AlertSettings, changed: bool) -> Reply:
    body = ctx.render("alerts.html", s=settings, changed=changed, group=not ctx.private)
    return Reply(body, title=ctx._("Alerts in this chat"))


async def alerts(ctx: Ctx, args: dict[str, Any]) -> Reply:
    """Show or change this chat's alert settings."""
    action = str(args.get("action") or "show")
    value = str(args.get("value") or "").strip()
    if action == "show":
        async with ctx.deps.sessions() as session:
            settings = await alert_service.alert_settings(session, chat_id=ctx.chat_id)
        return _render(ctx, settings, changed=False)
    await ctx.require_admin()
    change: dict[str, Any] = {}
    if action in ("on", "off"):
        change["enabled"] = action == "on"
    elif action == "min":
        if not value:
            raise UserError(N_("missing %(name)s"), name="<0-3>")
        change["min_strength"] = parse_strength(value)
    elif action == "fills":
        change["wallet_fills"] = _on_off(value or "on")
    elif action == "topic":
        if value.lower() in ("off", "none"):
            change["topic_id"] = None
        elif ctx.place.topic_id is None:
            raise UserError(N_("send /alerts topic from inside the forum topic to use"))
        else:
            change["topic_id"] = ctx.place.topic_id
    elif action == "filter":
        words = split_words(value)
        if not words or words[0].lower() not in FILTERS:
            raise UserError(
                N_("%(value)s is not one of %(choices)s"),
                value=(words[0] if words else "")[:16],
                choices=", ".join(FILTERS),
            )
        name = words[0].lower()
        if name == "clear":
            change["clear_filters"] = True
        else:
            if len(words) < 2:
                raise UserError(N_("missing %(name)s"), name=f"<{name}>")
            change["filters"] = {_FIELD[name]: _filter_value(name, " ".join(words[1:]))}
    async with ctx.tx() as session:
        settings = await alert_service.update_alerts(
            session, chat_id=ctx.chat_id, now_ms=ctx.now_ms, **change
        )
    return _render(ctx, settings, changed=True)
