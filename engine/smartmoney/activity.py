"""Smart Activity: the latest fills of tracked wallets, with price and market cap at the fill."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain.programs import PUMP_TOKEN_TOTAL_SUPPLY
from engine.storage.models import Token, Wallet, WatchlistEntry
from engine.storage.repos import wallets as wallet_repo


@dataclass(frozen=True, slots=True)
class ActivityRow:
    """One fill as Smart Activity shows it; money in raw integers, price as a float."""

    ts: int
    wallet: str
    alias: str | None
    mint: str
    symbol: str | None
    side: str
    sol_lamports: int
    token_amount: int
    price_lamports_per_token: float
    """Lamports per raw token unit (the fill's own price)."""
    market_cap_lamports: int
    signature: str

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


async def smart_activity(
    session: AsyncSession,
    *,
    since_ms: int,
    user_id: int | None = None,
    tag: str | None = None,
    mint: str | None = None,
    limit: int = 50,
) -> list[ActivityRow]:
    """Fills of tracked wallets (the user's watchlist, else every tracked one), newest first."""
    wallets: Sequence[str] | None = None
    aliases: dict[str, str | None] = {}
    if user_id is not None:
        rows = await wallet_repo.watchlist(session, user_id=user_id)
        entries = [e for e, _ in rows if tag is None or tag in e.tags]
        wallets = [e.address for e in entries]
        aliases = {e.address: e.alias for e in entries}
    elif tag is not None:
        registry = await session.scalars(select(Wallet))
        tagged = [w for w in registry if tag in (w.tags or [])]
        watched = await session.scalars(select(WatchlistEntry))
        tagged_addrs = {w.address for w in tagged} | {
            e.address for e in watched if tag in (e.tags or [])
        }
        wallets = sorted(tagged_addrs)
    fills = await wallet_repo.smart_activity(
        session, since_ms=since_ms, wallets=wallets, mint=mint, limit=limit
    )
    if not fills:
        return []
    mints = {f.mint for f in fills}
    tokens = {t.mint: t for t in await session.scalars(select(Token).where(Token.mint.in_(mints)))}
    missing = {f.wallet for f in fills} - set(aliases)
    if missing:
        for w in await session.scalars(select(Wallet).where(Wallet.address.in_(missing))):
            aliases.setdefault(w.address, w.alias)
    out: list[ActivityRow] = []
    for f in fills:
        token = tokens.get(f.mint)
        supply = token.supply if token is not None and token.supply else PUMP_TOKEN_TOTAL_SUPPLY
        price = f.sol_lamports / f.token_amount if f.token_amount else 0.0
        out.append(
            ActivityRow(
                ts=f.ts,
                wallet=f.wallet,
                alias=aliases.get(f.wallet),
                mint=f.mint,
                symbol=token.symbol if token is not None else None,
                side=f.side,
                sol_lamports=f.sol_lamports,
                token_amount=f.token_amount,
                price_lamports_per_token=price,
                market_cap_lamports=f.sol_lamports * supply // f.token_amount
                if f.token_amount
                else 0,
                signature=f.signature,
            )
        )
    return out
