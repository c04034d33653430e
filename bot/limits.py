"""Send-rate limits of the chat platforms, and the limiters that keep us under them.

Published limits (Telegram Bot FAQ; Discord rate-limit docs):

- Telegram: about 30 messages per second overall, 1 per second in one chat, 20 per minute in
  one group (or channel).
- Discord: 50 requests per second per bot overall, and the ``POST /channels/{id}/messages``
  bucket of 5 per 5 seconds per channel.

A :class:`ChatLimiter` enforces a per-chat sliding window, an optional per-group sliding window
and an overall pace (evenly spaced sends, so a burst never reaches the server as a spike).
Windows are lengthened and the pace slowed by a small headroom: the server counts arrival times,
which jitter. Time and sleep are injectable, and :meth:`Rate.scaled` compresses time for tests
while keeping the published counts.

Between its slot and the HTTP call a fan-out send commits a ``sending`` mark (see
``bot.fanout``), which takes a variable time. :meth:`ChatLimiter.depart` keeps the slots'
spacing anyway: every send leaves at its slot plus one shared shift, widened to the longest
delay seen (up to :data:`MAX_SHIFT_S`), so a slow commit delays sends instead of bunching them.
The shift drops back only after an idle gap longer than a per-chat window plus the shift, when no
window can span both sides of the change.
"""

from __future__ import annotations

import asyncio
import logging
import math
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Final

logger = logging.getLogger(__name__)

Now = Callable[[], float]
Sleep = Callable[[float], Awaitable[None]]

HEADROOM: Final = 0.9
"""Share of a published window's count we aim for (per chat, per group)."""

PACE_HEADROOM: Final = 0.93
"""Share of the published overall rate the evenly spaced pace aims for. The pace never bursts
(a late turn pushes the next one back, it does not catch up) and :meth:`ChatLimiter.depart`
keeps the spacing behind slow commits, so it needs less margin than the windows: 27.9 sends/s
leave ~75 ms of arrival jitter per second before the 31st lands in a 1-second window. At 0.965
a saturated bench loop (``solai bench pipeline``) still drew a 429 or two per run."""
MAX_SHIFT_S: Final = 2.0
"""Longest shift between a slot and its send (well under the per-group window's 6.6 s margin).
At 0.5 s the benchmark's saturated loop had sends 0.6-0.8 s late, past the cap: they left at
once, bunched, and drew 429s."""


@dataclass(frozen=True, slots=True)
class Rate:
    """``count`` events per ``per_s`` seconds."""

    count: int
    per_s: float

    def scaled(self, factor: float) -> Rate:
        """The same count in ``1/factor`` of the time (tests run the published limits faster)."""
        return Rate(self.count, self.per_s / factor)

    @property
    def interval(self) -> float:
        """Seconds between evenly paced events."""
        return self.per_s / self.count


@dataclass(frozen=True, slots=True)
class PlatformLimits:
    """The limits one platform publishes for sending messages."""

    overall: Rate
    per_chat: Rate
    per_group: Rate | None

    def scaled(self, factor: float) -> PlatformLimits:
        """Every window compressed by ``factor``."""
        return replace(
            self,
            overall=self.overall.scaled(factor),
            per_chat=self.per_chat.scaled(factor),
            per_group=self.per_group.scaled(factor) if self.per_group else None,
        )


TELEGRAM_LIMITS: Final = PlatformLimits(
    overall=Rate(30, 1.0), per_chat=Rate(1, 1.0), per_group=Rate(20, 60.0)
)
DISCORD_LIMITS: Final = PlatformLimits(overall=Rate(50, 1.0), per_chat=Rate(5, 5.0), per_group=None)


class SlidingWindow:
    """At most ``rate.count`` events in any window of ``rate.per_s`` (lengthened by a margin)."""

    def __init__(self, rate: Rate, margin: float) -> None:
        self.count = rate.count
        self.span = rate.per_s * (1.0 + margin)
        self.log: deque[float] = deque()

    def wait(self, now: float) -> float:
        """Seconds until one more event is allowed."""
        while self.log and self.log[0] <= now - self.span:
            self.log.popleft()
        if len(self.log) < self.count:
            return 0.0
        return self.log[0] + self.span - now

    def record(self, now: float) -> None:
        """Count an event at ``now``."""
        self.log.append(now)


class Pacer:
    """Evenly spaced turns, first come first served."""

    def __init__(self, interval: float, now: Now, sleep: Sleep) -> None:
        self.interval = interval
        self._now = now
        self._sleep = sleep
        self._next = 0.0
        self._lock = asyncio.Lock()

    async def turn(self) -> None:
        """Wait for this caller's slot."""
        async with self._lock:
            now = self._now()
            at = max(now, self._next)
            self._next = at + self.interval
            if at > now:
                await self._sleep(at - now)


_SHARED_TURN = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local at = math.max(now, nxt)
redis.call('SET', KEYS[1], string.format('%d', at + tonumber(ARGV[1])), 'PX', 60000)
return at - now
"""


class SharedPacer:
    """:class:`Pacer`'s evenly spaced turns for every process of one bot account, on Redis.

    Several workers each pacing at the published rate would send N times it: the turn is
    allocated by one Lua script on Redis's own clock (``TIME``), so processes on different hosts
    share one schedule, and each caller sleeps until its slot. Fails open: with Redis away
    the turn comes from a local :class:`Pacer` (a 429 is honoured, a missed alert is not).
    """

    def __init__(
        self,
        redis: Any,
        key: str,
        interval: float,
        *,
        sleep: Sleep = asyncio.sleep,
        fallback: Pacer | None = None,
    ) -> None:
        self.interval = interval
        self._key = key
        self._sleep = sleep
        self._script = redis.register_script(_SHARED_TURN)
        self._fallback = fallback or Pacer(interval, time.monotonic, sleep)

    async def turn(self) -> None:
        """Wait for this caller's slot in the shared schedule."""
        try:
            wait_us = int(
                await self._script(keys=[self._key], args=[round(self.interval * 1_000_000)])
            )
        except Exception as exc:  # Redis away: pace locally rather than not send
            logger.warning("shared pace unavailable (%s): pacing this process alone", exc)
            await self._fallback.turn()
            return
        if wait_us > 0:
            await self._sleep(wait_us / 1_000_000)


@dataclass(slots=True)
class _ChatState:
    window: SlidingWindow
    group: SlidingWindow | None
    blocked_until: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class ChatLimiter:
    """Per chat, per group and overall limits for one bot account."""

    def __init__(
        self,
        limits: PlatformLimits,
        *,
        headroom: float = HEADROOM,
        pace_headroom: float = PACE_HEADROOM,
        now: Now = time.monotonic,
        sleep: Sleep = asyncio.sleep,
        shared: tuple[Any, str] | None = None,
    ) -> None:
        """``shared`` = (Redis client, key): pace with every process of the bot account."""
        self.limits = limits
        self._margin = 1.0 / headroom - 1.0
        self._now = now
        self._sleep = sleep
        interval = limits.overall.interval / pace_headroom
        self._pacer: Pacer | SharedPacer = (
            Pacer(interval, now, sleep)
            if shared is None
            else SharedPacer(shared[0], shared[1], interval, sleep=sleep)
        )
        self._chats: dict[str, _ChatState] = {}
        self.waited_s = 0.0
        """Total time callers spent waiting for a slot (for metrics and tests)."""
        self.shift_s = 0.0
        """How long after its slot a send leaves (see :meth:`depart`)."""
        self._last_grant = -math.inf

    def _state(self, key: str, group: bool) -> _ChatState:
        st = self._chats.get(key)
        if st is None:
            per_group = self.limits.per_group
            st = _ChatState(
                SlidingWindow(self.limits.per_chat, self._margin),
                SlidingWindow(per_group, self._margin) if group and per_group else None,
            )
            self._chats[key] = st
        return st

    def group_wait(self, key: str) -> float:
        """Seconds until a group's per-group budget allows one more message (0 when it does)."""
        st = self._chats.get(key)
        if st is None or st.group is None:
            return 0.0
        return max(0.0, st.group.wait(self._now()))

    def penalize(self, key: str, seconds: float) -> None:
        """The server said 429: send nothing more to this chat for ``seconds``."""
        st = self._chats.get(key)
        if st is not None:
            st.blocked_until = max(st.blocked_until, self._now() + seconds)

    async def acquire(self, key: str, *, group: bool, fold: bool = False) -> bool:
        """Wait until a message may be sent to ``key`` and count it as sent now.

        With ``fold``, return False at once (counting nothing) when the group's per-group
        budget is used up: the caller folds the message into a digest instead of waiting.
        """
        st = self._state(key, group)
        start = self._now()
        async with st.lock:
            while True:
                now = self._now()
                group_wait = st.group.wait(now) if st.group is not None else 0.0
                if fold and group_wait > 0:
                    return False
                wait = max(st.window.wait(now), group_wait, st.blocked_until - now)
                if wait <= 0:
                    break
                await self._sleep(wait)
            await self._pacer.turn()
            now = self._now()
            st.window.record(now)
            if st.group is not None:
                st.group.record(now)
            quiet = self.limits.per_chat.per_s * (1.0 + self._margin) + self.shift_s
            if now - self._last_grant > quiet:
                self.shift_s = 0.0
            self._last_grant = max(self._last_grant, now)
        self.waited_s += self._now() - start
        return True

    def now(self) -> float:
        """The limiter's clock (a slot's time, to pass to :meth:`depart`)."""
        return self._now()

    async def depart(self, granted: float) -> None:
        """Wait until a send whose slot was at ``granted`` may leave: slot plus the shift.

        A send already later than the shift widens it (up to :data:`MAX_SHIFT_S`) and leaves
        at once; the sends after it then keep their spacing behind it.
        """
        now = self._now()
        late = now - granted
        if late > self.shift_s:
            self.shift_s = min(late, MAX_SHIFT_S)
        wait = granted + self.shift_s - now
        if wait > 0:
            await self._sleep(wait)


class UserRateLimit:
    """Per-user command budget: ``burst`` at once, then one every ``every_ms`` (engine clock)."""

    def __init__(self, *, burst: int = 8, every_ms: int = 2_000) -> None:
        self.burst = burst
        self.every_ms = every_ms
        self._tat: dict[str, int] = {}
        self._warned: set[str] = set()

    def check(self, key: str, now_ms: int) -> tuple[bool, bool]:
        """(allowed, warn): ``warn`` is True once per throttled stretch, for a polite reply."""
        tat = max(self._tat.get(key, now_ms), now_ms)
        if tat - now_ms > (self.burst - 1) * self.every_ms:
            first = key not in self._warned
            self._warned.add(key)
            return False, first
        self._tat[key] = tat + self.every_ms
        self._warned.discard(key)
        if len(self._tat) > 10_000:
            # Forget idle users so the table does not grow for ever.
            self._tat = {k: v for k, v in self._tat.items() if v > now_ms}
        return True, False
