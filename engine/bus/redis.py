"""Redis Streams bus: one stream key per partition, consumer groups, XAUTOCLAIM for re-claiming.

Redis can come back from a restart without its data (no persistence, a lost volume) or with
only part of it (``appendfsync everysec`` or RDB snapshots lose the last writes). Streams and
groups then vanish or roll back silently, so :meth:`RedisBus.lost_data` checks two things: an
epoch marker the bus writes with ``SET NX`` (gone or replaced: everything was lost), and the
last id this bus appended to each stream (a stream whose last id is now older, or that is gone:
its tail was lost). Callers ask after every reconnect and every few seconds; connection errors
themselves surface as ``RedisError`` (re-exported here) and are the caller's to retry.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from redis.asyncio import Redis
from redis.exceptions import RedisError, ResponseError

from engine.bus.base import BusError, Message, NoGroup, check_partitions, partition_for

_KEY = b"k"
_DATA = b"d"


class RedisBus:
    """Partitioned Redis Streams; the client is owned by the caller (built at the process edge)."""

    def __init__(
        self,
        redis: Redis,
        partitions: int = 8,
        *,
        prefix: str = "solai:",
        maxlen: int = 1_000_000,
    ) -> None:
        if partitions < 1:
            raise BusError("a bus needs at least one partition")
        self._r = redis
        self._partitions = partitions
        self._prefix = prefix
        self._maxlen = maxlen
        self._epoch: str | None = None
        self._last_ids: dict[str, tuple[int, int]] = {}
        """Per stream key, the newest id this bus appended (to notice a rolled-back tail)."""

    @property
    def partitions(self) -> int:
        """How many partitions every stream is split into."""
        return self._partitions

    def _key(self, stream: str, partition: int) -> str:
        return f"{self._prefix}{stream}:{partition}"

    async def publish(self, stream: str, key: str, payload: bytes) -> str:
        """Append one message to the key's partition; returns its id."""
        p = partition_for(key, self._partitions)
        msg_id = await self._r.xadd(
            self._key(stream, p),
            {_KEY: key.encode(), _DATA: payload},
            maxlen=self._maxlen,
            approximate=True,
        )
        out = _s(msg_id)
        self._last_ids[self._key(stream, p)] = _id(out)
        return out

    async def publish_many(self, stream: str, items: Sequence[tuple[str, bytes]]) -> list[str]:
        """Append many messages in one pipelined round trip, keeping their order per key."""
        if not items:
            return []
        pipe = self._r.pipeline(transaction=False)
        keys = []
        for key, payload in items:
            p = partition_for(key, self._partitions)
            stream_key = self._key(stream, p)
            keys.append(stream_key)
            pipe.xadd(
                stream_key,
                {_KEY: key.encode(), _DATA: payload},
                maxlen=self._maxlen,
                approximate=True,
            )
        ids = [_s(i) for i in await pipe.execute()]
        for stream_key, msg_id in zip(keys, ids, strict=True):
            self._last_ids[stream_key] = _id(msg_id)  # ids grow per stream: the last one wins
        return ids

    async def ensure_group(self, stream: str, group: str) -> None:
        """Create the consumer group on every partition (idempotent), reading from the start."""
        for p in range(self._partitions):
            try:
                await self._r.xgroup_create(self._key(stream, p), group, id="0", mkstream=True)
            except ResponseError as exc:
                if "BUSYGROUP" not in str(exc):
                    raise

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
        """New messages, at most ``count`` per partition, waiting up to ``block_ms``."""
        parts = check_partitions(partitions, self._partitions)
        keys = {self._key(stream, p): p for p in parts}
        try:
            reply = await self._r.xreadgroup(
                group,
                consumer,
                dict.fromkeys(keys, ">"),
                count=count,
                block=block_ms if block_ms > 0 else None,
            )
        except ResponseError as exc:
            _raise_no_group(exc, stream, group)
            raise
        out: list[Message] = []
        for raw_key, entries in reply or ():
            p = keys[_s(raw_key)]
            for msg_id, fields in entries:
                out.append(_message(stream, p, msg_id, fields, 1))
        return out

    async def ack(self, group: str, messages: Sequence[Message]) -> None:
        """Mark messages as done for the group (one pipelined XACK per partition)."""
        by_key: dict[str, list[str]] = {}
        for m in messages:
            by_key.setdefault(self._key(m.stream, m.partition), []).append(m.id)
        if not by_key:
            return
        pipe = self._r.pipeline(transaction=False)
        for key, ids in by_key.items():
            pipe.xack(key, group, *ids)
        await pipe.execute()

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
        """Take over messages pending over ``min_idle_ms``, at most ``count`` per partition."""
        out: list[Message] = []
        for p in check_partitions(partitions, self._partitions):
            key = self._key(stream, p)
            try:
                reply = await self._r.xautoclaim(
                    key, group, consumer, min_idle_time=min_idle_ms, start_id="0-0", count=count
                )
            except ResponseError as exc:
                _raise_no_group(exc, stream, group)
                raise
            entries = [(i, f) for i, f in reply[1] if f]  # trimmed entries come back empty
            if not entries:
                continue
            counts = await self._delivery_counts(key, group, consumer, entries)
            for msg_id, fields in entries:
                out.append(_message(stream, p, msg_id, fields, counts.get(_s(msg_id), 1)))
        return out

    async def _delivery_counts(
        self, key: str, group: str, consumer: str, entries: list[tuple[Any, Any]]
    ) -> dict[str, int]:
        rows = await self._r.xpending_range(
            key,
            group,
            min=_s(entries[0][0]),
            max=_s(entries[-1][0]),
            count=len(entries) * 2,
            consumername=consumer,
        )
        return {_s(r["message_id"]): int(r["times_delivered"]) for r in rows}

    async def pending_count(self, stream: str, group: str) -> int:
        """Messages delivered to the group but not yet acked."""
        total = 0
        for p in range(self._partitions):
            info = await self._r.xpending(self._key(stream, p), group)
            total += int(info["pending"])
        return total

    async def backlog(self, stream: str, group: str) -> int:
        """Messages not yet delivered to the group (the group's ``lag`` in Redis 7)."""
        total = 0
        for p in range(self._partitions):
            for g in await self._r.xinfo_groups(self._key(stream, p)):
                if _s(g["name"]) == group:
                    total += int(g.get("lag") or 0)
        return total

    async def lost_data(self) -> bool:
        """True when Redis lost data since the last call (see the module docstring).

        One MULTI round trip for the epoch (``SET NX`` + ``GET``), plus one pipelined
        ``XINFO STREAM`` per stream this bus appended to. The first call only learns the epoch.
        After a loss the remembered ids are forgotten: the new streams start afresh.
        """
        key = f"{self._prefix}epoch"
        pipe = self._r.pipeline(transaction=True)
        pipe.set(key, uuid.uuid4().hex, nx=True)
        pipe.get(key)
        _, current = await pipe.execute()
        epoch = _s(current) if current is not None else None
        known, self._epoch = self._epoch, epoch
        lost = known is not None and epoch != known
        if not lost and self._last_ids:
            lost = await self._tail_lost()
        if lost:
            self._last_ids.clear()
        return lost

    async def _tail_lost(self) -> bool:
        pipe = self._r.pipeline(transaction=False)
        keys = list(self._last_ids)
        for k in keys:
            pipe.xinfo_stream(k)
        for k, info in zip(keys, await pipe.execute(raise_on_error=False), strict=True):
            if isinstance(info, ResponseError):  # "no such key": the stream is gone
                return True
            if isinstance(info, Exception):
                raise info
            if _id(_s(info["last-generated-id"])) < self._last_ids[k]:
                return True
        return False

    async def close(self) -> None:
        """The Redis client belongs to the caller, which closes it."""


def _s(v: bytes | str) -> str:
    return v.decode() if isinstance(v, bytes) else v


def _id(msg_id: str) -> tuple[int, int]:
    ms, _, seq = msg_id.partition("-")
    return int(ms), int(seq or 0)


def _raise_no_group(exc: ResponseError, stream: str, group: str) -> None:
    if "NOGROUP" in str(exc):
        raise NoGroup(
            f"no consumer group {group!r} on stream {stream!r}: call ensure_group"
        ) from exc


def _message(stream: str, p: int, msg_id: Any, fields: Any, deliveries: int) -> Message:
    try:
        key = _s(fields[_KEY])
        data = fields[_DATA]
    except (KeyError, TypeError) as exc:
        raise BusError(f"stream {stream}:{p} entry {_s(msg_id)} is not a bus message") from exc
    return Message(stream, p, _s(msg_id), key, bytes(data), deliveries)


__all__ = ["BusError", "NoGroup", "RedisBus", "RedisError"]
