"""Rule drafting: a sentence becomes the engine's own rule rows, shown back for confirmation.

Both paths end in :func:`build_draft`, which validates every part with the engine's rule models
(``engine.signals.rules.RULE_KINDS`` and their pydantic parameters) and writes the summary
itself, so what the user confirms is exactly what would be saved. The model path asks Claude to
call the ``draft_rule`` tool; the grammar path (no API key, or the model failed) reads numbers
and keywords in English and French. Neither saves anything: the caller stores the rows after the
user says yes. Rules only send alerts; a request to trade is reported as a problem.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from agent.interface import RuleDraft
from agent.templates import lang_of, num
from engine.chain.programs import LAMPORTS_PER_SOL as SOL
from engine.signals.rules import RULE_KINDS, RuleConfigError

TRIGGER_KINDS: Final = tuple(k for k, c in RULE_KINDS.items() if c.role == "trigger")
FILTER_KINDS: Final = tuple(k for k, c in RULE_KINDS.items() if c.role == "filter")


@dataclass(slots=True)
class Proposal:
    """A trigger and filters as proposed (by the model or the grammar), not yet validated."""

    kind: str = ""
    params: dict[str, Any] = field(default_factory=dict)
    filters: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def _params_doc(kind: str) -> str:
    schema = RULE_KINDS[kind].params_type.model_json_schema()
    parts = []
    for name, spec in schema.get("properties", {}).items():
        if name == "enabled":
            continue
        bounds = [f"{k} {spec[k]}" for k in ("minimum", "maximum") if k in spec]
        extra = f" ({', '.join(bounds)})" if bounds else ""
        parts.append(f"{name}: {spec.get('type', 'any')}, default {spec.get('default')}{extra}")
    return f"{kind}: " + "; ".join(parts)


def draft_tool() -> dict[str, Any]:
    """The ``draft_rule`` tool definition, generated from the engine's parameter models."""
    docs = "\n".join(_params_doc(k) for k in (*TRIGGER_KINDS, *FILTER_KINDS))
    return {
        "name": "draft_rule",
        "description": (
            "Propose one alert rule: a trigger (what makes an alert fire) and optional filters "
            "(conditions the token must meet). Parameters per kind:\n" + docs
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "trigger": {
                    "type": "object",
                    "properties": {
                        "kind": {"type": "string", "enum": list(TRIGGER_KINDS)},
                        "params": {"type": "object"},
                    },
                    "required": ["kind", "params"],
                },
                "filters": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "properties": {
                            "kind": {"type": "string", "enum": list(FILTER_KINDS)},
                            "params": {"type": "object"},
                        },
                        "required": ["kind"],
                    },
                },
            },
            "required": ["trigger"],
        },
    }


def proposal_from_tool(data: Mapping[str, Any]) -> Proposal:
    """Read a ``draft_rule`` tool input (shape errors become problems, not exceptions)."""
    out = Proposal()
    trigger = data.get("trigger")
    if not isinstance(trigger, Mapping):
        out.problems.append("the draft has no trigger")
        return out
    out.kind = str(trigger.get("kind") or "")
    params = trigger.get("params")
    out.params = dict(params) if isinstance(params, Mapping) else {}
    for f in data.get("filters") or []:
        if isinstance(f, Mapping):
            fp = f.get("params")
            out.filters.append(
                (str(f.get("kind") or ""), dict(fp) if isinstance(fp, Mapping) else {})
            )
    return out


# -- the grammar path ------------------------------------------------------------------------

_NUM = r"(\d+(?:[.,]\d+)?)"
_WALLETS = re.compile(
    rf"{_NUM}\s+(?:[\w-]+\s+){{0,2}}?(?:wallets?|portefeuilles?|whales?|baleines?|traders?)\b"
)
_EACH = re.compile(r"\b(?:each|apiece|per wallet|chacun|chacune|par wallet|par portefeuille)\b")
_PER_MIN = re.compile(rf"{_NUM}\s*sol\s*(?:/|per|a|an|par)\s*min(?:ute)?\b")
_SOL = re.compile(rf"{_NUM}\s*sol\b(?!\s*(?:/|per|a|an|par)\s*min)")
_MINUTES = re.compile(r"(\d+)\s*(?:minutes?|mins?|mn)\b")
_PCT = re.compile(rf"{_NUM}\s*%")
_NO_FREEZE = re.compile(
    r"\b(?:without|no|nor|sans|ni|pas d'|aucune)\s+(?:[\w'-]+\s+){0,3}?(?:freeze|gel)\b"
    r"|\bfreeze\s+(?:authority\s+)?(?:renounced|revoked|disabled)\b"
    r"|\bno[_ ]freeze\b"
)
_NO_MINT = re.compile(
    r"\b(?:without|no|nor|sans|ni|pas d'|aucune)\s+(?:[\w'-]+\s+){0,3}?"
    r"(?:mint authority|autorit[ée] de (?:mint|frappe))"
    r"|\bmint\s+(?:authority\s+)?(?:renounced|revoked|disabled)\b"
    r"|\bno[_ ]mint\b"
)
_TOP10 = re.compile(rf"\btop\s*10\b[^%\d]{{0,40}}{_NUM}\s*%")
_LIQUIDITY = re.compile(rf"\b(?:liquidity|liquidit[ée]|pool|r[ée]serve)\b[^\d]{{0,30}}{_NUM}\s*sol")
_LP = re.compile(r"\blp\b.{0,20}\b(?:burn|burnt|burned|br[uû]l)")
_PRICE_UP = re.compile(
    r"\b(?:price|prix)\b.{0,30}\b(?:up|rises?|gains?|pumps?|climbs?|monte|hausse|grimpe)\b"
    r"|\+\s*\d"
)
_TRADING = re.compile(
    r"\b(?:auto[- ]?buy|auto[- ]?sell|auto[- ]?trade|buy (?:it )?for me|sell (?:it )?for me"
    r"|snipe|trade (?:it )?automatically|ach[eè]te(?:r|z)? (?:le |la |les )?(?:pour moi|"
    r"automatiquement)|achat automatique|vends? (?:pour moi|automatiquement))\b"
)
_SMART = re.compile(r"\b(?:smart|tracked|suivis?|kol|whales?|baleines?)\b")


def _f(text: str) -> float:
    return float(text.replace(",", "."))


def _lamports(text: str) -> int:
    return round(_f(text) * SOL)


def parse_sentence(text: str) -> Proposal:
    """Read a rule request in English or French with a small grammar (no model needed)."""
    t = re.sub(r"\s+", " ", text.casefold().replace("\u2019", "'"))
    out = Proposal()
    top10 = _TOP10.search(t)
    liquidity = _LIQUIDITY.search(t)
    # Figures that belong to a filter are blanked before the trigger's figures are read.
    rest = t
    for m in (top10, liquidity):
        if m is not None:
            rest = rest[: m.start()] + " " * (m.end() - m.start()) + rest[m.end() :]
    minutes = _MINUTES.search(rest)
    window = {"window_minutes": int(minutes.group(1))} if minutes else {}
    wallets = _WALLETS.search(rest)
    per_min = _PER_MIN.search(rest)
    sol_amount = _SOL.search(rest)
    pct = _PCT.search(rest)
    if per_min:
        out.kind = "push_time"
        out.params = {**window, "min_net_lamports_per_min": _lamports(per_min.group(1))}
    elif wallets or _SMART.search(rest):
        out.kind = "smart_buy_burst"
        out.params = dict(window)
        n = int(_f(wallets.group(1))) if wallets else None
        if n is not None:
            out.params["min_wallets"] = n
        if sol_amount:
            amount = _lamports(sol_amount.group(1))
            if _EACH.search(rest):
                out.params["min_lamports_per_wallet"] = amount
                out.params["min_total_lamports"] = amount * (n or 1)
            else:
                out.params["min_total_lamports"] = amount
    elif pct and _PRICE_UP.search(rest):
        out.kind = "momentum"
        out.params = {**window, "min_return_pct": _f(pct.group(1))}
    else:
        out.problems.append("could not tell what should trigger the alert")
    if _NO_FREEZE.search(t):
        out.filters.append(("no_freeze", {}))
    if _NO_MINT.search(t):
        out.filters.append(("no_mint", {}))
    if top10:
        out.filters.append(("top10", {"max_top10_pct": _f(top10.group(1))}))
    if liquidity:
        out.filters.append(
            ("liquidity_depth", {"min_liquidity_lamports": _lamports(liquidity.group(1))})
        )
    if _LP.search(t):
        out.filters.append(("lp_burnt", {}))
    return out


def asks_to_trade(text: str) -> bool:
    """True when the sentence asks the agent to buy or sell by itself."""
    return bool(_TRADING.search(text.casefold()))


# -- validation and summary ------------------------------------------------------------------

_NEVER_TRADES: Final = {
    "en": "Rules only send alerts: I never enable trading; auto-trade is set up separately.",
    "fr": "Les règles n'envoient que des alertes : je n'active jamais de trading ; "
    "l'auto-trade se configure à part.",
}


def row_name(kind: str) -> str:
    """The name a drafted row is saved under: a rule of the user's own, beside the defaults."""
    return f"my_{kind}"


def build_draft(proposal: Proposal, *, text: str, language: str) -> RuleDraft:
    """Validate a proposal with the engine's rule models and write its summary."""
    lang = lang_of(language)
    problems = list(proposal.problems)
    kind = proposal.kind
    params: dict[str, Any] = dict(proposal.params)
    rows: list[dict[str, Any]] = []
    if kind and kind not in TRIGGER_KINDS:
        problems.append(f"{kind[:40]!r} is not a trigger (known: {', '.join(TRIGGER_KINDS)})")
    elif kind:
        try:
            rule = RULE_KINDS[kind].parse(params)
        except RuleConfigError as exc:
            problems.extend(exc.errors)
        else:
            params = rule.params_dict()
            rows.append({"name": row_name(kind), "kind": kind, "params": params})
    seen: set[str] = set()
    for fkind, fparams in proposal.filters:
        if fkind in seen:
            continue
        seen.add(fkind)
        if fkind not in FILTER_KINDS:
            problems.append(f"{fkind[:40]!r} is not a filter (known: {', '.join(FILTER_KINDS)})")
            continue
        # The sentence states the filter as a condition: a token failing it gets no alert.
        merged = {"block": True, **fparams}
        try:
            frule = RULE_KINDS[fkind].parse(merged)
        except RuleConfigError as exc:
            problems.extend(exc.errors)
            continue
        rows.append({"name": row_name(fkind), "kind": fkind, "params": frule.params_dict()})
    summary = summarize(rows, lang) if rows and rows[0]["kind"] in TRIGGER_KINDS else ""
    if not summary:
        summary = (
            "Je n'ai pas pu construire de règle à partir de cette phrase."
            if lang == "fr"
            else "I could not build a rule from that sentence."
        )
    if asks_to_trade(text):
        # The alert can still be saved; the request to trade is answered, not obeyed.
        summary = f"{_NEVER_TRADES[lang]} {summary}"
    if problems:
        return RuleDraft(kind=kind, params=params, summary=summary, problems=tuple(problems))
    return RuleDraft(kind=kind, params=params, summary=summary, rules=tuple(rows))


def _sol(lamports: Any, lang: str) -> str:
    return num(lamports / SOL if isinstance(lamports, int | float) else None, lang, 3)


def _trigger_text(kind: str, p: Mapping[str, Any], lang: str) -> str:
    w = p.get("window_minutes")
    if lang == "fr":
        if kind == "smart_buy_burst":
            each = (
                f", chacun au moins {_sol(p['min_lamports_per_wallet'], lang)} SOL"
                if p.get("min_lamports_per_wallet")
                else ""
            )
            return (
                f"Alerte quand au moins {p['min_wallets']} wallets suivis achètent au moins "
                f"{_sol(p['min_total_lamports'], lang)} SOL au total en {w} minutes{each}"
            )
        if kind == "momentum":
            return (
                f"Alerte quand le prix monte d'au moins {num(p['min_return_pct'], lang)} % en "
                f"{w} minutes, volume accéléré d'au moins {num(p['min_volume_accel'], lang)} fois "
                f"et au moins {p['min_trades']} transactions"
            )
        return (
            f"Alerte quand les achats nets atteignent {_sol(p['min_net_lamports_per_min'], lang)}"
            f" SOL par minute sur {w} minutes, au moins "
            f"{num(p['min_buy_share'] * 100, lang, 0)} % du volume à l'achat et au moins "
            f"{p['min_trades']} transactions"
        )
    if kind == "smart_buy_burst":
        each = (
            f", each at least {_sol(p['min_lamports_per_wallet'], lang)} SOL"
            if p.get("min_lamports_per_wallet")
            else ""
        )
        return (
            f"Alert when at least {p['min_wallets']} tracked wallets buy at least "
            f"{_sol(p['min_total_lamports'], lang)} SOL in total within {w} minutes{each}"
        )
    if kind == "momentum":
        return (
            f"Alert when the price rises at least {num(p['min_return_pct'], lang)}% within {w} "
            f"minutes, with volume accelerating at least {num(p['min_volume_accel'], lang)} "
            f"times and at least {p['min_trades']} trades"
        )
    return (
        f"Alert when net inflow reaches {_sol(p['min_net_lamports_per_min'], lang)} SOL per "
        f"minute over {w} minutes, with at least {num(p['min_buy_share'] * 100, lang, 0)}% of "
        f"volume on the buy side and at least {p['min_trades']} trades"
    )


def _filter_text(kind: str, p: Mapping[str, Any], lang: str) -> str:
    fr = lang == "fr"
    if kind == "no_freeze":
        return "autorité de gel renoncée" if fr else "freeze authority renounced"
    if kind == "no_mint":
        return "autorité de mint renoncée" if fr else "mint authority renounced"
    if kind == "top10":
        pct = num(p["max_top10_pct"], lang)
        return (
            f"top 10 des détenteurs à {pct} % au plus" if fr else f"top 10 holders at most {pct}%"
        )
    if kind == "lp_burnt":
        pct = num(p["min_burnt_pct"], lang)
        return f"au moins {pct} % de la LP brûlée" if fr else f"at least {pct}% of LP burnt"
    if kind == "liquidity_depth":
        amount = _sol(p["min_liquidity_lamports"], lang)
        return f"réserve d'au moins {amount} SOL" if fr else f"pool of at least {amount} SOL"
    if kind == "slippage":
        size, pct = _sol(p["size_lamports"], lang), num(p["max_slippage_bps"] / 100, lang)
        return (
            f"un achat de {size} SOL déplace le prix de {pct} % au plus"
            if fr
            else f"a {size} SOL buy moves the price at most {pct}%"
        )
    return kind


def summarize(rows: Sequence[Mapping[str, Any]], language: str) -> str:
    """The draft in words, for the user to confirm (written by code, never by the model)."""
    lang = lang_of(language)
    trigger, filters = rows[0], rows[1:]
    text = _trigger_text(str(trigger["kind"]), trigger["params"], lang)
    if filters:
        conds = [_filter_text(str(f["kind"]), f["params"], lang) for f in filters]
        text += (" ; seulement si " if lang == "fr" else "; only if ") + ", ".join(conds)
    if lang == "fr":
        text += ". Alertes seulement, jamais de trading."
        if filters:
            text += " Les filtres s'appliquent à toutes vos alertes."
    else:
        text += ". Alerts only, never trades."
        if filters:
            text += " The filters apply to all your alerts."
    return text
