"""The signal card: what we know about a token now, from stored signals, risk, ticks and fills.

Token names and symbols in here are attacker-controlled text, returned as is: every renderer
escapes them for its own markup.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.risk.engine import verdict_from_report
from engine.services.errors import InvalidInput, NotFound
from engine.smartmoney.activity import smart_activity
from engine.smartmoney.registry import valid_address
from engine.storage.models import Signal, Tick, Token, Wallet, WatchlistEntry
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import tokens as token_repo

logger = logging.getLogger(__name__)

DAY_MS: Final = 86_400_000
SMART_BUYS_SHOWN: Final = 5
NEAR_MISS_LOOKBACK_MS: Final = 30 * 60_000
MAX_SYMBOL: Final = 32


@dataclass(frozen=True, slots=True)
class TokenInfo:
    """A token's launch metadata (name and symbol are untrusted text)."""

    mint: str
    name: str | None
    symbol: str | None
    venue: str | None
    complete: bool
    created_ts: int | None


@dataclass(frozen=True, slots=True)
class SmartBuy:
    """A recent buy by a tracked wallet."""

    wallet: str
    alias: str | None
    lamports: int
    ts: int


@dataclass(frozen=True, slots=True)
class RiskInfo:
    """The risk verdict as chat and API show it; unknown means "not checked yet"."""

    known: bool
    level: str
    badges: tuple[str, ...]
    blocks_buy: bool
    checked_ts: int | None


@dataclass(frozen=True, slots=True)
class SignalView:
    """A stored signal, reduced to what a card shows."""

    id: int
    ts: int
    mint: str
    strength: float
    components: dict[str, float]
    triggers: tuple[str, ...]
    """One-line summaries of the trigger rules that fired."""
    narrative: str | None
    explanation: str | None
    status: str = "live"
    """``retracted`` when a transaction it rested on was never confirmed."""


@dataclass(frozen=True, slots=True)
class SignalCard:
    """Everything ``/signal`` (and ``GET /signals/{mint}``) shows for a token."""

    token: TokenInfo
    signal: SignalView | None
    risk: RiskInfo
    smart_buys: tuple[SmartBuy, ...]
    liquidity_lamports: int | None
    volume_24h_lamports: int
    near_miss: str | None
    """Why there is no signal now (only when ``signal`` is None and the reason is known)."""
    same_symbol: int
    """How many other tokens carry the same symbol (symbols are not unique)."""


def clean_symbol(query: str) -> str:
    """A symbol query without its ``$`` prefix and spaces, validated for length."""
    q = query.strip().lstrip("$").strip()
    if not q or len(q) > MAX_SYMBOL:
        raise InvalidInput(
            "bad_query",
            f"not a mint address or symbol: {query[:40]!r}",
            field="query",
            value=query[:40],
        )
    return q


async def resolve_token(session: AsyncSession, *, query: str) -> tuple[str, int]:
    """(mint, other tokens with that symbol) for a mint address or a ``$SYMBOL``."""
    q = query.strip()
    if valid_address(q):
        return q, 0
    symbol = clean_symbol(q)
    stmt = select(Token.mint).where(func.lower(Token.symbol) == symbol.lower())
    mints = list((await session.scalars(stmt)).all())
    if not mints:
        raise NotFound("unknown_token", f"no token with symbol {symbol!r}", value=symbol)
    if len(mints) == 1:
        return mints[0], 0
    # Symbols are free to copy: prefer the one that signalled last, then the newest launch.
    latest = (
        select(Signal.mint, func.max(Signal.ts).label("ts"))
        .where(Signal.mint.in_(mints))
        .group_by(Signal.mint)
        .order_by(func.max(Signal.ts).desc())
        .limit(1)
    )
    row = (await session.execute(latest)).first()
    if row is not None:
        return str(row[0]), len(mints) - 1
    newest = (
        select(Token.mint)
        .where(Token.mint.in_(mints))
        .order_by(Token.created_ts.desc().nulls_last(), Token.mint)
        .limit(1)
    )
    return str((await session.scalars(newest)).one()), len(mints) - 1


def signal_view(signal: Signal) -> SignalView:
    """A stored signal as a card shows it."""
    triggers = tuple(
        str(r.get("summary") or r.get("title") or r.get("name"))
        for r in signal.rules or []
        if isinstance(r, dict) and r.get("role", "trigger") == "trigger"
    )
    inputs = signal.inputs or {}
    explanation = inputs.get("explanation") if isinstance(inputs, dict) else None
    return SignalView(
        id=signal.id,
        ts=signal.ts,
        mint=signal.mint,
        strength=float(signal.strength),
        components={k: float(v) for k, v in (signal.components or {}).items()},
        triggers=triggers,
        narrative=signal.narrative,
        explanation=str(explanation) if explanation else None,
        status=signal.status,
    )


async def get_signal(session: AsyncSession, *, signal_id: int) -> Signal | None:
    """A stored signal by id (ids are unique; ``ts`` is only part of the key for hypertables)."""
    stmt = select(Signal).where(Signal.id == signal_id).limit(1)
    return (await session.scalars(stmt)).first()


async def latest_signal_view(session: AsyncSession, *, mint: str) -> SignalView | None:
    """The newest signal of a mint, as a card shows it."""
    signal = await signal_repo.latest_signal(session, mint=mint)
    return signal_view(signal) if signal is not None else None


async def token_info(session: AsyncSession, *, mint: str) -> TokenInfo:
    """A token's metadata; a mint we never saw a launch of has empty fields."""
    token = await session.get(Token, mint)
    if token is None:
        return TokenInfo(mint, None, None, None, False, None)
    return TokenInfo(
        mint, token.name, token.symbol, token.venue, bool(token.complete), token.created_ts
    )


async def risk_info(
    session: AsyncSession, *, mint: str, now_ms: int, signal: Signal | None = None
) -> RiskInfo:
    """The freshest verdict: the risk report when unexpired, else the signal's own, else unknown."""
    report = await signal_repo.get_risk_report(session, mint=mint, now_ms=now_ms)
    if report is not None:
        try:
            verdict = verdict_from_report(report.data)
        except (KeyError, TypeError, ValueError) as exc:
            logger.warning("risk report of %s unreadable: %s", mint, exc)
        else:
            return RiskInfo(
                True, verdict.level, verdict.badges, verdict.blocks_buy, report.checked_ts
            )
    if signal is not None and signal.risk and signal.risk.get("known"):
        risk = signal.risk
        return RiskInfo(
            True,
            str(risk.get("level", "unknown")),
            tuple(str(b) for b in risk.get("badges", [])),
            bool(risk.get("blocks_buy", True)),
            signal.ts,
        )
    # Fail closed: no verdict means no buy button.
    return RiskInfo(False, "unknown", (), True, None)


async def _liquidity(session: AsyncSession, mint: str, signal: Signal | None) -> int | None:
    stmt = (
        select(Tick.virtual_sol_reserves)
        .where(Tick.mint == mint, Tick.virtual_sol_reserves.is_not(None))
        .order_by(Tick.ts.desc())
        .limit(1)
    )
    value = (await session.scalars(stmt)).first()
    if value is not None:
        return int(value)
    if signal is not None:
        liq = (signal.inputs or {}).get("liquidity") or {}
        reserves = liq.get("sol_reserves") if isinstance(liq, dict) else None
        if isinstance(reserves, int):
            return reserves
    return None


async def volume_lamports(session: AsyncSession, *, mint: str, since_ms: int) -> int:
    """SOL traded in a mint since ``since_ms`` (both sides), in lamports."""
    stmt = select(func.coalesce(func.sum(Tick.sol_lamports), 0)).where(
        Tick.mint == mint, Tick.ts >= since_ms
    )
    return int((await session.execute(stmt)).scalar_one())


async def signal_card(
    session: AsyncSession,
    *,
    query: str,
    now_ms: int,
    user_id: int | None = None,
    near_miss: bool = True,
) -> SignalCard:
    """The card of a mint or symbol; NotFound when we have never seen the token at all."""
    mint, same_symbol = await resolve_token(session, query=query)
    token = await token_info(session, mint=mint)
    signal = await signal_repo.latest_signal(session, mint=mint)
    if signal is None and await session.get(Token, mint) is None:
        raise NotFound("unknown_token", f"no data for {mint}", value=mint)
    risk = await risk_info(session, mint=mint, now_ms=now_ms, signal=signal)
    buys = [
        SmartBuy(r.wallet, r.alias, r.sol_lamports, r.ts)
        for r in await smart_activity(session, since_ms=now_ms - DAY_MS, mint=mint, limit=20)
        if r.side == "buy"
    ][:SMART_BUYS_SHOWN]
    miss = None
    if signal is None and near_miss:
        miss = await why_no_signal(session, mint=mint, now_ms=now_ms, user_id=user_id)
    return SignalCard(
        token=token,
        signal=signal_view(signal) if signal is not None else None,
        risk=risk,
        smart_buys=tuple(buys),
        liquidity_lamports=await _liquidity(session, mint, signal),
        volume_24h_lamports=await volume_lamports(session, mint=mint, since_ms=now_ms - DAY_MS),
        near_miss=miss,
        same_symbol=same_symbol,
    )


_event = token_repo.tick_event


async def why_no_signal(
    session: AsyncSession, *, mint: str, now_ms: int, user_id: int | None = None
) -> str | None:
    """ "Why no alert?": the near miss of a mint, replayed from its recent ticks; None if unknown.

    The live scorer runs in the ingest process; here the mint's last 30 minutes are replayed into
    a fresh scorer with the user's rules, so windows and rules match while the cross-mint
    momentum baseline starts empty (its z-scores then read as neutral).
    """
    from engine.signals.nearmiss import near_miss
    from engine.signals.rules import RuleConfigError, load_rule_set
    from engine.signals.scorer import Scorer

    ticks = list(
        (
            await session.scalars(
                select(Tick)
                .where(Tick.mint == mint, Tick.ts >= now_ms - NEAR_MISS_LOOKBACK_MS)
                .order_by(Tick.ts, Tick.signature, Tick.idx)
            )
        ).all()
    )
    if not ticks:
        return None
    try:
        rules = await load_rule_set(session, user_id=user_id)
    except RuleConfigError as exc:
        logger.warning("rules of user %s do not load: %s", user_id, exc)
        return None
    report = await signal_repo.get_risk_report(session, mint=mint, now_ms=now_ms)
    verdict = verdict_from_report(report.data) if report is not None else None
    scorer = Scorer(
        rules=rules,
        risk=lambda m: verdict if m == mint else None,
        smart=await _smart_aliases(session, user_id),
    )
    for _ in scorer.feed(_event(t) for t in ticks):
        pass
    miss = near_miss(scorer, mint, now_ms=now_ms)
    return miss.text if miss is not None else None


async def _smart_aliases(session: AsyncSession, user_id: int | None) -> dict[str, str]:
    out: dict[str, str] = {}
    for w in await session.scalars(select(Wallet).where(Wallet.featured.is_(True))):
        out[w.address] = w.alias or ""
    stmt: Any = select(WatchlistEntry)
    if user_id is not None:
        stmt = stmt.where(WatchlistEntry.user_id == user_id)
    for e in await session.scalars(stmt):
        out[e.address] = e.alias or out.get(e.address, "")
    return out
