"""The append-only audit log."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import AuditLog


async def append(
    session: AsyncSession,
    *,
    ts: int,
    actor: str,
    action: str,
    subject: str | None = None,
    data: dict[str, Any] | None = None,
) -> AuditLog:
    """Record a consequential action; the database refuses to change it afterwards."""
    entry = AuditLog(ts=ts, actor=actor, action=action, subject=subject, data=data or {})
    session.add(entry)
    await session.flush()
    return entry


async def entries(
    session: AsyncSession, *, subject: str | None = None, limit: int = 100
) -> list[AuditLog]:
    """Audit entries, newest first, optionally for one subject."""
    stmt = select(AuditLog)
    if subject is not None:
        stmt = stmt.where(AuditLog.subject == subject)
    stmt = stmt.order_by(AuditLog.ts.desc(), AuditLog.id.desc()).limit(limit)
    return list((await session.scalars(stmt)).all())
