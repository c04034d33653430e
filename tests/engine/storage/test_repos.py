"""Repositories on SQLite and PostgreSQL: idempotency, dedupe, cursors, the money rules."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from engine.events import ChainEvent
from engine.storage.models import Tick
from engine.storage.repos import audit, signals, tokens, trading, users, wallets
from tests.conftest import Db

MINT = "7nYhDYAxQdFn2DRPcjBFPQQz5qb8HeFiJv9o9w6fpump"
WALLET_A = "4DdrfiDHpmx55i4SPssxVzS9ZaKLb8qr45NKY9Er9nNh"
WALLET_B = "G2341KGbNxuSAfCfqNuPhfLQtPB94hPfgyVPC89Faor4"


def trade(sig: str, idx: int = 0, *, ts: int = 1_000, trader: str = WALLET_A) -> ChainEvent:
    return ChainEvent(
        kind="trade",
        venue="pumpfun",
        signature=sig,
        slot=5,
        ts=ts,
        mint=MINT,
        index=idx,
        trader=trader,
        side="buy",
        sol_lamports=1_000_000_000,
        token_amount=34_612_901_212_710,
        virtual_sol_reserves=31_000_000_888,
        virtual_token_reserves=1_038_387_067_117_582,
    )


async def test_ticks_are_stored_once_even_when_replayed(db: Db) -> None:
    events = [trade("sig1"), trade("sig1", 1), trade("sig2", ts=2_000)]
    async with db.sessions.begin() as s:
        await tokens.insert_ticks(s, events=events)
    async with db.sessions.begin() as s:
        await tokens.insert_ticks(s, events=list(reversed(events)))
    async with db.sessions() as s:
        rows = await tokens.ticks_for_mint(s, mint=MINT, since_ms=0)
        assert [(r.signature, r.idx) for r in rows] == [("sig1", 0), ("sig1", 1), ("sig2", 0)]
        # Raw units survive the round trip as exact integers.
        assert rows[0].token_amount == 34_612_901_212_710
        assert (await s.execute(select(func.count()).select_from(Tick))).scalar_one() == 3


async def test_first_create_wins_and_hostile_names_are_clipped(db: Db, clock) -> None:  # type: ignore[no-untyped-def]
    create = ChainEvent(
        kind="create",
        venue="pumpfun",
        signature="s",
        slot=1,
        ts=1,
        mint=MINT,
        name="A" * 5000 + "\x00",
        symbol="<b>P\x00WN</b>",
        creator=WALLET_A,
    )
    async with db.sessions.begin() as s:
        await tokens.upsert_token_from_create(s, event=create, now_ms=clock.now_ms())
        later = ChainEvent(**{**create.to_dict(), "name": "other", "signature": "t"})
        await tokens.upsert_token_from_create(s, event=later, now_ms=clock.now_ms())
    async with db.sessions() as s:
        tok = await tokens.get_token(s, mint=MINT)
        assert tok is not None and tok.name == "A" * 200 and tok.symbol == "<b>PWN</b>"
        assert [t.mint for t in await tokens.search_tokens(s, query="<b>p")] == [MINT]
        # LIKE wildcards in a query are literal, not patterns.
        assert await tokens.search_tokens(s, query="%") == []


async def test_signals_page_newest_first_with_cursor(db: Db) -> None:
    async with db.sessions.begin() as s:
        for i in range(5):
            await signals.add_signal(
                s,
                id=100 + i,
                ts=1_000 + (i // 2),
                mint=MINT,
                strength=0.5 * i,
                components={"smart_burst": 1.0},
                inputs={"smart_sol_5m": 12_000_000_000},
                rules=["smart_buy_burst"],
            )
    async with db.sessions() as s:
        page1 = await signals.list_signals(s, limit=2)
        cursor = (page1[-1].ts, page1[-1].id)
        page2 = await signals.list_signals(s, limit=2, before=cursor)
        page3 = await signals.list_signals(s, limit=2, before=(page2[-1].ts, page2[-1].id))
        assert [x.id for x in page1 + page2 + page3] == [104, 103, 102, 101, 100]
        assert [x.id for x in await signals.list_signals(s, min_strength=1.0)] == [104, 103, 102]
        assert page1[0].inputs == {"smart_sol_5m": 12_000_000_000}
    async with db.sessions.begin() as s:
        with pytest.raises(ValueError, match="strength must be within"):
            await signals.add_signal(
                s, id=1, ts=1, mint=MINT, strength=3.5, components={}, inputs={}, rules=[]
            )


async def test_risk_report_expires(db: Db) -> None:
    async with db.sessions.begin() as s:
        await signals.put_risk_report(
            s, mint=MINT, level="high", badges=["freeze"], data={}, checked_ts=1_000, ttl_ms=500
        )
        await signals.put_risk_report(
            s, mint=MINT, level="low", badges=[], data={}, checked_ts=2_000, ttl_ms=500
        )
    async with db.sessions() as s:
        report = await signals.get_risk_report(s, mint=MINT, now_ms=2_100)
        assert report is not None and report.level == "low"
        assert await signals.get_risk_report(s, mint=MINT, now_ms=2_500) is None


async def test_watchlists_and_monitor_counts(db: Db, clock) -> None:  # type: ignore[no-untyped-def]
    now = clock.now_ms()
    async with db.sessions.begin() as s:
        u1 = await users.get_or_create_telegram_user(s, telegram_id=1, now_ms=now)
        u2 = await users.get_or_create_telegram_user(s, telegram_id=2, now_ms=now)
        await wallets.watch(
            s, user_id=u1.id, address=WALLET_A, alias="whale", tags=["kol"], now_ms=now
        )
        await wallets.watch(s, user_id=u2.id, address=WALLET_A, now_ms=now)
        await wallets.watch(s, user_id=u1.id, address=WALLET_B, now_ms=now, tags=["smart"])
        await wallets.ensure_wallet(
            s, address="FeaturedWa11et1111111111111111111111111111", now_ms=now, featured=True
        )
    async with db.sessions() as s:
        rows = await wallets.watchlist(s, user_id=u1.id)
        assert [(e.address, e.alias, e.tags, n) for e, n in rows] == [
            (WALLET_A, "whale", ["kol"], 2),
            (WALLET_B, None, ["smart"], 1),
        ]
        assert await wallets.tracked_addresses(s) == {
            WALLET_A,
            WALLET_B,
            "FeaturedWa11et1111111111111111111111111111",
        }
    async with db.sessions.begin() as s:
        assert await wallets.unwatch(s, user_id=u2.id, address=WALLET_A) is True
        assert await wallets.unwatch(s, user_id=u2.id, address=WALLET_A) is False
        assert await wallets.monitor_count(s, address=WALLET_A) == 1


async def test_smart_trades_dedupe_and_activity_order(db: Db) -> None:
    events = [trade("a", ts=1), trade("b", ts=3, trader=WALLET_B), trade("c", ts=2)]
    async with db.sessions.begin() as s:
        assert await wallets.record_smart_trades(s, events=events) == 3
        assert await wallets.record_smart_trades(s, events=events) == 0
    async with db.sessions() as s:
        got = await wallets.smart_activity(s, since_ms=0)
        assert [t.signature for t in got] == ["b", "c", "a"]
        only_a = await wallets.smart_activity(s, since_ms=0, wallets=[WALLET_A])
        assert [t.signature for t in only_a] == ["c", "a"]


async def test_orders_and_trades_are_created_once_per_idempotency_key(db: Db, clock) -> None:  # type: ignore[no-untyped-def]
    now = clock.now_ms()
    async with db.sessions.begin() as s:
        user = await users.get_or_create_telegram_user(s, telegram_id=7, now_ms=now)
        t1, created1 = await trading.record_trade(
            s,
            idempotency_key="k1",
            user_id=user.id,
            mint=MINT,
            side="buy",
            in_amount=100_000_000,
            now_ms=now,
        )
        t2, created2 = await trading.record_trade(
            s,
            idempotency_key="k1",
            user_id=user.id,
            mint=MINT,
            side="buy",
            in_amount=999,
            now_ms=now,
        )
        assert created1 and not created2 and t1.id == t2.id and t2.in_amount == 100_000_000
        o1, c1 = await trading.create_order(
            s,
            idempotency_key="o1",
            user_id=user.id,
            mint=MINT,
            side="sell",
            kind="tp",
            amount_in=5,
            now_ms=now,
        )
        o2, c2 = await trading.create_order(
            s,
            idempotency_key="o1",
            user_id=user.id,
            mint=MINT,
            side="sell",
            kind="tp",
            amount_in=5,
            now_ms=now,
        )
        assert c1 and not c2 and o1.id == o2.id
        await trading.update_trade(
            s, trade_id=t1.id, status="submitted", now_ms=now, signature="sx"
        )
        await trading.update_trade(s, trade_id=t1.id, status="confirmed", now_ms=now, out_amount=42)
        with pytest.raises(ValueError, match="cannot go from confirmed to submitted"):
            await trading.update_trade(s, trade_id=t1.id, status="submitted", now_ms=now)
        with pytest.raises(ValueError, match="positive integer of raw units"):
            await trading.record_trade(
                s,
                idempotency_key="k2",
                user_id=user.id,
                mint=MINT,
                side="buy",
                in_amount=0.1,
                now_ms=now,  # type: ignore[arg-type]
            )
        with pytest.raises(ValueError, match="side must be buy or sell"):
            await trading.record_trade(
                s,
                idempotency_key="k3",
                user_id=user.id,
                mint=MINT,
                side="hodl",
                in_amount=1,
                now_ms=now,
            )


async def test_rules_per_user_and_global(db: Db, clock) -> None:  # type: ignore[no-untyped-def]
    now = clock.now_ms()
    async with db.sessions.begin() as s:
        user = await users.get_or_create_telegram_user(s, telegram_id=9, now_ms=now)
        await trading.save_rule(
            s, name="burst", kind="smart_buy_burst", params={"n": 3}, now_ms=now
        )
        mine = await trading.save_rule(
            s, name="burst", kind="smart_buy_burst", params={"n": 2}, now_ms=now, user_id=user.id
        )
        await trading.save_rule(
            s, name="burst", kind="smart_buy_burst", params={"n": 4}, now_ms=now, user_id=user.id
        )
        rules = await trading.list_rules(s, user_id=user.id)
        assert sorted((r.user_id or 0, r.params["n"]) for r in rules) == [(0, 3), (user.id, 4)]
        await trading.set_rule_enabled(
            s, rule_id=mine.id, user_id=user.id, enabled=False, now_ms=now
        )
        with pytest.raises(LookupError):
            await trading.set_rule_enabled(
                s, rule_id=mine.id, user_id=None, enabled=True, now_ms=now
            )


async def test_alert_delivery_is_claimed_once_per_chat(db: Db, clock) -> None:  # type: ignore[no-untyped-def]
    now = clock.now_ms()
    async with db.sessions.begin() as s:
        chat = await users.get_or_create_chat(
            s, platform="telegram", external_id="-100123", kind="group", now_ms=now
        )
        await users.subscribe(s, chat_id=chat.id, kind="signals", min_strength=2.0, now_ms=now)
        assert await users.claim_delivery(s, alert_key="sig:1", chat_id=chat.id, now_ms=now)
        assert not await users.claim_delivery(s, alert_key="sig:1", chat_id=chat.id, now_ms=now)
        await users.finish_delivery(
            s, alert_key="sig:1", chat_id=chat.id, now_ms=now, status="sent", message_id="77"
        )
        assert [c.id for _, c in await users.subscribers(s, kind="signals", strength=2.5)] == [
            chat.id
        ]
        assert await users.subscribers(s, kind="signals", strength=1.9) == []
        with pytest.raises(ValueError, match="min_strength"):
            await users.subscribe(s, chat_id=chat.id, kind="signals", min_strength=4, now_ms=now)


async def test_audit_entries_read_back_newest_first(db: Db) -> None:
    async with db.sessions.begin() as s:
        await audit.append(s, ts=1, actor="u:1", action="rule.enable", subject="rule:1")
        await audit.append(s, ts=2, actor="u:1", action="rule.disable", subject="rule:1")
    async with db.sessions() as s:
        assert [e.action for e in await audit.entries(s, subject="rule:1")] == [
            "rule.disable",
            "rule.enable",
        ]
