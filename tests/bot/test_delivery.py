"""Delivery guarantees of the fan-out: parts not resent, dead runs resumed, lost answers in doubt,
an unreachable Bot API retried later, stale alerts expired (local Bot API, SQLite, fixed clock)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from sqlalchemy import select
from telegram import Bot
from telegram.request import HTTPXRequest

from bot.alerts import Alert
from bot.fanout import Fanout, RetryPolicy, attached
from bot.limits import TELEGRAM_LIMITS, ChatLimiter
from bot.local_botapi import LocalBotApi
from bot.telegram_adapter import Links, TelegramSender, open_telegram_sender
from engine.clock import FixedClock
from engine.deps import Deps
from engine.services import accounts, deliveries
from engine.services.alerts import Recipient
from engine.storage.models import Chat
from tests.bot.conftest import PUBLIC_URL, TOKEN
from tests.bot.seed import NOW, add_risk, add_signal, add_token
from tests.bot.test_fanout import make_chats

LIMITS = TELEGRAM_LIMITS.scaled(10)
FAST = RetryPolicy(base_delay_s=0.01, later_base_s=0.05)


@pytest.fixture
async def api() -> AsyncIterator[LocalBotApi]:
    async with LocalBotApi(token=TOKEN, limits=LIMITS) as server:
        yield server


@pytest.fixture
async def fanout(deps: Deps, api: LocalBotApi) -> AsyncIterator[Fanout]:
    async with open_telegram_sender(
        deps.settings, ChatLimiter(LIMITS), base_url=api.base_url, token=TOKEN
    ) as sender:
        fan = Fanout(deps, {"telegram": sender}, retry=FAST)
        with attached(deps, fan):
            yield fan


async def chat(deps: Deps, external_id: int) -> Chat:
    async with deps.sessions.begin() as s:
        return await accounts.ensure_chat(
            s, platform="telegram", external_id=str(external_id), kind="private", now_ms=1
        )


async def rows(deps: Deps, key: str) -> dict[int, Any]:
    """Delivery rows of an alert by the chat's Telegram id."""
    async with deps.sessions() as s:
        out = {}
        for r in await deliveries.deliveries_of(s, alert_key=key):
            c = await s.get(Chat, r.chat_id)
            assert c is not None
            out[int(c.external_id)] = r
        return out


async def until(check: Any, timeout_s: float = 10.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not await check():
            await asyncio.sleep(0.03)


def long_alert(fanout: Fanout, key: str) -> Alert:
    """An alert whose text Telegram needs two messages for."""
    text = "\n".join(f"line {i:03d} " + "x" * 60 for i in range(90))
    return Alert(key, "message.html", {"message": text}, "Long", fanout.signer, foldable=False)


async def test_a_retry_after_part_two_failed_sends_only_the_rest(
    deps: Deps, api: LocalBotApi, fanout: Fanout
) -> None:
    target = await chat(deps, 20_001)
    # In the same run: part 1 accepted, part 2 refused once, then part 2 alone.
    api.fail_next(1, chat_id=20_001, code=502, after=1)
    report = await fanout.deliver(long_alert(fanout, "long:1"), [Recipient(target, None)])
    assert (report.sent, report.retried) == (1, 1)
    texts = [m["text"] for m in api.sent(20_001)]
    assert len(texts) == 2 and texts[0].startswith("<b>Long</b>\nline 000")
    assert "line 089" in texts[1] and "line 000" not in texts[1]
    # Across runs: part 2 keeps failing past the run's patience; the row remembers part 1.
    api.fail_next(FAST.max_attempts, chat_id=20_001, code=500, after=1)
    alert = long_alert(fanout, "long:2")
    fanout.retry = RetryPolicy(base_delay_s=0.01, later_base_s=60)  # no sweep during the test
    report = await fanout.deliver(alert, [Recipient(target, None)])
    assert report.retry == 1
    row = (await rows(deps, "long:2"))[20_001]
    assert (row.status, row.parts_sent) == ("retry", 1)
    resumed = await fanout.run(
        "long:2", [(alert, [Recipient(target, None)])], resume=True, due_ms=row.next_attempt_ts
    )
    assert (resumed.resumed, resumed.sent) == (1, 1)
    texts = [m["text"] for m in api.sent(20_001)][2:]
    assert len(texts) == 2  # part 1 once, part 2 once: part 1 was not sent again
    assert texts[0].startswith("<b>Long</b>\nline 000") and "line 000" not in texts[1]


async def test_a_rerun_resumes_a_dead_runs_rows_and_never_resends_its_in_flight_one(
    deps: Deps, api: LocalBotApi, fanout: Fanout
) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1)
    await make_chats(deps, privates=6, groups=0)
    async with deps.sessions() as s:
        ids = list((await s.scalars(select(Chat.id).order_by(Chat.external_id))).all())
    dead = "fanout_signal:1#dead"
    # What a SIGKILLed worker leaves: two sent, one mid-send, three never tried; lease over.
    async with deps.sessions.begin() as s:
        await deliveries.claim_many(
            s,
            alert_key="signal:1",
            chat_ids=ids,
            now_ms=NOW - 10_000,
            owner=dead,
            lease_ts=NOW - 1,
            expires_ts=NOW + 600_000,
        )
        await deliveries.record(
            s,
            alert_key="signal:1",
            owner=dead,
            outcomes=[deliveries.Outcome(c, "sent", "m") for c in ids[:2]],
            now_ms=NOW - 5_000,
        )
        assert await deliveries.mark_sending(
            s, alert_key="signal:1", owner=dead, chat_ids=[ids[2]], now_ms=NOW - 5_000
        ) == {ids[2]}
    # arq's re-run of the job (same arguments, job_try 2).
    job = await deps.jobs.enqueue("fanout_signal", job_id="fanout_signal:1", signal_id=1, ts=0)
    assert job is not None
    report = (await deps.jobs.result(job)).result
    assert (report["claimed"], report["resumed"], report["sent"], report["in_doubt"]) == (
        3,
        3,
        3,
        1,
    )
    got = await rows(deps, "signal:1")
    assert [got[10_000 + i].status for i in range(6)] == ["sent"] * 2 + ["in_doubt"] + ["sent"] * 3
    assert sorted(m["chat"]["id"] for m in api.sent()) == [10_003, 10_004, 10_005]


async def test_a_lost_answer_is_in_doubt_and_never_resent(deps: Deps, api: LocalBotApi) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1)
    await make_chats(deps, privates=1, groups=0)
    api.latency_s = 1.0  # Telegram posts it, the answer comes after the client gave up
    bot = Bot(TOKEN, base_url=api.base_url, request=HTTPXRequest(read_timeout=0.2))
    async with bot:
        links = Links(PUBLIC_URL, bot.username, "app")
        sender = TelegramSender(bot, ChatLimiter(LIMITS), links)
        fan = Fanout(deps, {"telegram": sender}, retry=FAST)
        with attached(deps, fan):
            job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0)
            assert job is not None
            report = (await deps.jobs.result(job)).result
            assert (report["in_doubt"], report["sent"], report["retry"]) == (1, 0, 0)
            row = (await rows(deps, "signal:1"))[10_000]
            assert row.status == "in_doubt" and "TimedOut" in (row.error or "")
            # A later run of the same alert leaves it alone.
            again = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0)
            assert again is not None
            assert (await deps.jobs.result(again)).result["claimed"] == 0
    async with asyncio.timeout(5):
        while api.in_flight:
            await asyncio.sleep(0.05)
    assert len(api.sent(10_000)) == 1  # delivered once, by the send whose answer was lost


async def test_an_unreachable_api_is_retried_later_and_delivers_once(deps: Deps) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1)
    await make_chats(deps, privates=2, groups=0)
    first = LocalBotApi(token=TOKEN, limits=LIMITS)
    await first.start()
    port = first.port
    async with open_telegram_sender(
        deps.settings, ChatLimiter(LIMITS), base_url=first.base_url, token=TOKEN
    ) as sender:
        await first.stop()  # connection refused: nothing can have been posted
        fan = Fanout(deps, {"telegram": sender}, retry=RetryPolicy(base_delay_s=0.01))
        with attached(deps, fan):
            job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0)
            assert job is not None
            report = (await deps.jobs.result(job)).result
            assert (report["retry"], report["in_doubt"], report["failed"]) == (2, 0, 0)
            assert {r.status for r in (await rows(deps, "signal:1")).values()} == {"retry"}
            async with LocalBotApi(token=TOKEN, limits=LIMITS, port=port) as back:

                async def delivered() -> bool:
                    found = await rows(deps, "signal:1")
                    return {r.status for r in found.values()} == {"sent"}

                await until(delivered)  # the sweeper (2 s later) resumed the alert
                assert sorted(m["chat"]["id"] for m in back.sent()) == [10_000, 10_001]


async def test_an_alert_past_its_ttl_is_expired_not_sent(
    deps: Deps, clock: FixedClock, api: LocalBotApi, fanout: Fanout
) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1)
    await make_chats(deps, privates=2, groups=0)
    api.fail_next(10_000, chat_id=10_001, code=500)  # this chat's API is down for good
    job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0)
    assert job is not None
    report = (await deps.jobs.result(job)).result
    assert (report["sent"], report["retry"]) == (1, 1)
    clock.advance(deps.settings.alert_ttl_s * 1000)  # the sweeper's next turn is past the TTL

    async def expired() -> bool:
        return (await rows(deps, "signal:1"))[10_001].status == "expired"

    await until(expired)
    tried = len([c for c in api.calls if c.params.get("chat_id") == "10001"])
    await asyncio.sleep(0.5)  # no sweep picks it up again
    assert len([c for c in api.calls if c.params.get("chat_id") == "10001"]) == tried
    assert api.sent(10_001) == [] and len(api.sent(10_000)) == 1
