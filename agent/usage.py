"""Token usage per account per UTC day, and the daily budget check.

A user's usage lives in memory and in ``users.settings["agent_usage"]`` (``{"day": "YYYY-MM-DD",
…counts}``), so a restart does not reset a budget; an id without a users row (and the system
account, which writes narratives for everyone) is counted in memory only. The read-modify-write
of the settings JSON is per process: two processes serving the same user at the same moment may
each miss the other's last call, which a budget tolerates.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from agent.provider import TokenUsage
from engine.clock import Clock
from engine.storage.repos import users as user_repo

logger = logging.getLogger(__name__)

SETTINGS_KEY = "agent_usage"
SYSTEM = None
"""The account of work done for everyone (signal narratives)."""


def utc_day(ms: int) -> str:
    """``YYYY-MM-DD`` of a millisecond timestamp, in UTC."""
    return dt.datetime.fromtimestamp(ms / 1000, tz=dt.UTC).strftime("%Y-%m-%d")


@dataclass(frozen=True, slots=True)
class DayUsage:
    """One account's usage on one day."""

    day: str
    usage: TokenUsage


class UsageLedger:
    """Records usage and answers "how much is left today" per account."""

    def __init__(self, sessions: async_sessionmaker[AsyncSession], clock: Clock) -> None:
        self._sessions = sessions
        self._clock = clock
        self._days: dict[int | None, DayUsage] = {}

    def _today(self) -> str:
        return utc_day(self._clock.now_ms())

    async def today(self, account: int | None) -> TokenUsage:
        """The account's usage so far today."""
        day = self._today()
        cached = self._days.get(account)
        if cached is not None and cached.day == day:
            return cached.usage
        usage = TokenUsage()
        if account is not None:
            async with self._sessions() as session:
                user = await user_repo.lock_user(session, user_id=account)
                stored = (user.settings or {}).get(SETTINGS_KEY) if user is not None else None
            if isinstance(stored, dict) and stored.get("day") == day:
                usage = TokenUsage.from_dict(stored)
        self._days[account] = DayUsage(day, usage)
        return usage

    async def spent(self, account: int | None) -> int:
        """Budget tokens used today."""
        return (await self.today(account)).budget_tokens

    async def record(self, account: int | None, usage: TokenUsage) -> TokenUsage:
        """Add a call's usage to today's total (and store it on the user); returns the total."""
        total = await self.today(account) + usage
        day = self._today()
        self._days[account] = DayUsage(day, total)
        logger.info(
            "agent usage: account %s +%d in/+%d out/+%d cache write/+%d cache read (%d today)",
            "system" if account is None else account,
            usage.input_tokens,
            usage.output_tokens,
            usage.cache_creation_input_tokens,
            usage.cache_read_input_tokens,
            total.budget_tokens,
        )
        if account is not None:
            async with self._sessions() as session:
                user = await user_repo.lock_user(session, user_id=account)
                if user is None:
                    logger.debug("agent usage: no users row %s; kept in memory", account)
                    return total
                # A new dict, so the ORM sees the JSON column change.
                settings = dict(user.settings or {})
                settings[SETTINGS_KEY] = {"day": day, **total.to_dict()}
                user.settings = settings
                await session.commit()
        return total
