"""Fixtures of the bot tests: a migrated database, Deps with in-process jobs, the core with a
fake agent, the local Bot API server and a python-telegram-bot Application pointed at it."""

from __future__ import annotations

import copy
import json
import shutil
import warnings
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from telegram import Update

from agent.interface import AgentReply, RuleDraft
from bot.core import CommandCore
from bot.fanout import JOBS
from bot.limits import UserRateLimit
from bot.local_botapi import LocalBotApi
from bot.telegram_adapter import build_application
from engine.bus.memory import MemoryBus
from engine.clock import FixedClock
from engine.deps import Deps
from engine.jobs.base import JobRegistry
from engine.settings import load_settings
from engine.storage.db import make_engine, make_sessionmaker
from tests.conftest import fixtures_dir
from workers.jobs.inprocess import InProcessJobs

with warnings.catch_warnings():
    # discord.py imports the stdlib's deprecated audioop for voice; not ours to change.
    warnings.simplefilter("ignore", DeprecationWarning)
    import discord  # noqa: F401

TOKEN = "7000000001:AAlocal-test-token"
PUBLIC_URL = "https://solai.example"


@pytest.fixture(autouse=True)
def ptb_timedelta(monkeypatch: pytest.MonkeyPatch) -> None:
    """PTB's future time periods, as our adapter opts in (restored after each test)."""
    monkeypatch.setenv("PTB_TIMEDELTA", "true")


@pytest.fixture(scope="session")
def migrated_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One migrated SQLite file; each test gets a copy (migrating per test is slow)."""
    import asyncio

    from workers.migrate import upgrade_async

    path = tmp_path_factory.mktemp("template") / "solai.db"
    asyncio.run(upgrade_async(f"sqlite+aiosqlite:///{path}"))
    return path


def bot_registry() -> JobRegistry:
    """The bot's jobs with the limits the workers are told to register."""
    from bot import fanout

    registry = JobRegistry()
    for name, (timeout, tries) in JOBS.items():
        registry.job(name, timeout_s=timeout, max_tries=tries)(getattr(fanout, name))
    return registry


@pytest.fixture
async def deps(
    migrated_template: Path, tmp_path: Path, clock: FixedClock, isolated_env: Path
) -> AsyncIterator[Deps]:
    """Deps over a fresh copy of the migrated database, with in-process jobs running."""
    db = tmp_path / "solai.db"
    shutil.copy(migrated_template, db)
    url = f"sqlite+aiosqlite:///{db}"
    settings = load_settings(
        database_url=url,
        env="test",
        secret_key="test-secret-key",
        public_url=PUBLIC_URL,
        telegram_webapp_name="app",
    )
    engine = make_engine(url)
    jobs = InProcessJobs(bot_registry(), keep_result_s=0)
    deps = Deps(
        settings=settings,
        clock=clock,
        db=engine,
        sessions=make_sessionmaker(engine),
        bus=MemoryBus(1, maxlen=1000, clock=clock),
        jobs=jobs,
    )
    jobs.deps = deps
    await jobs.start()
    try:
        yield deps
    finally:
        await jobs.close()
        await engine.dispose()


@dataclass
class FakeAgent:
    """An in-process stand-in of our Agent protocol (not a network boundary)."""

    explained: list[tuple[int, str, str]] = field(default_factory=list)

    async def narrate(self, *, signal_id: int, ts: int, language: str = "en") -> str:
        return "A narrative."

    async def explain(self, *, user_id: int, mint: str, language: str = "en") -> AgentReply:
        self.explained.append((user_id, mint, language))
        return AgentReply(f"It fired because three tracked wallets bought {mint[:4]}.")

    async def ask(self, *, user_id: int, question: str, language: str = "en") -> AgentReply:
        return AgentReply("An answer.")

    async def draft_rule(self, *, user_id: int, text: str, language: str = "en") -> RuleDraft:
        return RuleDraft(
            "smart_buy_burst",
            {"min_wallets": 4},
            "Alert when 4 tracked wallets buy within 5 minutes.",
        )


@pytest.fixture
def agent() -> FakeAgent:
    """The fake agent."""
    return FakeAgent()


@pytest.fixture
def core(deps: Deps, agent: FakeAgent) -> CommandCore:
    """The command core without the per-user throttle getting in the way."""
    return CommandCore(deps, agent=agent, rate_limit=UserRateLimit(burst=100_000))


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    """The local Bot API server (flood limits off: command tests send bursts to one chat)."""
    async with LocalBotApi(token=TOKEN, enforce_limits=False) as server:
        yield server


@dataclass
class Telegram:
    """An Application (webhook style: we hand it updates) against the local server."""

    app: Any
    api: LocalBotApi
    core: CommandCore

    async def feed(self, payload: dict[str, Any]) -> None:
        """Process one update exactly as the Application would from its queue."""
        await self.app.process_update(Update.de_json(payload, self.app.bot))

    def replies(self, chat_id: int) -> list[str]:
        """Texts sent to a chat, in order."""
        return [m["text"] for m in self.api.sent(chat_id)]


@pytest.fixture
async def telegram(deps: Deps, core: CommandCore, api: LocalBotApi) -> AsyncIterator[Telegram]:
    """A python-telegram-bot Application with our handlers, initialized (getMe) locally."""
    app = build_application(deps.settings, core, token=TOKEN, base_url=api.base_url, webhook=True)
    async with app:
        yield Telegram(app, api, core)


# -- real Update payloads -------------------------------------------------------------------

USER_ID = 714862471  # the sender of the captured /start update
PRIVATE = {"id": USER_ID, "first_name": "Chris", "username": "candyflipline", "type": "private"}
GROUP = {"id": -1001234567890, "title": "Degen <b>Room</b>", "type": "supergroup"}
FORUM = {"id": -1009876543210, "title": "Forum", "type": "supergroup", "is_forum": True}


def load_update(name: str) -> dict[str, Any]:
    """A captured Update payload from ../shared/fixtures/telegram/updates (skip if absent)."""
    path = fixtures_dir("telegram", "updates", name)
    return dict(json.loads(path.read_text()))


_ids = iter(range(1, 1_000_000))


def command_update(
    text: str,
    *,
    chat: dict[str, Any] | None = None,
    user_id: int | None = None,
    language: str | None = None,
    thread_id: int | None = None,
) -> dict[str, Any]:
    """The captured /start message with another command text (and chat, sender, topic)."""
    update = copy.deepcopy(load_update("telemetree_fixture_message_start_bot_command.json"))
    update["update_id"] = update["update_id"] + next(_ids)
    msg = update["message"]
    msg["message_id"] = msg["message_id"] + next(_ids)
    msg["text"] = text
    command = text.split()[0]
    msg["entities"] = [{"offset": 0, "length": len(command), "type": "bot_command"}]
    if chat is not None:
        msg["chat"] = dict(chat)
    if user_id is not None:
        msg["from"] = {**msg["from"], "id": user_id, "username": f"u{user_id}"}
    if language is not None:
        msg["from"]["language_code"] = language
    if thread_id is not None:
        msg["message_thread_id"] = thread_id
        msg["is_topic_message"] = True
    return update


def button_update(
    data: str,
    *,
    chat: dict[str, Any] | None = None,
    user_id: int = USER_ID,
    message_id: int = 1,
    language: str = "en",
) -> dict[str, Any]:
    """The captured callback query with our data, sender and message."""
    update = copy.deepcopy(load_update("captured_callback_query_inline_keyboard.json"))
    update["update_id"] = update["update_id"] + next(_ids)
    query = update["callback_query"]
    query["data"] = data
    query["from"] = {
        "id": user_id,
        "is_bot": False,
        "first_name": "Chris",
        "language_code": language,
    }
    message = query["message"]
    message["chat"] = dict(chat or PRIVATE)
    message["message_id"] = message_id
    return update
