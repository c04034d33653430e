"""The model behind the agent: the real ``anthropic`` SDK, prompt caching, usage, failures.

The SDK retries 408/409/429/5xx (529 overloaded included) and connection errors itself, honouring
``retry-after``; this module bounds the whole call with a deadline on top (the SDK follows any
``retry-after`` however long) and turns every failure into :class:`ModelUnavailable`, which the
service answers with the template narrator.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import urlsplit, urlunsplit

import anthropic

from engine.settings import Settings

logger = logging.getLogger(__name__)

CACHE: Final = {"type": "ephemeral"}


class ModelUnavailable(Exception):
    """The model could not answer (timeout, overload, rate limit, bad gateway, no credit…)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class TokenUsage:
    """Token counts of one or more API calls, as the Messages API reports them."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    requests: int = 0

    @property
    def budget_tokens(self) -> int:
        """What counts against a daily budget: cache reads cost a tenth of an input token."""
        return (
            self.input_tokens
            + self.output_tokens
            + self.cache_creation_input_tokens
            + (self.cache_read_input_tokens + 9) // 10
        )

    def __add__(self, other: TokenUsage) -> TokenUsage:
        return TokenUsage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_creation_input_tokens + other.cache_creation_input_tokens,
            self.cache_read_input_tokens + other.cache_read_input_tokens,
            self.requests + other.requests,
        )

    def to_dict(self) -> dict[str, int]:
        """JSON-ready counts."""
        return {
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "cache_creation_input_tokens": self.cache_creation_input_tokens,
            "cache_read_input_tokens": self.cache_read_input_tokens,
            "requests": self.requests,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TokenUsage:
        """Counts back from :meth:`to_dict` (missing keys count zero)."""
        return cls(**{k: int(data.get(k) or 0) for k in cls.__dataclass_fields__})


@dataclass(frozen=True, slots=True)
class ToolCall:
    """One ``tool_use`` block of a model turn."""

    id: str
    name: str
    input: dict[str, Any]


@dataclass(frozen=True, slots=True)
class ModelTurn:
    """One assistant message: its content (as request params), text, tool calls, usage."""

    content: list[dict[str, Any]]
    text: str
    tool_calls: list[ToolCall]
    stop_reason: str | None
    usage: TokenUsage
    request_id: str | None = None


def user_ref(user_id: int | None) -> str:
    """An opaque id for the API's abuse detection (never the Telegram/Discord id itself)."""
    return hashlib.sha256(f"solai-user:{user_id}".encode()).hexdigest()[:32]


def _safe_url(url: str | None) -> str | None:
    """A gateway URL fit for logs: no user, password, query or fragment (they may hold keys)."""
    if not url:
        return None
    parts = urlsplit(url)
    host = parts.hostname or ""
    if parts.port:
        host = f"{host}:{parts.port}"
    return urlunsplit((parts.scheme, host, parts.path, "", ""))


def _reason(exc: BaseException) -> str:
    if isinstance(exc, anthropic.APITimeoutError | TimeoutError):
        return "timeout"
    if isinstance(exc, anthropic.APIConnectionError):
        return "connection"
    if isinstance(exc, anthropic.APIStatusError):
        if exc.status_code == 529:
            return "overloaded"
        if exc.status_code == 429:
            return "rate_limited"
        return f"http_{exc.status_code}"
    return type(exc).__name__


class Provider:
    """Messages API calls through one ``AsyncAnthropic`` client, bounded by a deadline."""

    def __init__(self, client: anthropic.AsyncAnthropic, *, model: str, deadline_s: float) -> None:
        self.client = client
        self.model = model
        self.deadline_s = deadline_s

    @classmethod
    def from_settings(cls, settings: Settings, *, max_retries: int = 2) -> Provider | None:
        """The provider the settings describe; None without an API key (template mode)."""
        if settings.anthropic_api_key is None:
            return None
        key = settings.anthropic_api_key.get_secret_value()
        if not key.strip():
            return None
        timeout = settings.anthropic_timeout_s
        client = anthropic.AsyncAnthropic(
            api_key=key,
            base_url=settings.anthropic_base_url,
            timeout=timeout,
            max_retries=max_retries,
        )
        # Each attempt is bounded by ``timeout``; leave room for the SDK's backoff between them
        # (and a second of slack, so the SDK's own timeout is what normally fires).
        deadline = timeout * (max_retries + 1) + 2.0 * max_retries + 1.0
        logger.info(
            "agent model %s via %s (timeout %.1fs, %d retries)",
            settings.anthropic_model,
            _safe_url(settings.anthropic_base_url) or "the Anthropic API",
            timeout,
            max_retries,
        )
        return cls(client, model=settings.anthropic_model, deadline_s=deadline)

    async def aclose(self) -> None:
        """Close the HTTP client."""
        await self.client.close()

    async def complete(
        self,
        *,
        system: str,
        messages: Sequence[dict[str, Any]],
        max_tokens: int,
        tools: Sequence[dict[str, Any]] = (),
        tool_choice: dict[str, Any] | None = None,
        user: str | None = None,
    ) -> ModelTurn:
        """One Messages API call; raises :class:`ModelUnavailable` on any failure."""
        kwargs: dict[str, Any] = {
            "model": self.model,
            "max_tokens": max_tokens,
            # The system prompt never varies: a cache breakpoint on it (and on the last tool,
            # tools come first in the cached prefix) makes repeat calls read it from cache.
            "system": [{"type": "text", "text": system, "cache_control": CACHE}],
            "messages": list(messages),
        }
        if tools:
            cached = [dict(t) for t in tools]
            cached[-1] = {**cached[-1], "cache_control": CACHE}
            kwargs["tools"] = cached
        if tool_choice is not None:
            kwargs["tool_choice"] = tool_choice
        if user is not None:
            kwargs["metadata"] = {"user_id": user}
        try:
            async with asyncio.timeout(self.deadline_s):
                message = await self.client.messages.create(**kwargs)
        except (anthropic.APIError, TimeoutError) as exc:
            reason = _reason(exc)
            status = getattr(exc, "status_code", None)
            logger.warning("model call failed: %s (status %s)", reason, status)
            raise ModelUnavailable(reason) from exc
        return _turn(message)


def _turn(message: anthropic.types.Message) -> ModelTurn:
    content: list[dict[str, Any]] = []
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in message.content:
        if block.type == "text":
            content.append({"type": "text", "text": block.text})
            texts.append(block.text)
        elif block.type == "tool_use":
            tool_input = block.input if isinstance(block.input, dict) else {}
            content.append(
                {"type": "tool_use", "id": block.id, "name": block.name, "input": tool_input}
            )
            calls.append(ToolCall(block.id, block.name, dict(tool_input)))
        # Other block kinds (thinking, server tools) are not requested; they are dropped.
    u = message.usage
    usage = TokenUsage(
        input_tokens=u.input_tokens,
        output_tokens=u.output_tokens,
        cache_creation_input_tokens=u.cache_creation_input_tokens or 0,
        cache_read_input_tokens=u.cache_read_input_tokens or 0,
        requests=1,
    )
    return ModelTurn(
        content=content,
        text="".join(texts).strip(),
        tool_calls=calls,
        stop_reason=message.stop_reason,
        usage=usage,
        request_id=getattr(message, "_request_id", None),
    )
