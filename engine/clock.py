"""The one source of time: integer milliseconds UTC, injectable for tests and replay."""

from __future__ import annotations

import time
from typing import Protocol


class Clock(Protocol):
    """Anything that can tell the current time in integer milliseconds UTC."""

    def now_ms(self) -> int:
        """Return the current time in milliseconds since the Unix epoch (UTC)."""
        ...


class SystemClock:
    """The wall clock."""

    def now_ms(self) -> int:
        """Return the wall-clock time in integer milliseconds UTC."""
        return time.time_ns() // 1_000_000


class FixedClock:
    """A clock that only moves when told to: for tests and deterministic replay."""

    def __init__(self, now_ms: int = 0) -> None:
        self._now = now_ms

    def now_ms(self) -> int:
        """Return the clock's current reading."""
        return self._now

    def set(self, now_ms: int) -> None:
        """Jump to an absolute time; replay drives the clock from event timestamps."""
        self._now = now_ms

    def advance(self, ms: int) -> None:
        """Move the clock forward by ``ms`` milliseconds."""
        if ms < 0:
            raise ValueError("a clock does not go backwards")
        self._now += ms
