"""``WS /stream?topics=signals,smart_activity,trades``: live pushes from the bus streams.

One fan-out reader per topic and process: it consumes the bus stream (``signals`` published by
the scoring consumer, ``smart_activity``, ``trades`` published by the trade bridge) in a consumer
group of its own (``ws:<instance>``), so every API process sees every message, and skips what
was published before it started. Each connection has a bounded queue: a slow client loses
messages (and is told how many with a ``dropped`` frame) instead of holding up the reader or the
other clients; one that falls too far behind is closed with 1013 (try again later).

Frames are JSON: ``{"type": "hello", "data": {"topics": [...]}}`` first, then
``{"type": "event", "topic", "id", "data"}``. Trades are only sent to their owner.
Authentication: the same headers as REST (``Authorization: tma …`` / ``Bearer …`` /
``X-API-Key``), or, for browsers that cannot set WebSocket headers, an ``auth`` query parameter
holding the same value as the Authorization header. Anonymous callers may follow ``signals`` and
``smart_activity``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from fastapi import APIRouter, WebSocket, WebSocketDisconnect
from starlette.datastructures import Headers

from engine.bus.base import Message, NoGroup
from engine.deps import Deps
from engine.trade.bridge import TRADES_STREAM
from webapp.api.deps import too_many
from webapp.auth import ANONYMOUS, AuthError, Principal, RateLimiter, authenticate, credentials

logger = logging.getLogger(__name__)

TOPICS: Final = ("signals", "smart_activity", "trades")
STREAMS: Final = {"signals": "signals", "smart_activity": "smart_activity", "trades": TRADES_STREAM}
QUEUE_SIZE: Final = 256
MAX_DROPPED: Final = 2_000
"""A client that lost this many messages in a row is disconnected."""

router = APIRouter()


@dataclass(eq=False)
class Subscriber:
    """One connection's topics, owner and bounded outbox."""

    topics: frozenset[str]
    user_id: int | None
    queue: asyncio.Queue[tuple[str, str, dict[str, Any]]] = field(
        default_factory=lambda: asyncio.Queue(QUEUE_SIZE)
    )
    dropped: int = 0
    overflow: asyncio.Event = field(default_factory=asyncio.Event)


def _signal_data(body: dict[str, Any]) -> dict[str, Any]:
    # The scorer's payload carries every input; the stream sends what a card shows.
    rules = [
        {
            k: r.get(k)
            for k in ("name", "kind", "title", "role", "passed", "summary")
            if isinstance(r, dict)
        }
        for r in body.get("rules") or []
        if isinstance(r, dict)
    ]
    return {
        "id": body.get("id"),
        "ts": body.get("ts"),
        "mint": body.get("mint"),
        "strength": body.get("strength"),
        "components": body.get("components"),
        "rules": rules,
        "risk": body.get("risk"),
        "explanation": body.get("explanation"),
    }


def _ms_of(message_id: str) -> int:
    head = message_id.split("-", 1)[0]
    return int(head) if head.isdigit() else 0


class StreamHub:
    """The process's fan-out readers and the connections they feed."""

    def __init__(self, deps: Deps) -> None:
        self.deps = deps
        self.group = f"ws:{uuid.uuid4().hex[:12]}"
        self.subscribers: set[Subscriber] = set()
        self.delivered = 0
        self._tasks: list[asyncio.Task[None]] = []
        self._start_ms = 0
        self._starting = asyncio.Lock()

    @property
    def running(self) -> bool:
        """True once the readers run."""
        return bool(self._tasks)

    async def start(self) -> None:
        """Create this process's groups and start one reader per topic."""
        # Two connections arriving together must not both start readers.
        async with self._starting:
            if self._tasks:
                return
            self._start_ms = self.deps.clock.now_ms()
            for topic in TOPICS:
                await self.deps.bus.ensure_group(STREAMS[topic], self.group)
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._read(topic)) for topic in TOPICS]

    async def stop(self) -> None:
        """Stop the readers."""
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []

    def subscribe(self, topics: frozenset[str], user_id: int | None) -> Subscriber:
        """Register a connection."""
        sub = Subscriber(topics, user_id)
        self.subscribers.add(sub)
        return sub

    def unsubscribe(self, sub: Subscriber) -> None:
        """Forget a connection."""
        self.subscribers.discard(sub)

    def dispatch(self, topic: str, message_id: str, data: dict[str, Any]) -> None:
        """Queue a message for every interested connection, never waiting on one."""
        owner = data.get("user_id") if topic == "trades" else None
        for sub in list(self.subscribers):
            if topic not in sub.topics or (topic == "trades" and owner != sub.user_id):
                continue
            try:
                sub.queue.put_nowait((topic, message_id, data))
                self.delivered += 1
            except asyncio.QueueFull:
                sub.dropped += 1
                if sub.dropped >= MAX_DROPPED:
                    sub.overflow.set()

    async def _read(self, topic: str) -> None:
        bus, stream = self.deps.bus, STREAMS[topic]
        consumer = f"{self.group}:{topic}"
        while True:
            try:
                messages: list[Message] = await bus.consume(
                    stream, self.group, consumer, count=100, block_ms=1000
                )
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                logger.warning("stream reader %s: %s", topic, exc)
                await asyncio.sleep(1.0)
                if isinstance(exc, NoGroup):  # Redis came back without its data
                    with contextlib.suppress(Exception):
                        await bus.ensure_group(stream, self.group)
                continue
            for m in messages:
                if _ms_of(m.id) < self._start_ms:
                    continue  # published before this process listened: history, not news
                try:
                    body = orjson.loads(m.payload)
                except orjson.JSONDecodeError:
                    logger.warning("stream %s: message %s is not JSON", topic, m.id)
                    continue
                if not isinstance(body, dict):
                    continue
                self.dispatch(topic, m.id, _signal_data(body) if topic == "signals" else body)
            if messages:
                await bus.ack(self.group, messages)


async def _principal(ws: WebSocket, deps: Deps) -> Principal:
    headers: Any = ws.headers
    auth = ws.query_params.get("auth")
    if auth and "authorization" not in headers:
        headers = Headers({**dict(ws.headers), "authorization": auth})
    found = credentials(headers)
    return ANONYMOUS if found is None else await authenticate(deps, *found)


async def _refuse(ws: WebSocket, code: str, message: str, close_code: int = 1008) -> None:
    await ws.accept()
    await ws.send_json({"type": "error", "error": {"code": code, "message": message}})
    await ws.close(code=close_code)


@router.websocket("/stream")
async def stream(ws: WebSocket) -> None:
    """Push signals, smart-money fills and the caller's trades as they happen."""
    deps: Deps = ws.app.state.deps
    ip = ws.client.host if ws.client else "unknown"
    ip_limiter: RateLimiter = ws.app.state.ip_limiter
    wait = ip_limiter.take(f"ip:{ip}")
    if wait is not None:
        err = too_many(wait)
        await _refuse(ws, err.code, str(err.detail), 1013)
        return
    names = [t.strip() for t in ws.query_params.get("topics", "signals").split(",") if t.strip()]
    unknown = [t for t in names if t not in TOPICS]
    if unknown or not names:
        await _refuse(ws, "bad_topics", f"topics must be among {', '.join(TOPICS)}")
        return
    try:
        principal = await _principal(ws, deps)
    except AuthError as exc:
        await _refuse(ws, exc.code, exc.message)
        return
    if "trades" in names and principal.user is None:
        await _refuse(ws, "auth_required", "the trades topic needs a signed-in user")
        return
    hub: StreamHub = ws.app.state.hub
    await hub.start()
    sub = hub.subscribe(frozenset(names), principal.user.id if principal.user else None)
    await ws.accept()
    try:
        await ws.send_json({"type": "hello", "data": {"topics": names}})
        await _pump(ws, sub)
    except WebSocketDisconnect:
        pass
    finally:
        hub.unsubscribe(sub)


async def _pump(ws: WebSocket, sub: Subscriber) -> None:
    async def send() -> None:
        while True:
            topic, message_id, data = await sub.queue.get()
            if sub.dropped:
                lost, sub.dropped = sub.dropped, 0
                await ws.send_json({"type": "dropped", "data": {"count": lost}})
            await ws.send_json({"type": "event", "topic": topic, "id": message_id, "data": data})

    async def receive() -> None:
        # Clients send nothing we need; reading notices the disconnect.
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return

    tasks = [
        asyncio.create_task(send()),
        asyncio.create_task(receive()),
        asyncio.create_task(sub.overflow.wait()),
    ]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, WebSocketDisconnect, RuntimeError):
                await task
    if tasks[2] in done:
        with contextlib.suppress(RuntimeError):
            await ws.close(code=1013, reason="too slow: messages dropped")
    for task in done:
        if task is not tasks[2] and not task.cancelled() and task.exception() is not None:
            exc = task.exception()
            if not isinstance(exc, WebSocketDisconnect):
                raise exc  # type: ignore[misc]
