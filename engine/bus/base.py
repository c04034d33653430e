"""The bus contract: partitioned streams with consumer groups, acks and re-claiming.

A logical stream (``events``, ``signals``) is split into ``partitions`` physical streams; a
message goes to the partition of its key (the mint), so the consumer that owns a partition owns
every event of the tokens in it, in order. Delivery is at-least-once: a consumer acks what it has
finished, and what a dead consumer left pending is re-claimed by another after ``min_idle_ms``.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol


class BusError(RuntimeError):
    """The bus could not do what was asked (unreachable backend, bad arguments)."""


class NoGroup(BusError):
    """The consumer group does not exist (never created, or the backend lost its data).

    A consumer answers it with ``ensure_group`` and carries on: after a Redis restart without its
    data the streams and groups are gone, and re-creating the group is the whole repair.
    """


@dataclass(frozen=True, slots=True)
class Message:
    """One delivered message; ``deliveries`` counts how many times it was handed out."""

    stream: str
    partition: int
    id: str
    key: str
    payload: bytes
    deliveries: int = 1


def partition_for(key: str, partitions: int) -> int:
    """The partition a key belongs to: stable across processes and restarts (CRC-32)."""
    return zlib.crc32(key.encode()) % partitions


class Bus(Protocol):
    """Publish, consume in a group, ack, re-claim: implemented in-process and on Redis Streams."""

    @property
    def partitions(self) -> int:
        """How many partitions every stream is split into."""
        ...

    async def publish(self, stream: str, key: str, payload: bytes) -> str:
        """Append one message to the key's partition; returns its id."""
        ...

    async def publish_many(self, stream: str, items: Sequence[tuple[str, bytes]]) -> list[str]:
        """Append many (key, payload) messages in one round trip, keeping their order per key."""
        ...

    async def ensure_group(self, stream: str, group: str) -> None:
        """Create the consumer group on every partition (idempotent), reading from the start."""
        ...

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
        """New messages from the partitions (all by default), ``count`` at most per partition."""
        ...

    async def ack(self, group: str, messages: Sequence[Message]) -> None:
        """Mark messages as done for the group; they will not be delivered again."""
        ...

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
        """Take over messages a dead consumer left idle over ``min_idle_ms``."""
        ...

    async def pending_count(self, stream: str, group: str) -> int:
        """Messages delivered to the group but not yet acked, over all partitions."""
        ...

    async def backlog(self, stream: str, group: str) -> int:
        """Messages not yet delivered to the group, over all partitions."""
        ...

    async def lost_data(self) -> bool:
        """True when the backend lost what it held since the last call (a restart without its
        data): publishers then re-send their recent messages, consumers re-create their groups.
        The first call only takes note of the current state. Never true in-process.
        """
        ...

    async def close(self) -> None:
        """Release the bus's resources."""
        ...


def check_partitions(partitions: Sequence[int] | None, total: int) -> Sequence[int]:
    """Validate an explicit partition list, or return all partitions."""
    if partitions is None:
        return range(total)
    for p in partitions:
        if not 0 <= p < total:
            raise BusError(f"partition {p} out of range 0..{total - 1}")
    return partitions
