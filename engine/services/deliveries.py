"""Alert deliveries: claims, the per-send ``sending`` mark, outcomes, retries, digests, sweeps.

One row per (alert key, chat). Its ``status``:

============ ===================================================================================
pending      claimed by the job run named in ``owner``, which holds it until ``lease_ts``
sending      committed just before the HTTP call; the answer (or its absence) decides what next
sent         the platform accepted it (final)
failed       refused for good: bot blocked, chat gone, bad request (final)
retry        a transient failure (429 beyond a job's patience, 5xx, network); due again at
             ``next_attempt_ts``
expired      not sent: older than its TTL (``expires_ts``) when its turn came (final)
in_doubt     its sender died, or the answer was lost, after the request may have reached the
             platform; never resent, because Telegram has no idempotency key (final)
digest       folded into a group's next digest message
============ ===================================================================================

Every move out of ``pending`` and ``sending`` is conditional on ``owner``, and a row is taken
over only when its lease has run out, so two runs never both send one row. A run's lease is
longer than the run may live (see ``bot.fanout``), so a row still ``pending`` or ``sending``
after it belongs to a dead run: ``pending`` ones are sent by the next run, ``sending`` ones
become ``in_doubt``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Final, cast

from sqlalchemy import Table, and_, bindparam, func, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import AlertDelivery, Chat
from engine.storage.repos._upsert import insert_for

PENDING: Final = "pending"
SENDING: Final = "sending"
SENT: Final = "sent"
FAILED: Final = "failed"
RETRY: Final = "retry"
EXPIRED: Final = "expired"
IN_DOUBT: Final = "in_doubt"
DIGEST: Final = "digest"
"""Status of an alert folded into a group's next digest instead of being sent on its own."""
FINAL: Final = frozenset({SENT, FAILED, EXPIRED, IN_DOUBT})

_CLAIM_CHUNK = 1000
"""Rows per INSERT (SQLite allows 32,766 bound values; a row binds nine)."""


def _table() -> Table:
    # The Core table: executemany UPDATEs with a WHERE per row, and UPDATE … RETURNING.
    return cast(Table, AlertDelivery.__table__)


async def claim_many(
    session: AsyncSession,
    *,
    alert_key: str,
    chat_ids: Iterable[int],
    now_ms: int,
    owner: str | None = None,
    lease_ts: int | None = None,
    expires_ts: int | None = None,
) -> list[int]:
    """Claim an alert for many chats; returns the chats claimed now (not claimed before).

    One ``INSERT … ON CONFLICT DO NOTHING RETURNING`` per thousand chats: a chat another run
    claimed first is simply not returned.
    """
    ids = list(dict.fromkeys(chat_ids))
    got: set[int] = set()
    for start in range(0, len(ids), _CLAIM_CHUNK):
        rows = [
            {
                "alert_key": alert_key,
                "chat_id": c,
                "status": PENDING,
                "attempts": 0,
                "updated_ts": now_ms,
                "owner": owner,
                "lease_ts": lease_ts,
                "expires_ts": expires_ts,
                "parts_sent": 0,
            }
            for c in ids[start : start + _CLAIM_CHUNK]
        ]
        stmt = (
            insert_for(session, AlertDelivery)
            .values(rows)
            .on_conflict_do_nothing(index_elements=["alert_key", "chat_id"])
            .returning(AlertDelivery.chat_id)
        )
        got.update(int(c) for c in (await session.execute(stmt)).scalars())
    return [c for c in ids if c in got]


@dataclass(frozen=True, slots=True)
class Held:
    """A row a run holds and may send: how many parts already went, and when it expires."""

    chat_id: int
    parts_sent: int = 0
    expires_ts: int | None = None
    attempts: int = 0


async def take_over(
    session: AsyncSession,
    *,
    alert_key: str,
    owner: str,
    lease_ts: int,
    now_ms: int,
    due_ms: int | None = None,
) -> tuple[list[Held], list[int]]:
    """Take an alert's rows that are free to send again; settle those a dead run was sending.

    Returns (rows now held by ``owner``, chats whose row became ``in_doubt``). Free rows are
    ``retry`` rows due by ``max(now_ms, due_ms)`` and ``pending`` rows whose lease has run out.
    """
    t = _table()
    doubt = await session.execute(
        update(t)
        .where(t.c.alert_key == alert_key, t.c.status == SENDING, t.c.lease_ts <= now_ms)
        .values(status=IN_DOUBT, updated_ts=now_ms, error="sender died mid-send")
        .returning(t.c.chat_id)
    )
    in_doubt = sorted(int(c) for c in doubt.scalars())
    horizon = max(now_ms, due_ms or 0)
    taken = await session.execute(
        update(t)
        .where(
            t.c.alert_key == alert_key,
            or_(
                and_(t.c.status == RETRY, t.c.next_attempt_ts <= horizon),
                and_(t.c.status == PENDING, t.c.lease_ts <= now_ms),
            ),
        )
        .values(status=PENDING, owner=owner, lease_ts=lease_ts, updated_ts=now_ms)
        .returning(t.c.chat_id, t.c.parts_sent, t.c.expires_ts, t.c.attempts)
    )
    held = sorted(
        (
            Held(int(c), int(p or 0), None if e is None else int(e), int(a or 0))
            for c, p, e, a in taken.all()
        ),
        key=lambda h: h.chat_id,
    )
    return held, in_doubt


async def mark_sending(
    session: AsyncSession, *, alert_key: str, owner: str, chat_ids: Sequence[int], now_ms: int
) -> set[int]:
    """Move held rows to ``sending`` (commit before sending); returns the chats still held.

    A chat missing from the result was taken over by another run: do not send to it.
    """
    if not chat_ids:
        return set()
    t = _table()
    result = await session.execute(
        update(t)
        .where(
            t.c.alert_key == alert_key,
            t.c.owner == owner,
            t.c.status == PENDING,
            t.c.chat_id.in_(list(chat_ids)),
        )
        .values(status=SENDING, updated_ts=now_ms)
        .returning(t.c.chat_id)
    )
    return {int(c) for c in result.scalars()}


@dataclass(frozen=True, slots=True)
class Outcome:
    """How sending one alert to one chat ended (or ``pending``: put back after a safe failure)."""

    chat_id: int
    status: str
    message_id: str | None = None
    error: str | None = None
    parts_sent: int = 0
    next_attempt_ts: int | None = None


async def record(
    session: AsyncSession,
    *,
    alert_key: str,
    owner: str,
    outcomes: Sequence[Outcome],
    now_ms: int,
) -> None:
    """Write a run's outcomes in one executemany UPDATE, only on rows it still owns.

    ``pending`` puts a row back (its send failed before anything could be delivered) without
    counting an attempt; every other status counts one.
    """
    if not outcomes:
        return
    t = _table()
    stmt = (
        update(t)
        .where(
            t.c.alert_key == alert_key,
            t.c.chat_id == bindparam("c"),
            t.c.owner == owner,
        )
        .values(
            status=bindparam("s"),
            message_id=bindparam("m"),
            error=bindparam("e"),
            parts_sent=bindparam("p"),
            next_attempt_ts=bindparam("n"),
            updated_ts=now_ms,
            attempts=t.c.attempts + bindparam("a"),
        )
    )
    await session.execute(
        stmt,
        [
            {
                "c": o.chat_id,
                "s": o.status,
                "m": o.message_id,
                "e": o.error[:500] if o.error else None,
                "p": o.parts_sent,
                "n": o.next_attempt_ts,
                "a": 0 if o.status == PENDING else 1,
            }
            for o in outcomes
        ],
    )


async def finish_batch(
    session: AsyncSession, *, alert_key: str, outcomes: Sequence[Outcome], now_ms: int
) -> None:
    """Record many chats' outcomes of one alert whoever holds them (one executemany UPDATE)."""
    if not outcomes:
        return
    t = _table()
    stmt = (
        update(t)
        .where(t.c.alert_key == alert_key, t.c.chat_id == bindparam("c"))
        .values(
            status=bindparam("s"),
            message_id=bindparam("m"),
            error=bindparam("e"),
            updated_ts=bindparam("t"),
            attempts=t.c.attempts + 1,
        )
    )
    await session.execute(
        stmt,
        [
            {"c": o.chat_id, "s": o.status, "m": o.message_id, "e": o.error, "t": now_ms}
            for o in outcomes
        ],
    )


# -- digests -------------------------------------------------------------------------------------


async def pending_digest(session: AsyncSession, *, chat_id: int) -> list[AlertDelivery]:
    """Alerts folded into a chat's digest and not sent yet, oldest first."""
    stmt = (
        select(AlertDelivery)
        .where(AlertDelivery.chat_id == chat_id, AlertDelivery.status == DIGEST)
        .order_by(AlertDelivery.updated_ts, AlertDelivery.alert_key)
    )
    return list((await session.scalars(stmt)).all())


async def take_digest(
    session: AsyncSession,
    *,
    chat_id: int,
    now_ms: int,
    owner: str | None = None,
    lease_ts: int | None = None,
) -> list[str]:
    """Claim a chat's folded alerts for one digest message; rows another flush took are skipped.

    Each row moves from ``digest`` to ``pending`` only if it still is ``digest``, so two flushes
    running at once never put the same alert in two digests. Rows past their TTL become
    ``expired`` instead.
    """
    taken = []
    t = _table()
    for row in await pending_digest(session, chat_id=chat_id):
        expired = row.expires_ts is not None and row.expires_ts <= now_ms
        result = await session.execute(
            update(t)
            .where(t.c.alert_key == row.alert_key, t.c.chat_id == chat_id, t.c.status == DIGEST)
            .values(
                status=EXPIRED if expired else PENDING,
                owner=owner,
                lease_ts=lease_ts,
                updated_ts=now_ms,
            )
        )
        if getattr(result, "rowcount", 0) and not expired:
            taken.append(row.alert_key)
    return taken


async def return_to_digest(
    session: AsyncSession, *, chat_id: int, alert_keys: Sequence[str], owner: str, now_ms: int
) -> None:
    """Put alerts a digest could not send (transient failure) back to wait for the next one."""
    t = _table()
    for key in alert_keys:
        await session.execute(
            update(t)
            .where(t.c.alert_key == key, t.c.chat_id == chat_id, t.c.owner == owner)
            .values(status=DIGEST, updated_ts=now_ms, attempts=t.c.attempts + 1)
        )


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
    owner: str | None = None,
) -> None:
    """Record the same outcome for several alerts of one chat (a digest that was sent)."""
    t = _table()
    for key in alert_keys:
        cond = [t.c.alert_key == key, t.c.chat_id == chat_id]
        if owner is not None:
            cond.append(t.c.owner == owner)
        await session.execute(
            update(t)
            .where(*cond)
            .values(
                status=status,
                message_id=message_id,
                error=error[:500] if error else None,
                updated_ts=now_ms,
                attempts=t.c.attempts + 1,
            )
        )


# -- the sweeper's queries -----------------------------------------------------------------------


async def settle_dead_sends(session: AsyncSession, *, now_ms: int) -> list[tuple[str, int]]:
    """Rows still ``sending`` after their run's lease become ``in_doubt``; returns them."""
    t = _table()
    result = await session.execute(
        update(t)
        .where(t.c.status == SENDING, t.c.lease_ts <= now_ms)
        .values(status=IN_DOUBT, updated_ts=now_ms, error="sender died mid-send")
        .returning(t.c.alert_key, t.c.chat_id)
    )
    return [(str(k), int(c)) for k, c in result.all()]


def _free(now_ms: int, horizon_ms: int) -> Any:
    t = _table()
    return or_(
        and_(t.c.status == RETRY, t.c.next_attempt_ts <= horizon_ms),
        and_(t.c.status == PENDING, t.c.lease_ts <= now_ms),
    )


async def expire_due(
    session: AsyncSession, *, now_ms: int, due_ms: int | None = None
) -> list[tuple[str, int]]:
    """Rows free to send again but past their TTL become ``expired``; returns them."""
    t = _table()
    result = await session.execute(
        update(t)
        .where(_free(now_ms, max(now_ms, due_ms or 0)), t.c.expires_ts <= now_ms)
        .values(status=EXPIRED, updated_ts=now_ms)
        .returning(t.c.alert_key, t.c.chat_id)
    )
    return [(str(k), int(c)) for k, c in result.all()]


async def due_alert_keys(
    session: AsyncSession, *, now_ms: int, due_ms: int | None = None, limit: int = 1000
) -> list[str]:
    """Alerts with rows free to send again (due retries, pending rows of dead runs)."""
    t = _table()
    stmt = (
        select(t.c.alert_key)
        .where(_free(now_ms, max(now_ms, due_ms or 0)))
        .distinct()
        .order_by(t.c.alert_key)
        .limit(limit)
    )
    return [str(k) for k in (await session.execute(stmt)).scalars()]


async def next_wakeup(
    session: AsyncSession, *, now_ms: int, due_ms: int | None = None
) -> int | None:
    """When the next row becomes free or settles: the earliest later retry or lease end."""
    t = _table()
    horizon = max(now_ms, due_ms or 0)
    retry = await session.scalar(
        select(func.min(t.c.next_attempt_ts)).where(
            t.c.status == RETRY, t.c.next_attempt_ts > horizon
        )
    )
    lease = await session.scalar(
        select(func.min(t.c.lease_ts)).where(
            t.c.status.in_((PENDING, SENDING)), t.c.lease_ts > now_ms
        )
    )
    found = [int(v) for v in (retry, lease) if v is not None]
    return min(found) if found else None


async def platforms_of(session: AsyncSession, *, chat_ids: Sequence[int]) -> dict[int, str]:
    """Chat id -> platform, for labelling metrics."""
    if not chat_ids:
        return {}
    rows = await session.execute(
        select(Chat.id, Chat.platform).where(Chat.id.in_(sorted(set(chat_ids))))
    )
    return {int(i): str(p) for i, p in rows.all()}


async def open_count(session: AsyncSession) -> int:
    """Rows not settled yet (pending, sending, retry): the alert queue's depth."""
    t = _table()
    stmt = select(func.count()).where(t.c.status.in_((PENDING, SENDING, RETRY)))
    return int(await session.scalar(stmt) or 0)


# -- reading -------------------------------------------------------------------------------------


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
