"""The deterministic narrator: the same kind of short texts as the model, from briefs alone.

Used without an API key (the demo), when the budget is spent, when the API fails and when a
model text fails the guardrails twice. It writes only what the briefs hold, through the same
formatting the guardrails accept, and its texts go through the same validator (tests prove it).
English and French.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any, Final

from agent.sanitize import short_address

LEVELS: Final = {
    "en": {
        "low": "low",
        "medium": "medium",
        "high": "high",
        "critical": "critical",
        "unknown": "unknown",
    },
    "fr": {
        "low": "faible",
        "medium": "moyen",
        "high": "élevé",
        "critical": "critique",
        "unknown": "inconnu",
    },
}
BADGES: Final = {
    "en": {
        "mint_authority": "mint authority still active",
        "freeze_authority": "freeze authority still active",
        "permanent_delegate": "permanent delegate set",
        "default_frozen": "accounts frozen by default",
        "transfer_hook": "transfer hook present",
        "top_holder": "one holder above the limit",
        "concentrated": "top 10 holders concentrated",
        "dev_selling": "creator selling",
        "lp_not_burnt": "LP not burnt",
        "untradeable": "failed sell test",
        "sell_unverified": "sellability not verified",
        "unverified": "not checked yet",
        "tax": "transfer tax {pct}%",
    },
    "fr": {
        "mint_authority": "autorité de mint encore active",
        "freeze_authority": "autorité de gel encore active",
        "permanent_delegate": "délégué permanent défini",
        "default_frozen": "comptes gelés par défaut",
        "transfer_hook": "hook de transfert présent",
        "top_holder": "un détenteur au-dessus de la limite",
        "concentrated": "top 10 des détenteurs concentré",
        "dev_selling": "le créateur revend",
        "lp_not_burnt": "LP non brûlée",
        "untradeable": "test de revente échoué",
        "sell_unverified": "revente non vérifiée",
        "unverified": "pas encore vérifié",
        "tax": "taxe de transfert {pct} %",
    },
}
NOTES: Final = {
    "en": {
        "budget": "Daily AI limit reached: standard summary.",
        "unavailable": "AI assistant unavailable right now: standard summary.",
        "guardrail": "Standard summary (the AI draft did not pass our checks).",
        "not_configured": "AI assistant not configured: standard summary.",
        "not_a_mint": "That does not look like a Solana mint address.",
        "help": "I can explain a token's latest signal: send /explain with its mint address, "
        "or ask about a mint or a tracked wallet by its address.",
        "no_signal": "No signal has fired for {label} yet.",
        "no_data": "I have no stored data about that address.",
        "unknown_token": "I have no stored data about this token.",
    },
    "fr": {
        "budget": "Limite IA du jour atteinte : résumé standard.",
        "unavailable": "Assistant IA indisponible pour le moment : résumé standard.",
        "guardrail": "Résumé standard (le brouillon IA n'a pas passé nos contrôles).",
        "not_configured": "Assistant IA non configuré : résumé standard.",
        "not_a_mint": "Cela ne ressemble pas à une adresse de mint Solana.",
        "help": "Je peux expliquer le dernier signal d'un token : envoyez /explain avec son "
        "adresse de mint, ou posez une question sur un mint ou un wallet suivi par son adresse.",
        "no_signal": "Aucun signal pour {label} pour l'instant.",
        "no_data": "Je n'ai aucune donnée enregistrée sur cette adresse.",
        "unknown_token": "Je n'ai aucune donnée enregistrée sur ce token.",
    },
}
_WINDOW = re.compile(r"over (\d+)m\b")
# The engine's check labels, in French (English ones are shown as the engine wrote them).
_CHECK_LABELS_FR: Final = {
    "net buy SOL per minute": "achats nets en SOL par minute",
    "buy share of volume": "part des achats dans le volume",
    "trades": "transactions",
    "tracked wallets buying": "wallets suivis acheteurs",
    "SOL bought by tracked wallets": "SOL achetés par les wallets suivis",
    "volume acceleration": "accélération du volume",
    "trades in the window": "transactions dans la fenêtre",
}


def check_label(what: str, language: str) -> str:
    """An engine check label in the language."""
    if lang_of(language) != "fr":
        return what
    m = re.fullmatch(r"price return over (\d+)m", what)
    if m:
        return f"variation du prix sur {m.group(1)} min"
    return _CHECK_LABELS_FR.get(what, what)


def lang_of(language: str | None) -> str:
    """``fr`` for French (``fr``, ``fr-CA``, …), else ``en``."""
    return "fr" if (language or "").lower().startswith("fr") else "en"


def note(key: str, language: str, **fmt: str) -> str:
    """A fixed sentence in the language (fallback notes, help, "no signal")."""
    return NOTES[lang_of(language)][key].format(**fmt)


def num(value: Any, language: str, places: int = 2) -> str:
    """A number as texts show it: at most ``places`` decimals, no trailing zeros, FR comma."""
    if not isinstance(value, int | float) or isinstance(value, bool):
        return "?"
    text = f"{float(value):.{places}f}".rstrip("0").rstrip(".")
    if text in ("-0", ""):
        text = "0"
    return text.replace(".", ",") if lang_of(language) == "fr" else text


def pct(value: Any, language: str, *, signed: bool = False, places: int = 1) -> str:
    """``+36.1%`` / ``+36,1 %`` from a value already in percent."""
    if not isinstance(value, int | float):
        return "?"
    body = num(abs(value), language, places)
    sign = ("+" if value >= 0 else "-") if signed else ("-" if value < 0 else "")
    return f"{sign}{body} %" if lang_of(language) == "fr" else f"{sign}{body}%"


def _checks(trigger: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {str(c.get("what")): c for c in trigger.get("checks") or [] if isinstance(c, Mapping)}


def _actual(trigger: Mapping[str, Any], prefix: str) -> Any:
    for what, c in _checks(trigger).items():
        if what.startswith(prefix):
            return c.get("actual")
    return None


def _wallet_list(sig: Mapping[str, Any], language: str, limit: int = 3) -> str:
    parts = []
    for w in (sig.get("smart_wallets") or [])[:limit]:
        label = w.get("wallet_label") or short_address(str(w.get("address") or ""))
        parts.append(f"{label} {num(w.get('sol'), language, 3)} SOL")
    return ", ".join(parts)


def trigger_sentence(
    trigger: Mapping[str, Any], sig: Mapping[str, Any], language: str, *, wallets: bool = True
) -> str:
    """One fired trigger in plain words, from its checks' actual values."""
    fr = lang_of(language) == "fr"
    kind = trigger.get("rule")
    title = str(trigger.get("title") or kind)
    if kind == "smart_buy_burst":
        n = _actual(trigger, "tracked wallets")
        total = _actual(trigger, "SOL bought")
        minutes = sig.get("smart_window_minutes")
        span = f" {'en' if fr else 'in'} {minutes} min" if isinstance(minutes, int) else ""
        verb = "wallets suivis ont acheté" if fr else "tracked wallets bought"
        text = f"{title} : {n} {verb} {num(total, language, 3)} SOL{span}"
        if not fr:
            text = text.replace(" : ", ": ")
        listed = _wallet_list(sig, language) if wallets else ""
        return f"{text} ({listed})" if listed else text
    if kind == "momentum":
        ret = _actual(trigger, "price return")
        accel = _actual(trigger, "volume acceleration")
        trades = _actual(trigger, "trades")
        m = next((_WINDOW.search(w) for w in _checks(trigger) if _WINDOW.search(w)), None)
        span = f" {'en' if fr else 'over'} {m.group(1)} min" if m else ""
        if fr:
            return (
                f"{title} : prix {pct(ret, language, signed=True)}{span}, volume "
                f"{num(accel, language)} fois sa moyenne, {trades} transactions"
            )
        return (
            f"{title}: price {pct(ret, language, signed=True)}{span}, volume "
            f"{num(accel, language)} times its average, {trades} trades"
        )
    if kind == "push_time":
        per_min = _actual(trigger, "net buy SOL")
        share = _actual(trigger, "buy share")
        trades = _actual(trigger, "trades")
        share_pct = share * 100 if isinstance(share, int | float) else None
        if fr:
            return (
                f"{title} : achats nets de {num(per_min, language, 3)} SOL/min, "
                f"{pct(share_pct, language, places=0)} du volume à l'achat, {trades} transactions"
            )
        return (
            f"{title}: net inflow {num(per_min, language, 3)} SOL/min, "
            f"{pct(share_pct, language, places=0)} of volume on the buy side, {trades} trades"
        )
    return f"{title} {'a déclenché' if fr else 'fired'}"


def badge_text(badge: str, language: str) -> str:
    """A risk badge in words."""
    words = BADGES[lang_of(language)]
    m = re.fullmatch(r"tax_([\d.]+)pct", badge)
    if m:
        return words["tax"].format(pct=num(float(m.group(1)), language))
    return words.get(badge, badge.replace("_", " "))


def risk_sentence(risk: Mapping[str, Any], language: str) -> str:
    """Risk level with its badges, and the failed filters."""
    fr = lang_of(language) == "fr"
    level = LEVELS[lang_of(language)].get(str(risk.get("level")), str(risk.get("level")))
    badges = [badge_text(str(b), language) for b in risk.get("badges") or []]
    head = f"Risque {level}" if fr else f"Risk {level}"
    text = f"{head} ({', '.join(badges)})" if badges else head
    failed = [str(f.get("title")) for f in risk.get("failed_filters") or []]
    if failed:
        text += (". Filtres non passés : " if fr else ". Filters not passed: ") + ", ".join(failed)
    return text


def liquidity_sentence(sig: Mapping[str, Any], language: str) -> str | None:
    """Pool depth and the price impact of a 1 SOL buy, when known."""
    fr = lang_of(language) == "fr"
    pool, impact = sig.get("pool_sol"), sig.get("impact_pct_of_1_sol_buy")
    if not isinstance(pool, int | float):
        return None
    text = f"{'Réserve' if fr else 'Pool'} {num(pool, language, 1)} SOL"
    if isinstance(impact, int | float):
        text += (
            f", impact d'un achat de 1 SOL {pct(impact, language, places=2)}"
            if fr
            else f", a 1 SOL buy moves the price {pct(impact, language, places=2)}"
        )
    return text


def _join(sentences: Sequence[str | None]) -> str:
    return " ".join(s.rstrip(".") + "." for s in sentences if s)


def _fit(sentences: Sequence[str | None], budget: int) -> str:
    """Join sentences, dropping the last ones until the text fits the budget."""
    kept = [s for s in sentences if s]
    while kept:
        text = _join(kept)
        if len(text) <= budget:
            return text
        kept.pop()
    return ""


def narrative(brief: Mapping[str, Any], language: str, *, budget: int) -> str:
    """A narrative of at most ``budget`` characters (before the disclaimer)."""
    fr = lang_of(language) == "fr"
    token, sig, risk = brief["token"], brief["signal"], brief["risk"]
    head = f"{token['label']} : Strength {num(sig['strength'], language)}/3"
    if not fr:
        head = head.replace(" : ", ": ")
    triggers = list(sig.get("triggers") or [])

    def sentences(wallets: bool) -> list[str | None]:
        return [
            head,
            *(trigger_sentence(t, sig, language, wallets=wallets) for t in triggers),
            risk_sentence(risk, language),
            liquidity_sentence(sig, language),
        ]

    # Naming the wallets is the first thing to go, then the last sentences one by one.
    full = _join(sentences(True))
    return full if len(full) <= budget else _fit(sentences(False), budget)


def explanation(brief: Mapping[str, Any], language: str, *, budget: int) -> str:
    """Why a signal fired: Strength and components, each trigger's checks, risk, liquidity."""
    fr = lang_of(language) == "fr"
    token, sig, risk = brief["token"], brief["signal"], brief["risk"]
    comps = sig.get("components") or {}
    names = {
        "smart_burst": "smart money",
        "momentum": "momentum",
        "liquidity": "liquidité" if fr else "liquidity",
        "risk": "risque" if fr else "risk",
    }
    comp_text = ", ".join(f"{names.get(k, k)} {num(v, language)}" for k, v in comps.items())
    head = (
        f"{token['label']} : signal du {sig['time_utc']}, Strength "
        f"{num(sig['strength'], language)}/3 ({comp_text})"
        if fr
        else f"{token['label']}: signal at {sig['time_utc']}, Strength "
        f"{num(sig['strength'], language)}/3 ({comp_text})"
    )
    sentences: list[str | None] = [head]
    for t in sig.get("triggers") or []:
        sentences.append(trigger_sentence(t, sig, language))
        needs = []
        for c in t.get("checks") or []:
            unit = c.get("unit") or ""
            unit = "" if unit == "x" else f" {unit}" if unit and unit != "%" else unit
            what = check_label(str(c.get("what")), language)
            needs.append(f"{what} {c.get('op')} {num(c.get('threshold'), language)}{unit}")
        if needs:
            sentences.append(("Seuils : " if fr else "Thresholds: ") + "; ".join(needs))
    sentences.append(risk_sentence(risk, language))
    sentences.append(liquidity_sentence(sig, language))
    return _fit(sentences, budget)


def no_signal(token: Mapping[str, Any], language: str) -> str:
    """The token has no stored signal."""
    return note("no_signal", language, label=str(token.get("label")))


def wallet_summary(
    stats: Mapping[str, Any] | None, fills: Sequence[Mapping[str, Any]], language: str, budget: int
) -> str:
    """A tracked wallet's record and latest fills."""
    fr = lang_of(language) == "fr"
    sentences: list[str | None] = []
    if stats is not None:
        label = stats.get("wallet_label")
        n = stats.get("trades")
        count = (
            f"{n} transaction{'s' if n != 1 else ''}" if fr else f"{n} trade{'s' if n != 1 else ''}"
        )
        pnl = num(stats.get("realized_pnl_sol"), language, 3)
        text = (
            f"{label} : {count}, PnL réalisé {pnl} SOL"
            if fr
            else f"{label}: {count}, realized PnL {pnl} SOL"
        )
        hit = (stats.get("hit_rate_pct") or {}).get("30d")
        if isinstance(hit, int | float):
            text += (
                f", réussite 30 j {pct(hit, language)}"
                if fr
                else f", 30d hit rate {pct(hit, language)}"
            )
        sentences.append(text)
    for f in fills[:5]:
        side = f.get("side")
        if fr:
            verb = "achat" if side == "buy" else "vente"
            sentences.append(
                f"{f.get('time_utc')} : {verb} de {num(f.get('sol'), language, 3)} SOL "
                f"sur {f.get('token_label')}"
            )
        else:
            verb = "bought" if side == "buy" else "sold"
            sentences.append(
                f"{f.get('time_utc')}: {verb} {num(f.get('sol'), language, 3)} SOL "
                f"of {f.get('token_label')}"
            )
    if not sentences:
        return note("no_data", language)
    return _fit(sentences, budget)
