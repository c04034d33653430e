"""Sortable 63-bit ids made in the process (no database round trip, no autoincrement)."""

from __future__ import annotations

import itertools
import os

from engine.clock import Clock

_SEQ_BITS = 12
_NODE_BITS = 10


class IdMaker:
    """Ids of (milliseconds, node, sequence): unique per node, ordered by time."""

    def __init__(self, clock: Clock, node: int | None = None) -> None:
        self._clock = clock
        self._node = (os.getpid() if node is None else node) & ((1 << _NODE_BITS) - 1)
        self._seq = itertools.count()

    def next_id(self) -> int:
        """A new id; the low bits make ids made in the same millisecond distinct."""
        seq = next(self._seq) & ((1 << _SEQ_BITS) - 1)
        return (self._clock.now_ms() << (_NODE_BITS + _SEQ_BITS)) | (self._node << _SEQ_BITS) | seq
