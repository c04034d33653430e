"""Services on SQLite and PostgreSQL: alert settings and audiences, the signal card, watchlist
(balances over the simulator's JSON-RPC), rules, KOL records, deliveries."""

from __future__ import annotations

import asyncio
import hashlib
from typing import Any

import pytest
from solders.pubkey import Pubkey

from engine.bus.memory import MemoryBus
from engine.chain.rpc import RpcClient
from engine.clock import FixedClock
from engine.deps import Deps
from engine.events import ChainEvent
from engine.services import accounts, alerts, deliveries, kol, rules, signals, watchlist
from engine.services.errors import Forbidden, InvalidInput, NotFound
from engine.settings import load_settings
from engine.storage.models import Token
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import tokens as token_repo
from tests.conftest import Db

SOL = 1_000_000_000
NOW = 1_767_225_600_000


def addr(tag: str) -> str:
    return str(Pubkey(hashlib.sha256(tag.encode()).digest()))


MINT = addr("svc-mint")


async def token(db: Db, mint: str = MINT, symbol: str = "PEPE", name: str = "Pepe") -> None:
    async with db.sessions.begin() as s:
        s.add(Token(mint=mint, name=name, symbol=symbol, updated_ts=NOW, created_ts=NOW - 10))


async def signal(db: Db, sid: int, mint: str = MINT, *, strength: float = 2.0, **risk: Any) -> None:
    async with db.sessions.begin() as s:
        await signal_repo.add_signal(
            s,
            id=sid,
            ts=NOW - sid,
            mint=mint,
            strength=strength,
            components={"smart_burst": 1.0},
            inputs={
                "liquidity": {"sol_reserves": 40 * SOL},
                "smart_burst": {"smart_buyers": 2},
            },
            rules=[{"name": "x", "role": "trigger", "summary": "X fired"}],
            risk={"known": True, "level": "medium", "badges": [], "blocks_buy": False, **risk},
        )


async def chat(db: Db, ext: str, kind: str = "group") -> int:
    async with db.sessions.begin() as s:
        c = await accounts.ensure_chat(
            s,
            platform="telegram",
            external_id=ext,
            kind=kind,
            now_ms=NOW,  # type: ignore[arg-type]
        )
        return c.id


async def test_alert_settings_merge_filters_and_choose_the_audience(db: Db) -> None:
    a, b, c = await chat(db, "-1"), await chat(db, "-2"), await chat(db, "-3")
    async with db.sessions.begin() as s:
        await alerts.update_alerts(s, chat_id=a, now_ms=NOW, enabled=True, min_strength=1.5)
        await alerts.update_alerts(s, chat_id=b, now_ms=NOW, enabled=True, min_strength=2.5)
        await alerts.update_alerts(
            s, chat_id=c, now_ms=NOW, enabled=True, filters={"max_risk": "low"}
        )
        merged = await alerts.update_alerts(
            s, chat_id=a, now_ms=NOW, filters={"min_liquidity_lamports": 30 * SOL}, topic_id=5
        )
        assert merged.filters.min_liquidity_lamports == 30 * SOL and merged.topic_id == 5
        with pytest.raises(InvalidInput) as info:
            await alerts.update_alerts(s, chat_id=a, now_ms=NOW, filters={"venues": ["moon"]})
        assert info.value.field == "venues"
        with pytest.raises(InvalidInput):
            await alerts.update_alerts(s, chat_id=a, now_ms=NOW, min_strength=3.5)
    await signal(db, 1)
    async with db.sessions() as s:
        sig = await signals.get_signal(s, signal_id=1)
        assert sig is not None
        audience = await alerts.signal_audience(s, signal=sig)
    # b wants Strength 2.5; c wants low risk only (this one is medium).
    assert [(r.chat.id, r.topic_id) for r in audience] == [(a, 5)]


def test_filters_fail_closed_on_unknown_facts() -> None:
    facts = alerts.SignalFacts(2.0, "unknown", None, "pumpfun", 1)
    assert alerts.passes(alerts.AlertFilters(), 1.0, facts)
    assert not alerts.passes(alerts.AlertFilters(max_risk="critical"), 1.0, facts)
    assert not alerts.passes(alerts.AlertFilters(min_liquidity_lamports=0), 1.0, facts)
    assert not alerts.passes(alerts.AlertFilters(venues=("pumpswap",)), 1.0, facts)
    assert not alerts.passes(alerts.AlertFilters(min_smart_wallets=2), 1.0, facts)
    assert not alerts.passes(alerts.AlertFilters(), 2.5, facts)


async def test_tokens_resolve_by_mint_or_symbol_and_risk_fails_closed(db: Db) -> None:
    other = addr("svc-copy")
    await token(db)
    await token(db, other, symbol="pepe", name="Copy")
    await signal(db, 2, other)
    async with db.sessions() as s:
        assert await signals.resolve_token(s, query="$PEPE") == (other, 1)
        assert await signals.resolve_token(s, query=MINT) == (MINT, 0)
        with pytest.raises(NotFound):
            await signals.resolve_token(s, query="NOPE")
        with pytest.raises(InvalidInput):
            await signals.resolve_token(s, query="$")
        risk = await signals.risk_info(s, mint=MINT, now_ms=NOW)
        assert (risk.known, risk.level, risk.blocks_buy) == (False, "unknown", True)
        card = await signals.signal_card(s, query="PEPE", now_ms=NOW)
        assert card.signal is not None and card.signal.triggers == ("X fired",)
        assert card.same_symbol == 1 and card.risk.level == "medium"
        with pytest.raises(NotFound):
            await signals.signal_card(s, query=addr("never-seen"), now_ms=NOW)


async def test_volume_sums_both_sides_over_the_last_day(db: Db) -> None:
    events = [
        ChainEvent(
            "trade", "pumpfun", f"v{i}", 1, NOW - i * 3_600_000, MINT, 0, addr("t"), side, SOL, 10
        )
        for i, side in enumerate(["buy", "sell", "buy"] + ["buy"] * 30)
    ]
    async with db.sessions.begin() as s:
        await token_repo.insert_ticks(s, events=events)
    async with db.sessions() as s:
        assert await signals.volume_lamports(s, mint=MINT, since_ms=NOW - 86_400_000) == 25 * SOL


async def test_watchlist_validates_counts_monitors_and_reads_balances(db: Db) -> None:
    from tests.engine.sim.support import running_sim

    whale = addr("svc-whale")
    async with db.sessions.begin() as s:
        u1 = await accounts.ensure_user(s, platform="telegram", external_id=1, now_ms=NOW)
        u2 = await accounts.ensure_user(s, platform="discord", external_id=2, now_ms=NOW)
        await watchlist.watch_wallet(
            s, user_id=u1.id, address=whale, now_ms=NOW, alias=" Big  One "
        )
        w = await watchlist.watch_wallet(
            s, user_id=u2.id, address=whale, now_ms=NOW, tags="kol smart"
        )
        assert w.monitors == 2 and w.tags == ("kol", "smart")
        for bad in ("nope", "1" * 44):
            with pytest.raises(InvalidInput) as info:
                await watchlist.watch_wallet(s, user_id=u1.id, address=bad, now_ms=NOW)
            assert info.value.code == "not_address"
        with pytest.raises(InvalidInput):
            await watchlist.watch_wallet(
                s, user_id=u1.id, address=whale, now_ms=NOW, alias="x" * 65
            )
    settings = load_settings(database_url="sqlite+aiosqlite:///unused.db")
    clock = FixedClock(NOW)
    async with running_sim() as sim:
        sim.chain.fund(whale, 12 * SOL)
        async with RpcClient(sim.http_url) as rpc:
            deps = Deps(
                settings,
                clock,
                db.engine,
                db.sessions,
                MemoryBus(1, clock=clock),
                _NoJobs(),
                rpc=rpc,
            )
            (row,) = await watchlist.list_watched(deps, user_id=u1.id)
    assert (row.alias, row.monitors, row.balance_lamports) == ("Big One", 2, 12 * SOL)
    down = Deps(
        settings,
        clock,
        db.engine,
        db.sessions,
        MemoryBus(1, clock=clock),
        _NoJobs(),
        rpc=RpcClient("http://127.0.0.1:1"),
    )
    try:
        (row,) = await watchlist.list_watched(down, user_id=u1.id)
    finally:
        await down.rpc.aclose()
    assert row.balance_lamports is None  # RPC down: the list still shows
    async with db.sessions.begin() as s:
        assert await watchlist.unwatch_wallet(s, user_id=u1.id, address=whale) == whale
        with pytest.raises(NotFound):
            await watchlist.unwatch_wallet(s, user_id=u1.id, address=whale)


class _NoJobs:
    async def enqueue(self, name: str, **kw: Any) -> str | None:
        return None

    async def result(self, job_id: str, *, timeout_s: float = 30.0) -> Any:
        raise KeyError(job_id)


async def test_rules_add_disable_defaults_and_refuse_kind_changes(db: Db) -> None:
    async with db.sessions.begin() as s:
        user = await accounts.ensure_user(s, platform="telegram", external_id=9, now_ms=NOW)
        view = await rules.add_rule(
            s,
            user_id=user.id,
            name="Big",
            kind="smart_buy_burst",
            params={"min_wallets": 5},
            now_ms=NOW,
        )
        assert (view.name, view.origin, view.params["min_wallets"]) == ("big", "user", 5)
        off = await rules.set_rule_enabled(
            s, user_id=user.id, name="momentum", enabled=False, now_ms=NOW
        )
        assert not off.enabled
        listed = {r.name: r for r in await rules.list_rules(s, user_id=user.id)}
        assert not listed["momentum"].enabled and listed["momentum"].origin == "user"
        assert listed["big"].enabled
        await rules.set_rule_enabled(s, user_id=user.id, name="big", enabled=False, now_ms=NOW)
        await rules.set_rule_enabled(s, user_id=user.id, name="big", enabled=True, now_ms=NOW)
        assert {r.name: r for r in await rules.list_rules(s, user_id=user.id)}["big"].enabled
        with pytest.raises(InvalidInput) as info:
            await rules.add_rule(
                s, user_id=user.id, name="momentum", kind="push_time", params={}, now_ms=NOW
            )
        assert info.value.code == "bad_rules"
        with pytest.raises(InvalidInput) as info:
            await rules.add_rule(s, user_id=user.id, name="x", kind="nope", params={}, now_ms=NOW)
        assert info.value.code == "bad_rule_kind"
        with pytest.raises(NotFound):
            await rules.set_rule_enabled(s, user_id=user.id, name="ghost", enabled=True, now_ms=NOW)


async def test_kol_calls_followers_and_hit_rate(db: Db) -> None:
    trader = addr("svc-trader")

    def tick(sig: str, ts: int, lamports: int) -> ChainEvent:
        return ChainEvent("trade", "pumpfun", sig, 1, ts, MINT, 0, trader, "buy", lamports, 1_000)

    async with db.sessions.begin() as s:
        await token_repo.insert_ticks(s, events=[tick("p0", NOW - 100, 1_000)])
        owner = await accounts.ensure_user(s, platform="telegram", external_id=50, now_ms=NOW)
        fan = await accounts.ensure_user(s, platform="telegram", external_id=51, now_ms=NOW)
        channel = await kol.link_channel(
            s, user_id=owner.id, platform="telegram", external_id="-100", title="Alpha", now_ms=NOW
        )
        with pytest.raises(Forbidden):
            await kol.link_channel(
                s, user_id=fan.id, platform="telegram", external_id="-100", title=None, now_ms=NOW
            )
        with pytest.raises(Forbidden):
            await kol.publish_call(
                s, channel=channel, user_id=fan.id, mint=MINT, note=None, now_ms=NOW
            )
        call = await kol.publish_call(
            s, channel=channel, user_id=owner.id, mint=MINT, note=" go ", now_ms=NOW
        )
        assert call.note == "go" and call.price is not None and call.price.numerator == 1
        assert await kol.set_following(s, user_id=fan.id, channel=channel, follow=True, now_ms=NOW)
        assert not await kol.set_following(
            s, user_id=fan.id, channel=channel, follow=True, now_ms=NOW
        )
        assert await kol.followers(s, channel_chat_id=channel.id) == [fan.id]
        assert [c.id for c in await kol.following(s, user_id=fan.id)] == [channel.id]
        open_record = await kol.kol_record(s, channel=channel, now_ms=NOW + 1)
        assert (open_record.calls, open_record.settled, open_record.hit_rate) == (1, 0, None)
        await token_repo.insert_ticks(s, events=[tick("p1", NOW + 3_600_000, 1_600)])
        record = await kol.kol_record(s, channel=channel, now_ms=NOW + 90_000_000)
        assert (record.calls, record.hits, record.hit_rate, record.followers) == (1, 1, 1.0, 1)
        assert record.recent[0].best_multiple == pytest.approx(1.6)


async def test_deliveries_are_claimed_once_and_digests_taken_once(db: Db) -> None:
    a, b = await chat(db, "-10"), await chat(db, "-11")
    async with db.sessions.begin() as s:
        assert await deliveries.claim_many(s, alert_key="k", chat_ids=[a, b], now_ms=NOW) == [a, b]
        assert await deliveries.claim_many(s, alert_key="k", chat_ids=[a, b], now_ms=NOW) == []
        await deliveries.finish_batch(
            s,
            alert_key="k",
            outcomes=[
                deliveries.Outcome(a, "sent", "m1"),
                deliveries.Outcome(b, deliveries.DIGEST),
            ],
            now_ms=NOW,
        )
    async with db.sessions.begin() as s:
        assert await deliveries.chats_with_digest(s) == [b]
        assert await deliveries.outcome_counts(s, alert_key="k") == {"sent": 1, "digest": 1}

    async def take() -> list[str]:
        async with db.sessions.begin() as s:
            return await deliveries.take_digest(s, chat_id=b, now_ms=NOW)

    if db.dialect == "sqlite":
        first, second = await take(), await take()
    else:
        first, second = await asyncio.gather(take(), take())
    assert sorted([first, second]) == [[], ["k"]]
    async with db.sessions() as s:
        rows = await deliveries.deliveries_of(s, alert_key="k")
    assert [(r.status, r.attempts, r.message_id) for r in rows] == [
        ("sent", 1, "m1"),
        ("pending", 1, None),
    ]
