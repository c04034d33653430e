"""Concurrent writers of one user's settings JSON (the bot, the agent, the API) lose no key."""

from __future__ import annotations

import asyncio

from engine.services.accounts import update_user_settings
from engine.storage.models import User
from engine.storage.repos import users as user_repo
from tests.conftest import Db

NOW = 1_767_225_600_000


async def test_two_concurrent_setting_writes_keep_both_keys(db: Db) -> None:
    async with db.sessions.begin() as s:
        user = await user_repo.get_or_create_telegram_user(s, telegram_id=77, now_ms=NOW)
        user_id = user.id
    gate = asyncio.Event()

    async def write(key: str) -> None:
        async with db.sessions.begin() as s:
            await s.get(User, user_id)  # a copy read before the write, as a handler does
            await gate.wait()
            await update_user_settings(s, user_id=user_id, values={key: True})
            await asyncio.sleep(0.05)  # commit late: the other writer overlaps this one

    tasks = [asyncio.create_task(write(k)) for k in ("lang_set", "alerts_on")]
    await asyncio.sleep(0.05)
    gate.set()
    await asyncio.gather(*tasks)
    async with db.sessions() as s:
        fresh = await s.get(User, user_id)
        assert fresh is not None
        assert {"lang_set": True, "alerts_on": True}.items() <= (fresh.settings or {}).items()
