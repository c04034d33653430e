"""Views the REST API serves beyond the chat's cards: signal pages with cursors and filters, a
token's detail with price and market cap, bucketed price/market-cap/volume series, deleting a
user's own rule.

Prices are lamports per raw token unit (floats, for display); market caps and volumes are integer
lamports. The price of a tick is its pool's virtual reserves after the trade when the venue
reports them, else the trade's own SOL / tokens.
"""

from __future__ import annotations

import base64
import binascii
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.chain.programs import PUMP_TOKEN_TOTAL_SUPPLY
from engine.services.errors import InvalidInput, NotFound, ServiceError
from engine.services.rules import check_rule_name, list_rules
from engine.services.signals import RiskInfo, SignalCard, risk_info, signal_card
from engine.smartmoney.registry import valid_address
from engine.storage.models import Rule, Signal, Tick, Token
from engine.storage.repos import signals as signal_repo

logger = logging.getLogger(__name__)

RISK_ORDER: Final = {"low": 0, "medium": 1, "high": 2, "critical": 3, "unknown": 4}
MAX_POINTS: Final = 2_000
MAX_WINDOW_MS: Final = 7 * 86_400_000
SeriesField = Literal["price", "mcap", "volume", "trades"]
SERIES_FIELDS: Final[tuple[SeriesField, ...]] = ("price", "mcap", "volume", "trades")


class Conflict(ServiceError):
    """The action contradicts the current state (e.g. deleting a default rule)."""

    status = 409


@dataclass(frozen=True, slots=True)
class RuleHit:
    """One rule evaluated for a signal."""

    name: str
    kind: str
    title: str
    role: str
    passed: bool
    summary: str


@dataclass(frozen=True, slots=True)
class SignalItem:
    """A signal with its token's name and the freshest risk verdict."""

    id: int
    ts: int
    mint: str
    symbol: str | None
    name: str | None
    strength: float
    components: dict[str, float]
    rules: tuple[RuleHit, ...]
    risk: RiskInfo
    narrative: str | None
    explanation: str | None
    status: str = "live"
    """``retracted`` when a transaction it rested on was never confirmed."""


@dataclass(frozen=True, slots=True)
class TokenDetail:
    """A token's card plus its supply and last price."""

    card: SignalCard
    decimals: int | None
    supply: int | None
    price_lamports_per_token: float | None
    market_cap_lamports: int | None


@dataclass(frozen=True, slots=True)
class SeriesPoint:
    """One bucket; fields not asked for stay None."""

    ts: int
    price: float | None = None
    mcap: int | None = None
    volume: int | None = None
    trades: int | None = None


# -- cursors -----------------------------------------------------------------------------------


def encode_cursor(ts: int, row_id: int) -> str:
    """An opaque cursor for the row after which the next page starts."""
    return base64.urlsafe_b64encode(f"{ts}:{row_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, int]:
    """(ts, id) of a cursor from :func:`encode_cursor`; InvalidInput when it is not one."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        ts, row_id = raw.split(":")
        return int(ts), int(row_id)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise InvalidInput(
            "bad_cursor", "cursor is not one this API returned", field="cursor"
        ) from None


# -- signals -----------------------------------------------------------------------------------


def _hits(rules: Any) -> tuple[RuleHit, ...]:
    out = []
    for r in rules or []:
        if not isinstance(r, dict):
            continue
        out.append(
            RuleHit(
                name=str(r.get("name", "")),
                kind=str(r.get("kind", "")),
                title=str(r.get("title") or r.get("name") or ""),
                role=str(r.get("role", "trigger")),
                passed=bool(r.get("passed", True)),
                summary=str(r.get("summary", "")),
            )
        )
    return tuple(out)


async def _items(
    session: AsyncSession, signals: Sequence[Signal], *, now_ms: int
) -> list[SignalItem]:
    mints = {s.mint for s in signals}
    tokens = (
        {t.mint: t for t in await session.scalars(select(Token).where(Token.mint.in_(mints)))}
        if mints
        else {}
    )
    risks: dict[str, RiskInfo] = {}
    out = []
    for s in signals:
        if s.mint not in risks:
            risks[s.mint] = await risk_info(session, mint=s.mint, now_ms=now_ms, signal=s)
        token = tokens.get(s.mint)
        inputs = s.inputs if isinstance(s.inputs, dict) else {}
        explanation = inputs.get("explanation")
        out.append(
            SignalItem(
                id=s.id,
                ts=s.ts,
                mint=s.mint,
                symbol=token.symbol if token is not None else None,
                name=token.name if token is not None else None,
                strength=float(s.strength),
                components={k: float(v) for k, v in (s.components or {}).items()},
                rules=_hits(s.rules),
                risk=risks[s.mint],
                narrative=s.narrative,
                explanation=str(explanation) if explanation else None,
                status=s.status,
            )
        )
    return out


async def signals_page(
    session: AsyncSession,
    *,
    now_ms: int,
    limit: int,
    min_strength: float = 0.0,
    mint: str | None = None,
    since_ts: int | None = None,
    max_risk: str | None = None,
    rule: str | None = None,
    cursor: str | None = None,
) -> tuple[list[SignalItem], str | None]:
    """Newest signals first with filters; (items, next cursor or None on the last page)."""
    if mint is not None and not valid_address(mint):
        raise InvalidInput("not_mint", f"not a mint address: {mint[:60]!r}", field="mint")
    if max_risk is not None and max_risk not in RISK_ORDER:
        raise InvalidInput(
            "bad_risk", f"max_risk must be one of {', '.join(RISK_ORDER)}", field="max_risk"
        )
    before = decode_cursor(cursor) if cursor else None
    items: list[SignalItem] = []
    # Filters on risk and rules apply after the query: scan a few batches to fill the page.
    for _ in range(5):
        batch = await signal_repo.list_signals(
            session, min_strength=min_strength, mint=mint, before=before, limit=limit
        )
        if since_ts is not None:
            batch = [s for s in batch if s.ts >= since_ts]
        for item in await _items(session, batch, now_ms=now_ms):
            if max_risk is not None and RISK_ORDER.get(item.risk.level, 4) > RISK_ORDER[max_risk]:
                continue
            if rule is not None and not any(h.name == rule and h.passed for h in item.rules):
                continue
            items.append(item)
        if len(batch) < limit:
            if len(items) > limit:
                return items[:limit], encode_cursor(items[limit - 1].ts, items[limit - 1].id)
            return items, None
        before = (batch[-1].ts, batch[-1].id)
        if len(items) >= limit:
            break
    if len(items) >= limit:
        return items[:limit], encode_cursor(items[limit - 1].ts, items[limit - 1].id)
    # Five batches without a full page: hand back where the scan stopped.
    return items, encode_cursor(*before) if before else None


# -- tokens ------------------------------------------------------------------------------------


def tick_price(t: Tick) -> float | None:
    """Lamports per raw token unit at a tick (reserves after the trade, else the fill price)."""
    if t.virtual_sol_reserves and t.virtual_token_reserves:
        return t.virtual_sol_reserves / t.virtual_token_reserves
    if t.token_amount:
        return t.sol_lamports / t.token_amount
    return None


async def token_detail(
    session: AsyncSession, *, mint: str, now_ms: int, user_id: int | None = None
) -> TokenDetail:
    """A token's card, supply and last price; NotFound when we never saw it."""
    if not valid_address(mint):
        raise InvalidInput("not_mint", f"not a mint address: {mint[:60]!r}", field="mint")
    card = await signal_card(session, query=mint, now_ms=now_ms, user_id=user_id)
    token = await session.get(Token, mint)
    last = (
        await session.scalars(
            select(Tick).where(Tick.mint == mint).order_by(Tick.ts.desc()).limit(1)
        )
    ).first()
    price = tick_price(last) if last is not None else None
    supply = token.supply if token is not None and token.supply else None
    mcap = int(price * (supply or PUMP_TOKEN_TOTAL_SUPPLY)) if price is not None else None
    return TokenDetail(
        card=card,
        decimals=token.decimals if token is not None else None,
        supply=supply,
        price_lamports_per_token=price,
        market_cap_lamports=mcap,
    )


async def timeseries(
    session: AsyncSession,
    *,
    mint: str,
    since_ts: int,
    until_ts: int,
    interval_ms: int,
    fields: Sequence[SeriesField],
) -> list[SeriesPoint]:
    """Bucketed series from ticks: close price and market cap, SOL volume, trade count."""
    if not valid_address(mint):
        raise InvalidInput("not_mint", f"not a mint address: {mint[:60]!r}", field="mint")
    if until_ts <= since_ts or until_ts - since_ts > MAX_WINDOW_MS:
        raise InvalidInput(
            "bad_window", "the window must be positive and at most 7 days", field="window"
        )
    if interval_ms < 1000 or (until_ts - since_ts) // interval_ms > MAX_POINTS:
        raise InvalidInput(
            "bad_interval",
            f"interval must be >= 1 s and give at most {MAX_POINTS} points",
            field="interval",
        )
    token = await session.get(Token, mint)
    if token is None:
        raise NotFound("unknown_token", f"no data for {mint}", value=mint)
    supply = token.supply or PUMP_TOKEN_TOTAL_SUPPLY
    ticks = await session.scalars(
        select(Tick)
        .where(Tick.mint == mint, Tick.ts >= since_ts, Tick.ts < until_ts)
        .order_by(Tick.ts, Tick.signature, Tick.idx)
    )
    buckets: dict[int, dict[str, Any]] = {}
    for t in ticks:
        start = since_ts + (t.ts - since_ts) // interval_ms * interval_ms
        b = buckets.setdefault(start, {"price": None, "volume": 0, "trades": 0})
        price = tick_price(t)
        if price is not None:
            b["price"] = price
        b["volume"] += t.sol_lamports
        b["trades"] += 1
    want = set(fields)
    out = []
    for start in sorted(buckets):
        b = buckets[start]
        price = b["price"]
        out.append(
            SeriesPoint(
                ts=start,
                price=price if "price" in want else None,
                mcap=int(price * supply) if "mcap" in want and price is not None else None,
                volume=b["volume"] if "volume" in want else None,
                trades=b["trades"] if "trades" in want else None,
            )
        )
    return out


# -- rules -------------------------------------------------------------------------------------


async def delete_rule(session: AsyncSession, *, user_id: int, name: str) -> str:
    """Delete one of the user's own rules; default and global rules can only be disabled."""
    rule_name = check_rule_name(name)
    result = await session.execute(
        delete(Rule).where(Rule.user_id == user_id, Rule.name == rule_name)
    )
    if getattr(result, "rowcount", 0):
        return rule_name
    if any(r.name == rule_name for r in await list_rules(session, user_id=user_id)):
        raise Conflict(
            "rule_not_deletable",
            f"{rule_name!r} is a default or global rule: disable it instead",
            value=rule_name,
        )
    raise NotFound("no_rule", f"no rule named {rule_name!r}", value=rule_name)
