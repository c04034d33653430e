"""Attach orders to a position: from the Mini App, from ``/buy``, from an auto-trade rule.

Each function validates its parameters (errors name the field), creates the group once per
idempotency key and returns what was attached; the caller commits, then tells a running monitor
(``PriceMonitor.track``) or lets the ``check_orders`` safety net pick it up.

- :func:`attach_exit_plan`: TP/SL/trailing on a position of known size and entry price;
- :func:`attach_to_position`: the same on what the user holds now (average cost from trades);
- :func:`buy_with_exits`: a ``/buy`` or Mini App buy carrying an exit plan; when its trade
  confirms, :func:`attach_on_confirmed_buy` attaches the plan at the fill's own price;
- :func:`start_dca`: a DCA in or out.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import Order, Trade
from engine.storage.repos import trading as trading_repo
from engine.trading import store
from engine.trading.errors import OrderParamsError
from engine.trading.orders import DCA_BUY, DCA_SELL, GROUP_KINDS, bracket_legs, dca_slices
from engine.trading.params import DcaPlan, ExitPlan, parse_params
from engine.trading.positions import position_of
from engine.trading.price import Price

logger = logging.getLogger(__name__)

MARKET_BUY = "market"
PLAN_TTL_MS = 24 * 3_600_000
"""How long a buy's exit plan waits for the buy to confirm."""


@dataclass(frozen=True, slots=True)
class Attached:
    """A group of orders attached to a position."""

    parent_id: int
    mint: str
    kind: str
    leg_ids: tuple[int, ...]
    created: bool


async def attach_exit_plan(
    session: AsyncSession,
    *,
    user_id: int,
    mint: str,
    plan: ExitPlan | dict[str, Any],
    entry: Price,
    position: int,
    key: str,
    now_ms: int,
    source: str = "app",
) -> Attached:
    """TP levels, stop-loss and trailing stop on ``position`` raw tokens bought at ``entry``."""
    exit_plan = parse_params(ExitPlan, plan, name="exit_plan")
    if type(position) is not int or position <= 0:
        raise OrderParamsError([f"position: must be a positive integer, got {position!r}"])
    legs = bracket_legs(exit_plan, entry=entry, position=position)
    parent, children, created = await store.create_bracket(
        session,
        key=key,
        user_id=user_id,
        mint=mint,
        entry=entry,
        position=position,
        legs=legs,
        now_ms=now_ms,
        extra={"plan": exit_plan.model_dump(mode="json"), "source": source},
    )
    logger.info("bracket %s on %s for user %s (%s)", parent.id, mint, user_id, source)
    return Attached(parent.id, mint, parent.kind, tuple(c.id for c in children), created)


async def attach_to_position(
    session: AsyncSession,
    *,
    user_id: int,
    mint: str,
    plan: ExitPlan | dict[str, Any],
    key: str,
    now_ms: int,
) -> Attached:
    """An exit plan on everything the user holds of ``mint``, at the average cost."""
    pos = await position_of(session, user_id=user_id, mint=mint)
    avg = pos.avg_price
    if avg is None:
        raise OrderParamsError([f"mint: no open position in {mint} to attach exits to"])
    return await attach_exit_plan(
        session,
        user_id=user_id,
        mint=mint,
        plan=plan,
        entry=avg,
        position=pos.qty,
        key=key,
        now_ms=now_ms,
        source="position",
    )


async def buy_with_exits(
    session: AsyncSession,
    *,
    user_id: int,
    mint: str,
    lamports: int,
    plan: ExitPlan | dict[str, Any] | None,
    key: str,
    now_ms: int,
    extra: dict[str, Any] | None = None,
) -> tuple[Order, bool]:
    """A buy's exit plan, waiting for the buy; attached at the fill price when it confirms."""
    params: dict[str, Any] = dict(extra or {})
    if plan is not None:
        params["exits"] = parse_params(ExitPlan, plan, name="exit_plan").model_dump(mode="json")
    return await trading_repo.create_order(
        session,
        idempotency_key=key,
        user_id=user_id,
        mint=mint,
        side="buy",
        kind=MARKET_BUY,
        amount_in=lamports,
        params=params,
        now_ms=now_ms,
    )


async def attach_exits_from_fill(
    session: AsyncSession, *, order: Order, trade: Trade, now_ms: int
) -> Attached | None:
    """Attach the exit plan an order carries to the confirmed buy that filled it."""
    plan = order.params.get("exits")
    if not plan or trade.status != "confirmed" or trade.side != "buy" or not trade.out_amount:
        return None
    return await attach_exit_plan(
        session,
        user_id=trade.user_id,
        mint=trade.mint,
        plan=plan,
        entry=Price.of(trade.in_amount, trade.out_amount),
        position=trade.out_amount,
        key=f"bracket:trade:{trade.id}",
        now_ms=now_ms,
        source=order.kind,
    )


async def attach_on_confirmed_buy(
    session: AsyncSession, *, trade_id: int, plan: ExitPlan | dict[str, Any], now_ms: int
) -> Attached | None:
    """An exit plan on a confirmed buy, entry at the fill's own price (for ``/buy`` wiring)."""
    trade = await session.get(Trade, trade_id)
    if trade is None or trade.status != "confirmed" or trade.side != "buy":
        return None
    if not trade.out_amount:
        return None
    return await attach_exit_plan(
        session,
        user_id=trade.user_id,
        mint=trade.mint,
        plan=plan,
        entry=Price.of(trade.in_amount, trade.out_amount),
        position=trade.out_amount,
        key=f"bracket:trade:{trade.id}",
        now_ms=now_ms,
        source="buy",
    )


async def start_dca(
    session: AsyncSession,
    *,
    user_id: int,
    mint: str,
    plan: DcaPlan | dict[str, Any],
    key: str,
    now_ms: int,
    reference: Price | None,
) -> Attached:
    """A DCA in or out starting now; ``reference`` (the current price) anchors the guard."""
    dca = parse_params(DcaPlan, plan, name="dca")
    if dca.guard_bps is not None and reference is None:
        raise OrderParamsError(["dca.guard_bps: no current price to measure the guard from"])
    params: dict[str, Any] = {
        "plan": dca.model_dump(mode="json"),
        "start_ts": now_ms,
        "interval_ms": dca.interval_ms,
        "guard_bps": dca.guard_bps,
        "reference": reference.to_json() if reference is not None else None,
        "deadline_ts": (
            now_ms + dca.deadline_minutes * 60_000 if dca.deadline_minutes is not None else None
        ),
    }
    parent, children, created = await store.create_dca(
        session,
        key=key,
        user_id=user_id,
        mint=mint,
        side=dca.side,
        kind=DCA_BUY if dca.side == "buy" else DCA_SELL,
        total=dca.total,
        slices=dca_slices(dca),
        params=params,
        now_ms=now_ms,
    )
    return Attached(parent.id, mint, parent.kind, tuple(c.id for c in children), created)


async def cancel(session: AsyncSession, *, user_id: int, parent_id: int, now_ms: int) -> list[int]:
    """Cancel a user's order group; returns the legs cancelled."""
    return await store.cancel_group(session, user_id=user_id, parent_id=parent_id, now_ms=now_ms)


async def open_groups(session: AsyncSession, *, user_id: int) -> list[Order]:
    """A user's open order groups, newest first (for the Mini App and the chat)."""
    stmt = (
        select(Order)
        .where(
            Order.user_id == user_id, Order.status == "open", Order.kind.in_(sorted(GROUP_KINDS))
        )
        .order_by(Order.created_ts.desc(), Order.id.desc())
    )
    return list((await session.scalars(stmt)).all())


async def attach_confirmed_buys(session: AsyncSession, *, now_ms: int) -> list[Attached]:
    """Attach the plans of open ``buy_with_exits`` orders to the buys that filled them.

    The safety net for ``/buy`` and Mini App buys made through the bridge: the buy's trade is
    the user's confirmed buy of that mint and amount after the order (or one recorded with the
    order's id); the order is then ``filled``. Orders older than a day are expired.
    """
    stmt = select(Order).where(Order.kind == MARKET_BUY, Order.status == "open")
    out = []
    for order in list((await session.scalars(stmt)).all()):
        if not order.params.get("exits"):
            continue
        if now_ms - order.created_ts > PLAN_TTL_MS:
            await store.finish_open(session, order_id=order.id, status="expired", now_ms=now_ms)
            continue
        trade = await _fill_of(session, order)
        if trade is None:
            continue
        attached = await attach_exits_from_fill(session, order=order, trade=trade, now_ms=now_ms)
        await store.finish_open(session, order_id=order.id, status="filled", now_ms=now_ms)
        if attached is not None:
            out.append(attached)
    return out


async def _fill_of(session: AsyncSession, order: Order) -> Trade | None:
    stmt = (
        select(Trade)
        .where(
            Trade.status == "confirmed",
            (Trade.order_id == order.id)
            | (
                (Trade.user_id == order.user_id)
                & (Trade.mint == order.mint)
                & (Trade.side == "buy")
                & (Trade.in_amount == order.amount_in)
                & (Trade.created_ts >= order.created_ts)
            ),
        )
        .order_by(Trade.created_ts, Trade.id)
    )
    for trade in (await session.scalars(stmt)).all():
        used = await session.scalar(
            select(Order.id).where(Order.idempotency_key == f"bracket:trade:{trade.id}")
        )
        if used is None:
            return trade
    return None
