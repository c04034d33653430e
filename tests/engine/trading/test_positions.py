"""Positions and PnL from confirmed trades: average cost, realized and unrealized, in lamports
and micro-dollars; attaching exits to what the user holds."""

from __future__ import annotations

from engine.storage.models import Order
from engine.storage.repos import trading as trading_repo
from engine.trading.adapters import FixedSolUsd, TickPrices
from engine.trading.attach import attach_to_position
from engine.trading.positions import Fill, fold, portfolio, usd_micros
from engine.trading.price import Price
from tests.engine.trading.conftest import MINT, SOL, Rig


def test_average_cost_realizes_in_proportion() -> None:
    pos = fold(
        [
            Fill("m", "buy", 1 * SOL, 1_000, 1),
            Fill("m", "buy", 2 * SOL, 1_000, 2),  # average cost 1.5 SOL per 1000
            Fill("m", "sell", 500, 1 * SOL, 3),  # cost out 0.75 SOL: +0.25 SOL
            Fill("m", "sell", 1_500, 1 * SOL, 4),  # the rest: cost 2.25 SOL, -1.25 SOL
        ]
    )["m"]
    assert pos.qty == 0 and pos.cost_lamports == 0
    assert pos.realized_lamports == 2 * SOL - 3 * SOL
    assert pos.bought_lamports == 3 * SOL and pos.sold_lamports == 2 * SOL


def test_integer_rounding_stays_in_the_cost_and_leaves_with_the_last_token() -> None:
    fills = [Fill("m", "buy", 10, 3, 1)] + [Fill("m", "sell", 1, 4, t) for t in (2, 3, 4)]
    pos = fold(fills)["m"]
    assert pos.qty == 0 and pos.cost_lamports == 0 and pos.realized_lamports == 12 - 10


def test_selling_more_than_was_bought_realizes_only_the_known_part() -> None:
    pos = fold([Fill("m", "buy", 100, 10, 1), Fill("m", "sell", 20, 400, 2)])["m"]
    assert pos.qty == 0 and pos.realized_lamports == 200 - 100


def test_usd_is_integer_micro_dollars() -> None:
    assert usd_micros(SOL, 150_250_000) == 150_250_000
    assert usd_micros(-SOL // 2, 150_000_000) == -75_000_000
    assert usd_micros(None, 1) is None and usd_micros(1, None) is None


async def _confirmed(rig: Rig, key: str, side: str, amount: int, out: int) -> None:
    async with rig.db.sessions.begin() as session:
        trade, _ = await trading_repo.record_trade(
            session,
            idempotency_key=key,
            user_id=rig.user_id,
            mint=MINT,
            side=side,
            in_amount=amount,
            now_ms=rig.clock.now_ms(),
        )
        for status in ("submitted", "confirmed"):
            await trading_repo.update_trade(
                session,
                trade_id=trade.id,
                status=status,
                now_ms=rig.clock.now_ms(),
                out_amount=out if status == "confirmed" else None,
            )
        rig.clock.advance(1000)


async def test_portfolio_values_open_positions_at_the_latest_tick(rig: Rig) -> None:
    tokens = 10_000_000_000_000
    await _confirmed(rig, "b1", "buy", SOL, tokens)
    await _confirmed(rig, "s1", "sell", tokens // 4, SOL // 2)  # a quarter for half the cost
    async with rig.db.sessions.begin() as session:  # a failed trade does not count
        await trading_repo.record_trade(
            session,
            idempotency_key="f1",
            user_id=rig.user_id,
            mint=MINT,
            side="buy",
            in_amount=5 * SOL,
            now_ms=rig.clock.now_ms(),
        )
    await rig.tick(20_000, rig.monitor())  # stores a tick at twice the starting price
    async with rig.db.sessions() as session:
        book = await portfolio(
            session,
            user_id=rig.user_id,
            prices=TickPrices(rig.db.sessions),
            sol_usd=FixedSolUsd(200_000_000),
        )
    [view] = book.positions
    assert view.qty == tokens - tokens // 4 and view.cost_lamports == SOL * 3 // 4
    assert view.realized_lamports == SOL // 2 - SOL // 4
    price = rig.market.price
    assert view.price == price and view.value_lamports == price.value_lamports(view.qty)
    assert view.unrealized_lamports == view.value_lamports - SOL * 3 // 4  # type: ignore[operator]
    assert view.realized_usd_micros == 50_000_000  # 0.25 SOL at $200
    assert book.unrealized_lamports == view.unrealized_lamports and book.unpriced == []
    async with rig.db.sessions() as session:
        unpriced = await portfolio(
            session,
            user_id=rig.user_id,
            prices=TickPrices(rig.db.sessions),
            sol_usd=FixedSolUsd(None),
        )
    assert unpriced.realized_usd_micros is None


async def test_exits_attach_to_the_held_position_at_average_cost(rig: Rig) -> None:
    await _confirmed(rig, "b1", "buy", SOL, 1_000_000)
    await _confirmed(rig, "b2", "buy", 3 * SOL, 1_000_000)
    async with rig.db.sessions.begin() as session:
        attached = await attach_to_position(
            session,
            user_id=rig.user_id,
            mint=MINT,
            plan={"stop_loss": {"loss_bps": 2000}},
            key="bracket:pos",
            now_ms=rig.clock.now_ms(),
        )
        parent = await session.get(Order, attached.parent_id)
    assert parent is not None and parent.amount_in == 2_000_000
    assert Price.from_json(parent.params["entry"]) == Price(4 * SOL, 2_000_000)
