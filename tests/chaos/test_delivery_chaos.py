"""Alert delivery under a Bot API 429 storm and 5xx burst, and with an arq worker SIGKILLed
mid-fan-out: alerts arrive later, none lost, none doubled (except sends in flight at the kill,
which are recorded ``in_doubt`` and never resent).

Real PostgreSQL (``SOLAI_TEST_DATABASE_URL``), real Redis and ``solai worker`` subprocesses for
the kill; the local Bot API server (``bot.local_botapi``) stands in for Telegram.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import sys
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from redis.asyncio import Redis
from sqlalchemy import select

from bot.fanout import Fanout, RetryPolicy, attached
from bot.limits import TELEGRAM_LIMITS, ChatLimiter
from bot.local_botapi import LocalBotApi
from bot.telegram_adapter import open_telegram_sender
from engine.deps import Deps
from engine.services import deliveries
from engine.settings import Settings, load_settings
from engine.storage.models import AlertDelivery, Chat
from tests.bot.conftest import PUBLIC_URL, TOKEN
from tests.bot.seed import add_risk, add_signal, add_token, address
from tests.bot.test_fanout import check_honoured, make_chats
from tests.conftest import pg_test_schema
from workers.bench.pipeline import fresh_database
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]

OPEN = ("pending", "sending", "retry")


async def statuses(deps: Deps, keys: list[str]) -> dict[tuple[str, int], AlertDelivery]:
    """Delivery rows of some alerts, by (alert key, chat's Telegram id)."""
    async with deps.sessions() as s:
        external = {c.id: int(c.external_id) for c in await s.scalars(select(Chat))}
        rows = await s.scalars(select(AlertDelivery).where(AlertDelivery.alert_key.in_(keys)))
        return {(r.alert_key, external[r.chat_id]): r for r in rows}


async def settled(deps: Deps, keys: list[str], expected: int, *, timeout_s: float) -> None:
    """Poll until the alerts have ``expected`` rows and none is open."""
    async with asyncio.timeout(timeout_s):
        while True:
            rows = await statuses(deps, keys)
            if len(rows) == expected and not any(r.status in OPEN for r in rows.values()):
                return
            await asyncio.sleep(0.1)


# -- a 429 storm and a 5xx burst -----------------------------------------------------------------


@pytest.fixture
async def pg_deps(isolated_env: Path, pg_url: str) -> AsyncIterator[Deps]:
    """Deps on a fresh PostgreSQL schema with in-process jobs (fan-out needs no Redis)."""
    async with pg_test_schema(pg_url) as (url, schema):
        await upgrade_async(url, schema=schema)
        settings = load_settings(database_url=url, secret_key="chaos-secret", public_url=PUBLIC_URL)
        async with open_deps(settings, default_registry(), db_schema=schema) as deps:
            yield deps


@pytest.mark.postgres
async def test_a_429_storm_and_a_5xx_burst_delay_alerts_but_lose_and_double_none(
    pg_deps: Deps,
) -> None:
    deps = pg_deps
    symbols = ["AAA", "BBB", "CCC", "DDD"]
    for i, symbol in enumerate(symbols, start=1):
        mint = address(f"storm-{symbol}")
        await add_token(deps, mint, symbol=symbol, name=f"Token {symbol}")
        await add_risk(deps, mint)
        await add_signal(deps, i, mint)
    await make_chats(deps, privates=40, groups=10)
    keys = [f"signal:{i}" for i in range(1, 5)]
    limits = TELEGRAM_LIMITS.scaled(5)
    async with LocalBotApi(token=TOKEN, limits=limits) as api:
        async with open_telegram_sender(
            deps.settings, ChatLimiter(limits), base_url=api.base_url, token=TOKEN
        ) as sender:
            # Little patience (two 429s per chat and run), so the storm pushes rows to `retry`
            # and the sweeper has to bring them back.
            retry = RetryPolicy(
                base_delay_s=0.05, max_rate_limited=2, later_base_s=0.2, later_max_s=2.0
            )
            fanout = Fanout(deps, {"telegram": sender}, retry=retry, slice_s=3.0)
            with attached(deps, fanout):
                for i in range(1, 5):
                    await deps.jobs.enqueue("fanout_signal", signal_id=i, ts=0)
                async with asyncio.timeout(20):
                    while len(api.sent()) < 15:
                        await asyncio.sleep(0.01)
                storm_s = 3.0
                api.fail_for(storm_s, code=429, retry_after=1)
                await asyncio.sleep(storm_s)  # the scenario: the storm lasts this long
                api.fail_next(25, code=502)
                api.fail_next(15, code=500)
                await settled(deps, keys, 50 * 4, timeout_s=60)
    rows = await statuses(deps, keys)
    assert Counter(r.status for r in rows.values()) == {"sent": 200}
    # Every chat has every alert exactly once (the title names the token).
    got = Counter(
        (m["chat"]["id"], m["text"].split("$", 1)[1].split(" ", 1)[0]) for m in api.sent()
    )
    assert len(got) == 200 and set(got.values()) == {1}
    assert {s for _, s in got} == set(symbols)
    # The storm and the burst really happened, and were honoured.
    storm = [c for c in api.rejected_429 if c.description == "Too Many Requests: retry after 1"]
    assert len(storm) >= 20
    assert Counter(c.error_code for c in api.calls if c.error_code in (500, 502)) == {
        502: 25,
        500: 15,
    }
    check_honoured(api)
    assert any(r.attempts >= 2 for r in rows.values())  # some went to `retry` and came back
    async with deps.sessions() as s:
        assert await deliveries.open_count(s) == 0


# -- an arq worker SIGKILLed mid-fan-out ------------------------------------------------------


async def spawn_worker(env: dict[str, str], cwd: Path, log: Path) -> asyncio.subprocess.Process:
    """``solai worker`` in a subprocess, its output to a file (read on failure)."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "workers.cli", "worker", "--max-jobs", "20",
            stdout=out, stderr=out, env=env, cwd=cwd,
        )  # fmt: skip


async def kill(proc: asyncio.subprocess.Process) -> None:
    """End a worker at teardown (SIGKILL: the fastest; SIGTERM is tested in tests/workers)."""
    if proc.returncode is None:
        proc.kill()
        await proc.wait()


async def drop_queue(redis_url: str, queue: str) -> None:
    client = Redis.from_url(redis_url)
    try:
        ids = [i.decode() for i in await client.zrange(queue, 0, -1)]
        keys = [f"arq:{kind}:{i}" for i in ids for kind in ("job", "in-progress", "retry")]
        await client.delete(queue, *keys)
    finally:
        await client.aclose()


@pytest.mark.postgres
@pytest.mark.redis
async def test_a_worker_killed_mid_fanout_loses_only_its_in_flight_sends_and_doubles_none(
    isolated_env: Path, pg_url: str, redis_url: str
) -> None:
    chats = 80
    queue = f"chaos:{uuid.uuid4().hex[:8]}:jobs"
    logs = [isolated_env / "worker-1.log", isolated_env / "worker-2.log"]
    async with contextlib.AsyncExitStack() as stack:
        url = await stack.enter_async_context(fresh_database(pg_url, prefix="solai_chaos_"))
        await upgrade_async(url)
        # Telegram's published limits (the worker's limiter uses them) and slow answers, so
        # several sends are in flight at any moment.
        api = await stack.enter_async_context(LocalBotApi(token=TOKEN, limits=TELEGRAM_LIMITS))
        api.latency_s = 0.3
        settings: Settings = load_settings(
            database_url=url, redis_url=redis_url, job_queue=queue, secret_key="chaos-secret"
        )
        deps = await stack.enter_async_context(
            open_deps(settings, default_registry(), bus_prefix=f"{queue}:bus:")
        )
        stack.push_async_callback(drop_queue, redis_url, queue)
        await add_token(deps)
        await add_risk(deps)
        await add_signal(deps, 1)
        await make_chats(deps, privates=chats, groups=0)
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOLAI_")} | {
            "SOLAI_ENV": "test",
            "SOLAI_DATABASE_URL": url,
            "SOLAI_REDIS_URL": redis_url,
            "SOLAI_JOB_QUEUE": queue,
            "SOLAI_TELEGRAM_TOKEN": TOKEN,
            "SOLAI_TELEGRAM_BOT_API_URL": api.base_url,
            "SOLAI_SECRET_KEY": "chaos-secret",
            "SOLAI_PUBLIC_URL": PUBLIC_URL,
            # One run sends for 1.5 s and holds its rows for 3 s: a dead run's rows are
            # taken over within seconds (production: 60 s and 120 s).
            "SOLAI_ALERT_SLICE_S": "1.5",
        }
        try:
            first = await spawn_worker(env, isolated_env, logs[0])
            stack.push_async_callback(kill, first)
            job = await deps.jobs.enqueue(
                "fanout_signal", job_id=f"{queue}:signal:1", signal_id=1, ts=0
            )
            assert job is not None
            async with asyncio.timeout(40):
                while not (len(api.sent()) >= 12 and api.in_flight >= 3):
                    await asyncio.sleep(0.005)
            open_at_kill = api.in_flight
            killed_at = time.monotonic()
            first.kill()  # SIGKILL: no cleanup, no outcome written
            await first.wait()
            before = {m["chat"]["id"] for m in api.sent()}
            rows = await statuses(deps, ["signal:1"])
            in_flight = {c for (_, c), r in rows.items() if r.status == "sending"}
            assert len(rows) == chats and len(before) < chats  # killed mid-fan-out
            # Every request the server was still answering belongs to a row marked `sending`.
            assert len(in_flight) >= open_at_kill >= 3

            second = await spawn_worker(env, isolated_env, logs[1])
            stack.push_async_callback(kill, second)
            await settled(deps, ["signal:1"], chats, timeout_s=60)
        except BaseException:
            for log in logs:
                if log.exists():
                    print(f"--- {log.name} ---\n{log.read_text()[-6000:]}")
            raise
        rows = await statuses(deps, ["signal:1"])
        per_chat = Counter(m["chat"]["id"] for m in api.sent())
        assert max(per_chat.values()) == 1  # none doubled
        in_doubt = {c for (_, c), r in rows.items() if r.status == "in_doubt"}
        sent = {c for (_, c), r in rows.items() if r.status == "sent"}
        assert sent | in_doubt == {10_000 + i for i in range(chats)}
        # Exactly the sends in flight at the kill are in doubt; every other chat got it once.
        assert in_doubt == in_flight
        assert all(per_chat[c] == 1 for c in sent)
        # An in-doubt chat got at most the message that was in flight when the worker died.
        doubtful = {str(c) for c in in_doubt}
        late = [c for c in api.calls_to("sendMessage") if c.ok and c.params["chat_id"] in doubtful]
        assert all(c.at <= killed_at + 1.0 for c in late)  # worker 2 was not up yet
        # The second worker resumed where the first stopped.
        after = {m["chat"]["id"] for m in api.sent()} - before
        assert after == sent - before and after
