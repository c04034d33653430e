"""Auto-trade rules: off by default; a signal buys once and never twice (replays, races); the
daily limit stops it; risk and policy block with reasons; every run is audited; with an
unlocked, opted-in server signer the buy is signed under the policy's approval; the rule's TP/SL
is attached when the buy fills."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

import pytest
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction
from sqlalchemy import select

from engine.clock import FixedClock
from engine.risk.model import RiskView
from engine.risk.verdict import judge
from engine.storage.models import AuditLog, Order, Trade
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import tokens as token_repo
from engine.storage.repos import trading as trading_repo
from engine.trading.autotrade import AutoTrader, save_rule, set_rule_enabled
from engine.trading.keystore import KdfParams
from engine.trading.orders import BRACKET, TRIGGERED
from engine.trading.price import Price
from engine.trading.signer import ServerSigner, SignerVault
from tests.engine.trading.conftest import MINT, SOL, Rig, new_user
from tests.engine.trading.test_signer import unsigned_transfer

_signal_ids = itertools.count(1000)
RULE = {
    "min_strength": 2.0,
    "min_smart_buyers": 3,
    "buy_lamports": 400_000_000,
    "exits": {
        "take_profits": [{"gain_bps": 10_000, "sell_bps": 5000}],
        "stop_loss": {"loss_bps": 3000},
    },
}


async def _risk(rig: Rig, **facts: Any) -> None:
    view = RiskView(mint=MINT, checked_ts=rig.clock.now_ms(), known=frozenset({"mint"}), **facts)
    verdict = judge(view)
    async with rig.db.sessions.begin() as session:
        await token_repo.ensure_token(session, mint=MINT, now_ms=rig.clock.now_ms())
        await signal_repo.put_risk_report(
            session,
            mint=MINT,
            level=verdict.level,
            badges=list(verdict.badges),
            data={"view": view.to_dict(), "penalties": verdict.penalties},
            checked_ts=view.checked_ts,
            ttl_ms=3_600_000,
        )


async def _signal(rig: Rig, *, strength: float = 2.5, smart: int = 4) -> int:
    signal_id = next(_signal_ids)
    async with rig.db.sessions.begin() as session:
        await signal_repo.add_signal(
            session,
            id=signal_id,
            ts=rig.clock.now_ms(),
            mint=MINT,
            strength=strength,
            components={},
            inputs={"smart_burst": {"smart_buyers": smart}},
            rules=[],
        )
    return signal_id


async def _rule(rig: Rig, user_id: int, params: dict[str, Any] = RULE, *, on: bool = True) -> int:
    async with rig.db.sessions.begin() as session:
        row = await save_rule(
            session, user_id=user_id, name="smart-burst", params=params, now_ms=rig.clock.now_ms()
        )
        assert row.enabled is False  # a new rule is always off
        if on:
            await set_rule_enabled(
                session, user_id=user_id, rule_id=row.id, enabled=True, now_ms=rig.clock.now_ms()
            )
        return row.id


def _trader(rig: Rig, **kwargs: Any) -> AutoTrader:
    return AutoTrader(
        rig.db.sessions,
        rig.clock,
        quoter=rig.market,
        exits=rig.exits,
        notifier=rig.exits._notifier,
        **kwargs,
    )


async def _audit(rig: Rig) -> list[str]:
    async with rig.db.sessions() as session:
        rows = await session.scalars(
            select(AuditLog).where(AuditLog.action.like("auto_trade.%")).order_by(AuditLog.id)
        )
        return [r.action for r in rows]


async def _orders(rig: Rig) -> list[Order]:
    async with rig.db.sessions() as session:
        rows = await session.scalars(select(Order).where(Order.kind == "auto_buy"))
        return list(rows.all())


@pytest.fixture
async def user(rig: Rig) -> int:
    await _risk(rig)
    return await new_user(
        rig.db,
        rig.clock,
        2002,
        policy={"max_trade_lamports": SOL, "daily_limit_lamports": SOL},
    )


async def test_rules_are_off_by_default_and_editing_turns_them_off(rig: Rig, user: int) -> None:
    rule_id = await _rule(rig, user, on=False)
    assert await _trader(rig).on_signal(await _signal(rig)) == []
    async with rig.db.sessions.begin() as session:
        await set_rule_enabled(
            session, user_id=user, rule_id=rule_id, enabled=True, now_ms=rig.clock.now_ms()
        )
    edited = await _rule(rig, user, {**RULE, "buy_lamports": 300_000_000}, on=False)
    assert edited == rule_id
    assert await _trader(rig).on_signal(await _signal(rig)) == []
    assert await _orders(rig) == []


async def test_a_signal_buys_once_and_never_twice(rig: Rig, user: int) -> None:
    await _rule(rig, user)
    signal_id = await _signal(rig)
    trader = _trader(rig)
    [run] = await trader.on_signal(signal_id)
    assert run.outcome == "confirm"  # non-custodial by default: the user taps to buy
    replays = await asyncio.gather(*(trader.on_signal(signal_id) for _ in range(3)))
    assert [r.outcome for [r] in replays] == ["duplicate"] * 3
    [order] = await _orders(rig)
    assert order.status == TRIGGERED and order.amount_in == 400_000_000
    assert order.idempotency_key == f"auto:{run.rule_id}:{signal_id}"
    [notice] = await rig.notices()
    assert notice["event"] == "confirm_buy" and notice["side"] == "buy"
    assert notice["min_out"] > 0 and "side=buy" in notice["link"]
    assert (
        await _audit(rig)
        == ["auto_trade.enable", "auto_trade.confirm"] + ["auto_trade.duplicate"] * 3
    )


async def test_concurrent_signals_stop_at_the_daily_limit(rig: Rig, user: int) -> None:
    await _rule(rig, user)
    trader = _trader(rig)
    signals = [await _signal(rig) for _ in range(4)]
    runs = await asyncio.gather(*(trader.on_signal(s) for s in signals))
    outcomes = sorted(r.outcome for [r] in runs)
    assert outcomes == ["blocked", "blocked", "confirm", "confirm"]  # 2 x 0.4 SOL fit in 1 SOL
    blocked = [r for [r] in runs if r.outcome == "blocked"]
    assert all(r.reasons[0].startswith("daily_limit:") for r in blocked)
    statuses = sorted(o.status for o in await _orders(rig))
    assert statuses == ["rejected", "rejected", TRIGGERED, TRIGGERED]
    events = sorted(n["event"] for n in await rig.notices())
    assert events == ["auto_blocked", "auto_blocked", "confirm_buy", "confirm_buy"]
    # A replay of a blocked signal stays blocked: the decision is final per rule and signal.
    [again] = await trader.on_signal(blocked[0].signal_id)
    assert again.outcome == "duplicate"
    # The next UTC day the limit is fresh.
    rig.clock.advance(24 * 3_600_000)
    await _risk(rig)  # yesterday's report expired; a fresh check (an expired one blocks)
    [tomorrow] = await trader.on_signal(await _signal(rig))
    assert tomorrow.outcome == "confirm"


async def test_freeze_authority_and_price_impact_block_with_reasons(rig: Rig, user: int) -> None:
    await _rule(rig, user)
    await _risk(rig, freeze_authority=str(Pubkey.new_unique()))
    [frozen] = await _trader(rig).on_signal(await _signal(rig))
    assert frozen.outcome == "blocked" and frozen.reasons[0].startswith("freeze_authority")
    await _risk(rig)
    rig.market.vsol = SOL  # a thin curve: 0.4 SOL moves the price a lot
    [thin] = await _trader(rig).on_signal(await _signal(rig))
    assert thin.outcome == "blocked" and thin.reasons[0].startswith("price_impact")
    assert await _audit(rig) == ["auto_trade.enable", "auto_trade.block", "auto_trade.block"]


async def test_weak_signals_do_not_run_the_rule(rig: Rig, user: int) -> None:
    await _rule(rig, user)
    trader = _trader(rig)
    assert await trader.on_signal(await _signal(rig, strength=1.9)) == []
    assert await trader.on_signal(await _signal(rig, smart=2)) == []
    assert await _orders(rig) == []


class LocalExecutor:
    """Our SwapExecutor protocol in-process: builds a real v0 transaction, checks the signature."""

    def __init__(self) -> None:
        self.submitted: list[VersionedTransaction] = []

    async def build(self, *, owner: str, mint: str, side: str, amount_in: int, min_out: int) -> Any:
        return unsigned_transfer(owner)

    async def submit(self, tx: Any, *, idempotency_key: str) -> str:
        assert tx.verify_with_results() == [True]
        self.submitted.append(tx)
        return str(tx.signatures[0])


async def test_the_server_signer_executes_within_policy_and_exits_attach_on_fill(
    rig: Rig, tmp_path: Path, clock: FixedClock
) -> None:
    await _risk(rig)
    user = await new_user(
        rig.db,
        clock,
        3003,
        server_signer=True,
        policy={
            "max_trade_lamports": SOL,
            "daily_limit_lamports": SOL,
            "confirm_above_lamports": SOL // 2,
        },
    )
    signer = ServerSigner.create(
        tmp_path / "s.key",
        "pass phrase",
        user_id=user,
        clock=clock,
        kdf=KdfParams(64, 1, 1),
        allow_weak_kdf=True,
    )
    vault = SignerVault()
    vault.add(signer)
    executor = LocalExecutor()
    await _rule(rig, user)
    trader = _trader(rig, executor=executor, vault=vault)

    [locked] = await trader.on_signal(await _signal(rig))
    assert locked.outcome == "confirm" and "signer" in locked.reasons[0]
    signer.unlock("pass phrase")
    signal_id = await _signal(rig)
    [run] = await trader.on_signal(signal_id)
    assert run.outcome == "executed" and len(executor.submitted) == 1
    assert str(executor.submitted[0].message.account_keys[0]) == signer.pubkey
    async with rig.db.sessions() as session:
        trade = (await session.scalars(select(Trade).where(Trade.order_id == run.order_id))).one()
    assert trade.status == "submitted" and trade.signature == str(
        executor.submitted[0].signatures[0]
    )
    assert (await trader.on_signal(signal_id))[0].outcome == "duplicate"
    assert len(executor.submitted) == 1

    # The buy confirms: the order fills and the rule's TP/SL attaches at the fill's price.
    tracked: list[int] = []

    async def track(parent_id: int) -> None:
        tracked.append(parent_id)

    rig.exits.on_attached = track
    async with rig.db.sessions.begin() as session:
        await trading_repo.update_trade(
            session, trade_id=trade.id, status="confirmed", out_amount=12_000_000_000_000, now_ms=1
        )
    assert run.order_id is not None
    assert (await rig.exits.advance(run.order_id)).state == "filled"
    async with rig.db.sessions() as session:
        bracket = (await session.scalars(select(Order).where(Order.kind == BRACKET))).one()
    assert tracked == [bracket.id] and bracket.amount_in == 12_000_000_000_000
    assert Price.from_json(bracket.params["entry"]) == Price(400_000_000, 12_000_000_000_000)
    actions = await _audit(rig)
    assert actions[-3:] == ["auto_trade.execute", "auto_trade.submitted", "auto_trade.duplicate"]


async def test_execution_errors_trip_the_error_burst_breaker(
    rig: Rig, tmp_path: Path, clock: FixedClock
) -> None:
    await _risk(rig)
    user = await new_user(
        rig.db,
        clock,
        4004,
        server_signer=True,
        policy={"max_trade_lamports": SOL, "daily_limit_lamports": 10 * SOL,
                "confirm_above_lamports": SOL, "error_burst_count": 2},
    )  # fmt: skip
    signer = ServerSigner.create(
        tmp_path / "e.key", "pw pw", user_id=user, clock=clock, kdf=KdfParams(64, 1, 1),
        allow_weak_kdf=True,
    )  # fmt: skip
    signer.unlock("pw pw")
    vault = SignerVault()
    vault.add(signer)

    class BrokenExecutor(LocalExecutor):
        async def submit(self, tx: Any, *, idempotency_key: str) -> str:
            raise ConnectionError("node down")

    await _rule(rig, user)
    trader = _trader(rig, executor=BrokenExecutor(), vault=vault)
    outcomes = [(await trader.on_signal(await _signal(rig)))[0] for _ in range(3)]
    assert [r.outcome for r in outcomes] == ["error", "error", "blocked"]
    assert outcomes[2].reasons[0].startswith("error_burst")


async def test_an_expired_risk_report_fails_closed(rig: Rig, user: int) -> None:
    await _rule(rig, user)
    trader = _trader(rig)
    [fresh] = await trader.on_signal(await _signal(rig))
    assert fresh.outcome == "confirm"
    # The report (1 h TTL, written by the fixture) is still in the table but past its expiry:
    # its verdict may no longer hold, so the buy is blocked as if no check had run.
    rig.clock.advance(3_600_000)
    [stale] = await trader.on_signal(await _signal(rig))
    assert stale.outcome == "blocked"
    assert stale.reasons[0].startswith("risk_unknown")
    await _risk(rig)  # checked again: trading resumes
    [again] = await trader.on_signal(await _signal(rig))
    assert again.outcome == "confirm"
