"""KOL channels: link a channel, publish calls, follow a KOL, and each KOL's public record.

A KOL is a user who links a channel the bot administers; their calls and their followers are kept
in the append-only audit log (subject ``kol:<chat id>``, actions ``kol_call``, ``kol_follow``,
``kol_unfollow``), so a record can never be edited after the fact. A call is a hit when the
token's price reached ``HIT_MULTIPLE`` times the call price within ``HIT_WINDOW_MS``; calls
younger than the window are still open and not counted.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from fractions import Fraction
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.services.accounts import Platform, ensure_chat
from engine.services.errors import Forbidden, InvalidInput, NotFound
from engine.services.watchlist import check_address
from engine.storage.models import AuditLog, Chat, Tick
from engine.storage.repos import audit

logger = logging.getLogger(__name__)

HIT_MULTIPLE: Final = Fraction(3, 2)
HIT_WINDOW_MS: Final = 24 * 3_600_000
MAX_NOTE: Final = 280
RECENT_CALLS: Final = 10


@dataclass(frozen=True, slots=True)
class KolCall:
    """One published call; the price is lamports per raw token unit at the time of the call."""

    id: int
    channel_id: int
    user_id: int
    mint: str
    note: str | None
    ts: int
    price: Fraction | None


@dataclass(frozen=True, slots=True)
class CallOutcome:
    """A call with how it went: best multiple reached within the window, None when unknown."""

    call: KolCall
    best_multiple: float | None
    hit: bool | None
    """None while the call is still open (younger than the window) or unpriced."""


@dataclass(frozen=True, slots=True)
class KolRecord:
    """A KOL's public record."""

    channel: Chat
    calls: int
    hits: int
    settled: int
    followers: int
    recent: tuple[CallOutcome, ...]

    @property
    def hit_rate(self) -> float | None:
        """Share of settled calls that hit; None before any settled."""
        return self.hits / self.settled if self.settled else None


def _subject(chat_id: int) -> str:
    return f"kol:{chat_id}"


async def link_channel(
    session: AsyncSession,
    *,
    user_id: int,
    platform: Platform,
    external_id: str,
    title: str | None,
    now_ms: int,
) -> Chat:
    """Make the user the KOL of a channel (the adapter checked both are its admins)."""
    chat = await ensure_chat(
        session,
        platform=platform,
        external_id=external_id,
        kind="channel",
        now_ms=now_ms,
        title=title,
        owner_user_id=user_id,
    )
    if chat.owner_user_id not in (None, user_id):
        raise Forbidden("channel_taken", "this channel is linked to another KOL")
    chat.owner_user_id = user_id
    return chat


async def channels_of(session: AsyncSession, *, user_id: int) -> list[Chat]:
    """The channels a user publishes to."""
    stmt = (
        select(Chat).where(Chat.owner_user_id == user_id, Chat.kind == "channel").order_by(Chat.id)
    )
    return list((await session.scalars(stmt)).all())


async def kol_channel(session: AsyncSession, *, platform: Platform, external_id: str) -> Chat:
    """A linked KOL channel by its platform id, else NotFound."""
    stmt = select(Chat).where(
        Chat.platform == platform,
        Chat.external_id == external_id,
        Chat.kind == "channel",
        Chat.owner_user_id.is_not(None),
    )
    chat = (await session.scalars(stmt)).one_or_none()
    if chat is None:
        raise NotFound("no_kol", f"no KOL channel {external_id[:40]!r}", value=external_id[:40])
    return chat


async def price_at(session: AsyncSession, *, mint: str, ts: int) -> Fraction | None:
    """The last traded price at or before ``ts`` (lamports per raw token unit)."""
    stmt = (
        select(Tick.sol_lamports, Tick.token_amount)
        .where(Tick.mint == mint, Tick.ts <= ts, Tick.token_amount > 0)
        .order_by(Tick.ts.desc())
        .limit(1)
    )
    row = (await session.execute(stmt)).first()
    return Fraction(int(row[0]), int(row[1])) if row is not None else None


def _call(entry: AuditLog) -> KolCall:
    data: dict[str, Any] = entry.data or {}
    num, den = data.get("price_num"), data.get("price_den")
    price = Fraction(int(num), int(den)) if num is not None and den else None
    return KolCall(
        id=entry.id,
        channel_id=int(data["channel_id"]),
        user_id=int(data["user_id"]),
        mint=str(data["mint"]),
        note=data.get("note"),
        ts=entry.ts,
        price=price,
    )


async def publish_call(
    session: AsyncSession,
    *,
    channel: Chat,
    user_id: int,
    mint: str,
    note: str | None,
    now_ms: int,
) -> KolCall:
    """Record a call in the KOL's public record (sending it is the fan-out job's work)."""
    if channel.owner_user_id != user_id:
        raise Forbidden("not_kol", "only the channel's KOL may publish there")
    address = check_address(mint, field="mint")
    text = " ".join(note.split()) if note else None
    if text is not None and len(text) > MAX_NOTE:
        raise InvalidInput(
            "note_too_long",
            f"note is {len(text)} characters; at most {MAX_NOTE}",
            field="note",
            length=len(text),
            limit=MAX_NOTE,
        )
    price = await price_at(session, mint=address, ts=now_ms)
    entry = await audit.append(
        session,
        ts=now_ms,
        actor=f"user:{user_id}",
        action="kol_call",
        subject=_subject(channel.id),
        data={
            "channel_id": channel.id,
            "user_id": user_id,
            "mint": address,
            "note": text,
            "price_num": price.numerator if price is not None else None,
            "price_den": price.denominator if price is not None else None,
        },
    )
    return _call(entry)


async def get_call(session: AsyncSession, *, call_id: int) -> KolCall:
    """A published call by id."""
    entry = await session.get(AuditLog, call_id)
    if entry is None or entry.action != "kol_call":
        raise NotFound("no_call", f"no KOL call {call_id}")
    return _call(entry)


async def _follow_events(session: AsyncSession, **where: Any) -> list[AuditLog]:
    stmt = select(AuditLog).where(AuditLog.action.in_(("kol_follow", "kol_unfollow")))
    if "subject" in where:
        stmt = stmt.where(AuditLog.subject == where["subject"])
    if "actor" in where:
        stmt = stmt.where(AuditLog.actor == where["actor"])
    return list((await session.scalars(stmt.order_by(AuditLog.ts, AuditLog.id))).all())


async def set_following(
    session: AsyncSession, *, user_id: int, channel: Chat, follow: bool, now_ms: int
) -> bool:
    """Follow or unfollow a KOL; False when that was already the case."""
    if follow and channel.owner_user_id == user_id:
        raise InvalidInput("self_follow", "you cannot follow your own channel", field="channel")
    current = user_id in await followers(session, channel_chat_id=channel.id)
    if current == follow:
        return False
    await audit.append(
        session,
        ts=now_ms,
        actor=f"user:{user_id}",
        action="kol_follow" if follow else "kol_unfollow",
        subject=_subject(channel.id),
        data={"channel_id": channel.id, "user_id": user_id},
    )
    return True


async def followers(session: AsyncSession, *, channel_chat_id: int) -> list[int]:
    """User ids following a KOL channel now."""
    state: dict[int, bool] = {}
    for e in await _follow_events(session, subject=_subject(channel_chat_id)):
        state[int(e.data["user_id"])] = e.action == "kol_follow"
    return sorted(u for u, on in state.items() if on)


async def following(session: AsyncSession, *, user_id: int) -> list[Chat]:
    """The KOL channels a user follows now."""
    state: dict[int, bool] = {}
    for e in await _follow_events(session, actor=f"user:{user_id}"):
        state[int(e.data["channel_id"])] = e.action == "kol_follow"
    ids = [c for c, on in state.items() if on]
    if not ids:
        return []
    stmt = select(Chat).where(Chat.id.in_(ids)).order_by(Chat.id)
    return list((await session.scalars(stmt)).all())


async def _outcome(session: AsyncSession, call: KolCall, now_ms: int) -> CallOutcome:
    if call.price is None or call.price == 0:
        return CallOutcome(call, None, None)
    stmt = select(Tick.sol_lamports, Tick.token_amount).where(
        Tick.mint == call.mint,
        Tick.ts > call.ts,
        Tick.ts <= call.ts + HIT_WINDOW_MS,
        Tick.token_amount > 0,
    )
    best: Fraction | None = None
    for sol, tokens in (await session.execute(stmt)).all():
        p = Fraction(int(sol), int(tokens))
        if best is None or p > best:
            best = p
    multiple = float(best / call.price) if best is not None else None
    hit = best is not None and best / call.price >= HIT_MULTIPLE
    if not hit and now_ms < call.ts + HIT_WINDOW_MS:
        return CallOutcome(call, multiple, None)
    return CallOutcome(call, multiple, hit)


async def kol_record(session: AsyncSession, *, channel: Chat, now_ms: int) -> KolRecord:
    """A KOL's calls, hit rate over settled calls, follower count and latest calls."""
    stmt = (
        select(AuditLog)
        .where(AuditLog.subject == _subject(channel.id), AuditLog.action == "kol_call")
        .order_by(AuditLog.ts.desc(), AuditLog.id.desc())
    )
    calls = [_call(e) for e in await session.scalars(stmt)]
    outcomes = [await _outcome(session, c, now_ms) for c in calls]
    settled = [o for o in outcomes if o.hit is not None]
    return KolRecord(
        channel=channel,
        calls=len(calls),
        hits=sum(1 for o in settled if o.hit),
        settled=len(settled),
        followers=len(await followers(session, channel_chat_id=channel.id)),
        recent=tuple(outcomes[:RECENT_CALLS]),
    )
