"""In-process bus for the embedded default: same contract as Redis Streams, no server."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

from engine.bus.base import BusError, Message, NoGroup, check_partitions, partition_for
from engine.clock import Clock, SystemClock


@dataclass(slots=True)
class _Entry:
    seq: int
    id: str
    key: str
    payload: bytes


@dataclass(slots=True)
class _Pending:
    entry: _Entry
    consumer: str
    delivered_ms: int
    deliveries: int


@dataclass(slots=True)
class _Group:
    next_seq: list[int]
    pending: list[dict[str, _Pending]]


@dataclass(slots=True)
class _Stream:
    entries: list[list[_Entry]]
    first_seq: list[int]
    groups: dict[str, _Group] = field(default_factory=dict)


class MemoryBus:
    """Partitioned streams held in memory, with groups, pending lists and re-claiming."""

    def __init__(self, partitions: int = 8, *, maxlen: int = 1_000_000, clock: Clock | None = None):
        if partitions < 1:
            raise BusError("a bus needs at least one partition")
        self._partitions = partitions
        self._maxlen = maxlen
        self._clock = clock or SystemClock()
        self._streams: dict[str, _Stream] = {}
        self._seq = itertools.count(1)
        self._changed = asyncio.Condition()

    @property
    def partitions(self) -> int:
        """How many partitions every stream is split into."""
        return self._partitions

    def _stream(self, name: str) -> _Stream:
        s = self._streams.get(name)
        if s is None:
            n = self._partitions
            s = _Stream(entries=[[] for _ in range(n)], first_seq=[1] * n)
            self._streams[name] = s
        return s

    def _append(self, s: _Stream, key: str, payload: bytes) -> str:
        p = partition_for(key, self._partitions)
        seq = next(self._seq)
        entry = _Entry(seq, f"{self._clock.now_ms()}-{seq}", key, payload)
        part = s.entries[p]
        if not part:
            s.first_seq[p] = seq
        part.append(entry)
        if len(part) > self._maxlen:
            # Like XADD MAXLEN: the oldest entries go; pending ones live on in their group.
            drop = len(part) - self._maxlen
            del part[:drop]
            s.first_seq[p] = part[0].seq
        return entry.id

    async def publish(self, stream: str, key: str, payload: bytes) -> str:
        """Append one message to the key's partition; returns its id."""
        msg_id = self._append(self._stream(stream), key, payload)
        async with self._changed:
            self._changed.notify_all()
        return msg_id

    async def publish_many(self, stream: str, items: Sequence[tuple[str, bytes]]) -> list[str]:
        """Append many (key, payload) messages, keeping their order per key."""
        s = self._stream(stream)
        ids = [self._append(s, k, v) for k, v in items]
        async with self._changed:
            self._changed.notify_all()
        return ids

    async def ensure_group(self, stream: str, group: str) -> None:
        """Create the consumer group on every partition (idempotent), reading from the start."""
        s = self._stream(stream)
        if group not in s.groups:
            n = self._partitions
            s.groups[group] = _Group(next_seq=[0] * n, pending=[{} for _ in range(n)])

    def _group(self, stream: str, group: str) -> tuple[_Stream, _Group]:
        s = self._streams.get(stream)
        if s is None or group not in s.groups:
            raise NoGroup(f"no consumer group {group!r} on stream {stream!r}: call ensure_group")
        return s, s.groups[group]

    def _take_new(
        self, stream: str, group: str, consumer: str, partitions: Sequence[int], count: int
    ) -> list[Message]:
        s, g = self._group(stream, group)
        out: list[Message] = []
        now = self._clock.now_ms()
        for p in partitions:
            part = s.entries[p]
            if not part:
                continue
            start = max(g.next_seq[p], s.first_seq[p])
            # Entries are in seq order; find the first at or after ``start``.
            lo = _first_at_or_after(part, start)
            for entry in part[lo : lo + count]:
                g.pending[p][entry.id] = _Pending(entry, consumer, now, 1)
                g.next_seq[p] = entry.seq + 1
                out.append(Message(stream, p, entry.id, entry.key, entry.payload, 1))
        return out

    async def consume(
        self,
        stream: str,
        group: str,
        consumer: str,
        *,
        partitions: Sequence[int] | None = None,
        count: int = 100,
        block_ms: int = 1000,
    ) -> list[Message]:
        """New messages for this consumer, waiting up to ``block_ms`` when there are none."""
        parts = check_partitions(partitions, self._partitions)
        out = self._take_new(stream, group, consumer, parts, count)
        if out or block_ms <= 0:
            return out
        loop = asyncio.get_running_loop()
        deadline = loop.time() + block_ms / 1000
        async with self._changed:
            while True:
                out = self._take_new(stream, group, consumer, parts, count)
                remaining = deadline - loop.time()
                if out or remaining <= 0:
                    return out
                try:
                    await asyncio.wait_for(self._changed.wait(), remaining)
                except TimeoutError:
                    return self._take_new(stream, group, consumer, parts, count)

    async def ack(self, group: str, messages: Sequence[Message]) -> None:
        """Mark messages as done for the group."""
        for m in messages:
            _, g = self._group(m.stream, group)
            g.pending[m.partition].pop(m.id, None)

    async def claim_stale(
        self,
        stream: str,
        group: str,
        consumer: str,
        *,
        min_idle_ms: int,
        partitions: Sequence[int] | None = None,
        count: int = 100,
    ) -> list[Message]:
        """Take over messages pending longer than ``min_idle_ms``."""
        _, g = self._group(stream, group)
        now = self._clock.now_ms()
        out: list[Message] = []
        for p in check_partitions(partitions, self._partitions):
            taken = 0
            for pend in list(g.pending[p].values()):
                if taken >= count:
                    break
                if now - pend.delivered_ms < min_idle_ms:
                    continue
                pend.consumer = consumer
                pend.delivered_ms = now
                pend.deliveries += 1
                taken += 1
                e = pend.entry
                out.append(Message(stream, p, e.id, e.key, e.payload, pend.deliveries))
        return out

    async def pending_count(self, stream: str, group: str) -> int:
        """Messages delivered to the group but not yet acked."""
        _, g = self._group(stream, group)
        return sum(len(p) for p in g.pending)

    async def backlog(self, stream: str, group: str) -> int:
        """Messages not yet delivered to the group."""
        s, g = self._group(stream, group)
        total = 0
        for p, part in enumerate(s.entries):
            if part:
                total += len(part) - _first_at_or_after(part, max(g.next_seq[p], s.first_seq[p]))
        return total

    async def lost_data(self) -> bool:
        """Never: the streams live and die with this process, and so do their users."""
        return False

    async def close(self) -> None:
        """Nothing to release: memory goes with the process."""


def _first_at_or_after(part: list[_Entry], seq: int) -> int:
    lo, hi = 0, len(part)
    while lo < hi:
        mid = (lo + hi) // 2
        if part[mid].seq < seq:
            lo = mid + 1
        else:
            hi = mid
    return lo
