"""Briefs: the JSON the model, the template narrator and the guardrails all read.

One function per stored thing (signal, token, risk report, fill, wallet record). Trusted values
(computed by the engine) sit at the top level; attacker text (token name, symbol, URI,
description, wallet aliases) sits in an ``untrusted`` sub-object, cleaned and clipped. Money is
shown in SOL (rounded to 0.001) so nobody has to convert lamports.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from typing import Any, Final

from agent.sanitize import clean_field, is_clean_label, short_address, token_label
from engine.chain.programs import LAMPORTS_PER_SOL
from engine.signals.rules import RULE_KINDS
from engine.smartmoney.stats import WalletStats
from engine.storage.models import RiskReport, Signal, SmartTrade, Token

# Risk facts worth telling a person, from the stored RiskView.
_RISK_FACTS: Final = (
    "top_holder_pct",
    "top10_pct",
    "lp_burnt_pct",
    "dev_sold_pct",
    "round_trip_loss_pct",
    "transfer_fee_bps",
    "sellable",
)


def utc_text(ms: int) -> str:
    """``2026-01-01 12:05 UTC`` for integer milliseconds."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d %H:%M UTC")


def sol(lamports: int | float | None) -> float | None:
    """Lamports as SOL rounded to 0.001 (None stays None)."""
    if lamports is None:
        return None
    return round(float(lamports) / LAMPORTS_PER_SOL, 3)


def _r(value: Any, places: int = 2) -> Any:
    return round(float(value), places) if isinstance(value, int | float) else None


def _pct(fraction: Any) -> float | None:
    return round(float(fraction) * 100.0, 1) if isinstance(fraction, int | float) else None


def _untrusted(**fields: str | None) -> dict[str, str]:
    out = {}
    for key, value in fields.items():
        cleaned = clean_field(key, value)
        if cleaned is not None:
            out[key] = cleaned
    return out


def token_brief(
    mint: str, token: Token | None, *, description: str | None = None
) -> dict[str, Any]:
    """A token: mint, the label texts use, venue and launch facts; its metadata as untrusted."""
    if token is None:
        return {"mint": mint, "label": token_label(mint, None, None), "known": False}
    out: dict[str, Any] = {
        "mint": mint,
        "label": token_label(mint, token.symbol, token.name),
        "known": True,
        "venue": token.venue,
        "curve_complete": token.complete,
    }
    if token.creator:
        out["creator"] = token.creator
    if token.created_ts:
        out["launched_utc"] = utc_text(token.created_ts)
    untrusted = _untrusted(
        name=token.name, symbol=token.symbol, uri=token.uri, description=description
    )
    if untrusted:
        out["untrusted"] = untrusted
    return out


def _check(c: Mapping[str, Any]) -> dict[str, Any]:
    unit = str(c.get("unit") or "")
    threshold, actual = c.get("threshold"), c.get("actual")
    if unit == "lamports":
        unit = "SOL"
        threshold = sol(threshold) if isinstance(threshold, int | float) else threshold
        actual = sol(actual) if isinstance(actual, int | float) else actual
    elif isinstance(actual, float):
        actual = round(actual, 2)
    return {
        "what": str(c.get("label") or c.get("field") or ""),
        "op": c.get("op"),
        "threshold": threshold,
        "actual": actual,
        "unit": unit,
        "passed": bool(c.get("passed")),
    }


def _title(rule: Mapping[str, Any]) -> str:
    kind = str(rule.get("kind") or "")
    cls = RULE_KINDS.get(kind)
    return cls.title if cls is not None else str(rule.get("title") or kind)


def signal_brief(sig: Signal) -> dict[str, Any]:
    """A stored signal: Strength, components, the triggers with their checks, flow, wallets."""
    inputs = sig.inputs or {}
    triggers = []
    passed_filters = []
    for rule in sig.rules or []:
        if not isinstance(rule, Mapping):
            continue
        if rule.get("role") == "filter":
            passed_filters.append(_title(rule))
            continue
        triggers.append(
            {
                "rule": rule.get("kind"),
                "title": _title(rule),
                "checks": [_check(c) for c in rule.get("checks") or [] if isinstance(c, Mapping)],
            }
        )
    smart = inputs.get("smart_burst") or {}
    wallets = []
    for w in smart.get("wallets") or []:
        address = str(w.get("address") or "")
        entry: dict[str, Any] = {
            "address": address,
            "wallet_label": wallet_label(address, w.get("alias")),
            "sol": sol(w.get("lamports")),
        }
        alias = _untrusted(alias=w.get("alias"))
        if alias:
            entry["untrusted"] = alias
        wallets.append(entry)
    flow = (inputs.get("flow") or {}).get(f"{smart.get('window_minutes', 5)}m") or {}
    momentum = inputs.get("momentum") or {}
    liquidity = inputs.get("liquidity") or {}
    price = inputs.get("price") or {}
    impact = liquidity.get("impact_bps")
    out: dict[str, Any] = {
        "id": sig.id,
        "mint": sig.mint,
        "time_utc": utc_text(sig.ts),
        "strength": round(sig.strength, 2),
        "strength_max": 3,
        "version": sig.version,
        "components": {k: _r(v) for k, v in (sig.components or {}).items()},
        "triggers": triggers,
        "passed_filters": passed_filters,
        "smart_wallets": wallets,
        "smart_window_minutes": smart.get("window_minutes"),
        "smart_buy_sol": sol(smart.get("smart_buy_lamports")),
        "smart_buyers": smart.get("smart_buyers"),
        "flow": {
            "buys": flow.get("buys"),
            "sells": flow.get("sells"),
            "volume_sol": sol(flow.get("volume_lamports")),
            "net_sol": sol(flow.get("net_flow_lamports")),
            "unique_buyers": flow.get("unique_buyers"),
        },
        "price_change_pct": {
            "1m": _pct(momentum.get("short_return")),
            "5m": _pct(momentum.get("long_return")),
        },
        "volume_accel": _r(momentum.get("volume_accel")),
        "pool_sol": sol(liquidity.get("sol_reserves")),
        "impact_pct_of_1_sol_buy": round(impact / 100, 2) if isinstance(impact, int) else None,
        "market_cap_sol": sol(price.get("market_cap_lamports")),
    }
    return out


def risk_brief(signal_risk: Mapping[str, Any] | None, report: RiskReport | None) -> dict[str, Any]:
    """Risk level and badges (from the signal, else the report) and the failed filters."""
    srisk = signal_risk or {}
    out: dict[str, Any] = {
        "known": bool(srisk.get("known", report is not None)),
        "level": srisk.get("level") or (report.level if report is not None else "unknown"),
        "badges": list(srisk.get("badges") or (report.badges if report is not None else [])),
    }
    if "blocks_buy" in srisk:
        out["blocks_buy"] = bool(srisk["blocks_buy"])
    failed = []
    for name, f in (srisk.get("filters") or {}).items():
        if isinstance(f, Mapping) and not f.get("passed"):
            cls = RULE_KINDS.get(str(name))
            failed.append(
                {
                    "rule": name,
                    "title": cls.title if cls else str(name),
                    "note": str(f.get("summary") or ""),
                }
            )
    out["failed_filters"] = failed
    if report is not None:
        view = (report.data or {}).get("view") or {}
        facts = {k: _r(view.get(k), 1) for k in _RISK_FACTS if isinstance(view.get(k), int | float)}
        if isinstance(view.get("sellable"), bool):
            facts["sellable"] = view["sellable"]
        if facts:
            out["facts"] = facts
        out["checked_utc"] = utc_text(report.checked_ts)
    return out


def narrative_input(sig: Signal, token: Token | None, report: RiskReport | None) -> dict[str, Any]:
    """Everything a narrative may use: the token, the signal and its risk."""
    return {
        "token": token_brief(sig.mint, token),
        "signal": signal_brief(sig),
        "risk": risk_brief(sig.risk, report),
    }


def wallet_label(address: str, alias: str | None) -> str:
    """A clean alias when there is one, else the shortened address."""
    cleaned = clean_field("alias", alias)
    return cleaned if cleaned is not None and is_clean_label(cleaned) else short_address(address)


def fill_brief(
    fill: SmartTrade, tokens: Mapping[str, Token], aliases: Mapping[str, str | None]
) -> dict[str, Any]:
    """One tracked-wallet fill."""
    token = tokens.get(fill.mint)
    out: dict[str, Any] = {
        "time_utc": utc_text(fill.ts),
        "wallet": fill.wallet,
        "wallet_label": wallet_label(fill.wallet, aliases.get(fill.wallet)),
        "mint": fill.mint,
        "token_label": token_label(
            fill.mint, token.symbol if token else None, token.name if token else None
        ),
        "side": fill.side,
        "sol": sol(fill.sol_lamports),
        "signature": fill.signature,
    }
    alias = _untrusted(alias=aliases.get(fill.wallet))
    if alias:
        out["untrusted"] = alias
    return out


def wallet_stats_brief(
    address: str, stats: WalletStats, *, alias: str | None, window_days: int
) -> dict[str, Any]:
    """A wallet's record over the fills we hold."""
    out: dict[str, Any] = {
        "wallet": address,
        "wallet_label": wallet_label(address, alias),
        "window_days": window_days,
        "trades": stats.trades,
        "realized_pnl_sol": sol(stats.realized_lamports),
        "unrealized_pnl_sol": sol(stats.unrealized_lamports),
        "hit_rate_pct": {f"{d}d": _pct(v) for d, v in stats.hit_rate.items()},
        "avg_buy_sol": sol(stats.avg_buy_lamports),
        "median_holding_minutes": (
            round(stats.median_holding_ms / 60_000, 1)
            if stats.median_holding_ms is not None
            else None
        ),
        "open_positions": stats.open_positions,
    }
    cleaned = _untrusted(alias=alias)
    if cleaned:
        out["untrusted"] = cleaned
    return out


def is_label_key(key: str) -> bool:
    """Keys whose string is a clean display label (``label``, ``token_label``, …)."""
    return key == "label" or key.endswith("_label")


def labels_of(*briefs: Any) -> list[str]:
    """Every ``label``/``token_label`` in briefs: clean names texts may repeat verbatim."""
    found: list[str] = []

    def walk(v: Any) -> None:
        if isinstance(v, Mapping):
            for k, x in v.items():
                if k == "untrusted":
                    continue
                if is_label_key(str(k)) and isinstance(x, str):
                    found.append(x)
                else:
                    walk(x)
        elif isinstance(v, Sequence) and not isinstance(v, str):
            for x in v:
                walk(x)

    for b in briefs:
        walk(b)
    return found
