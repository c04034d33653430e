"""People and conversations: users from any platform, their chats, language and consent."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Final, Literal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.services.errors import InvalidInput, NotFound
from engine.storage.models import Chat, User
from engine.storage.repos import users as user_repo

logger = logging.getLogger(__name__)

Platform = Literal["telegram", "discord", "console"]
ChatKind = Literal["private", "group", "channel"]

SUPPORTED_LANGUAGES: Final = ("en", "fr")
DEFAULT_LANGUAGE: Final = "en"


def normalize_language(code: str | None) -> str:
    """A supported language from a platform's code (``fr-FR`` -> ``fr``); English otherwise."""
    if not code:
        return DEFAULT_LANGUAGE
    base = code.replace("_", "-").split("-", 1)[0].lower()
    return base if base in SUPPORTED_LANGUAGES else DEFAULT_LANGUAGE


def check_language(code: str) -> str:
    """The language itself when supported, else InvalidInput naming the choices."""
    lang = code.strip().lower()
    if lang not in SUPPORTED_LANGUAGES:
        raise InvalidInput(
            "bad_language",
            f"unsupported language {code[:16]!r}; choose one of {', '.join(SUPPORTED_LANGUAGES)}",
            field="language",
            value=code[:16],
            choices=", ".join(SUPPORTED_LANGUAGES),
        )
    return lang


async def ensure_user(
    session: AsyncSession,
    *,
    platform: Platform,
    external_id: int,
    now_ms: int,
    username: str | None = None,
    language_code: str | None = None,
) -> User:
    """The user behind a platform account, created on first contact in their own language."""
    name = username[:64] if username else None
    if platform == "telegram":
        return await user_repo.get_or_create_telegram_user(
            session,
            telegram_id=external_id,
            now_ms=now_ms,
            username=name,
            language=normalize_language(language_code),
        )
    if platform == "discord":
        user = await user_repo.get_or_create_discord_user(
            session, discord_id=external_id, now_ms=now_ms, username=name
        )
        if user.created_ts == now_ms and language_code:
            # The repo creates Discord users in English; the first contact tells us better.
            user.language = normalize_language(language_code)
        return user
    # The console is one local person per id: no platform account, found by a reserved name.
    tag = f"console:{external_id}"
    stmt = select(User).where(
        User.username == tag, User.telegram_id.is_(None), User.discord_id.is_(None)
    )
    found = (await session.scalars(stmt)).one_or_none()
    if found is not None:
        return found
    created = User(
        username=tag,
        language=normalize_language(language_code),
        created_ts=now_ms,
        settings={},
    )
    session.add(created)
    await session.flush()
    return created


async def ensure_chat(
    session: AsyncSession,
    *,
    platform: Platform,
    external_id: str,
    kind: ChatKind,
    now_ms: int,
    title: str | None = None,
    owner_user_id: int | None = None,
    language: str | None = None,
) -> Chat:
    """A conversation, created on first contact; a changed title or kind is kept up to date."""
    chat = await user_repo.get_or_create_chat(
        session,
        platform=platform,
        external_id=external_id,
        kind=kind,
        now_ms=now_ms,
        title=title,
        owner_user_id=owner_user_id,
    )
    if chat.created_ts == now_ms and language:
        chat.language = normalize_language(language)
    if title and chat.title != title[:200]:
        chat.title = title[:200]
    if chat.kind != kind:
        chat.kind = kind
    return chat


async def set_user_language(session: AsyncSession, *, user_id: int, language: str) -> User:
    """Change the language a user is answered in."""
    user = await session.get(User, user_id)
    if user is None:
        raise NotFound("no_user", f"no user {user_id}")
    user.language = check_language(language)
    return user


async def set_chat_language(session: AsyncSession, *, chat_id: int, language: str) -> Chat:
    """Change the language a chat's alerts are written in."""
    chat = await session.get(Chat, chat_id)
    if chat is None:
        raise NotFound("no_chat", f"no chat {chat_id}")
    chat.language = check_language(language)
    return chat


async def migrate_chat(session: AsyncSession, *, platform: str, old_id: str, new_id: str) -> bool:
    """A group became a supergroup (Telegram gave it a new id): its row follows, subscriptions
    and all. False when the new id already has a row of its own (left as it is, logged)."""
    taken = (
        await session.scalars(
            select(Chat.id).where(Chat.platform == platform, Chat.external_id == new_id)
        )
    ).first()
    if taken is not None:
        logger.warning(
            "chat %s migrated to %s, which already has a row: not merged", old_id, new_id
        )
        return False
    chat = (
        await session.scalars(
            select(Chat).where(Chat.platform == platform, Chat.external_id == old_id)
        )
    ).first()
    if chat is None:
        return False
    chat.external_id = new_id
    chat.kind = "supergroup" if chat.kind == "group" else chat.kind
    return True


async def accept_disclaimer(session: AsyncSession, *, user_id: int, now_ms: int) -> None:
    """Record that the user saw the risk disclaimer (shown again until they have)."""
    user = await user_repo.lock_user(session, user_id=user_id)
    if user is None:
        raise NotFound("no_user", f"no user {user_id}")
    # A new dict: SQLAlchemy does not see in-place changes to a JSON column.
    user.settings = {**(user.settings or {}), "disclaimer_ts": now_ms}


async def private_chats(session: AsyncSession, *, user_ids: Iterable[int]) -> dict[int, list[Chat]]:
    """Each user's private chats with the bots (where personal alerts go), by user id."""
    ids = sorted(set(user_ids))
    if not ids:
        return {}
    stmt = select(Chat).where(Chat.owner_user_id.in_(ids), Chat.kind == "private").order_by(Chat.id)
    out: dict[int, list[Chat]] = {}
    for chat in await session.scalars(stmt):
        assert chat.owner_user_id is not None
        out.setdefault(chat.owner_user_id, []).append(chat)
    return out


async def chat_by_external(
    session: AsyncSession, *, platform: Platform, external_id: str
) -> Chat | None:
    """A known conversation by its platform id."""
    stmt = select(Chat).where(Chat.platform == platform, Chat.external_id == external_id)
    return (await session.scalars(stmt)).one_or_none()


async def update_user_settings(
    session: AsyncSession,
    *,
    user_id: int,
    values: dict[str, object] | None = None,
    remove: Iterable[str] = (),
) -> dict[str, object]:
    """Set and remove keys of a user's settings (row locked: no concurrent key is lost)."""
    user = await user_repo.lock_user(session, user_id=user_id)
    if user is None:
        raise NotFound("no_user", f"no user {user_id}")
    gone = set(remove)
    settings = {k: v for k, v in (user.settings or {}).items() if k not in gone}
    settings.update(values or {})
    user.settings = settings  # a new dict: in-place changes to JSON columns go unseen
    return dict(settings)
