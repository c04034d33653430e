"""Solana PubSub over WebSocket: ``logsSubscribe`` (one ``mentions`` filter per program) and
``slotSubscribe``, with notifications yielded as small typed objects.

Design: no background reader task. Subscribing sends the request and reads frames until its
response arrives, buffering any notification that arrives in between; iterating reads frames
straight from the socket. That keeps the hot path (tens of thousands of frames a second) free of
queue hand-offs, and makes every failure surface where the caller is waiting:

* the connection closes or drops, or keepalive pings go unanswered → :class:`WsDisconnected`;
* no frame at all for ``idle_timeout_s`` (a provider that stalls without closing) →
  :class:`WsStalled`;
* a frame that is not valid JSON-RPC, or a notification missing a field, is counted in
  ``malformed_frames`` and skipped: one bad frame must not take the feed down.

Subscriptions do not survive a reconnect; the supervisor builds a new client and subscribes again
(and backfills the gap over HTTP).
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import time
from collections import deque
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any, Final

import orjson
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidHandshake, InvalidURI

from engine.chain.rpc import Commitment

logger = logging.getLogger(__name__)

_MAX_FRAME_BYTES: Final = 16 * 1024 * 1024


class WsError(Exception):
    """Base of every WebSocket feed failure: the supervisor reconnects on any of them."""


class WsConnectError(WsError):
    """The connection could not be opened (refused, handshake failed, timed out)."""


class WsDisconnected(WsError):
    """The connection closed or dropped; ``code`` and ``reason`` come from the close frame."""

    def __init__(self, message: str, *, code: int | None = None, reason: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.reason = reason


class WsStalled(WsError):
    """No frame arrived for ``idle_timeout_s`` although the connection is still open."""


class WsSubscribeError(WsError):
    """The server answered a request with a JSON-RPC error."""

    def __init__(self, method: str, code: int, message: str) -> None:
        super().__init__(f"{method}: JSON-RPC error {code}: {message}")
        self.code = code


@dataclass(frozen=True, slots=True)
class LogsNotification:
    """A transaction's log lines from ``logsSubscribe``; ``received_ns`` is monotonic."""

    subscription: int
    slot: int
    signature: str
    err: Any
    logs: list[str]
    received_ns: int


@dataclass(frozen=True, slots=True)
class SlotNotification:
    """A new slot from ``slotSubscribe``."""

    subscription: int
    slot: int
    parent: int
    root: int
    received_ns: int


Notification = LogsNotification | SlotNotification


class _Malformed(Exception):
    pass


def _parse_logs(params: Any, received_ns: int) -> LogsNotification:
    result = params["result"]
    value = result["value"]
    slot = result["context"]["slot"]
    sub = params["subscription"]
    signature = value["signature"]
    logs = value["logs"]
    if (
        type(slot) is not int
        or type(sub) is not int
        or not isinstance(signature, str)
        or not isinstance(logs, list)
    ):
        raise _Malformed("logsNotification field of the wrong type")
    return LogsNotification(sub, slot, signature, value.get("err"), logs, received_ns)


def _parse_slot(params: Any, received_ns: int) -> SlotNotification:
    result = params["result"]
    sub = params["subscription"]
    slot, parent, root = result["slot"], result["parent"], result["root"]
    if not all(type(x) is int for x in (sub, slot, parent, root)):
        raise _Malformed("slotNotification field of the wrong type")
    return SlotNotification(sub, slot, parent, root, received_ns)


class WsClient:
    """One WebSocket connection to a Solana PubSub endpoint."""

    def __init__(
        self,
        url: str,
        *,
        name: str = "ws",
        open_timeout_s: float = 10.0,
        request_timeout_s: float = 10.0,
        ping_interval_s: float | None = 20.0,
        ping_timeout_s: float | None = 20.0,
        idle_timeout_s: float | None = 30.0,
        compression: bool = False,
    ) -> None:
        self.url = url
        self.name = name
        self.open_timeout_s = open_timeout_s
        self.request_timeout_s = request_timeout_s
        self.ping_interval_s = ping_interval_s
        self.ping_timeout_s = ping_timeout_s
        self.idle_timeout_s = idle_timeout_s
        self.compression = compression
        self._conn: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._buffer: deque[Notification] = deque()
        self.subscriptions: dict[int, str] = {}
        """Active subscription id → the unsubscribe method for it."""
        self.malformed_frames = 0
        self.frames = 0

    async def __aenter__(self) -> WsClient:
        await self.connect()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    async def connect(self) -> None:
        """Open the connection (keepalive pings are handled by the websockets library)."""
        try:
            self._conn = await connect(
                self.url,
                open_timeout=self.open_timeout_s,
                ping_interval=self.ping_interval_s,
                ping_timeout=self.ping_timeout_s,
                max_size=_MAX_FRAME_BYTES,
                compression="deflate" if self.compression else None,
            )
        except (OSError, TimeoutError, InvalidHandshake, InvalidURI) as exc:
            raise WsConnectError(f"{self.name}: cannot connect to {self.url}: {exc}") from exc
        logger.info("%s connected to %s", self.name, self.url)

    async def close(self) -> None:
        """Close the connection politely; safe to call twice or after a drop."""
        conn, self._conn = self._conn, None
        self.subscriptions.clear()
        if conn is not None:
            await conn.close()

    @property
    def connected(self) -> bool:
        """True while the connection is open."""
        return self._conn is not None

    def _require(self) -> ClientConnection:
        if self._conn is None:
            raise WsDisconnected(f"{self.name}: not connected")
        return self._conn

    async def _recv_frame(self, timeout_s: float | None) -> str | bytes:
        conn = self._require()
        try:
            async with asyncio.timeout(timeout_s):
                frame = await conn.recv()
        except TimeoutError as exc:
            raise WsStalled(f"{self.name}: no frame for {timeout_s}s") from exc
        except ConnectionClosed as exc:
            self._conn = None
            self.subscriptions.clear()
            rcvd = exc.rcvd
            code = rcvd.code if rcvd is not None else None
            reason = rcvd.reason if rcvd is not None else ""
            raise WsDisconnected(
                f"{self.name}: connection closed ({exc})", code=code, reason=reason
            ) from exc
        self.frames += 1
        return frame

    def _classify(self, frame: str | bytes) -> tuple[Notification | None, dict[str, Any] | None]:
        """Return (notification, None) or (None, response); malformed frames raise _Malformed."""
        try:
            msg = orjson.loads(frame)
        except orjson.JSONDecodeError as exc:
            raise _Malformed(f"not JSON: {exc}") from exc
        if not isinstance(msg, dict):
            raise _Malformed(f"not a JSON object: {type(msg).__name__}")
        method = msg.get("method")
        now = time.monotonic_ns()
        try:
            if method == "logsNotification":
                return _parse_logs(msg["params"], now), None
            if method == "slotNotification":
                return _parse_slot(msg["params"], now), None
        except (KeyError, TypeError) as exc:
            raise _Malformed(f"{method} without field {exc}") from exc
        if method is None and "id" in msg:
            return None, msg
        raise _Malformed(f"unexpected message (method={method!r})")

    def _count_malformed(self, frame: str | bytes, why: object) -> None:
        self.malformed_frames += 1
        # Log the first few and then every thousandth: a broken feed must not flood the logs.
        if self.malformed_frames <= 5 or self.malformed_frames % 1000 == 0:
            logger.warning(
                "%s skipped malformed frame #%d (%s): %.80r",
                self.name,
                self.malformed_frames,
                why,
                frame,
            )

    async def _request(self, method: str, params: list[Any]) -> Any:
        conn = self._require()
        request_id = next(self._ids)
        request = orjson.dumps(
            {"jsonrpc": "2.0", "id": request_id, "method": method, "params": params}
        )
        try:
            await conn.send(request, text=True)
        except ConnectionClosed as exc:
            self._conn = None
            raise WsDisconnected(f"{self.name}: connection closed during {method}") from exc
        deadline = asyncio.get_running_loop().time() + self.request_timeout_s
        while True:
            remaining = deadline - asyncio.get_running_loop().time()
            if remaining <= 0:
                raise WsStalled(f"{self.name}: no answer to {method} in {self.request_timeout_s}s")
            frame = await self._recv_frame(remaining)
            try:
                note, response = self._classify(frame)
            except _Malformed as why:
                self._count_malformed(frame, why)
                continue
            if note is not None:
                self._buffer.append(note)
                continue
            assert response is not None
            if response.get("id") != request_id:
                logger.debug("%s ignoring answer to request %r", self.name, response.get("id"))
                continue
            error = response.get("error")
            if error is not None:
                code = error.get("code", 0) if isinstance(error, dict) else 0
                message = error.get("message", "") if isinstance(error, dict) else str(error)
                raise WsSubscribeError(method, int(code), str(message))
            return response.get("result")

    async def logs_subscribe(self, mentions: str, *, commitment: Commitment = "confirmed") -> int:
        """Subscribe to the logs of transactions mentioning one address; returns the id."""
        result = await self._request(
            "logsSubscribe", [{"mentions": [mentions]}, {"commitment": commitment}]
        )
        if type(result) is not int:
            raise WsSubscribeError("logsSubscribe", 0, f"subscription id is not an int: {result!r}")
        self.subscriptions[result] = "logsUnsubscribe"
        return result

    async def slot_subscribe(self) -> int:
        """Subscribe to slot updates (also a liveness signal: one every ~400 ms)."""
        result = await self._request("slotSubscribe", [])
        if type(result) is not int:
            raise WsSubscribeError("slotSubscribe", 0, f"subscription id is not an int: {result!r}")
        self.subscriptions[result] = "slotUnsubscribe"
        return result

    async def unsubscribe(self, subscription: int) -> bool:
        """Cancel a subscription made on this connection."""
        method = self.subscriptions.pop(subscription, None)
        if method is None:
            raise KeyError(f"no subscription {subscription} on this connection")
        return bool(await self._request(method, [subscription]))

    async def recv(self) -> Notification:
        """The next notification; raises a :class:`WsError` when the feed breaks."""
        if self._buffer:
            return self._buffer.popleft()
        while True:
            frame = await self._recv_frame(self.idle_timeout_s)
            try:
                note, response = self._classify(frame)
            except _Malformed as why:
                self._count_malformed(frame, why)
                continue
            if note is not None:
                return note
            logger.debug("%s ignoring unsolicited answer %.80r", self.name, response)

    async def notifications(self) -> AsyncIterator[Notification]:
        """Yield notifications until the connection fails (then raise a :class:`WsError`)."""
        while True:
            yield await self.recv()
