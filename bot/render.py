"""jinja2 templates (``bot/templates``) rendered per language into the neutral reply markup.

One environment per language, with autoescaping on: every ``{{ value }}`` is HTML-escaped, so a
template only writes its own tags. Translated strings come from ``_()``/``ngettext()`` with
``%(name)s`` placeholders; messages and placeholder values are both escaped (a message is text,
never markup), so markup lives in the templates only.
Filters format numbers, SOL amounts and ages for the language and clean untrusted text.
"""

from __future__ import annotations

import datetime as dt
import functools
from decimal import Decimal
from pathlib import Path
from typing import Any, Final

from babel.dates import format_timedelta
from babel.numbers import format_decimal
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from markupsafe import escape

from bot.i18n import N_, translations
from bot.text import clean
from engine.chain.programs import LAMPORTS_PER_SOL as LAMPORTS_PER_SOL_INT
from engine.signals.explain import short_address

TEMPLATES: Final = Path(__file__).resolve().parent / "templates"
LAMPORTS_PER_SOL: Final = Decimal(LAMPORTS_PER_SOL_INT)

NAME_LIMIT: Final = 32
SYMBOL_LIMIT: Final = 12
ALIAS_LIMIT: Final = 24

# Labels of engine identifiers (component names, risk levels and badges), for extraction.
LABELS: Final[dict[str, str]] = {
    "smart_burst": N_("smart money"),
    "momentum": N_("momentum"),
    "liquidity": N_("liquidity"),
    "risk": N_("risk"),
    "low": N_("low"),
    "medium": N_("medium"),
    "high": N_("high"),
    "critical": N_("critical"),
    "unknown": N_("not checked yet"),
    "mint_authority": N_("mint authority"),
    "freeze_authority": N_("freeze authority"),
    "permanent_delegate": N_("permanent delegate"),
    "default_frozen": N_("frozen by default"),
    "transfer_hook": N_("transfer hook"),
    "top_holder": N_("top holder"),
    "concentrated": N_("concentrated"),
    "dev_selling": N_("dev selling"),
    "lp_not_burnt": N_("LP not burnt"),
    "untradeable": N_("cannot sell"),
    "sell_unverified": N_("sell not verified"),
    "unverified": N_("unverified"),
    "buy": N_("buy"),
    "sell": N_("sell"),
    "tp_hit": N_("take-profit reached"),
    "sl_hit": N_("stop-loss reached"),
    "trailing_hit": N_("trailing stop reached"),
    "filled": N_("filled"),
    "failed": N_("failed"),
    "expired": N_("expired"),
}


def format_sol(lang: str, lamports: int | None) -> str:
    """Lamports as SOL for ``lang`` (``1,5 SOL`` in French)."""
    if lamports is None:
        return "?"
    value = Decimal(lamports) / LAMPORTS_PER_SOL
    pattern = "#,##0.###" if abs(value) >= 1 or value == 0 else "#,##0.######"
    return f"{format_decimal(value, format=pattern, locale=lang)} SOL"


def _num(lang: str, value: float | int | None, digits: int = 2) -> str:
    if value is None:
        return "?"
    pattern = "#,##0." + "0" * digits if digits else "#,##0"
    return format_decimal(value, format=pattern, locale=lang)


def _ago(lang: str, ts_ms: int | None, now_ms: int) -> str:
    if ts_ms is None:
        return "?"
    delta = dt.timedelta(milliseconds=ts_ms - now_ms)
    return format_timedelta(delta, add_direction=True, locale=lang, threshold=1.0)


def _label(lang: str, key: str) -> str:
    msgid = LABELS.get(key)
    if msgid is None:
        return key.replace("_", " ")
    return translations(lang).gettext(msgid)


@functools.cache
def environment(lang: str) -> Environment:
    """The template environment of one language."""
    env = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=True,
        extensions=["jinja2.ext.i18n"],
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=StrictUndefined,
    )
    catalog = translations(lang)
    # Messages are plain text, not markup: escape them too, so a msgid may mention "<token>".
    env.install_gettext_callables(  # type: ignore[attr-defined]
        lambda s: escape(catalog.gettext(s)),
        lambda s, p, n: escape(catalog.ngettext(s, p, n)),
        newstyle=True,
    )
    env.filters.update(
        sol=lambda v: format_sol(lang, v),
        num=lambda v, digits=2: _num(lang, v, digits),
        ago=lambda v, now: _ago(lang, v, now),
        short=lambda v: short_address(v or ""),
        clip=lambda v, n=NAME_LIMIT: clean(v, n) or "?",
        label=lambda v: _label(lang, str(v)),
    )
    env.globals.update(lang=lang)
    return env


def render(lang: str, template: str, **context: Any) -> str:
    """A template rendered in ``lang`` (surrounding blank lines stripped)."""
    return environment(lang).get_template(template).render(**context).strip()
