"""Users, chats and their alert subscriptions, and alert deliveries."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import AlertDelivery, Chat, Subscription, User
from engine.storage.repos._upsert import insert_for


async def get_or_create_telegram_user(
    session: AsyncSession,
    *,
    telegram_id: int,
    now_ms: int,
    username: str | None = None,
    language: str | None = None,
) -> User:
    """The user behind a Telegram account, created on first contact."""
    user = (
        await session.scalars(select(User).where(User.telegram_id == telegram_id))
    ).one_or_none()
    if user is None:
        user = User(
            telegram_id=telegram_id,
            username=username,
            language=(language or "en")[:8],
            created_ts=now_ms,
            settings={},
        )
        session.add(user)
        await session.flush()
    elif username and user.username != username:
        user.username = username
    return user


async def get_or_create_discord_user(
    session: AsyncSession, *, discord_id: int, now_ms: int, username: str | None = None
) -> User:
    """The user behind a Discord account, created on first contact."""
    user = (await session.scalars(select(User).where(User.discord_id == discord_id))).one_or_none()
    if user is None:
        user = User(discord_id=discord_id, username=username, created_ts=now_ms, settings={})
        session.add(user)
        await session.flush()
    return user


async def user_by_api_key_hash(session: AsyncSession, *, key_hash: str) -> User | None:
    """The user owning an API key (looked up by its hash; keys are never stored)."""
    return (await session.scalars(select(User).where(User.api_key_hash == key_hash))).one_or_none()


async def get_or_create_chat(
    session: AsyncSession,
    *,
    platform: str,
    external_id: str,
    kind: str,
    now_ms: int,
    title: str | None = None,
    owner_user_id: int | None = None,
) -> Chat:
    """A Telegram/Discord conversation, created on first contact."""
    if platform not in ("telegram", "discord", "console"):
        raise ValueError(f"unknown chat platform {platform!r}")
    stmt = select(Chat).where(Chat.platform == platform, Chat.external_id == external_id)
    chat = (await session.scalars(stmt)).one_or_none()
    if chat is None:
        chat = Chat(
            platform=platform,
            external_id=external_id,
            kind=kind,
            title=title[:200] if title else None,
            owner_user_id=owner_user_id,
            created_ts=now_ms,
        )
        session.add(chat)
        await session.flush()
    return chat


async def subscribe(
    session: AsyncSession,
    *,
    chat_id: int,
    kind: str,
    now_ms: int,
    min_strength: float = 0.0,
    filters: dict[str, Any] | None = None,
    enabled: bool = True,
) -> Subscription:
    """Create or update what a chat wants pushed."""
    if kind not in ("signals", "wallet_fills", "orders"):
        raise ValueError(f"unknown subscription kind {kind!r}")
    if not 0.0 <= min_strength <= 3.0:
        raise ValueError(f"min_strength must be within 0.0-3.0, got {min_strength}")
    stmt = select(Subscription).where(Subscription.chat_id == chat_id, Subscription.kind == kind)
    sub = (await session.scalars(stmt)).one_or_none()
    if sub is None:
        sub = Subscription(
            chat_id=chat_id,
            kind=kind,
            min_strength=min_strength,
            filters=filters or {},
            enabled=enabled,
            created_ts=now_ms,
        )
        session.add(sub)
    else:
        sub.min_strength = min_strength
        sub.filters = filters if filters is not None else sub.filters
        sub.enabled = enabled
    await session.flush()
    return sub


async def subscribers(
    session: AsyncSession, *, kind: str, strength: float | None = None
) -> list[tuple[Subscription, Chat]]:
    """Enabled subscriptions of a kind (for signals: those whose threshold the strength meets)."""
    stmt = (
        select(Subscription, Chat)
        .join(Chat, Chat.id == Subscription.chat_id)
        .where(Subscription.kind == kind, Subscription.enabled.is_(True))
    )
    if strength is not None:
        stmt = stmt.where(Subscription.min_strength <= strength)
    return [(r[0], r[1]) for r in (await session.execute(stmt.order_by(Chat.id))).all()]


async def claim_delivery(
    session: AsyncSession, *, alert_key: str, chat_id: int, now_ms: int
) -> bool:
    """Reserve (alert, chat) for sending; False when it was already claimed or sent."""
    stmt = (
        insert_for(session, AlertDelivery)
        .values(
            alert_key=alert_key, chat_id=chat_id, status="pending", attempts=0, updated_ts=now_ms
        )
        .on_conflict_do_nothing(index_elements=["alert_key", "chat_id"])
    )
    result = await session.execute(stmt)
    return bool(getattr(result, "rowcount", 0))


async def finish_delivery(
    session: AsyncSession,
    *,
    alert_key: str,
    chat_id: int,
    now_ms: int,
    status: str,
    message_id: str | None = None,
    error: str | None = None,
) -> None:
    """Record how sending an alert to a chat ended (sent or failed)."""
    row = await session.get(AlertDelivery, (alert_key, chat_id))
    if row is None:
        raise LookupError(f"delivery {alert_key!r} to chat {chat_id} was never claimed")
    row.status = status
    row.attempts += 1
    row.message_id = message_id
    row.error = error
    row.updated_ts = now_ms


async def lock_user(session: AsyncSession, *, user_id: int) -> User | None:
    """The user's row, locked until the transaction ends and read fresh; None when unknown.

    For read-modify-write of the user (its ``settings`` JSON, its watchlist cap): a no-op UPDATE
    takes a row lock on PostgreSQL and the write lock on SQLite (which ignores ``FOR UPDATE`` and
    whose driver opens the transaction only at the first write), so a concurrent writer waits for
    this one to commit instead of having its keys overwritten by a stale copy.
    """
    await session.execute(update(User).where(User.id == user_id).values(id=User.id))
    return await session.get(User, user_id, populate_existing=True)
