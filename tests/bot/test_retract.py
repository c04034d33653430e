"""``retract_signal``: rows not sent yet expire, a send in flight is waited for, every sent message
is edited once to say the signal was retracted (buttons gone), a retried job changes nothing
more, and a retracted signal is not fanned out any more."""

from __future__ import annotations

import pytest
from sqlalchemy import select, update

from bot.fanout import RETRACTED, RETRACTED_LINE, retract_signal
from engine.deps import Deps
from engine.jobs.base import JobContext, Transient
from engine.services import deliveries
from engine.storage.models import AlertDelivery, Chat
from engine.storage.models import Signal as StoredSignal
from tests.bot import test_fanout
from tests.bot.seed import NOW, add_risk, add_signal, add_token
from tests.bot.test_fanout import Rig, make_chats

rig = test_fanout.rig  # the fan-out rig (local Bot API, Telegram sender), as a fixture here

TS = NOW - 60_000


async def _extra_row(deps: Deps, external_id: str, status: str) -> int:
    async with deps.sessions.begin() as s:
        chat = Chat(platform="telegram", external_id=external_id, kind="private", created_ts=NOW)
        s.add(chat)
        await s.flush()
        s.add(
            AlertDelivery(
                alert_key="signal:1",
                chat_id=chat.id,
                status=status,
                updated_ts=NOW,
                owner="someone",
                lease_ts=NOW + 60_000,
            )
        )
        return chat.id


async def _rows(deps: Deps) -> dict[int, AlertDelivery]:
    async with deps.sessions() as s:
        return {r.chat_id: r for r in await deliveries.deliveries_of(s, alert_key="signal:1")}


async def test_retraction_expires_unsent_rows_and_edits_sent_messages(deps: Deps, rig: Rig) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1, ts=TS, strength=2.5)
    await make_chats(deps, privates=3, groups=0)
    job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=TS)
    assert job is not None and (await deps.jobs.result(job, timeout_s=20)).success
    sent = rig.api.sent()
    assert len(sent) == 3
    waiting = await _extra_row(deps, "20001", deliveries.RETRY)
    in_flight = await _extra_row(deps, "20002", deliveries.SENDING)
    async with deps.sessions.begin() as s:
        await s.execute(update(StoredSignal).values(status="retracted"))
    ctx = JobContext(deps, "retract_signal:1", 1)

    # A send in flight may yet produce a message: the job waits (retries) for its answer.
    with pytest.raises(Transient):
        await retract_signal(ctx, signal_id=1, ts=TS)
    rows = await _rows(deps)
    assert rows[waiting].status == deliveries.EXPIRED and rows[waiting].error == RETRACTED
    assert rows[in_flight].status == deliveries.SENDING
    assert rig.api.calls_to("editMessageText") == []

    async with deps.sessions.begin() as s:
        await s.execute(
            update(AlertDelivery)
            .where(AlertDelivery.chat_id == in_flight)
            .values(status=deliveries.IN_DOUBT)
        )
    result = await retract_signal(ctx, signal_id=1, ts=TS)
    assert result["edited"] == 3 and result["not_edited"] == 0
    edits = [c for c in rig.api.calls_to("editMessageText") if c.ok]
    assert sorted((c.result["chat"]["id"], c.result["message_id"]) for c in edits) == sorted(
        (m["chat"]["id"], m["message_id"]) for m in sent
    )
    line = RETRACTED_LINE.split(":")[0]
    for c in edits:
        assert line in c.result["text"] and "reply_markup" not in c.result
        assert c.result["text"].startswith(sent[0]["text"].split("\n", 1)[0])  # same alert

    # A retried job: Telegram says "not modified", which counts as done; nothing changes.
    again = await retract_signal(ctx, signal_id=1, ts=TS)
    assert again["edited"] == 3 and again["not_edited"] == 0
    assert len([c for c in rig.api.calls_to("editMessageText") if c.ok]) == 3


async def test_a_retracted_signal_is_not_fanned_out(deps: Deps, rig: Rig) -> None:
    await add_token(deps)
    await add_risk(deps)
    await add_signal(deps, 1, ts=TS, strength=2.5)
    await make_chats(deps, privates=2, groups=0)
    async with deps.sessions.begin() as s:
        await s.execute(update(StoredSignal).values(status="retracted"))
    job = await deps.jobs.enqueue("fanout_signal", signal_id=1, ts=TS)
    assert job is not None
    result = await deps.jobs.result(job, timeout_s=20)
    assert result.success and result.result["missing"] is True
    assert rig.api.sent() == []
    async with deps.sessions() as s:
        assert list(await s.scalars(select(AlertDelivery))) == []
