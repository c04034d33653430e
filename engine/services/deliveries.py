"""Alert deliveries beyond claim/finish: bulk claims, digests waiting to be sent, outcome counts."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Table, bindparam, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import AlertDelivery
from engine.storage.repos import users as user_repo

DIGEST = "digest"
"""Status of an alert folded into a group's next digest instead of being sent on its own."""


async def claim_many(
    session: AsyncSession, *, alert_key: str, chat_ids: Iterable[int], now_ms: int
) -> list[int]:
    """Claim an alert for many chats; returns the chats claimed now (not claimed before)."""
    claimed = []
    for chat_id in chat_ids:
        if await user_repo.claim_delivery(
            session, alert_key=alert_key, chat_id=chat_id, now_ms=now_ms
        ):
            claimed.append(chat_id)
    return claimed


async def pending_digest(session: AsyncSession, *, chat_id: int) -> list[AlertDelivery]:
    """Alerts folded into a chat's digest and not sent yet, oldest first."""
    stmt = (
        select(AlertDelivery)
        .where(AlertDelivery.chat_id == chat_id, AlertDelivery.status == DIGEST)
        .order_by(AlertDelivery.updated_ts, AlertDelivery.alert_key)
    )
    return list((await session.scalars(stmt)).all())


async def take_digest(session: AsyncSession, *, chat_id: int, now_ms: int) -> list[str]:
    """Claim a chat's folded alerts for one digest message; rows another flush took are skipped.

    Each row moves from ``digest`` to ``pending`` only if it still is ``digest``, so two flushes
    running at once never put the same alert in two digests.
    """
    taken = []
    for row in await pending_digest(session, chat_id=chat_id):
        result = await session.execute(
            update(AlertDelivery)
            .where(
                AlertDelivery.alert_key == row.alert_key,
                AlertDelivery.chat_id == chat_id,
                AlertDelivery.status == DIGEST,
            )
            .values(status="pending", updated_ts=now_ms)
            .execution_options(synchronize_session=False)
        )
        if getattr(result, "rowcount", 0):
            taken.append(row.alert_key)
    return taken


async def chats_with_digest(session: AsyncSession) -> list[int]:
    """Chats that have folded alerts waiting."""
    stmt = (
        select(AlertDelivery.chat_id)
        .where(AlertDelivery.status == DIGEST)
        .distinct()
        .order_by(AlertDelivery.chat_id)
    )
    return [int(c) for c in (await session.scalars(stmt)).all()]


async def finish_many(
    session: AsyncSession,
    *,
    chat_id: int,
    alert_keys: Sequence[str],
    now_ms: int,
    status: str,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record the same outcome for several alerts of one chat (a digest that was sent)."""
    for key in alert_keys:
        await user_repo.finish_delivery(
            session,
            alert_key=key,
            chat_id=chat_id,
            now_ms=now_ms,
            status=status,
            message_id=message_id,
            error=error,
        )


@dataclass(frozen=True, slots=True)
class Outcome:
    """How sending one alert to one chat ended."""

    chat_id: int
    status: str
    message_id: str | None = None
    error: str | None = None


async def finish_batch(
    session: AsyncSession, *, alert_key: str, outcomes: Sequence[Outcome], now_ms: int
) -> None:
    """Record many chats' outcomes of one alert in one executemany UPDATE (fan-out's hot path)."""
    if not outcomes:
        return
    # The Core table, not the ORM entity: an executemany UPDATE with a WHERE per row.
    table = cast(Table, AlertDelivery.__table__)
    stmt = (
        update(table)
        .where(table.c.alert_key == bindparam("k"), table.c.chat_id == bindparam("c"))
        .values(
            status=bindparam("s"),
            message_id=bindparam("m"),
            error=bindparam("e"),
            updated_ts=bindparam("t"),
            attempts=table.c.attempts + 1,
        )
    )
    await session.execute(
        stmt,
        [
            {
                "k": alert_key,
                "c": o.chat_id,
                "s": o.status,
                "m": o.message_id,
                "e": o.error,
                "t": now_ms,
            }
            for o in outcomes
        ],
    )


async def outcome_counts(session: AsyncSession, *, alert_key: str) -> dict[str, int]:
    """How deliveries of one alert ended, by status."""
    stmt = (
        select(AlertDelivery.status, func.count())
        .where(AlertDelivery.alert_key == alert_key)
        .group_by(AlertDelivery.status)
    )
    return {str(s): int(n) for s, n in (await session.execute(stmt)).all()}


async def deliveries_of(session: AsyncSession, *, alert_key: str) -> list[AlertDelivery]:
    """Every delivery row of one alert, by chat."""
    stmt = (
        select(AlertDelivery)
        .where(AlertDelivery.alert_key == alert_key)
        .order_by(AlertDelivery.chat_id)
    )
    return list((await session.scalars(stmt)).all())
