"""Orders in the database: groups and legs, the exactly-once trigger, exits and settlement.

A group is one parent row (``bracket``, ``dca_buy``, ``dca_sell``) and its legs (children by
``parent_id``). Everything variable lives in ``orders.params`` (JSON): thresholds, the trailing
high, the trigger (price, time, amount) and the current exit (attempt, trade, link, expiry).

Exactly-once: a leg goes ``open`` → ``triggered`` only through
``UPDATE orders SET status='triggered' … WHERE id=:id AND status='open'``; the one caller whose
update changed a row owns the trigger, whoever else tried (a second monitor, a restarted worker,
the safety-net job) gets ``None``. Siblings are computed under a lock on the parent row, taken by
an UPDATE (a row lock on PostgreSQL, the write lock on SQLite), so the remainder a stop sells is
never computed from a stale view of the take-profits.
"""

from __future__ import annotations

import logging
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.models import Order, Tick
from engine.storage.repos import tokens as token_repo
from engine.storage.repos import trading as trading_repo
from engine.trading.orders import (
    BRACKET,
    CANCELLED,
    DCA_BUY,
    DCA_SLICE,
    DONE,
    EXPIRED,
    FILLED,
    GROUP_KINDS,
    OPEN,
    RESERVING,
    TRIGGERED,
    Bracket,
    Dca,
    Fire,
    Leg,
    LegKind,
    LegSpec,
    Machine,
    Slice,
    TriggerOutcome,
    exit_amount,
)
from engine.trading.price import Price, event_price

logger = logging.getLogger(__name__)

_NO_SYNC = {"synchronize_session": False}


def rowcount(result: Any) -> int:
    """Rows an UPDATE changed (the compare-and-set's answer)."""
    return int(cast(CursorResult[Any], result).rowcount or 0)


async def _fresh(session: AsyncSession, order_id: int) -> Order | None:
    stmt = select(Order).where(Order.id == order_id).execution_options(populate_existing=True)
    return (await session.scalars(stmt)).one_or_none()


async def _children(session: AsyncSession, parent_id: int) -> list[Order]:
    stmt = (
        select(Order)
        .where(Order.parent_id == parent_id)
        .order_by(Order.id)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def lock_order(session: AsyncSession, order_id: int, *, status: str, now_ms: int) -> bool:
    """Lock an order row for this transaction if it has ``status``; False when it has not."""
    stmt = (
        update(Order)
        .where(Order.id == order_id, Order.status == status)
        .values(updated_ts=now_ms)
        .execution_options(**_NO_SYNC)
    )
    return rowcount(await session.execute(stmt)) == 1


async def _cas_status(
    session: AsyncSession,
    order_id: int,
    *,
    expect: str,
    to: str,
    now_ms: int,
    params: dict[str, Any] | None = None,
) -> bool:
    values: dict[str, Any] = {"status": to, "updated_ts": now_ms}
    if params is not None:
        values["params"] = params
    stmt = (
        update(Order)
        .where(Order.id == order_id, Order.status == expect)
        .values(**values)
        .execution_options(**_NO_SYNC)
    )
    return rowcount(await session.execute(stmt)) == 1


# -- creating -------------------------------------------------------------------------------


async def create_bracket(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    mint: str,
    entry: Price,
    position: int,
    legs: list[LegSpec],
    now_ms: int,
    extra: dict[str, Any] | None = None,
) -> tuple[Order, list[Order], bool]:
    """Create a bracket once per ``key``: (parent, legs, created)."""
    params = {"entry": entry.to_json(), "high": entry.to_json(), **(extra or {})}
    parent, created = await trading_repo.create_order(
        session,
        idempotency_key=key,
        user_id=user_id,
        mint=mint,
        side="sell",
        kind=BRACKET,
        amount_in=position,
        params=params,
        now_ms=now_ms,
    )
    children: list[Order] = []
    for spec in legs:
        leg_params = {**spec.params, "level": spec.level, "rest": spec.amount == 0}
        child, _ = await trading_repo.create_order(
            session,
            idempotency_key=f"{key}:{spec.suffix}",
            user_id=user_id,
            mint=mint,
            side="sell",
            kind=spec.kind,
            amount_in=spec.amount or position,
            params=leg_params,
            parent_id=parent.id,
            now_ms=now_ms,
        )
        children.append(child)
    return parent, children, created


async def create_dca(
    session: AsyncSession,
    *,
    key: str,
    user_id: int,
    mint: str,
    side: str,
    kind: str,
    total: int,
    slices: list[tuple[int, int]],
    params: dict[str, Any],
    now_ms: int,
) -> tuple[Order, list[Order], bool]:
    """Create a DCA once per ``key``: (parent, slices, created)."""
    parent, created = await trading_repo.create_order(
        session,
        idempotency_key=key,
        user_id=user_id,
        mint=mint,
        side=side,
        kind=kind,
        amount_in=total,
        params=params,
        now_ms=now_ms,
    )
    children: list[Order] = []
    for index, amount in slices:
        child, _ = await trading_repo.create_order(
            session,
            idempotency_key=f"{key}:s{index}",
            user_id=user_id,
            mint=mint,
            side=side,
            kind=DCA_SLICE,
            amount_in=amount,
            params={"index": index},
            parent_id=parent.id,
            now_ms=now_ms,
        )
        children.append(child)
    return parent, children, created


# -- loading --------------------------------------------------------------------------------


def _reserved(order: Order) -> int:
    trig = order.params.get("trigger") or {}
    return int(trig.get("amount", 0)) if order.status in RESERVING else 0


def _price_or_none(raw: Any) -> Price | None:
    return None if raw is None else Price.from_json(raw)


def build_machine(parent: Order, children: list[Order]) -> Machine:
    """The state machine of a stored group."""
    p = parent.params
    if parent.kind == BRACKET:
        legs = []
        for c in children:
            cp = c.params
            legs.append(
                Leg(
                    order_id=c.id,
                    kind=cast(LegKind, c.kind),
                    level=int(cp.get("level", 1)),
                    amount=0 if cp.get("rest") else c.amount_in,
                    threshold=_price_or_none(cp.get("threshold")),
                    trail_bps=int(cp.get("trail_bps", 0)),
                    arm=_price_or_none(cp.get("arm")),
                    status=c.status,
                    reserved=_reserved(c),
                )
            )
        entry = Price.from_json(p["entry"])
        high = _price_or_none(p.get("high")) or entry
        high_ts = int(p.get("high_ts") or parent.created_ts)
        return Bracket(
            parent.id, parent.user_id, parent.mint, entry, parent.amount_in, legs, high, high_ts
        )
    slices = [
        Slice(
            order_id=c.id,
            index=int(c.params["index"]),
            amount=c.amount_in,
            status=c.status,
            fired_ts=(c.params.get("trigger") or {}).get("ts"),
        )
        for c in children
    ]
    return Dca(
        parent_id=parent.id,
        user_id=parent.user_id,
        mint=parent.mint,
        side="buy" if parent.kind == DCA_BUY else "sell",
        start_ts=int(p["start_ts"]),
        interval_ms=int(p["interval_ms"]),
        slices=slices,
        reference=_price_or_none(p.get("reference")),
        guard_bps=p.get("guard_bps"),
        deadline_ts=p.get("deadline_ts"),
    )


async def load_machines(
    session: AsyncSession,
    *,
    mint: str | None = None,
    parent_ids: list[int] | None = None,
    after_id: int | None = None,
) -> list[Machine]:
    """The state machines of open groups (all, one mint's, the given parents, or newer ones)."""
    stmt = select(Order).where(Order.status == OPEN, Order.kind.in_(sorted(GROUP_KINDS)))
    if mint is not None:
        stmt = stmt.where(Order.mint == mint)
    if parent_ids is not None:
        stmt = stmt.where(Order.id.in_(parent_ids))
    if after_id is not None:
        stmt = stmt.where(Order.id > after_id)
    parents = list((await session.scalars(stmt.execution_options(populate_existing=True))).all())
    if not parents:
        return []
    ids = [p.id for p in parents]
    kids = await session.scalars(
        select(Order)
        .where(Order.parent_id.in_(ids))
        .order_by(Order.id)
        .execution_options(populate_existing=True)
    )
    by_parent: dict[int, list[Order]] = {i: [] for i in ids}
    for k in kids:
        assert k.parent_id is not None
        by_parent[k.parent_id].append(k)
    return [build_machine(p, by_parent[p.id]) for p in parents]


# -- triggering -----------------------------------------------------------------------------


async def trigger(session: AsyncSession, fire: Fire, *, now_ms: int) -> TriggerOutcome | None:
    """Make ``fire`` durable, exactly once; None when another caller got there first.

    Under the parent's lock: the leg must still be open, its amount is computed from the stored
    siblings, the leg moves open → triggered by compare-and-set, and a fill that closes the
    position cancels the open siblings (OCO).
    """
    leg = await _fresh(session, fire.order_id)
    if leg is None or leg.parent_id is None:
        return None
    parent_id = leg.parent_id
    if not await lock_order(session, parent_id, status=OPEN, now_ms=now_ms):
        return None  # the group is done or cancelled
    parent = await _fresh(session, parent_id)
    assert parent is not None
    siblings = await _children(session, parent_id)
    target = next((c for c in siblings if c.id == fire.order_id), None)
    if target is None or target.status != OPEN:
        return None
    if parent.kind == BRACKET:
        remaining = parent.amount_in - sum(_reserved(c) for c in siblings)
        fixed = 0 if target.params.get("rest") else target.amount_in
        amount = exit_amount(target.kind, fixed, remaining)
    else:
        remaining = amount = target.amount_in
    if amount <= 0:
        return None
    trig = {
        "ts": fire.ts,
        "price": fire.price.to_json() if fire.price is not None else None,
        "amount": amount,
        "reason": fire.reason,
    }
    if not await _cas_status(
        session,
        target.id,
        expect=OPEN,
        to=TRIGGERED,
        now_ms=now_ms,
        params={**target.params, "trigger": trig},
    ):
        return None
    cancelled: list[int] = []
    if parent.kind == BRACKET and amount >= remaining:
        for c in siblings:
            if c.id != target.id and c.status == OPEN:
                if await _cas_status(session, c.id, expect=OPEN, to=CANCELLED, now_ms=now_ms):
                    cancelled.append(c.id)
    still_open = [
        c for c in siblings if c.id != target.id and c.status == OPEN and c.id not in cancelled
    ]
    group_closed = not still_open
    if group_closed:
        await _cas_status(session, parent_id, expect=OPEN, to=DONE, now_ms=now_ms)
    logger.info(
        "order %s (%s, group %s) triggered for %d: %s; cancelled %s",
        target.id,
        target.kind,
        parent_id,
        amount,
        fire.reason,
        cancelled,
    )
    return TriggerOutcome(
        order_id=target.id,
        parent_id=parent_id,
        user_id=target.user_id,
        mint=target.mint,
        kind=target.kind,
        side=target.side,
        amount=amount,
        ts=fire.ts,
        reason=fire.reason,
        price=fire.price,
        cancelled=tuple(cancelled),
        group_closed=group_closed,
    )


async def save_high(
    session: AsyncSession, *, parent_id: int, high: Price, high_ts: int, now_ms: int
) -> bool:
    """Persist a bracket's high since entry (and when it was seen) if above the stored one."""
    if not await lock_order(session, parent_id, status=OPEN, now_ms=now_ms):
        return False
    parent = await _fresh(session, parent_id)
    assert parent is not None
    stored = _price_or_none(parent.params.get("high"))
    if stored is not None and high <= stored:
        return False
    parent.params = {**parent.params, "high": high.to_json(), "high_ts": high_ts}
    await session.flush()
    return True


async def expire_group(session: AsyncSession, *, parent_id: int, now_ms: int) -> list[int]:
    """A DCA past its deadline: cancel its open slices and mark it expired."""
    if not await lock_order(session, parent_id, status=OPEN, now_ms=now_ms):
        return []
    cancelled = []
    for c in await _children(session, parent_id):
        if c.status == OPEN and await _cas_status(
            session, c.id, expect=OPEN, to=CANCELLED, now_ms=now_ms
        ):
            cancelled.append(c.id)
    await _cas_status(session, parent_id, expect=OPEN, to=EXPIRED, now_ms=now_ms)
    return cancelled


async def cancel_group(
    session: AsyncSession, *, user_id: int, parent_id: int, now_ms: int
) -> list[int]:
    """The user cancels a group: its open legs are cancelled (exits being signed stay)."""
    parent = await _fresh(session, parent_id)
    if parent is None or parent.user_id != user_id or parent.kind not in GROUP_KINDS:
        raise LookupError(f"no order group {parent_id} for this user")
    if not await lock_order(session, parent_id, status=OPEN, now_ms=now_ms):
        return []
    cancelled = []
    for c in await _children(session, parent_id):
        if c.status == OPEN and await _cas_status(
            session, c.id, expect=OPEN, to=CANCELLED, now_ms=now_ms
        ):
            cancelled.append(c.id)
    await _cas_status(session, parent_id, expect=OPEN, to=CANCELLED, now_ms=now_ms)
    return cancelled


# -- exits ----------------------------------------------------------------------------------


async def get_order(session: AsyncSession, order_id: int) -> Order | None:
    """One order, read fresh from the database."""
    return await _fresh(session, order_id)


async def triggered_orders(session: AsyncSession, *, limit: int = 500) -> list[Order]:
    """Orders whose exit is being prepared or signed, oldest first."""
    stmt = (
        select(Order)
        .where(Order.status == TRIGGERED)
        .order_by(Order.updated_ts, Order.id)
        .limit(limit)
        .execution_options(populate_existing=True)
    )
    return list((await session.scalars(stmt)).all())


async def set_exit(
    session: AsyncSession,
    *,
    order_id: int,
    exit_info: dict[str, Any],
    now_ms: int,
    new_attempt: bool = False,
) -> bool:
    """Update the order's current exit attempt, or start attempt n+1 over attempt n.

    Under the order's row lock: a new attempt is refused unless the stored one is exactly the
    previous, so two workers re-pricing at once make one attempt, not two.
    """
    if not await lock_order(session, order_id, status=TRIGGERED, now_ms=now_ms):
        return False
    order = await _fresh(session, order_id)
    assert order is not None
    current = order.params.get("exit") or {}
    stored = int(current.get("attempt", 0))
    wanted = int(exit_info["attempt"])
    if stored != (wanted - 1 if new_attempt else wanted):
        return False
    order.params = {**order.params, "exit": {**current, **exit_info}}
    await session.flush()
    return True


async def claim_notice(
    session: AsyncSession, *, order_id: int, attempt: int, now_ms: int, lease_ms: int
) -> bool:
    """Claim the right to announce an attempt (one sender at a time; a stale claim lapses)."""
    if not await lock_order(session, order_id, status=TRIGGERED, now_ms=now_ms):
        return False
    order = await _fresh(session, order_id)
    assert order is not None
    ex = dict(order.params.get("exit") or {})
    if int(ex.get("attempt", 0)) != attempt or ex.get("notified"):
        return False
    claimed = ex.get("notice_claim_ts")
    if claimed is not None and now_ms - int(claimed) < lease_ms:
        return False
    order.params = {**order.params, "exit": {**ex, "notice_claim_ts": now_ms}}
    await session.flush()
    return True


async def finish(session: AsyncSession, *, order_id: int, status: str, now_ms: int) -> bool:
    """A triggered order ends: ``filled`` (its exit confirmed) or ``expired`` (never signed)."""
    if status not in (FILLED, EXPIRED):
        raise ValueError(f"a triggered order ends filled or expired, not {status}")
    return await _cas_status(session, order_id, expect=TRIGGERED, to=status, now_ms=now_ms)


async def finish_open(session: AsyncSession, *, order_id: int, status: str, now_ms: int) -> bool:
    """An open standalone order ends (a buy's plan filled or expired)."""
    return await _cas_status(session, order_id, expect=OPEN, to=status, now_ms=now_ms)


# -- prices ---------------------------------------------------------------------------------


async def latest_price(session: AsyncSession, *, mint: str) -> tuple[Price, int] | None:
    """The newest stored tick's price and time (the safety net's view of the market)."""
    stmt = (
        select(Tick)
        .where(Tick.mint == mint, Tick.sol_lamports > 0)
        .order_by(Tick.ts.desc(), Tick.signature.desc(), Tick.idx.desc())
        .limit(1)
    )
    tick = (await session.scalars(stmt)).first()
    if tick is None:
        return None
    price = tick_price(tick)
    return None if price is None else (price, tick.ts)


async def high_since(
    session: AsyncSession, *, mint: str, since_ts: int, limit: int = 100_000
) -> tuple[Price, int] | None:
    """The highest tick price of ``mint`` after ``since_ts`` and when it was seen.

    Catches a bracket's high up over a time no monitor was watching (a crash, a restart).
    """
    stmt = (
        select(Tick)
        .where(Tick.mint == mint, Tick.ts > since_ts, Tick.sol_lamports > 0)
        .order_by(Tick.ts)
        .limit(limit)
    )
    best: tuple[Price, int] | None = None
    for tick in await session.scalars(stmt):
        price = tick_price(tick)
        if price is not None and (best is None or price > best[0]):
            best = (price, tick.ts)
    return best


def tick_price(tick: Tick) -> Price | None:
    """The price a stored tick reveals (the same rules as the live event)."""
    return event_price(token_repo.tick_event(tick))
