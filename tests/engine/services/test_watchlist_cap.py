"""The watchlist cap holds under concurrency: the count is read, then written, under a lock."""

from __future__ import annotations

import asyncio
import hashlib

import pytest
from solders.pubkey import Pubkey

from engine.services import watchlist
from engine.services.errors import InvalidInput
from engine.smartmoney.registry import WalletRow
from engine.storage.repos import users as user_repo
from tests.conftest import Db

NOW = 1_767_225_600_000


def addr(tag: str) -> str:
    """A valid, deterministic public key per tag."""
    return str(Pubkey.from_bytes(hashlib.sha256(tag.encode()).digest()))


async def _user_with(db: Db, n: int) -> int:
    async with db.sessions.begin() as s:
        user = await user_repo.get_or_create_telegram_user(s, telegram_id=4242, now_ms=NOW)
        for i in range(n):
            await watchlist.watch_wallet(s, user_id=user.id, address=addr(f"W{i}"), now_ms=NOW)
        return user.id


async def _count(db: Db, user_id: int) -> int:
    from engine.storage.repos import wallets as wallet_repo

    async with db.sessions() as s:
        return len(await wallet_repo.watchlist(s, user_id=user_id))


async def test_two_concurrent_watches_cannot_pass_the_cap(db: Db) -> None:
    user_id = await _user_with(db, watchlist.MAX_WATCHED - 1)
    gate = asyncio.Event()

    async def add(tag: str) -> str:
        async with db.sessions.begin() as s:
            await gate.wait()
            try:
                await watchlist.watch_wallet(s, user_id=user_id, address=addr(tag), now_ms=NOW)
            except InvalidInput as exc:
                return exc.code
            await asyncio.sleep(0.05)  # hold the transaction open: the other must wait
            return "ok"

    tasks = [asyncio.create_task(add(t)) for t in ("Late1", "Late2")]
    await asyncio.sleep(0.05)
    gate.set()
    outcomes = sorted(await asyncio.gather(*tasks))
    assert outcomes == ["ok", "too_many_wallets"]
    assert await _count(db, user_id) == watchlist.MAX_WATCHED


@pytest.mark.parametrize("n_each", [150])
async def test_two_concurrent_imports_fill_to_the_cap_and_refuse_the_rest(
    db: Db, n_each: int
) -> None:
    user_id = await _user_with(db, 0)

    def rows(tag: str) -> list[WalletRow]:
        return [WalletRow(i + 1, addr(f"{tag}{i}"), None, ()) for i in range(n_each)]

    async def run(tag: str) -> tuple[int, int]:
        async with db.sessions.begin() as s:
            imported, refused = await watchlist.import_watchlist(
                s, user_id=user_id, rows=rows(tag), now_ms=NOW
            )
        return imported, len(refused)

    results = await asyncio.gather(run("A"), run("B"))
    assert sum(i for i, _ in results) == watchlist.MAX_WATCHED
    assert sum(r for _, r in results) == 2 * n_each - watchlist.MAX_WATCHED
    assert await _count(db, user_id) == watchlist.MAX_WATCHED
