"""A local server speaking the Anthropic Messages API, scripted per test or demo.

``POST /v1/messages`` takes the real request JSON and answers with the real shapes: a
``message`` with ``text`` and ``tool_use`` content blocks, ``stop_reason`` and ``usage``
(including the prompt-cache fields), or an error ``{"type": "error", "error": {...},
"request_id": ...}`` with its status (400 ``invalid_request_error``, 401
``authentication_error``, 429 ``rate_limit_error`` with ``retry-after``, 529
``overloaded_error``, …) and a ``request-id`` header. Answers come from a queue of scripted
steps; every request is recorded (API key redacted). The real ``anthropic`` client talks to it
through ``base_url``.

Like the real API it rejects a ``tool_result`` that answers no ``tool_use`` of the previous
assistant turn, a ``tool_use`` left unanswered, and more than four ``cache_control``
breakpoints. Usage is estimated at four characters a token; a prompt prefix ending at a
``cache_control`` breakpoint is "written" to the cache the first time and "read" after (the
real API's minimum cacheable length is not modelled).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import itertools
import json
import logging
import math
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from engine.net.loopback import LoopbackServer

logger = logging.getLogger(__name__)

_ids = itertools.count(1)


def _id(prefix: str) -> str:
    return f"{prefix}_local{next(_ids):016d}"


@dataclass
class Reply:
    """A scripted assistant message."""

    content: list[dict[str, Any]]
    stop_reason: str = "end_turn"
    usage: dict[str, int] | None = None
    """Exact usage to report; estimated from the request when None."""
    delay_s: float = 0.0
    """Wait this long before answering (a client timeout shorter than this fires)."""


@dataclass
class Fail:
    """A scripted error response."""

    status: int
    error_type: str
    message: str
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0


Step = Reply | Fail | Callable[[dict[str, Any]], "Reply | Fail"]


def text(body: str, *, stop_reason: str = "end_turn", **kw: Any) -> Reply:
    """An assistant message with one text block."""
    return Reply([{"type": "text", "text": body}], stop_reason=stop_reason, **kw)


def tool_use(*calls: tuple[str, dict[str, Any]], preamble: str | None = None, **kw: Any) -> Reply:
    """An assistant message calling tools (``stop_reason: tool_use``), ids generated."""
    content: list[dict[str, Any]] = []
    if preamble:
        content.append({"type": "text", "text": preamble})
    for name, tool_input in calls:
        content.append({"type": "tool_use", "id": _id("toolu"), "name": name, "input": tool_input})
    return Reply(content, stop_reason="tool_use", **kw)


def overloaded(*, retry_after_ms: int | None = None) -> Fail:
    """529 ``overloaded_error`` (the SDK retries it)."""
    headers = {"retry-after-ms": str(retry_after_ms)} if retry_after_ms is not None else {}
    return Fail(529, "overloaded_error", "Overloaded", headers)


def rate_limited(*, retry_after_s: float = 1, retry_after_ms: int | None = None) -> Fail:
    """429 ``rate_limit_error`` with ``retry-after`` (and optionally ``retry-after-ms``)."""
    headers = {"retry-after": str(math.ceil(retry_after_s))}
    if retry_after_ms is not None:
        headers["retry-after-ms"] = str(retry_after_ms)
    return Fail(429, "rate_limit_error", "Number of request tokens has exceeded your rate limit.",
                headers)  # fmt: skip


def delayed(seconds: float, then: Reply | None = None) -> Reply:
    """A reply that arrives only after ``seconds`` (for client timeouts)."""
    reply = then or text("late")
    reply.delay_s = seconds
    return reply


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server saw it (API key redacted)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any

    @property
    def json(self) -> dict[str, Any]:
        """The body as a dict (empty when it was not a JSON object)."""
        return self.body if isinstance(self.body, dict) else {}

    def texts(self) -> list[str]:
        """Every text of the request's messages (strings and text blocks), in order."""
        out: list[str] = []
        for m in self.json.get("messages") or []:
            content = m.get("content")
            if isinstance(content, str):
                out.append(content)
            elif isinstance(content, list):
                for block in content:
                    if block.get("type") == "text":
                        out.append(str(block.get("text")))
                    elif block.get("type") == "tool_result":
                        c = block.get("content")
                        out.append(c if isinstance(c, str) else json.dumps(c))
        return out


class _ApiError(Exception):
    def __init__(self, status: int, error_type: str, message: str) -> None:
        super().__init__(message)
        self.status, self.error_type, self.message = status, error_type, message


def _tokens(obj: Any) -> int:
    return max(1, math.ceil(len(json.dumps(obj, ensure_ascii=False)) / 4))


def _validate(body: Any) -> None:
    if not isinstance(body, dict):
        raise _ApiError(400, "invalid_request_error", "body: must be a JSON object")
    if not isinstance(body.get("model"), str) or not body["model"]:
        raise _ApiError(400, "invalid_request_error", "model: Field required")
    mt = body.get("max_tokens")
    if not isinstance(mt, int) or isinstance(mt, bool) or mt < 1:
        raise _ApiError(400, "invalid_request_error", "max_tokens: must be a positive integer")
    if body.get("stream"):
        raise _ApiError(400, "invalid_request_error", "stream: not supported by the local server")
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        raise _ApiError(400, "invalid_request_error", "messages: at least one message is required")
    pending: set[str] = set()
    for i, m in enumerate(messages):
        role = m.get("role") if isinstance(m, dict) else None
        if role not in ("user", "assistant"):
            raise _ApiError(400, "invalid_request_error", f"messages.{i}.role: invalid role")
        if i == 0 and role != "user":
            raise _ApiError(400, "invalid_request_error", "messages: first message must be user")
        content = m.get("content")
        blocks = content if isinstance(content, list) else []
        if role == "user":
            answered = {b.get("tool_use_id") for b in blocks if b.get("type") == "tool_result"}
            stray = answered - pending
            if stray:
                raise _ApiError(
                    400,
                    "invalid_request_error",
                    f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` "
                    f"blocks: {sorted(stray)[0]}. Each `tool_result` block must have a "
                    "corresponding `tool_use` block in the previous message.",
                )
            if pending - answered:
                raise _ApiError(
                    400,
                    "invalid_request_error",
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {sorted(pending - answered)[0]}",
                )
            pending = set()
        else:
            if pending:
                raise _ApiError(
                    400, "invalid_request_error", f"messages.{i}: tool_use left unanswered"
                )
            pending = {b.get("id") for b in blocks if b.get("type") == "tool_use"}
    if pending:
        raise _ApiError(400, "invalid_request_error", "messages: last tool_use left unanswered")
    breakpoints = 0
    for part in (body.get("tools") or [], body.get("system"), messages):
        breakpoints += json.dumps(part).count('"cache_control"')
    if breakpoints > 4:
        raise _ApiError(
            400,
            "invalid_request_error",
            f"A maximum of 4 blocks with cache_control may be provided. Found {breakpoints}.",
        )
    for t in body.get("tools") or []:
        if not isinstance(t, dict) or not t.get("name") or "input_schema" not in t:
            raise _ApiError(400, "invalid_request_error", "tools: each tool needs name and schema")


class LocalMessagesAPI:
    """The scripted server; ``async with LocalMessagesAPI() as api: api.base_url``."""

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0, api_key: str | None = None):
        self.host = host
        self.port = port
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self._script: deque[Step] = deque()
        self._cache: set[str] = set()
        self._closing = asyncio.Event()
        self.app = self._build_app()
        self._http = LoopbackServer(self.app, host=host, port=port, name="local Messages API")

    @property
    def base_url(self) -> str:
        """What to give ``AsyncAnthropic(base_url=...)`` / ``SOLAI_ANTHROPIC_BASE_URL``."""
        return f"http://{self.host}:{self.port}"

    def push(self, *steps: Step) -> None:
        """Queue answers, consumed one per request in order."""
        self._script.extend(steps)

    @property
    def pending(self) -> int:
        """Scripted answers not used yet."""
        return len(self._script)

    async def __aenter__(self) -> LocalMessagesAPI:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        """Bind (an ephemeral port by default) and serve in the running event loop."""
        self.port = await self._http.start()
        logger.info("local Messages API on %s", self.base_url)

    async def stop(self) -> None:
        """Wake delayed answers and shut down."""
        self._closing.set()
        await self._http.stop()

    # -- the app --------------------------------------------------------------------------------

    def _build_app(self) -> FastAPI:
        app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

        @app.post("/v1/messages")
        async def messages(request: Request) -> JSONResponse:
            """``POST /v1/messages``: validate, record, answer from the script."""
            raw = await request.body()
            try:
                body: Any = json.loads(raw) if raw else None
            except json.JSONDecodeError:
                body = raw.decode("utf-8", "replace")
            headers = {k.lower(): v for k, v in request.headers.items()}
            key = headers.get("x-api-key") or headers.get("authorization", "").removeprefix(
                "Bearer "
            )
            for secret in ("x-api-key", "authorization"):
                if secret in headers:
                    headers[secret] = "<redacted>"
            self.requests.append(RecordedRequest("POST", "/v1/messages", headers, body))
            try:
                if not key:
                    raise _ApiError(401, "authentication_error", "x-api-key header is required")
                if self.api_key is not None and key != self.api_key:
                    raise _ApiError(401, "authentication_error", "invalid x-api-key")
                if "anthropic-version" not in headers:
                    raise _ApiError(
                        400, "invalid_request_error", "anthropic-version: header is required"
                    )
                _validate(body)
            except _ApiError as exc:
                return self._error(exc.status, exc.error_type, exc.message)
            return await self._answer(body)

        @app.api_route("/{path:path}", methods=["GET", "POST", "PUT", "DELETE", "PATCH"])
        async def other(path: str) -> JSONResponse:
            """Anything else: 404 ``not_found_error``."""
            return self._error(404, "not_found_error", f"Not found: /{path}")

        return app

    def _error(
        self, status: int, error_type: str, message: str, headers: dict[str, str] | None = None
    ) -> JSONResponse:
        rid = _id("req")
        return JSONResponse(
            {"type": "error", "error": {"type": error_type, "message": message}, "request_id": rid},
            status_code=status,
            headers={"request-id": rid, **(headers or {})},
        )

    async def _wait(self, seconds: float) -> None:
        if seconds > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._closing.wait(), timeout=seconds)

    async def _answer(self, body: dict[str, Any]) -> JSONResponse:
        if not self._script:
            # Loud, and not retried: a test asked for more than it scripted.
            return self._error(
                500,
                "api_error",
                "local Messages API: no scripted response left",
                {"x-should-retry": "false"},
            )
        step = self._script.popleft()
        if not isinstance(step, Reply | Fail):
            step = step(body)
        await self._wait(step.delay_s)
        if isinstance(step, Fail):
            return self._error(step.status, step.error_type, step.message, step.headers)
        rid = _id("req")
        message = {
            "id": _id("msg"),
            "type": "message",
            "role": "assistant",
            "model": body["model"],
            "content": step.content,
            "stop_reason": step.stop_reason,
            "stop_sequence": None,
            "usage": step.usage or self._usage(body, step.content),
        }
        return JSONResponse(message, headers={"request-id": rid})

    def _usage(self, body: dict[str, Any], content: list[dict[str, Any]]) -> dict[str, int]:
        # The cached prefix is tools, then system, then messages, up to the last breakpoint.
        parts: list[Any] = [*(body.get("tools") or [])]
        system = body.get("system")
        if isinstance(system, list):
            parts.extend(system)
        elif system:
            parts.append({"type": "text", "text": system})
        for m in body["messages"]:
            if isinstance(m.get("content"), list):
                parts.extend(m["content"])
            else:
                parts.append(m)
        last = max((i for i, p in enumerate(parts) if "cache_control" in p), default=-1)
        total = _tokens(parts)
        prefix = parts[: last + 1]
        cached = _tokens(prefix) if prefix else 0
        write = read = 0
        if prefix:
            digest = hashlib.sha256(json.dumps(prefix, sort_keys=True).encode()).hexdigest()
            if digest in self._cache:
                read = cached
            else:
                write = cached
                self._cache.add(digest)
        return {
            "input_tokens": max(1, total - cached),
            "output_tokens": _tokens(content),
            "cache_creation_input_tokens": write,
            "cache_read_input_tokens": read,
        }
