"""The smart-money registry: global wallets, per-user watchlists, monitor counts, smart trades."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.events import ChainEvent
from engine.storage.models import SmartTrade, Wallet, WatchlistEntry
from engine.storage.repos._upsert import insert_for


async def ensure_wallet(
    session: AsyncSession,
    *,
    address: str,
    now_ms: int,
    alias: str | None = None,
    tags: Sequence[str] = (),
    featured: bool | None = None,
) -> Wallet:
    """Get or create a registry wallet; given fields update it."""
    wallet = await session.get(Wallet, address)
    if wallet is None:
        wallet = Wallet(
            address=address,
            alias=alias,
            tags=list(tags),
            featured=bool(featured),
            created_ts=now_ms,
        )
        session.add(wallet)
        await session.flush()
        return wallet
    if alias is not None:
        wallet.alias = alias
    if tags:
        wallet.tags = sorted(set(wallet.tags) | set(tags))
    if featured is not None:
        wallet.featured = featured
    return wallet


async def watch(
    session: AsyncSession,
    *,
    user_id: int,
    address: str,
    now_ms: int,
    alias: str | None = None,
    tags: Sequence[str] = (),
) -> WatchlistEntry:
    """Add a wallet to a user's watchlist, or update its alias and tags there."""
    await ensure_wallet(session, address=address, now_ms=now_ms)
    entry = await session.get(WatchlistEntry, (user_id, address))
    if entry is None:
        entry = WatchlistEntry(
            user_id=user_id, address=address, alias=alias, tags=sorted(set(tags)), created_ts=now_ms
        )
        session.add(entry)
    else:
        if alias is not None:
            entry.alias = alias
        if tags:
            entry.tags = sorted(set(entry.tags) | set(tags))
    await session.flush()
    return entry


async def unwatch(session: AsyncSession, *, user_id: int, address: str) -> bool:
    """Remove a wallet from a user's watchlist; True when it was there."""
    result = await session.execute(
        delete(WatchlistEntry).where(
            WatchlistEntry.user_id == user_id, WatchlistEntry.address == address
        )
    )
    return bool(getattr(result, "rowcount", 0))


async def watchlist(session: AsyncSession, *, user_id: int) -> list[tuple[WatchlistEntry, int]]:
    """A user's watched wallets, each with its monitor count (how many users watch it)."""
    counts = (
        select(WatchlistEntry.address, func.count().label("n"))
        .group_by(WatchlistEntry.address)
        .subquery()
    )
    stmt = (
        select(WatchlistEntry, counts.c.n)
        .join(counts, counts.c.address == WatchlistEntry.address)
        .where(WatchlistEntry.user_id == user_id)
        .order_by(WatchlistEntry.created_ts, WatchlistEntry.address)
    )
    return [(row[0], int(row[1])) for row in (await session.execute(stmt)).all()]


async def monitor_count(session: AsyncSession, *, address: str) -> int:
    """How many users watch this address."""
    stmt = select(func.count()).where(WatchlistEntry.address == address)
    return int((await session.execute(stmt)).scalar_one())


async def tracked_addresses(session: AsyncSession) -> set[str]:
    """Every address anyone tracks, plus the featured ones: the scorer's smart-money set."""
    watched = select(WatchlistEntry.address).distinct()
    featured = select(Wallet.address).where(Wallet.featured.is_(True))
    rows = await session.execute(watched.union(featured))
    return {r[0] for r in rows}


async def featured_wallets(session: AsyncSession) -> list[Wallet]:
    """The global featured list."""
    stmt = select(Wallet).where(Wallet.featured.is_(True)).order_by(Wallet.address)
    return list((await session.scalars(stmt)).all())


async def record_smart_trades(session: AsyncSession, *, events: Sequence[ChainEvent]) -> int:
    """Store fills of tracked wallets; duplicates by (signature, idx) are ignored."""
    rows = [
        {
            "signature": e.signature,
            "idx": e.index,
            "ts": e.ts,
            "wallet": e.trader,
            "mint": e.mint,
            "venue": e.venue,
            "side": e.side,
            "sol_lamports": e.sol_lamports or 0,
            "token_amount": e.token_amount or 0,
        }
        for e in events
        if e.trader and e.side
    ]
    if not rows:
        return 0
    stmt = (
        insert_for(session, SmartTrade.__table__)
        .on_conflict_do_nothing(index_elements=["signature", "idx"])
        .returning(SmartTrade.__table__.c.idx)
    )
    return len((await session.execute(stmt, rows)).all())


async def smart_activity(
    session: AsyncSession,
    *,
    since_ms: int,
    wallets: Sequence[str] | None = None,
    mint: str | None = None,
    limit: int = 100,
) -> list[SmartTrade]:
    """The latest fills of tracked wallets, newest first."""
    stmt = select(SmartTrade).where(SmartTrade.ts >= since_ms)
    if wallets is not None:
        stmt = stmt.where(SmartTrade.wallet.in_(list(wallets)))
    if mint is not None:
        stmt = stmt.where(SmartTrade.mint == mint)
    stmt = stmt.order_by(SmartTrade.ts.desc(), SmartTrade.signature, SmartTrade.idx).limit(limit)
    return list((await session.scalars(stmt)).all())
