"""Test data for the bot tests: addresses, tokens, signals, ticks, fills and risk reports."""

from __future__ import annotations

import hashlib
from typing import Any

from solders.pubkey import Pubkey

from engine.deps import Deps
from engine.events import ChainEvent
from engine.risk.model import RiskView
from engine.storage.models import SmartTrade, Token
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import tokens as token_repo

SOL = 1_000_000_000
NOW = 1_767_225_600_000  # the `clock` fixture's time


def address(tag: str) -> str:
    """A valid base58 public key derived from a tag."""
    return str(Pubkey(hashlib.sha256(tag.encode()).digest()))


MINT = address("mint-bonk")
MINT2 = address("mint-other")
WHALE = address("wallet-whale")


async def add_token(
    deps: Deps,
    mint: str = MINT,
    *,
    name: str | None = "Bonk Two",
    symbol: str | None = "BONK2",
    venue: str = "pumpfun",
    created_ts: int = NOW - 3_600_000,
) -> None:
    async with deps.sessions.begin() as s:
        s.add(
            Token(
                mint=mint,
                name=name,
                symbol=symbol,
                venue=venue,
                created_ts=created_ts,
                updated_ts=created_ts,
                complete=False,
            )
        )


def signal_fields(mint: str, strength: float, *, smart_buyers: int = 3) -> dict[str, Any]:
    return {
        "components": {"smart_burst": 2.1, "momentum": 1.4, "liquidity": 1.2, "risk": 3.0},
        "inputs": {
            "liquidity": {"sol_reserves": 42 * SOL},
            "smart_burst": {"smart_buyers": smart_buyers, "wallets": []},
            "explanation": f"Strength {strength:.2f}/3: three tracked wallets bought 9 SOL.",
        },
        "rules": [
            {
                "name": "smart_buy_burst",
                "title": "Smart Buy Burst",
                "role": "trigger",
                "summary": "Smart Buy Burst: 3 tracked wallets bought 9 SOL in 5m",
            }
        ],
        "risk": {"known": True, "level": "low", "badges": [], "blocks_buy": False},
    }


async def add_signal(
    deps: Deps,
    signal_id: int,
    mint: str = MINT,
    *,
    ts: int = NOW - 60_000,
    strength: float = 2.2,
    narrative: str | None = None,
    risk: dict[str, Any] | None = None,
    smart_buyers: int = 3,
) -> None:
    fields = signal_fields(mint, strength, smart_buyers=smart_buyers)
    if risk is not None:
        fields["risk"] = risk
    async with deps.sessions.begin() as s:
        await signal_repo.add_signal(s, id=signal_id, ts=ts, mint=mint, strength=strength, **fields)
        if narrative:
            await signal_repo.set_narrative(s, signal_id=signal_id, ts=ts, text=narrative)


async def add_risk(
    deps: Deps, mint: str = MINT, *, sellable: bool = True, freeze: bool = False
) -> None:
    view = RiskView(
        mint=mint,
        checked_ts=NOW - 30_000,
        freeze_authority=address("freezer") if freeze else None,
        sellable=sellable,
        round_trip_loss_pct=2.0,
        known=frozenset({"mint", "holders", "sellability"}),
    )
    async with deps.sessions.begin() as s:
        await signal_repo.put_risk_report(
            s,
            mint=mint,
            level="critical" if freeze else "low",
            badges=["freeze_authority"] if freeze else [],
            data={"view": view.to_dict(), "penalties": {}},
            checked_ts=NOW - 30_000,
            ttl_ms=3_600_000,
        )


async def add_trades(deps: Deps, mint: str = MINT, *, n: int = 5, trader: str = WHALE) -> None:
    events = [
        ChainEvent(
            kind="trade",
            venue="pumpfun",
            signature=f"sig-{mint[:6]}-{i}",
            slot=100 + i,
            ts=NOW - 120_000 + i * 1_000,
            mint=mint,
            trader=trader,
            side="buy",
            sol_lamports=SOL,
            token_amount=30_000_000_000_000,
            virtual_sol_reserves=31 * SOL + i * SOL,
            virtual_token_reserves=1_000_000_000_000_000,
        )
        for i in range(n)
    ]
    async with deps.sessions.begin() as s:
        await token_repo.insert_ticks(s, events=events)


async def add_fill(
    deps: Deps, *, wallet: str = WHALE, mint: str = MINT, side: str = "buy", sig: str = "fill-1"
) -> None:
    async with deps.sessions.begin() as s:
        s.add(
            SmartTrade(
                signature=sig,
                idx=0,
                ts=NOW - 10_000,
                wallet=wallet,
                mint=mint,
                venue="pumpfun",
                side=side,
                sol_lamports=3 * SOL,
                token_amount=90_000_000_000_000,
            )
        )
