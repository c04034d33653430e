"""Alert fan-out against the local Bot API server enforcing Telegram's limits with 429s."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy import select

from bot.core import CommandCore
from bot.fanout import Fanout, RetryPolicy, attached
from bot.limits import HEADROOM, TELEGRAM_LIMITS, ChatLimiter, PlatformLimits, Rate
from bot.local_botapi import ApiCall, LocalBotApi
from bot.telegram_adapter import TelegramSender, open_telegram_sender
from bot.text import telegram_html_text
from engine.deps import Deps
from engine.services import accounts, alerts, deliveries
from engine.services.alerts import Recipient
from engine.storage.models import Chat, Subscription
from engine.storage.repos import trading
from tests.bot.conftest import TOKEN
from tests.bot.seed import MINT, WHALE, add_fill, add_risk, add_signal, add_token


@dataclass
class Rig:
    api: LocalBotApi
    sender: TelegramSender
    fanout: Fanout
    limits: PlatformLimits


@pytest.fixture
async def rig(deps: Deps) -> AsyncIterator[Rig]:
    """Server and client on the same published limits, time compressed x10.

    x10 keeps 10 ms of slack in each 100 ms window for arrival jitter on a busy machine, with
    the overall pace at the windows' headroom: the production pace (PACE_HEADROOM) leaves 36 ms
    a second, which compressed x10 is less than this machine's jitter under a full test run.
    """
    limits = TELEGRAM_LIMITS.scaled(10)
    async with LocalBotApi(token=TOKEN, limits=limits) as api:
        limiter = ChatLimiter(limits, pace_headroom=HEADROOM)
        async with open_telegram_sender(
            deps.settings, limiter, base_url=api.base_url, token=TOKEN
        ) as sender:
            retry = RetryPolicy(base_delay_s=0.01, later_base_s=0.05)
            fanout = Fanout(deps, {"telegram": sender}, retry=retry)
            with attached(deps, fanout):
                yield Rig(api, sender, fanout, limits)


async def make_chats(deps: Deps, privates: int, groups: int, *, min_strength: float = 1.0) -> None:
    """Chats subscribed to signals, inserted in bulk (the services do it one by one)."""
    now = deps.clock.now_ms()
    async with deps.sessions.begin() as s:
        chats = [
            Chat(
                platform="telegram",
                external_id=str(-1_000_000 - i if i >= privates else 10_000 + i),
                kind="group" if i >= privates else "private",
                language="en",
                created_ts=now,
            )
            for i in range(privates + groups)
        ]
        s.add_all(chats)
        await s.flush()
        s.add_all(
            Subscription(
                chat_id=c.id,
                kind="signals",
                min_strength=min_strength,
                filters={},
                enabled=True,
                created_ts=now,
            )
            for c in chats
        )


def max_in_window(times: list[float], window: float) -> int:
    times = sorted(times)
    best, j = 0, 0
    for i, t in enumerate(times):
        while times[j] <= t - window:
            j += 1
        best = max(best, i - j + 1)
    return best


def check_honoured(api: LocalBotApi) -> None:
    """Every 429 was honoured: that chat's next accepted send came after ``retry_after``."""
    accepted = [c for c in api.calls if c.method == "sendMessage" and c.ok]
    for refused in api.rejected_429:
        chat = refused.params["chat_id"]
        later = [c.at for c in accepted if c.params["chat_id"] == chat and c.at > refused.at]
        retry_after = int(refused.description.rsplit(" ", 1)[1])  # type: ignore[union-attr]
        assert later and later[0] - refused.at >= retry_after - 0.05


def check_limits(calls: list[ApiCall], limits: PlatformLimits) -> None:
    sends = [c for c in calls if c.method == "sendMessage" and c.ok]
    assert max_in_window([c.at for c in sends], limits.overall.per_s) <= limits.overall.count
    per_chat: dict[int, list[float]] = defaultdict(list)
    for c in sends:
        per_chat[int(c.params["chat_id"])].append(c.at)
    for chat_id, times in per_chat.items():
        assert max_in_window(times, limits.per_chat.per_s) <= limits.per_chat.count
        if chat_id < 0 and limits.per_group:
            assert max_in_window(times, limits.per_group.per_s) <= limits.per_group.count


async def test_a_500_chat_burst_is_delivered_once_within_the_limits(deps: Deps, rig: Rig) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1, strength=2.5)
    await make_chats(deps, privates=400, groups=100)
    # Two jobs for the same signal at once (a retried enqueue): still one message per chat.
    ids = [
        await deps.jobs.enqueue("fanout_signal", job_id=f"burst-{n}", signal_id=1, ts=0)
        for n in (1, 2)
    ]
    results = [await deps.jobs.result(i, timeout_s=40) for i in ids if i]
    assert all(r.success for r in results), [r.error for r in results]
    assert sum(r.result["sent"] for r in results) == 500
    sent = rig.api.sent()
    assert len(sent) == 500 and len({m["chat"]["id"] for m in sent}) == 500
    check_limits(rig.api.calls, rig.limits)
    # Our limiter paces under the server's windows, so 429s are the exception: on a loaded
    # machine the arrival times can bunch by a few ms (one or two 429s), which are honoured.
    assert len(rig.api.rejected_429) <= 5
    check_honoured(rig.api)
    async with deps.sessions() as s:
        assert await deliveries.outcome_counts(s, alert_key="signal:1") == {"sent": 500}
        rows = await deliveries.deliveries_of(s, alert_key="signal:1")
    assert all(r.message_id and r.attempts == 1 for r in rows)
    # A later retry of the job finds every chat claimed and sends nothing.
    again = await deps.jobs.enqueue("fanout_signal", job_id="burst-3", signal_id=1, ts=0)
    assert again is not None
    assert (await deps.jobs.result(again)).result["claimed"] == 0
    assert len(rig.api.sent()) == 500
    # The alert itself: HTML the server parsed, Buy (web app in private, link in groups).
    private = next(m for m in sent if m["chat"]["type"] == "private")
    group = next(m for m in sent if m["chat"]["type"] != "private")
    assert "New signal" in telegram_html_text(private["text"])
    labels = [b["text"] for b in private["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Buy", "Details", "Explain"]
    assert "web_app" in private["reply_markup"]["inline_keyboard"][0][0]
    assert "startapp=buy_" in group["reply_markup"]["inline_keyboard"][0][0]["url"]


async def test_a_second_alert_respects_the_per_chat_spacing(deps: Deps, rig: Rig) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1, strength=2.5)
    await add_signal(deps, 2, strength=2.6, ts=deps.clock.now_ms() - 1)
    await make_chats(deps, privates=20, groups=10)
    first, second = await asyncio.gather(
        deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0),
        deps.jobs.enqueue("fanout_signal", signal_id=2, ts=0),
    )
    assert first and second
    for job in (first, second):
        assert (await deps.jobs.result(job, timeout_s=20)).result["sent"] == 30
    check_limits(rig.api.calls, rig.limits)
    assert len(rig.api.rejected_429) <= 2
    check_honoured(rig.api)


async def test_429s_are_honoured_with_retry_after(deps: Deps) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1)
    await make_chats(deps, privates=40, groups=0)
    async with LocalBotApi(token=TOKEN, limits=TELEGRAM_LIMITS) as api:
        # A client that believes the limits are 1000x looser: the server will say 429.
        limiter = ChatLimiter(TELEGRAM_LIMITS.scaled(1000))
        async with open_telegram_sender(
            deps.settings, limiter, base_url=api.base_url, token=TOKEN
        ) as sender:
            fanout = Fanout(deps, {"telegram": sender})
            with attached(deps, fanout):
                job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0)
                assert job is not None
                report = (await deps.jobs.result(job, timeout_s=30)).result
    assert report["sent"] == 40 and report["rate_limited"] > 0
    refused = api.rejected_429
    assert refused and all(c.description.startswith("Too Many Requests") for c in refused)
    sent = api.sent()
    assert len(sent) == 40 and len({m["chat"]["id"] for m in sent}) == 40
    check_honoured(api)


async def test_failures_are_retried_with_backoff_and_only_permanent_ones_fail(
    deps: Deps, rig: Rig
) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1)
    await make_chats(deps, privates=3, groups=0)
    blocked, flaky, broken = 10_000, 10_001, 10_002
    rig.api.blocked.add(blocked)
    rig.api.fail_next(2, chat_id=flaky)
    rig.api.fail_next(10, chat_id=broken, code=500)
    job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0)
    assert job is not None
    report = (await deps.jobs.result(job, timeout_s=20)).result
    # 5xx past the job's patience is not final: the row waits as `retry` for the sweeper.
    assert (report["sent"], report["failed"], report["retry"]) == (1, 1, 1)
    assert report["retried"] == 2 + 3

    async def rows() -> dict[str, Any]:
        async with deps.sessions() as s:
            return {
                (await s.get(Chat, r.chat_id)).external_id: r  # type: ignore[union-attr]
                for r in await deliveries.deliveries_of(s, alert_key="signal:1")
            }

    async with asyncio.timeout(15):
        while (await rows())[str(broken)].status != "sent":
            await asyncio.sleep(0.05)
    got = await rows()
    assert got[str(flaky)].status == "sent"
    assert got[str(blocked)].status == "failed" and "blocked" in (got[str(blocked)].error or "")
    # Ten 500s: four tries in the job, four in the first resume, the third resume gets through.
    assert got[str(broken)].attempts == 3
    attempts = [c for c in rig.api.calls if c.params.get("chat_id") == str(broken)]
    assert [c.error_code for c in attempts] == [500] * 10 + [None]
    assert len(rig.api.sent(broken)) == 1


async def test_a_group_at_its_limit_gets_a_digest_instead_of_delays(deps: Deps) -> None:
    # 20 per 2 s in a group, and chats fast enough that 20 sends surely fit in that window.
    limits = PlatformLimits(overall=Rate(30, 0.1), per_chat=Rate(1, 0.005), per_group=Rate(20, 2.0))
    await add_token(deps)
    await add_risk(deps)
    for i in range(25):
        await add_signal(deps, 100 + i, ts=deps.clock.now_ms() - 1000 + i)
    async with deps.sessions.begin() as s:
        chat = await accounts.ensure_chat(
            s, platform="telegram", external_id="-777", kind="group", now_ms=1
        )
    async with LocalBotApi(token=TOKEN, limits=limits) as api:
        async with open_telegram_sender(
            deps.settings, ChatLimiter(limits), base_url=api.base_url, token=TOKEN
        ) as sender:
            fanout = Fanout(deps, {"telegram": sender})
            with attached(deps, fanout):
                from bot.alerts import signal_alert

                statuses = []
                for i in range(25):
                    async with deps.sessions() as s:
                        alert = await signal_alert(
                            s, signal_id=100 + i, signer=fanout.signer, now_ms=1
                        )
                    assert alert is not None
                    report = await fanout.deliver(alert, [Recipient(chat, None)])
                    statuses.append("digest" if report.digest else "sent")
                assert statuses == ["sent"] * 20 + ["digest"] * 5  # folded, not delayed
                async with asyncio.timeout(10):
                    while len(api.sent()) < 21:
                        await asyncio.sleep(0.02)
                await asyncio.sleep(0.2)  # the other flush jobs find nothing left
    check_honoured(api)
    digests = [m for m in api.sent() if "Digest" in m["text"]]
    assert len(digests) == 1 and len(api.sent()) == 21
    text = telegram_html_text(digests[0]["text"])
    assert "5 alerts while this group was at its message limit" in text
    assert text.count("$BONK2") == 5
    async with deps.sessions() as s:
        counts: dict[str, int] = defaultdict(int)
        for i in range(25):
            for k, v in (await deliveries.outcome_counts(s, alert_key=f"signal:{100 + i}")).items():
                counts[k] += v
    assert counts == {"sent": 25}


async def test_fills_of_watched_wallets_reach_their_watchers(
    deps: Deps, rig: Rig, core: CommandCore
) -> None:
    from tests.bot.test_core import run

    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 9)
    await run(core, "watch", f"{WHALE} Moby", user="555")
    await run(core, "watch", WHALE, user="556")
    await run(core, "alerts", "fills off", user="556")
    await add_fill(deps)
    job = await deps.jobs.enqueue("fanout_fill", signature="fill-1", idx=0)
    assert job is not None
    assert (await deps.jobs.result(job)).result["sent"] == 1
    (msg,) = rig.api.sent(555)
    assert "Moby bought $BONK2 (Bonk Two) for 3 SOL" in telegram_html_text(msg["text"])
    labels = [b["text"] for b in msg["reply_markup"]["inline_keyboard"][0]]
    assert labels == ["Buy", "Details", "Explain"]


async def test_kol_calls_go_to_the_channel_and_the_followers(
    deps: Deps, rig: Rig, core: CommandCore
) -> None:
    from tests.bot.test_core import run

    await add_token(deps)
    await add_risk(deps)
    rig.api.add_chat(-100555, "channel", title="Alpha Calls")
    await run(core, "kol", "link -100555", user="600")
    await run(core, "start", user="601")
    await run(core, "follow", "-100555", user="601")
    reply = await run(core, "publish", f"{MINT} early, <b>careful</b>", user="600")
    assert "Call published" in reply.html
    await deps.jobs.join(timeout_s=10)  # type: ignore[attr-defined]
    channel_msg = rig.api.sent(-100555)[0]
    follower_msg = rig.api.sent(601)[0]
    for msg in (channel_msg, follower_msg):
        text = telegram_html_text(msg["text"])
        assert "-100555 calls $BONK2" in text and "early, <b>careful" in text
        assert "&lt;b&gt;careful" in msg["text"]  # the KOL's note is text, not markup
    assert "url" in channel_msg["reply_markup"]["inline_keyboard"][0][0]
    assert "web_app" in follower_msg["reply_markup"]["inline_keyboard"][0][0]


async def test_order_events_reach_their_owner(deps: Deps, rig: Rig, core: CommandCore) -> None:
    from tests.bot.test_core import run

    await add_token(deps)
    await run(core, "start", user="700")
    async with deps.sessions.begin() as s:
        user = await accounts.ensure_user(s, platform="telegram", external_id=700, now_ms=1)
        order, _ = await trading.create_order(
            s,
            idempotency_key="k1",
            user_id=user.id,
            mint=MINT,
            side="sell",
            kind="tp",
            amount_in=1_000,
            now_ms=1,
        )
    job = await deps.jobs.enqueue("fanout_order_event", order_id=order.id, event="tp_hit", ts=5)
    assert job is not None
    assert (await deps.jobs.result(job)).result["sent"] == 1
    assert "take-profit reached" in telegram_html_text(rig.api.sent(700)[0]["text"])


async def test_chats_of_a_platform_without_sender_are_left_unclaimed(deps: Deps, rig: Rig) -> None:
    await add_token(deps)
    await add_signal(deps, 1)
    async with deps.sessions.begin() as s:
        chat = await accounts.ensure_chat(
            s, platform="discord", external_id="123", kind="group", now_ms=1
        )
        await alerts.update_alerts(s, chat_id=chat.id, now_ms=1, enabled=True, min_strength=0)
    job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0)
    assert job is not None
    result = (await deps.jobs.result(job)).result
    assert result["skipped_no_sender"] == 1 and result["claimed"] == 0


async def test_alerts_go_to_the_forum_topic_a_group_chose(deps: Deps, rig: Rig) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1)
    rig.api.add_chat(-4242, "supergroup", title="Forum", is_forum=True)
    async with deps.sessions.begin() as s:
        chat = await accounts.ensure_chat(
            s, platform="telegram", external_id="-4242", kind="group", now_ms=1
        )
        await alerts.update_alerts(s, chat_id=chat.id, now_ms=1, enabled=True, topic_id=17)
    job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=0)
    assert job is not None
    assert (await deps.jobs.result(job)).result["sent"] == 1
    (call,) = [c for c in rig.api.calls_to("sendMessage") if c.ok]
    assert call.params["message_thread_id"] == 17 and call.result["is_topic_message"]


async def test_a_group_upgraded_to_a_supergroup_keeps_its_alerts(deps: Deps, rig: Rig) -> None:
    # Telegram answers 400 with migrate_to_chat_id for the old group id: the alert goes to the
    # new id at once, the chat row follows, and the next alert goes there directly.
    from bot.fanout import chat_migrator

    rig.sender.on_migrate = chat_migrator(deps)
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1, strength=2.5)
    await add_signal(deps, 2, strength=2.6, ts=deps.clock.now_ms() - 1)
    await make_chats(deps, privates=0, groups=1)
    async with deps.sessions() as s:
        [chat] = (await s.scalars(select(Chat))).all()
    old, new = int(chat.external_id), -1_009_999_999_999
    rig.api.migrated[old] = new
    for signal_id in (1, 2):
        job = await deps.jobs.enqueue("fanout_signal", signal_id=signal_id, ts=0)
        assert job is not None
        assert (await deps.jobs.result(job, timeout_s=20)).result["sent"] == 1
    assert {m["chat"]["id"] for m in rig.api.sent()} == {new}
    refused = [c for c in rig.api.calls if c.method == "sendMessage" and not c.ok]
    # Only the first alert met the old id; the limiter learns the new id's window from its first
    # send there, so the second alert may draw one 429 (honoured).
    assert [c.error_code for c in refused if c.error_code != 429] == [400]
    assert len(refused) <= 2
    async with deps.sessions() as s:
        moved = await s.get(Chat, chat.id)
        assert moved is not None and moved.external_id == str(new)
