"""An async token bucket: a per-provider request budget taken *before* each request.

Providers enforce requests-per-second limits and answer 429 once they are exceeded. Spacing our
own requests under the budget avoids those 429s instead of suffering them; when one arrives
anyway (another process shares the key), :meth:`TokenBucket.pause` holds every caller back for
the server's ``Retry-After``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable

logger = logging.getLogger(__name__)

_EPSILON = 1e-9


class TokenBucket:
    """Refills ``rate_per_s`` tokens per second up to ``burst``; ``acquire`` waits for one."""

    def __init__(
        self,
        rate_per_s: float,
        burst: float | None = None,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        if rate_per_s <= 0:
            raise ValueError(f"rate_per_s must be positive, got {rate_per_s}")
        # A burst of one keeps every one-second window at or under rate + 1 requests, which is
        # what a provider's per-second limiter counts; callers may allow more if theirs is lenient.
        self.rate = float(rate_per_s)
        self.capacity = float(burst) if burst is not None else 1.0
        if self.capacity < 1:
            raise ValueError(f"burst must be at least 1, got {burst}")
        self._monotonic = monotonic
        self._sleep = sleep
        self._tokens = self.capacity
        self._updated = monotonic()
        self._paused_until = 0.0
        # asyncio.Lock wakes waiters in FIFO order, so requests are served in arrival order.
        self._lock = asyncio.Lock()
        self.waited_s = 0.0
        """Total time callers spent waiting for budget (for metrics)."""

    def _refill(self, now: float) -> None:
        elapsed = now - self._updated
        if elapsed > 0:
            self._tokens = min(self.capacity, self._tokens + elapsed * self.rate)
            self._updated = now

    async def acquire(self, tokens: float = 1.0) -> float:
        """Wait until ``tokens`` are available and take them; returns the seconds waited."""
        if tokens > self.capacity:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.capacity}")
        waited = 0.0
        async with self._lock:
            while True:
                now = self._monotonic()
                if now < self._paused_until:
                    delay = self._paused_until - now
                else:
                    self._refill(now)
                    # The epsilon absorbs float rounding: without it a deficit of 1e-16 asks
                    # for a sleep too short to move the clock, and the loop never ends.
                    if self._tokens >= tokens - _EPSILON:
                        self._tokens = max(0.0, self._tokens - tokens)
                        self.waited_s += waited
                        return waited
                    delay = (tokens - self._tokens) / self.rate
                await self._sleep(delay)
                waited += delay

    def pause(self, seconds: float) -> None:
        """Hold every caller back for ``seconds`` (a 429's Retry-After) and drop saved tokens."""
        now = self._monotonic()
        until = now + max(0.0, seconds)
        if until > self._paused_until:
            logger.info("request budget paused for %.2fs", seconds)
            self._paused_until = until
        self._tokens = 0.0
        self._updated = max(self._updated, until)
