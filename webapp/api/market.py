"""Signals, tokens, price series and Smart Activity: readable by anyone (anonymous: limited)."""

from __future__ import annotations

import re
from typing import Annotated, Final, Literal

from fastapi import APIRouter, Path, Query

from engine.services import market
from engine.services.errors import InvalidInput
from engine.smartmoney.activity import smart_activity
from webapp.api.convert import signal_public, token_public
from webapp.api.deps import DepsDep, PrincipalDep
from webapp.errors import errors
from webapp.schemas import (
    Page,
    SignalPublic,
    SmartActivityPublic,
    TimeseriesField,
    TimeseriesPointPublic,
    TimeseriesPublic,
    TokenPublic,
)

router = APIRouter(tags=["market"], responses=errors(401, 422, 429))

ANONYMOUS_PAGE: Final = 20
"""Anonymous callers get the first page of at most this many signals."""
_WINDOW: Final = re.compile(r"^(\d{1,4})(s|m|h|d)$")
_UNIT_MS: Final = {"s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}
MintPath = Annotated[str, Path(min_length=32, max_length=44, description="Token mint address.")]


def parse_window(text: str, *, field: str) -> int:
    """A duration like ``90s``, ``15m``, ``6h``, ``7d`` in milliseconds."""
    m = _WINDOW.match(text.strip())
    if m is None or int(m.group(1)) == 0:
        raise InvalidInput(
            "bad_window",
            f"{field} must look like 30s, 15m, 6h or 7d, got {text[:16]!r}",
            field=field,
        )
    return int(m.group(1)) * _UNIT_MS[m.group(2)]


@router.get("/signals", response_model=Page[SignalPublic])
async def list_signals(
    deps: DepsDep,
    principal: PrincipalDep,
    min_score: Annotated[float, Query(ge=0.0, le=3.0, description="Minimum Strength.")] = 0.0,
    mint: Annotated[str | None, Query(min_length=32, max_length=44)] = None,
    since: Annotated[int | None, Query(ge=0, description="Only signals at or after (ms).")] = None,
    max_risk: Annotated[
        Literal["low", "medium", "high", "critical"] | None,
        Query(description="Hide signals whose token is riskier (unknown counts as riskiest)."),
    ] = None,
    rule: Annotated[
        str | None, Query(max_length=48, description="Only signals where this rule fired.")
    ] = None,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Page[SignalPublic]:
    """Signals, newest first, filtered; follow ``next_cursor`` for older ones."""
    if principal.user is None:
        # Anonymous: the latest page only, to keep the public feed a teaser.
        limit, cursor = min(limit, ANONYMOUS_PAGE), None
    async with deps.sessions() as session:
        items, next_cursor = await market.signals_page(
            session,
            now_ms=deps.clock.now_ms(),
            limit=limit,
            min_strength=min_score,
            mint=mint,
            since_ts=since,
            max_risk=max_risk,
            rule=rule,
            cursor=cursor,
        )
    if principal.user is None:
        next_cursor = None
    return Page[SignalPublic](items=[signal_public(i) for i in items], next_cursor=next_cursor)


@router.get("/tokens/{mint}", response_model=TokenPublic, responses=errors(404))
async def get_token(mint: MintPath, deps: DepsDep, principal: PrincipalDep) -> TokenPublic:
    """A token: metadata, price and market cap, risk, newest signal, smart buys."""
    async with deps.sessions() as session:
        detail = await market.token_detail(
            session,
            mint=mint,
            now_ms=deps.clock.now_ms(),
            user_id=principal.user.id if principal.user else None,
        )
    return token_public(detail)


@router.get("/tokens/{mint}/timeseries", response_model=TimeseriesPublic, responses=errors(404))
async def get_timeseries(
    mint: MintPath,
    deps: DepsDep,
    principal: PrincipalDep,
    fields: Annotated[
        str, Query(max_length=64, description="Comma-separated: price, mcap, volume, trades.")
    ] = "price,mcap,volume",
    window: Annotated[str, Query(max_length=8, description="30m, 6h, 7d …")] = "6h",
    interval: Annotated[
        str | None, Query(max_length=8, description="Bucket size; default window/120.")
    ] = None,
) -> TimeseriesPublic:
    """Price (lamports per raw unit), market cap, volume (lamports) and trades per bucket."""
    wanted: list[TimeseriesField] = []
    for name in (f.strip() for f in fields.split(",") if f.strip()):
        if name not in market.SERIES_FIELDS:
            raise InvalidInput(
                "bad_field",
                f"unknown field {name[:16]!r}; choose from {', '.join(market.SERIES_FIELDS)}",
                field="fields",
            )
        if name not in wanted:
            wanted.append(name)
    if not wanted:
        raise InvalidInput("bad_field", "fields must name at least one series", field="fields")
    window_ms = parse_window(window, field="window")
    step = parse_window(interval, field="interval") if interval else max(1000, window_ms // 120)
    until = deps.clock.now_ms()
    since = until - window_ms
    async with deps.sessions() as session:
        points = await market.timeseries(
            session, mint=mint, since_ts=since, until_ts=until, interval_ms=step, fields=wanted
        )
    return TimeseriesPublic(
        mint=mint,
        since_ts=since,
        until_ts=until,
        interval_ms=step,
        fields=wanted,
        points=[
            TimeseriesPointPublic(
                ts=p.ts, price=p.price, mcap=p.mcap, volume=p.volume, trades=p.trades
            )
            for p in points
        ],
    )


@router.get("/smart-activity", response_model=list[SmartActivityPublic])
async def get_smart_activity(
    deps: DepsDep,
    principal: PrincipalDep,
    window: Annotated[str, Query(max_length=8, description="How far back: 15m, 24h …")] = "24h",
    tag: Annotated[
        str | None, Query(max_length=24, description="Only wallets with this tag.")
    ] = None,
    mint: Annotated[str | None, Query(min_length=32, max_length=44)] = None,
    scope: Annotated[
        Literal["all", "watchlist"],
        Query(description="watchlist: only the caller's tracked wallets (signed-in callers)."),
    ] = "all",
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[SmartActivityPublic]:
    """The latest fills of tracked wallets, newest first, with price and market cap."""
    window_ms = parse_window(window, field="window")
    if window_ms > market.MAX_WINDOW_MS:
        raise InvalidInput("bad_window", "window is at most 7d", field="window")
    user_id = principal.user.id if principal.user is not None and scope == "watchlist" else None
    if principal.user is None:
        limit = min(limit, ANONYMOUS_PAGE)
    async with deps.sessions() as session:
        rows = await smart_activity(
            session,
            since_ms=deps.clock.now_ms() - window_ms,
            user_id=user_id,
            tag=tag.strip().lower() if tag else None,
            mint=mint,
            limit=limit,
        )
    return [
        SmartActivityPublic(
            ts=r.ts,
            wallet=r.wallet,
            alias=r.alias,
            mint=r.mint,
            symbol=r.symbol,
            side="buy" if r.side == "buy" else "sell",
            sol_lamports=r.sol_lamports,
            token_amount=r.token_amount,
            price_lamports_per_token=r.price_lamports_per_token,
            market_cap_lamports=r.market_cap_lamports,
            signature=r.signature,
        )
        for r in rows
    ]
