"""The tools the model may call: read-only lookups over the repositories, answered as JSON.

Each tool validates its input (addresses must be base58 public keys, numbers are clamped), reads
through the engine's repositories in its own session, and returns a brief (see
:mod:`agent.briefs`): trusted facts at the top level, attacker text under ``untrusted``. A bad
input or a missing row is an answer (``found: false`` or ``error``), never an exception.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent import briefs
from agent.sanitize import clean_untrusted, short_address
from engine.clock import Clock
from engine.smartmoney.stats import DAY_MS, Fill, compute_stats
from engine.storage.models import Token, Wallet, WatchlistEntry
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import tokens as token_repo
from engine.storage.repos import wallets as wallet_repo

logger = logging.getLogger(__name__)

ADDRESS: Final = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")
HOUR_MS: Final = 3_600_000


def _address(description: str) -> dict[str, Any]:
    return {"type": "string", "description": description, "pattern": ADDRESS.pattern}


TOOLS: Final[list[dict[str, Any]]] = [
    {
        "name": "get_signal",
        "description": (
            "The latest stored signal of a token: Strength (0-3), its four components, the "
            "trigger rules that fired with each check's threshold and actual value, tracked "
            "wallets that bought, flow, price change, pool depth, and the risk summary stored "
            "with it. Returns found=false when no signal fired for this mint."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"mint": _address("The token's mint address (base58).")},
            "required": ["mint"],
        },
    },
    {
        "name": "get_token",
        "description": (
            "A token's launch facts: label, venue, creator, launch time, whether its bonding "
            "curve completed. Its name, symbol and URI are under 'untrusted' (creator text)."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"mint": _address("The token's mint address (base58).")},
            "required": ["mint"],
        },
    },
    {
        "name": "get_risk",
        "description": (
            "The latest risk check of a token: level (low/medium/high/critical/unknown), "
            "badges (mint_authority, freeze_authority, top_holder, …), holder concentration, "
            "LP burnt share, dev selling, sellability, and when it was checked."
        ),
        "input_schema": {
            "type": "object",
            "properties": {"mint": _address("The token's mint address (base58).")},
            "required": ["mint"],
        },
    },
    {
        "name": "get_smart_activity",
        "description": (
            "Recent fills (buys and sells) of tracked smart-money wallets, newest first, "
            "optionally for one token and/or one wallet, over the last N hours."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "mint": _address("Only fills of this token."),
                "wallet": _address("Only fills of this wallet."),
                "hours": {"type": "integer", "minimum": 1, "maximum": 168, "default": 24},
                "limit": {"type": "integer", "minimum": 1, "maximum": 20, "default": 10},
            },
        },
    },
    {
        "name": "get_wallet_stats",
        "description": (
            "A tracked wallet's record over its stored fills: trades, realized PnL in SOL, hit "
            "rate over 7/30/90 days, average buy size, median holding time, open positions."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "wallet": _address("The wallet address (base58)."),
                "days": {"type": "integer", "minimum": 1, "maximum": 90, "default": 30},
            },
            "required": ["wallet"],
        },
    },
    {
        "name": "search_tokens",
        "description": (
            "Find tokens by mint, symbol prefix or name fragment. Returns mints and labels; "
            "names and symbols are creator text under 'untrusted'."
        ),
        "input_schema": {
            "type": "object",
            "properties": {
                "query": {"type": "string", "maxLength": 64},
                "limit": {"type": "integer", "minimum": 1, "maximum": 10, "default": 5},
            },
            "required": ["query"],
        },
    },
]
TOOL_NAMES: Final = frozenset(t["name"] for t in TOOLS)


class ToolInputError(ValueError):
    """The model called a tool with an input it cannot take."""


def _int(args: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value = args.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ToolInputError(f"{key} must be an integer")
    return max(lo, min(hi, int(value)))


def _addr(args: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = args.get(key)
    if value is None and not required:
        return None
    if not isinstance(value, str) or not ADDRESS.match(value):
        raise ToolInputError(f"{key} must be a base58 address")
    return value


def describe_call(name: str, args: dict[str, Any]) -> str:
    """A short source note for a call: ``get_signal(mint=7xKX…9abc)``."""
    parts = []
    for k in sorted(args):
        v = args[k]
        if isinstance(v, str) and ADDRESS.match(v):
            parts.append(f"{k}={short_address(v)}")
        else:
            parts.append(f"{k}={clean_untrusted(str(v), 24)}")
    return f"{name}({', '.join(parts)})"


class ToolBox:
    """Runs tool calls against the database, on the engine's clock."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        user_id: int | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._user_id = user_id
        self._handlers: dict[str, Callable[[AsyncSession, dict[str, Any]], Awaitable[Any]]] = {
            "get_signal": self._get_signal,
            "get_token": self._get_token,
            "get_risk": self._get_risk,
            "get_smart_activity": self._get_smart_activity,
            "get_wallet_stats": self._get_wallet_stats,
            "search_tokens": self._search_tokens,
        }

    async def run(self, name: str, args: dict[str, Any]) -> tuple[dict[str, Any], bool]:
        """The result of one call and whether it is an error (for ``tool_result.is_error``)."""
        handler = self._handlers.get(name)
        if handler is None:
            return {"error": f"unknown tool {name[:40]!r}"}, True
        try:
            async with self._sessions() as session:
                result = await handler(session, args)
        except ToolInputError as exc:
            return {"error": str(exc)}, True
        logger.debug("tool %s ran", name)
        return result, False

    async def _aliases(self, session: AsyncSession, addresses: set[str]) -> dict[str, str | None]:
        if not addresses:
            return {}
        rows = await session.scalars(select(Wallet).where(Wallet.address.in_(addresses)))
        aliases: dict[str, str | None] = {w.address: w.alias for w in rows}
        if self._user_id is not None:
            mine = await session.scalars(
                select(WatchlistEntry).where(
                    WatchlistEntry.user_id == self._user_id,
                    WatchlistEntry.address.in_(addresses),
                )
            )
            for e in mine:
                if e.alias:
                    aliases[e.address] = e.alias
        return aliases

    async def _get_signal(self, session: AsyncSession, args: dict[str, Any]) -> dict[str, Any]:
        mint = _addr(args, "mint", required=True)
        assert mint is not None
        sig = await signal_repo.latest_signal(session, mint=mint)
        token = await token_repo.get_token(session, mint=mint)
        if sig is None:
            return {"found": False, "token": briefs.token_brief(mint, token)}
        return {
            "found": True,
            "token": briefs.token_brief(mint, token),
            "signal": briefs.signal_brief(sig),
            "risk_at_signal": briefs.risk_brief(sig.risk, None),
        }

    async def _get_token(self, session: AsyncSession, args: dict[str, Any]) -> dict[str, Any]:
        mint = _addr(args, "mint", required=True)
        assert mint is not None
        token = await token_repo.get_token(session, mint=mint)
        return {"found": token is not None, "token": briefs.token_brief(mint, token)}

    async def _get_risk(self, session: AsyncSession, args: dict[str, Any]) -> dict[str, Any]:
        mint = _addr(args, "mint", required=True)
        assert mint is not None
        report = await signal_repo.get_risk_report(session, mint=mint)
        if report is None:
            return {"found": False, "mint": mint}
        out = briefs.risk_brief(None, report)
        out["known"] = report.level != "unknown"
        out["stale"] = report.expires_ts <= self._clock.now_ms()
        return {"found": True, "mint": mint, "risk": out}

    async def _get_smart_activity(
        self, session: AsyncSession, args: dict[str, Any]
    ) -> dict[str, Any]:
        mint = _addr(args, "mint", required=False)
        wallet = _addr(args, "wallet", required=False)
        hours = _int(args, "hours", 24, 1, 168)
        limit = _int(args, "limit", 10, 1, 20)
        fills = await wallet_repo.smart_activity(
            session,
            since_ms=self._clock.now_ms() - hours * HOUR_MS,
            wallets=[wallet] if wallet else None,
            mint=mint,
            limit=limit,
        )
        mints = {f.mint for f in fills}
        tokens = (
            {t.mint: t for t in await session.scalars(select(Token).where(Token.mint.in_(mints)))}
            if mints
            else {}
        )
        aliases = await self._aliases(session, {f.wallet for f in fills})
        return {
            "hours": hours,
            "count": len(fills),
            "fills": [briefs.fill_brief(f, tokens, aliases) for f in fills],
        }

    async def _get_wallet_stats(
        self, session: AsyncSession, args: dict[str, Any]
    ) -> dict[str, Any]:
        wallet = _addr(args, "wallet", required=True)
        assert wallet is not None
        days = _int(args, "days", 30, 1, 90)
        now = self._clock.now_ms()
        rows = await wallet_repo.smart_activity(
            session, since_ms=now - days * DAY_MS, wallets=[wallet], limit=5_000
        )
        aliases = await self._aliases(session, {wallet})
        if not rows:
            return {"found": False, "wallet": wallet, "window_days": days}
        fills = [Fill(r.ts, r.mint, r.side, r.sol_lamports, r.token_amount) for r in rows]
        stats = compute_stats(fills, now_ms=now)
        return {
            "found": True,
            "stats": briefs.wallet_stats_brief(
                wallet, stats, alias=aliases.get(wallet), window_days=days
            ),
        }

    async def _search_tokens(self, session: AsyncSession, args: dict[str, Any]) -> dict[str, Any]:
        query = args.get("query")
        if not isinstance(query, str) or not query.strip():
            raise ToolInputError("query must be non-empty text")
        limit = _int(args, "limit", 5, 1, 10)
        found = await token_repo.search_tokens(session, query=query[:64], limit=limit)
        return {"count": len(found), "tokens": [briefs.token_brief(t.mint, t) for t in found]}
