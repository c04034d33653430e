"""Stored rows for agent tests: a token, a signal shaped like the scorer's, risk, fills, a user."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.storage.models import SmartTrade, Token, User, Wallet
from engine.storage.repos import signals as signal_repo
from tests.conftest import Db

SOL = 1_000_000_000
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, the shared FixedClock's time
_NOT_BASE58 = str.maketrans({"0": "z", "O": "Q", "I": "J", "l": "L"})


def addr(tag: str) -> str:
    """A valid-looking 44-char base58 address that starts with ``tag``."""
    return (tag.translate(_NOT_BASE58) + "1" * 44)[:44]


MINT = addr("MintPepe")
CREATOR = addr("Creator")
WHALES = {addr("WhaleA"): "whale_a", addr("WhaleB"): "whale_b", addr("WhaleC"): "whale_c"}


def rule(kind: str, title: str, role: str, checks: list[dict[str, Any]]) -> dict[str, Any]:
    """A RuleResult.to_dict()-shaped rule."""
    return {
        "name": kind,
        "kind": kind,
        "title": title,
        "role": role,
        "passed": True,
        "summary": f"{title}: passed",
        "checks": [{"passed": True, "shortfall": 0, "unit": "", **c} for c in checks],
    }


def signal_kwargs(
    mint: str = MINT,
    *,
    ts: int = T0 - 60_000,
    wallets: dict[str, str | None] | None = None,
    triggers: tuple[str, ...] = ("smart_buy_burst", "momentum"),
    badges: list[str] | None = None,
    level: str = "low",
    known: bool = True,
    pool: bool = True,
) -> dict[str, Any]:
    """``add_signal`` keyword arguments in the shape ``Signal.storage_kwargs`` produces."""
    chosen: dict[str, str | None] = dict(WHALES) if wallets is None else wallets
    bought = [{"address": a, "alias": alias, "lamports": 3 * SOL} for a, alias in chosen.items()]
    total = 3 * SOL * len(bought)
    rules = []
    if "smart_buy_burst" in triggers:
        rules.append(
            rule(
                "smart_buy_burst",
                "Smart Buy Burst",
                "trigger",
                [
                    {"field": "min_wallets", "label": "tracked wallets buying", "op": ">=",
                     "threshold": 3, "actual": len(bought)},
                    {"field": "min_total_lamports", "label": "SOL bought by tracked wallets",
                     "op": ">=", "threshold": 5 * SOL, "actual": total, "unit": "lamports"},
                ],
            )
        )  # fmt: skip
        rules[-1]["detail"] = {"total_lamports": total, "wallets": bought}
    if "momentum" in triggers:
        rules.append(
            rule(
                "momentum",
                "Momentum",
                "trigger",
                [
                    {"field": "min_return_pct", "label": "price return over 5m", "op": ">=",
                     "threshold": 25.0, "actual": 36.1111, "unit": "%"},
                    {"field": "min_volume_accel", "label": "volume acceleration", "op": ">=",
                     "threshold": 1.5, "actual": 5.0, "unit": "x"},
                    {"field": "min_trades", "label": "trades in the window", "op": ">=",
                     "threshold": 10, "actual": 14},
                ],
            )
        )  # fmt: skip
    if "push_time" in triggers:
        rules.append(
            rule(
                "push_time",
                "Push Time",
                "trigger",
                [
                    {"field": "min_net_lamports_per_min", "label": "net buy SOL per minute",
                     "op": ">=", "threshold": 2 * SOL, "actual": 4_092_000_000,
                     "unit": "lamports"},
                    {"field": "min_buy_share", "label": "buy share of volume", "op": ">=",
                     "threshold": 0.6, "actual": 0.97},
                    {"field": "min_trades", "label": "trades", "op": ">=", "threshold": 20,
                     "actual": 28},
                ],
            )
        )  # fmt: skip
    rules.append(
        rule("no_mint", "No Mint", "filter",
             [{"field": "mint_authority", "label": "mint authority renounced", "op": "==",
               "threshold": True, "actual": True}])
    )  # fmt: skip
    filters = {
        "no_mint": {"passed": True, "summary": "No Mint: mint authority renounced"},
        "top10": {"passed": False, "summary": "Top10: top 10 holders own 41.0%"},
    }
    risk = {
        "known": known,
        "level": level,
        "badges": badges or [],
        "penalties": {},
        "score": 3.0,
        "blocks_buy": level == "critical",
        "filters": filters,
    }
    return {
        "ts": ts,
        "mint": mint,
        "strength": 2.19,
        "components": {"smart_burst": 1.75, "momentum": 3.0, "liquidity": 1.4412, "risk": 3.0},
        "inputs": {
            "smart_burst": {
                "window_minutes": 5,
                "smart_buy_lamports": total,
                "smart_buyers": len(bought),
                "k": 0.25,
                "wallets": bought,
            },
            "momentum": {"short_return": 0.3611, "long_return": 0.3611, "volume_accel": 5.0},
            "liquidity": {
                "sol_reserves": 50_500_000_000 if pool else None,
                "token_reserves": 637_000_000_000_000 if pool else None,
                "impact_size_lamports": SOL,
                "impact_bps": 195 if pool else None,
            },
            "price": {"market_cap_lamports": 79_276_234_567},
            "flow": {
                "5m": {
                    "buys": 12,
                    "sells": 2,
                    "volume_lamports": 20 * SOL,
                    "net_flow_lamports": 16 * SOL,
                    "unique_buyers": 11,
                }
            },
            "explanation": "Strength 2.19/3 (engine text, not used by the agent)",
        },
        "rules": rules,
        "risk": risk,
        "version": 1,
    }


async def add_token_and_signal(
    db: Db,
    *,
    mint: str,
    signal_id: int,
    name: str | None,
    symbol: str | None,
    uri: str | None = None,
    alias: str | None = None,
) -> tuple[int, int]:
    """A token with attacker-chosen metadata and a signal naming the tracked wallets."""
    wallets: dict[str, str | None] = dict(WHALES)
    if alias is not None:
        wallets[next(iter(wallets))] = alias
    kwargs = signal_kwargs(mint, wallets=wallets)
    # The columns' own limits, as upsert_token_from_create clips them; PostgreSQL text cannot
    # hold NUL at all (the ingest does not strip it yet), so it is dropped here.
    name, symbol = (name or None) and name[:200], (symbol or None) and symbol[:64]
    name, symbol = (v.replace("\x00", "") if v else v for v in (name, symbol))
    async with db.sessions() as s:
        s.add(Token(mint=mint, name=name, symbol=symbol, uri=uri, creator=CREATOR,
                    venue="pumpfun", complete=False, created_ts=T0 - 600_000,
                    updated_ts=T0))  # fmt: skip
        await signal_repo.add_signal(s, id=signal_id, **kwargs)
        await s.commit()
    return signal_id, kwargs["ts"]


@dataclass
class Seeded:
    """Ids of what :func:`seed` stored."""

    user_id: int
    signal_id: int
    signal_ts: int
    mint: str


async def seed(
    db: Db,
    *,
    mint: str = MINT,
    name: str | None = "Pepe Classic",
    symbol: str | None = "PEPE",
    uri: str | None = "https://meta.example/pepe.json",
    alias: str | None = None,
    signal_id: int = 101,
    with_signal: bool = True,
    **signal: Any,
) -> Seeded:
    """A user, a token, its signal and risk report, tracked wallets and their fills."""
    wallets: dict[str, str | None] = dict(WHALES)
    if alias is not None:
        first = next(iter(wallets))
        wallets[first] = alias
    kwargs = signal_kwargs(mint, wallets=wallets, **signal)
    async with db.sessions() as s:
        user = User(telegram_id=4242, username="trader", language="en", settings={},
                    created_ts=T0 - 86_400_000)  # fmt: skip
        s.add(user)
        s.add(Token(mint=mint, name=name, symbol=symbol, uri=uri, creator=CREATOR,
                    venue="pumpfun", complete=False, created_ts=T0 - 600_000,
                    updated_ts=T0))  # fmt: skip
        for i, (address, a) in enumerate(wallets.items()):
            s.add(Wallet(address=address, alias=a, tags=["smart"], featured=True, created_ts=T0))
            s.add(SmartTrade(signature=f"Sig{i + 1}{'1' * 60}", idx=0, ts=T0 - 120_000 + i * 1000,
                             wallet=address, mint=mint, venue="pumpfun", side="buy",
                             sol_lamports=3 * SOL, token_amount=90_000_000_000))  # fmt: skip
        if with_signal:
            await signal_repo.add_signal(s, id=signal_id, **kwargs)
        await signal_repo.put_risk_report(
            s,
            mint=mint,
            level=kwargs["risk"]["level"],
            badges=kwargs["risk"]["badges"],
            data={
                "view": {"mint": mint, "checked_ts": T0 - 30_000, "top10_pct": 41.0,
                         "top_holder_pct": 12.5, "known": ["mint", "holders"]},
                "penalties": {},
            },
            checked_ts=T0 - 30_000,
            ttl_ms=600_000,
        )  # fmt: skip
        await s.commit()
        return Seeded(user.id, signal_id, kwargs["ts"], mint)
