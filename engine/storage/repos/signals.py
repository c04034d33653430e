"""Signals (with their explanation) and risk reports."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import RiskReport, Signal
from engine.storage.repos._upsert import insert_for


async def add_signal(
    session: AsyncSession,
    *,
    id: int,
    ts: int,
    mint: str,
    strength: float,
    components: dict[str, Any],
    inputs: dict[str, Any],
    rules: list[Any],
    risk: dict[str, Any] | None = None,
    version: int = 1,
) -> Signal:
    """Store a fired signal with every component, its inputs and the rules that fired."""
    if not 0.0 <= strength <= 3.0:
        raise ValueError(f"strength must be within 0.0-3.0, got {strength}")
    signal = Signal(
        id=id,
        ts=ts,
        mint=mint,
        version=version,
        strength=strength,
        components=components,
        inputs=inputs,
        rules=rules,
        risk=risk or {},
    )
    session.add(signal)
    await session.flush()
    return signal


async def list_signals(
    session: AsyncSession,
    *,
    min_strength: float = 0.0,
    mint: str | None = None,
    before: tuple[int, int] | None = None,
    limit: int = 50,
) -> list[Signal]:
    """Newest first; ``before`` is a (ts, id) cursor from the previous page's last row."""
    stmt = select(Signal).where(Signal.strength >= min_strength)
    if mint is not None:
        stmt = stmt.where(Signal.mint == mint)
    if before is not None:
        ts, sid = before
        stmt = stmt.where((Signal.ts < ts) | ((Signal.ts == ts) & (Signal.id < sid)))
    stmt = stmt.order_by(Signal.ts.desc(), Signal.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())


async def latest_signal(session: AsyncSession, *, mint: str) -> Signal | None:
    """The newest signal of a mint."""
    rows = await list_signals(session, mint=mint, limit=1)
    return rows[0] if rows else None


async def set_narrative(session: AsyncSession, *, signal_id: int, ts: int, text: str) -> None:
    """Attach the agent's narrative to a stored signal."""
    signal = await session.get(Signal, (signal_id, ts))
    if signal is None:
        raise LookupError(f"no signal {signal_id} at {ts}")
    signal.narrative = text


async def put_risk_report(
    session: AsyncSession,
    *,
    mint: str,
    level: str,
    badges: list[str],
    data: dict[str, Any],
    checked_ts: int,
    ttl_ms: int,
) -> None:
    """Replace the cached risk verdict of a mint."""
    values = {
        "mint": mint,
        "level": level,
        "badges": badges,
        "data": data,
        "checked_ts": checked_ts,
        "expires_ts": checked_ts + ttl_ms,
    }
    stmt = insert_for(session, RiskReport).values(**values)
    stmt = stmt.on_conflict_do_update(
        index_elements=["mint"], set_={k: stmt.excluded[k] for k in values if k != "mint"}
    )
    await session.execute(stmt)


async def get_risk_report(
    session: AsyncSession, *, mint: str, now_ms: int | None = None
) -> RiskReport | None:
    """The cached risk verdict, or None when absent or (given ``now_ms``) expired."""
    report = await session.get(RiskReport, mint)
    if report is None or (now_ms is not None and report.expires_ts <= now_ms):
        return None
    return report
