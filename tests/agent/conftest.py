"""Agent fixtures: the local Messages API server and services wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from agent.local_messages_api import LocalMessagesAPI
from agent.service import AgentService
from engine.clock import FixedClock
from engine.settings import load_settings
from tests.conftest import Db

API_KEY = "sk-test-local-not-a-real-key"
TEST_MODEL = "claude-sonnet-4-6"

MakeService = Callable[..., Awaitable[AgentService]]


@pytest.fixture
async def api() -> AsyncIterator[LocalMessagesAPI]:
    """A scripted Messages API on 127.0.0.1, an ephemeral port; refuses any other key."""
    async with LocalMessagesAPI(api_key=API_KEY) as server:
        yield server


@pytest.fixture
async def make_service(isolated_env: Path, db: Db, clock: FixedClock) -> AsyncIterator[MakeService]:
    """Build services over the test database; with ``api=`` they use the local server."""
    made: list[AgentService] = []

    async def make(
        api: LocalMessagesAPI | None = None, *, max_retries: int = 0, **overrides: Any
    ) -> AgentService:
        settings: dict[str, Any] = {"database_url": db.url, **overrides}
        if api is not None:
            settings.setdefault("anthropic_api_key", API_KEY)
            settings.setdefault("anthropic_base_url", api.base_url)
            settings.setdefault("anthropic_timeout_s", 5.0)
            # The settings default (claude-sonnet-4-5) makes SDK 2.x warn that it is deprecated.
            settings.setdefault("anthropic_model", TEST_MODEL)
        service = AgentService(
            settings=load_settings(**settings),
            clock=clock,
            sessions=db.sessions,
            max_retries=max_retries,
        )
        made.append(service)
        return service

    yield make
    for service in made:
        await service.aclose()
