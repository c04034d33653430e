"""The local Messages API speaks the real shapes: the real SDK parses them into its own types."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic
import httpx
import pytest

from agent.local_messages_api import (
    LocalMessagesAPI,
    overloaded,
    rate_limited,
    text,
    tool_use,
)
from tests.agent.conftest import API_KEY, TEST_MODEL

USER: Any = [{"role": "user", "content": "hi"}]


@pytest.fixture
async def client(api: LocalMessagesAPI) -> AsyncIterator[anthropic.AsyncAnthropic]:
    c = anthropic.AsyncAnthropic(api_key=API_KEY, base_url=api.base_url, max_retries=0)
    yield c
    await c.close()


async def test_text_and_tool_use_messages_parse_into_sdk_types(
    api: LocalMessagesAPI, client: anthropic.AsyncAnthropic
) -> None:
    api.push(tool_use(("get_token", {"mint": "x"}), preamble="Checking."), text("Done."))
    first = await client.messages.create(model=TEST_MODEL, max_tokens=50, messages=USER)
    assert first.stop_reason == "tool_use" and first.role == "assistant"
    assert first.model == TEST_MODEL and first.id.startswith("msg_")
    assert first.content[0].type == "text"
    block = first.content[1]
    assert isinstance(block, anthropic.types.ToolUseBlock)
    assert block.name == "get_token" and block.input == {"mint": "x"}
    assert block.id.startswith("toolu_")
    history: Any = [
        *USER,
        {"role": "assistant", "content": [b.model_dump() for b in first.content]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": block.id,
                                      "content": "{}"}]},
    ]  # fmt: skip
    second = await client.messages.create(model=TEST_MODEL, max_tokens=50, messages=history)
    assert second.stop_reason == "end_turn" and second.content[0].type == "text"
    assert second.usage.output_tokens > 0
    assert second._request_id is not None and second._request_id.startswith("req_")


async def test_prompt_cache_prefix_is_written_then_read(
    api: LocalMessagesAPI, client: anthropic.AsyncAnthropic
) -> None:
    api.push(text("a"), text("b"), text("c"))
    system: Any = [
        {"type": "text", "text": "stable " * 400, "cache_control": {"type": "ephemeral"}}
    ]
    one = await client.messages.create(
        model=TEST_MODEL,
        max_tokens=5,
        system=system,
        messages=USER,
    )
    two = await client.messages.create(
        model=TEST_MODEL,
        max_tokens=5,
        system=system,
        messages=USER,
    )
    plain = await client.messages.create(model=TEST_MODEL, max_tokens=5, messages=USER)
    assert one.usage.cache_creation_input_tokens == two.usage.cache_read_input_tokens
    assert (two.usage.cache_read_input_tokens or 0) > 500
    assert one.usage.cache_read_input_tokens == 0 == two.usage.cache_creation_input_tokens
    assert plain.usage.cache_creation_input_tokens == 0 == plain.usage.cache_read_input_tokens


async def test_error_shapes_become_the_sdk_exceptions(
    api: LocalMessagesAPI, client: anthropic.AsyncAnthropic
) -> None:
    api.push(overloaded(), rate_limited(retry_after_s=7))
    with pytest.raises(anthropic.OverloadedError) as over:
        await client.messages.create(model=TEST_MODEL, max_tokens=5, messages=USER)
    assert over.value.status_code == 529
    assert over.value.body == {
        "type": "error",
        "error": {"type": "overloaded_error", "message": "Overloaded"},
        "request_id": over.value.request_id,
    }
    with pytest.raises(anthropic.RateLimitError) as limited:
        await client.messages.create(model=TEST_MODEL, max_tokens=5, messages=USER)
    assert limited.value.response.headers["retry-after"] == "7"


async def test_retry_after_is_honoured_by_the_sdk(api: LocalMessagesAPI) -> None:
    api.push(rate_limited(retry_after_ms=20), overloaded(retry_after_ms=20), text("ok"))
    async with anthropic.AsyncAnthropic(api_key=API_KEY, base_url=api.base_url, max_retries=2) as c:
        msg = await c.messages.create(model=TEST_MODEL, max_tokens=5, messages=USER)
    assert msg.content[0].type == "text" and msg.content[0].text == "ok"
    assert [r.headers["x-stainless-retry-count"] for r in api.requests] == ["0", "1", "2"]


async def test_bad_requests_are_refused_like_the_real_api(
    api: LocalMessagesAPI, client: anthropic.AsyncAnthropic
) -> None:
    with pytest.raises(anthropic.BadRequestError, match="without `tool_result`"):
        await client.messages.create(
            model=TEST_MODEL,
            max_tokens=5,
            messages=[
                *USER,
                {"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_1",
                                                   "name": "t", "input": {}}]},
                {"role": "user", "content": "no result"},
            ],
        )  # fmt: skip
    with pytest.raises(anthropic.BadRequestError, match="unexpected `tool_use_id`"):
        await client.messages.create(
            model=TEST_MODEL,
            max_tokens=5,
            messages=[{"role": "user", "content": [{"type": "tool_result",
                                                    "tool_use_id": "toolu_9", "content": "x"}]}],
        )  # fmt: skip
    many: Any = [{"type": "text", "text": str(i), "cache_control": {"type": "ephemeral"}}
            for i in range(5)]  # fmt: skip
    with pytest.raises(anthropic.BadRequestError, match="maximum of 4 blocks"):
        await client.messages.create(
            model=TEST_MODEL,
            max_tokens=5,
            system=many,
            messages=USER,
        )
    async with anthropic.AsyncAnthropic(api_key="wrong", base_url=api.base_url) as wrong:
        with pytest.raises(anthropic.AuthenticationError):
            await wrong.messages.create(model=TEST_MODEL, max_tokens=5, messages=USER)
    assert api.pending == 0  # none of these consumed a scripted answer


async def test_requests_are_recorded_with_the_key_redacted(
    api: LocalMessagesAPI, client: anthropic.AsyncAnthropic
) -> None:
    api.push(text("x"))
    await client.messages.create(model=TEST_MODEL, max_tokens=5, messages=USER)
    (req,) = api.requests
    assert req.path == "/v1/messages" and req.json["messages"] == USER
    assert API_KEY not in str(req.headers)
    assert "anthropic-version" in req.headers


async def test_running_out_of_script_is_loud_and_not_retried(api: LocalMessagesAPI) -> None:
    async with anthropic.AsyncAnthropic(api_key=API_KEY, base_url=api.base_url, max_retries=3) as c:
        with pytest.raises(anthropic.InternalServerError, match="no scripted response left"):
            await c.messages.create(model=TEST_MODEL, max_tokens=5, messages=USER)
    assert len(api.requests) == 1
    async with httpx.AsyncClient(base_url=api.base_url) as raw:
        r = await raw.get("/v1/nothing")
    assert r.status_code == 404 and r.json()["error"]["type"] == "not_found_error"
    assert r.headers["request-id"] == r.json()["request_id"]
