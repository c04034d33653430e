"""Rules, orders and trades; orders and trades are created once per idempotency key."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import Order, Rule, Trade
from engine.storage.repos._upsert import insert_for


async def save_rule(
    session: AsyncSession,
    *,
    name: str,
    kind: str,
    params: dict[str, Any],
    now_ms: int,
    user_id: int | None = None,
    enabled: bool = True,
) -> Rule:
    """Create or replace a named rule (global when ``user_id`` is None)."""
    stmt = select(Rule).where(Rule.name == name)
    stmt = stmt.where(Rule.user_id.is_(None) if user_id is None else Rule.user_id == user_id)
    rule = (await session.scalars(stmt)).one_or_none()
    if rule is None:
        rule = Rule(
            user_id=user_id,
            name=name,
            kind=kind,
            params=params,
            enabled=enabled,
            created_ts=now_ms,
            updated_ts=now_ms,
        )
        session.add(rule)
    else:
        rule.kind, rule.params, rule.enabled, rule.updated_ts = kind, params, enabled, now_ms
    await session.flush()
    return rule


async def list_rules(
    session: AsyncSession, *, user_id: int | None, include_global: bool = True
) -> list[Rule]:
    """A user's rules (and the global ones), oldest first."""
    cond = Rule.user_id == user_id if user_id is not None else Rule.user_id.is_(None)
    if include_global and user_id is not None:
        cond = cond | Rule.user_id.is_(None)
    stmt = select(Rule).where(cond).order_by(Rule.created_ts, Rule.id)
    return list((await session.scalars(stmt)).all())


async def set_rule_enabled(
    session: AsyncSession, *, rule_id: int, user_id: int | None, enabled: bool, now_ms: int
) -> Rule:
    """Enable or disable one of the user's rules."""
    rule = await session.get(Rule, rule_id)
    if rule is None or rule.user_id != user_id:
        raise LookupError(f"no rule {rule_id} for this user")
    rule.enabled, rule.updated_ts = enabled, now_ms
    return rule


async def create_order(
    session: AsyncSession,
    *,
    idempotency_key: str,
    user_id: int,
    mint: str,
    side: str,
    kind: str,
    amount_in: int,
    now_ms: int,
    params: dict[str, Any] | None = None,
    parent_id: int | None = None,
) -> tuple[Order, bool]:
    """Create an order once per key; returns (order, created). A repeat returns the original."""
    _check_amount(amount_in)
    values = {
        "idempotency_key": idempotency_key,
        "user_id": user_id,
        "mint": mint,
        "side": _side(side),
        "kind": kind,
        "amount_in": amount_in,
        "params": params or {},
        "parent_id": parent_id,
        "status": "open",
        "created_ts": now_ms,
        "updated_ts": now_ms,
    }
    stmt = (
        insert_for(session, Order)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    created = bool(getattr(await session.execute(stmt), "rowcount", 0))
    order = (
        await session.scalars(select(Order).where(Order.idempotency_key == idempotency_key))
    ).one()
    return order, created


async def record_trade(
    session: AsyncSession,
    *,
    idempotency_key: str,
    user_id: int,
    mint: str,
    side: str,
    in_amount: int,
    now_ms: int,
    min_out_amount: int | None = None,
    order_id: int | None = None,
) -> tuple[Trade, bool]:
    """Create a trade once per key; returns (trade, created). A retry gets the same row."""
    _check_amount(in_amount)
    values = {
        "idempotency_key": idempotency_key,
        "user_id": user_id,
        "order_id": order_id,
        "mint": mint,
        "side": _side(side),
        "in_amount": in_amount,
        "min_out_amount": min_out_amount,
        "status": "prepared",
        "created_ts": now_ms,
        "updated_ts": now_ms,
    }
    stmt = (
        insert_for(session, Trade)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["idempotency_key"])
    )
    created = bool(getattr(await session.execute(stmt), "rowcount", 0))
    trade = (
        await session.scalars(select(Trade).where(Trade.idempotency_key == idempotency_key))
    ).one()
    return trade, created


_TRADE_FLOW = {
    "prepared": {"submitted", "failed", "expired"},
    "submitted": {"confirmed", "failed", "expired"},
    "confirmed": set(),
    "failed": set(),
    "expired": set(),
}


async def update_trade(
    session: AsyncSession,
    *,
    trade_id: int,
    status: str,
    now_ms: int,
    signature: str | None = None,
    out_amount: int | None = None,
    error: str | None = None,
) -> Trade:
    """Move a trade along prepared → submitted → confirmed|failed|expired; never backwards."""
    trade = await session.get(Trade, trade_id)
    if trade is None:
        raise LookupError(f"no trade {trade_id}")
    if status != trade.status and status not in _TRADE_FLOW.get(trade.status, set()):
        raise ValueError(f"trade {trade_id} cannot go from {trade.status} to {status}")
    trade.status, trade.updated_ts = status, now_ms
    if signature is not None:
        trade.signature = signature
    if out_amount is not None:
        _check_amount(out_amount)
        trade.out_amount = out_amount
    if error is not None:
        trade.error = error
    return trade


def _check_amount(amount: int) -> None:
    # Money is integers in raw units; a float here is a bug upstream, not a rounding choice.
    if type(amount) is not int or amount <= 0:
        raise ValueError(f"amount must be a positive integer of raw units, got {amount!r}")


def _side(side: str) -> str:
    if side not in ("buy", "sell"):
        raise ValueError(f"side must be buy or sell, got {side!r}")
    return side
