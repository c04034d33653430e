"""Per-chat alert settings (on/off, minimum Strength, filters, forum topic) and who gets a signal.

Settings live in the chat's ``subscriptions`` rows: kind ``signals`` carries the threshold and the
filters (plus ``topic_id`` for forum groups), kind ``wallet_fills`` switches fills of watched
wallets on or off.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.services.errors import InvalidInput
from engine.storage.models import Chat, Signal, Subscription, Tick, Token, WatchlistEntry
from engine.storage.repos import users as user_repo

logger = logging.getLogger(__name__)

RiskLevel = Literal["low", "medium", "high", "critical"]
RISK_ORDER: Final[tuple[str, ...]] = ("low", "medium", "high", "critical")
VENUES: Final = frozenset({"pumpfun", "pumpswap", "raydium_amm_v4", "raydium_cpmm", "jupiter"})
DEFAULT_MIN_STRENGTH: Final = 1.5
_UNSET: Final[Any] = object()


class AlertFilters(BaseModel):
    """Optional conditions a signal must meet to be pushed to a chat."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    max_risk: RiskLevel | None = None
    """Skip signals whose risk is above this level (unknown risk counts as above any limit)."""
    min_liquidity_lamports: int | None = Field(None, ge=0)
    venues: tuple[str, ...] | None = None
    min_smart_wallets: int | None = Field(None, ge=1, le=100)

    def active(self) -> dict[str, Any]:
        """The filters that are set, as stored."""
        return self.model_dump(exclude_none=True, mode="json")


@dataclass(frozen=True, slots=True)
class AlertSettings:
    """What a chat receives."""

    chat_id: int
    signals: bool
    min_strength: float
    filters: AlertFilters
    topic_id: int | None
    wallet_fills: bool


def parse_filters(data: dict[str, Any]) -> AlertFilters:
    """Validate stored or submitted filters; InvalidInput names the bad field."""
    raw = {k: v for k, v in data.items() if k != "topic_id"}
    if "venues" in raw and raw["venues"] is not None:
        venues = tuple(str(v) for v in raw["venues"])
        unknown = [v for v in venues if v not in VENUES]
        if unknown:
            raise InvalidInput(
                "bad_venue",
                f"unknown venue {unknown[0][:32]!r}; known: {', '.join(sorted(VENUES))}",
                field="venues",
                value=unknown[0][:32],
                choices=", ".join(sorted(VENUES)),
            )
        raw["venues"] = venues
    try:
        return AlertFilters.model_validate(raw)
    except ValidationError as exc:
        err = exc.errors()[0]
        name = str(err["loc"][0]) if err["loc"] else "filters"
        raise InvalidInput(
            "bad_filter", f"{name}: {err['msg']}", field=name, name=name, reason=err["msg"]
        ) from None


def check_strength(value: float) -> float:
    """A minimum Strength within 0.0-3.0."""
    if not 0.0 <= value <= 3.0:
        raise InvalidInput(
            "bad_strength",
            f"minimum Strength must be within 0.0-3.0, got {value:g}",
            field="min_strength",
            value=f"{value:g}",
        )
    return round(value, 2)


async def _subs(session: AsyncSession, chat_id: int) -> dict[str, Subscription]:
    stmt = select(Subscription).where(Subscription.chat_id == chat_id)
    return {s.kind: s for s in await session.scalars(stmt)}


async def alert_settings(session: AsyncSession, *, chat_id: int) -> AlertSettings:
    """A chat's current settings (off until switched on)."""
    subs = await _subs(session, chat_id)
    sig = subs.get("signals")
    fills = subs.get("wallet_fills")
    filters = dict(sig.filters or {}) if sig is not None else {}
    topic = filters.get("topic_id")
    try:
        parsed = parse_filters(filters)
    except InvalidInput as exc:
        # Stored filters from an older version must not lock a chat out of its settings.
        logger.warning("chat %s has unreadable filters (%s); showing none", chat_id, exc)
        parsed = AlertFilters()
    return AlertSettings(
        chat_id=chat_id,
        signals=bool(sig is not None and sig.enabled),
        min_strength=float(sig.min_strength) if sig is not None else DEFAULT_MIN_STRENGTH,
        filters=parsed,
        topic_id=int(topic) if isinstance(topic, int) else None,
        wallet_fills=bool(fills is not None and fills.enabled),
    )


async def update_alerts(
    session: AsyncSession,
    *,
    chat_id: int,
    now_ms: int,
    enabled: bool | None = None,
    min_strength: float | None = None,
    filters: dict[str, Any] | None = None,
    clear_filters: bool = False,
    topic_id: int | None = _UNSET,
    wallet_fills: bool | None = None,
) -> AlertSettings:
    """Change some of a chat's settings; ``filters`` is merged into the current ones."""
    current = await alert_settings(session, chat_id=chat_id)
    stored = {} if clear_filters else current.filters.active()
    if filters:
        stored = parse_filters({**stored, **filters}).active()
    topic = current.topic_id if topic_id is _UNSET else topic_id
    if topic is not None:
        stored["topic_id"] = int(topic)
    touched_signals = (
        enabled is not None
        or min_strength is not None
        or filters
        or clear_filters
        or topic_id is not _UNSET
    )
    if touched_signals:
        await user_repo.subscribe(
            session,
            chat_id=chat_id,
            kind="signals",
            now_ms=now_ms,
            min_strength=check_strength(
                min_strength if min_strength is not None else current.min_strength
            ),
            filters=stored,
            enabled=current.signals if enabled is None else enabled,
        )
    if wallet_fills is not None:
        await user_repo.subscribe(
            session, chat_id=chat_id, kind="wallet_fills", now_ms=now_ms, enabled=wallet_fills
        )
    return await alert_settings(session, chat_id=chat_id)


@dataclass(frozen=True, slots=True)
class SignalFacts:
    """What the filters look at, computed once per signal."""

    strength: float
    risk_level: str
    liquidity_lamports: int | None
    venue: str | None
    smart_wallets: int


async def signal_facts(session: AsyncSession, *, signal: Signal) -> SignalFacts:
    """The filterable facts of a stored signal."""
    inputs = signal.inputs or {}
    liq = inputs.get("liquidity") if isinstance(inputs, dict) else None
    reserves = liq.get("sol_reserves") if isinstance(liq, dict) else None
    smart = inputs.get("smart_burst") if isinstance(inputs, dict) else None
    buyers = smart.get("smart_buyers") if isinstance(smart, dict) else None
    venue = (
        await session.scalars(
            select(Tick.venue).where(Tick.mint == signal.mint).order_by(Tick.ts.desc()).limit(1)
        )
    ).first()
    if venue is None:
        token = await session.get(Token, signal.mint)
        venue = token.venue if token is not None else None
    risk = signal.risk or {}
    return SignalFacts(
        strength=float(signal.strength),
        risk_level=str(risk.get("level", "unknown")) if risk.get("known", True) else "unknown",
        liquidity_lamports=reserves if isinstance(reserves, int) else None,
        venue=venue,
        smart_wallets=int(buyers) if isinstance(buyers, int) else 0,
    )


def passes(filters: AlertFilters, min_strength: float, facts: SignalFacts) -> bool:
    """Whether a signal with these facts goes to a chat with these settings."""
    if facts.strength < min_strength:
        return False
    if filters.max_risk is not None:
        if facts.risk_level not in RISK_ORDER:
            return False  # unknown risk never passes a risk limit: fail closed
        if RISK_ORDER.index(facts.risk_level) > RISK_ORDER.index(filters.max_risk):
            return False
    if filters.min_liquidity_lamports is not None and (
        facts.liquidity_lamports is None
        or facts.liquidity_lamports < filters.min_liquidity_lamports
    ):
        return False
    if filters.venues is not None and facts.venue not in filters.venues:
        return False
    return not (
        filters.min_smart_wallets is not None and facts.smart_wallets < filters.min_smart_wallets
    )


@dataclass(frozen=True, slots=True)
class Recipient:
    """A chat that gets an alert, and where in it (forum topic)."""

    chat: Chat
    topic_id: int | None


async def signal_audience(session: AsyncSession, *, signal: Signal) -> list[Recipient]:
    """Every chat whose settings let this signal through, in chat id order."""
    facts = await signal_facts(session, signal=signal)
    out: list[Recipient] = []
    for sub, chat in await user_repo.subscribers(
        session, kind="signals", strength=float(signal.strength)
    ):
        stored = dict(sub.filters or {})
        try:
            filters = parse_filters(stored)
        except InvalidInput:
            logger.warning("chat %s: unreadable filters, alert skipped", chat.id)
            continue
        if passes(filters, float(sub.min_strength), facts):
            topic = stored.get("topic_id")
            out.append(Recipient(chat, int(topic) if isinstance(topic, int) else None))
    return out


async def ensure_fill_alerts(session: AsyncSession, *, chat_id: int, now_ms: int) -> None:
    """Switch fills of watched wallets on for a chat unless it chose before (first /watch)."""
    subs = await _subs(session, chat_id)
    if "wallet_fills" not in subs:
        await user_repo.subscribe(
            session, chat_id=chat_id, kind="wallet_fills", now_ms=now_ms, enabled=True
        )


async def fill_audience(
    session: AsyncSession, *, wallet: str
) -> list[tuple[Recipient, str | None]]:
    """Private chats of the users watching ``wallet`` that want fills, with each user's alias."""
    entries = list(
        await session.scalars(select(WatchlistEntry).where(WatchlistEntry.address == wallet))
    )
    if not entries:
        return []
    alias = {e.user_id: e.alias for e in entries}
    stmt = (
        select(Chat, Subscription)
        .join(Subscription, Subscription.chat_id == Chat.id)
        .where(
            Chat.owner_user_id.in_(sorted(alias)),
            Chat.kind == "private",
            Subscription.kind == "wallet_fills",
            Subscription.enabled.is_(True),
        )
        .order_by(Chat.id)
    )
    out = []
    for chat, _sub in (await session.execute(stmt)).all():
        assert chat.owner_user_id is not None
        out.append((Recipient(chat, None), alias.get(chat.owner_user_id)))
    return out


async def user_audience(session: AsyncSession, *, user_id: int) -> list[Recipient]:
    """A user's private chats, for events about their own orders (TP/SL, fills)."""
    stmt = (
        select(Chat).where(Chat.owner_user_id == user_id, Chat.kind == "private").order_by(Chat.id)
    )
    return [Recipient(c, None) for c in await session.scalars(stmt)]
