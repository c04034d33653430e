"""Tokens, pools and ticks."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.events import ChainEvent
from engine.storage.models import Pool, Tick, Token
from engine.storage.repos._upsert import insert_for

_TEXT_LIMITS = {"name": 200, "symbol": 64, "uri": 400}


async def upsert_token_from_create(
    session: AsyncSession, *, event: ChainEvent, now_ms: int
) -> None:
    """Record a launch; a later create for the same mint does not overwrite the first."""
    values = {
        "mint": event.mint,
        "name": _clip(event.name, "name"),
        "symbol": _clip(event.symbol, "symbol"),
        "uri": _clip(event.uri, "uri"),
        "creator": event.creator,
        "venue": event.venue,
        "token_program": event.token_program,
        "created_slot": event.slot,
        "created_ts": event.ts,
        "updated_ts": now_ms,
    }
    stmt = (
        insert_for(session, Token).values(**values).on_conflict_do_nothing(index_elements=["mint"])
    )
    await session.execute(stmt)


async def ensure_token(session: AsyncSession, *, mint: str, now_ms: int) -> None:
    """Make sure a mint has a row (first seen through a trade, not its launch)."""
    stmt = (
        insert_for(session, Token)
        .values(mint=mint, updated_ts=now_ms, complete=False)
        .on_conflict_do_nothing(index_elements=["mint"])
    )
    await session.execute(stmt)


async def get_token(session: AsyncSession, *, mint: str) -> Token | None:
    """One token by mint."""
    return await session.get(Token, mint)


async def search_tokens(session: AsyncSession, *, query: str, limit: int = 10) -> list[Token]:
    """Tokens whose mint, symbol or name matches (exact mint first, then symbol prefix)."""
    q = query.strip()
    if not q:
        return []
    exact = await session.get(Token, q)
    if exact is not None:
        return [exact]
    like = q.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    stmt = (
        select(Token)
        .where(
            func.lower(Token.symbol).like(like.lower() + "%", escape="\\")
            | func.lower(Token.name).like("%" + like.lower() + "%", escape="\\")
        )
        .order_by(Token.created_ts.desc())
        .limit(limit)
    )
    return list((await session.scalars(stmt)).all())


async def mark_complete(session: AsyncSession, *, mint: str, now_ms: int) -> None:
    """The bonding curve completed: the token is migrating to an AMM."""
    await ensure_token(session, mint=mint, now_ms=now_ms)
    token = await session.get(Token, mint)
    if token is not None:
        token.complete = True
        token.updated_ts = now_ms


async def upsert_pool(session: AsyncSession, *, pool: Pool) -> None:
    """Record an AMM pool once."""
    values = {c.key: getattr(pool, c.key) for c in Pool.__table__.columns}
    stmt = (
        insert_for(session, Pool)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["address"])
    )
    await session.execute(stmt)


async def insert_ticks(session: AsyncSession, *, events: Sequence[ChainEvent]) -> int:
    """Store trades and swaps; replays and duplicates are ignored by (ts, signature, idx)."""
    rows = [
        {
            "ts": e.ts,
            "signature": e.signature,
            "idx": e.index,
            "slot": e.slot,
            "mint": e.mint,
            "venue": e.venue,
            "side": e.side,
            "trader": e.trader,
            "sol_lamports": e.sol_lamports or 0,
            "token_amount": e.token_amount or 0,
            "virtual_sol_reserves": e.virtual_sol_reserves,
            "virtual_token_reserves": e.virtual_token_reserves,
            "pool": e.pool,
        }
        for e in events
        if e.kind in ("trade", "swap") and e.side and e.trader
    ]
    if not rows:
        return 0
    # An executemany of one cached statement: ``.values(rows)`` would compile a new multi-row
    # statement per batch, which cost more than the insert itself (docs/performance.md).
    # RETURNING counts the rows really inserted (an executemany's rowcount is -1 on asyncpg).
    stmt = (
        insert_for(session, Tick.__table__)
        .on_conflict_do_nothing(index_elements=["ts", "signature", "idx"])
        .returning(Tick.__table__.c.idx)
    )
    return len((await session.execute(stmt, rows)).all())


async def ticks_for_mint(
    session: AsyncSession, *, mint: str, since_ms: int, until_ms: int | None = None
) -> list[Tick]:
    """A mint's ticks in time order."""
    stmt = select(Tick).where(Tick.mint == mint, Tick.ts >= since_ms)
    if until_ms is not None:
        stmt = stmt.where(Tick.ts < until_ms)
    stmt = stmt.order_by(Tick.ts, Tick.signature, Tick.idx)
    return list((await session.scalars(stmt)).all())


def tick_event(t: Tick) -> ChainEvent:
    """A stored tick as the normalized event it was stored from (to refill windows)."""
    return ChainEvent(
        kind="trade" if t.venue == "pumpfun" else "swap",
        venue=t.venue,
        signature=t.signature,
        slot=t.slot,
        ts=t.ts,
        mint=t.mint,
        index=t.idx,
        trader=t.trader,
        side=t.side,
        sol_lamports=t.sol_lamports,
        token_amount=t.token_amount,
        virtual_sol_reserves=t.virtual_sol_reserves,
        virtual_token_reserves=t.virtual_token_reserves,
        pool=t.pool,
    )


def _clip(value: str | None, field: str) -> str | None:
    # Names are attacker-controlled and unbounded on chain; the column is not.
    if value is None:
        return None
    # PostgreSQL text cannot hold NUL; a hostile name must not be able to fail the batch.
    return value.replace("\x00", "")[: _TEXT_LIMITS[field]]
