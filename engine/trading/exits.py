"""A triggered order becomes a freshly priced swap with a one-tap signing link.

Non-custodial by default: nothing is signed here. Each *attempt* is priced from a **fresh quote
at that moment** (minimum out = quoted out less the user's slippage), never from the entry price,
so a stop-loss lands during the very drop it exists for. An attempt is:

1. stored in ``orders.params["exit"]`` (attempt n+1 only over attempt n, under the order's row
   lock, so two workers cannot both create it);
2. the preparer makes the signing link; it is stored;
3. a notice goes to the bus ``orders`` topic; ``notified`` is stored.

No trade row is written for an unsigned link: the bridge writes the trade when the user signs
(``engine.trade.bridge.submit_trade``), keyed by the ``Idempotency-Key`` the link hands out,
``exit:<order>:<attempt>``. :func:`signed_trade` finds that trade (also by ``order_id``, as the
server signer records it, and as a fallback by user, mint, side and exact amount after the
quote), and the order follows it: confirmed → ``filled``; failed or expired → the next attempt.

A crash between any two steps is repaired by :meth:`ExitService.advance` (the ``check_orders``
safety net calls it for every triggered order): a missing step is redone for the same attempt.
An unsigned link past its expiry is re-priced (``reprice_exit``); after ``max_exit_attempts`` the
order expires.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.clock import Clock
from engine.jobs.base import JobQueue
from engine.storage.models import Order, Trade
from engine.trading import store
from engine.trading.attach import attach_exits_from_fill
from engine.trading.errors import QuoteUnavailable
from engine.trading.orders import EXPIRED, FILLED, TRIGGERED
from engine.trading.ports import ExitPreparer, ExitRequest, Notifier, OrderNotice, Quoter
from engine.trading.prefs import TradingPrefs, load_prefs
from engine.trading.price import min_out

logger = logging.getLogger(__name__)

REPRICE_JOB: Final = "reprice_exit"
AUTO_BUY: Final = "auto_buy"
"""Order kind of a rule's buy: its link is a confirmation, priced once and never re-priced."""
LIVE_TRADE: Final = ("submitted", "prepared")
NOTICE_LEASE_MS: Final = 30_000
"""A sender that claimed a notice and died holds it this long; then another one sends it."""


def exit_key(order_id: int, attempt: int) -> str:
    """The Idempotency-Key a signing link hands to the bridge for one attempt."""
    return f"exit:{order_id}:{attempt}"


@dataclass(frozen=True, slots=True)
class ExitState:
    """Where one triggered order's exit stands after :meth:`ExitService.advance`."""

    order_id: int
    state: str
    """``live`` (a link awaits the signature), ``pending`` (signed, not confirmed), ``filled``,
    ``expired``, ``no_quote`` (retried later) or ``not_triggered``."""
    attempt: int = 0
    trade_id: int | None = None


async def signed_trade(session: AsyncSession, order: Order, ex: dict[str, Any]) -> Trade | None:
    """The trade carrying out the order's exit, if the user (or the signer) signed one.

    A confirmed or live trade for any attempt wins (a late signature on an old link still
    counts); a failed or expired one only counts for the current attempt (after its quote), so
    an old failure does not re-price the order again and again.
    """
    since_first = int(ex.get("signing_since", ex.get("quote_ts", 0)))
    since_current = int(ex.get("quote_ts", 0))
    amount = int(order.params["trigger"]["amount"])
    explicit = (Trade.order_id == order.id) | Trade.idempotency_key.like(
        f"{order.user_id}:exit:{order.id}:%"
    )
    # Fallback for a Mini App that did not pass the key: the same swap, signed after the quote,
    # and not one that carries another exit's key (equal DCA slices must not share a trade).
    same_swap = (
        ~Trade.idempotency_key.like(f"{order.user_id}:exit:%")
        & ~Trade.idempotency_key.like("exit:%")
        & (Trade.user_id == order.user_id)
        & (Trade.mint == order.mint)
        & (Trade.side == order.side)
        & (Trade.in_amount == amount)
        & (Trade.created_ts >= since_first)
    )
    stmt = (
        select(Trade)
        .where(explicit | same_swap)
        .order_by(Trade.created_ts.desc(), Trade.id.desc())
        .limit(50)
        .execution_options(populate_existing=True)
    )
    trades = list((await session.scalars(stmt)).all())
    for wanted in (("confirmed",), LIVE_TRADE):
        for t in trades:
            if t.status in wanted:
                return t
    return next((t for t in trades if t.created_ts >= since_current), None)


class ExitService:
    """Prepares, re-prices and settles the exits of triggered orders."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        quoter: Quoter,
        preparer: ExitPreparer,
        notifier: Notifier,
        jobs: JobQueue | None = None,
        on_attached: Callable[[int], Awaitable[object]] | None = None,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._quoter = quoter
        self._preparer = preparer
        self._notifier = notifier
        self._jobs = jobs
        self.on_attached = on_attached
        """Called with a new bracket's id (a rule's buy filled): a monitor's ``track``."""

    async def advance(self, order_id: int) -> ExitState:
        """Take one triggered order's exit one step further; safe to call any number of times."""
        now = self._clock.now_ms()
        async with self._sessions() as session:
            order = await store.get_order(session, order_id)
            if order is None or order.status != TRIGGERED:
                return ExitState(order_id, "not_triggered")
            prefs = await load_prefs(session, user_id=order.user_id)
            ex: dict[str, Any] = dict(order.params.get("exit") or {})
            trade = await signed_trade(session, order, ex) if ex else None
        if not ex:
            return await self._attempt(order, prefs, attempt=1)
        attempt = int(ex["attempt"])
        if trade is not None and trade.status == "confirmed":
            return await self._settle(order, trade, attempt)
        if trade is not None and trade.status in LIVE_TRADE:
            return ExitState(order_id, "pending", attempt, trade.id)
        dead = trade is not None or now >= int(ex["expires_ts"])  # failed/expired, or unsigned
        if not dead:
            await self._finish(order, ex)
            return ExitState(order_id, "live", attempt)
        # A rule's buy is only worth it near its signal: it gets no second price.
        limit = 1 if order.kind == AUTO_BUY else prefs.max_exit_attempts
        if attempt >= limit:
            return await self._give_up(order, attempt)
        return await self._attempt(order, prefs, attempt=attempt + 1)

    async def _attempt(self, order: Order, prefs: TradingPrefs, *, attempt: int) -> ExitState:
        """Price a new attempt from a fresh quote and publish its link."""
        amount = int(order.params["trigger"]["amount"])
        try:
            quote = await self._quoter.quote(order.mint, order.side, amount)
        except QuoteUnavailable as exc:
            logger.warning("exit of order %s: %s; the safety net retries", order.id, exc)
            return ExitState(order.id, "no_quote", attempt)
        now = self._clock.now_ms()
        floor = min_out(quote.out_amount, prefs.slippage_bps)
        info: dict[str, Any] = {
            "attempt": attempt,
            "quoted_out": quote.out_amount,
            "min_out": floor,
            "price_impact_bps": quote.price_impact_bps,
            "slippage_bps": prefs.slippage_bps,
            "quote_ts": now,
            "expires_ts": now + prefs.exit_link_ttl_ms,
            "idempotency_key": exit_key(order.id, attempt),
            "link": None,
            "notified": False,
        }
        if attempt == 1:
            info["signing_since"] = now
        async with self._sessions.begin() as session:
            created = await store.set_exit(
                session, order_id=order.id, exit_info=info, now_ms=now, new_attempt=True
            )
        if not created:
            return ExitState(order.id, "live", attempt)  # another worker made this attempt
        logger.info(
            "exit %d of order %s: %d in, quoted %d out, min %d (impact %d bps)",
            attempt,
            order.id,
            amount,
            quote.out_amount,
            floor,
            quote.price_impact_bps,
        )
        await self._finish(order, info)
        return ExitState(order.id, "live", attempt)

    async def _finish(self, order: Order, ex: dict[str, Any]) -> None:
        """Make the link and send the notice, whichever of the two is still missing."""
        now = self._clock.now_ms()
        attempt = int(ex["attempt"])
        link = ex.get("link")
        expires_ts = int(ex["expires_ts"])
        trig = order.params["trigger"]
        if not link:
            prepared = await self._preparer.prepare(
                ExitRequest(
                    user_id=order.user_id,
                    order_id=order.id,
                    mint=order.mint,
                    side=order.side,
                    amount_in=int(trig["amount"]),
                    quoted_out=int(ex["quoted_out"]),
                    min_out=int(ex["min_out"]),
                    slippage_bps=int(ex["slippage_bps"]),
                    price_impact_bps=int(ex["price_impact_bps"]),
                    attempt=attempt,
                    expires_ts=expires_ts,
                    idempotency_key=exit_key(order.id, attempt),
                    reason=str(trig.get("reason", "")),
                )
            )
            link, expires_ts = prepared.link, prepared.expires_ts
            async with self._sessions.begin() as session:
                await store.set_exit(
                    session,
                    order_id=order.id,
                    exit_info={"attempt": attempt, "link": link, "expires_ts": expires_ts},
                    now_ms=now,
                )
        if ex.get("notified"):
            return
        async with self._sessions.begin() as session:
            claimed = await store.claim_notice(
                session, order_id=order.id, attempt=attempt, now_ms=now, lease_ms=NOTICE_LEASE_MS
            )
        if not claimed:
            return  # sent already, or being sent by another worker
        try:
            await self._notifier.notify(
                OrderNotice.about(
                    order,
                    _ready_event(order.kind, attempt),
                    exit_key(order.id, attempt),
                    link=link,
                    expires_ts=expires_ts,
                    side=order.side,
                    amount_in=int(trig["amount"]),
                    quoted_out=int(ex["quoted_out"]),
                    min_out=int(ex["min_out"]),
                    price_impact_bps=int(ex["price_impact_bps"]),
                    attempt=attempt,
                    reason=str(trig.get("reason", "")),
                )
            )
        except Exception:
            async with self._sessions.begin() as session:  # let the next sweep send it
                await store.set_exit(
                    session,
                    order_id=order.id,
                    exit_info={"attempt": attempt, "notice_claim_ts": None},
                    now_ms=now,
                )
            raise
        async with self._sessions.begin() as session:
            await store.set_exit(
                session,
                order_id=order.id,
                exit_info={"attempt": attempt, "notified": True},
                now_ms=now,
            )
        if self._jobs is not None:
            # The reminder that re-prices an unsigned link; the id makes it once per attempt.
            await self._jobs.enqueue(
                REPRICE_JOB,
                job_id=f"{REPRICE_JOB}:{order.id}:{attempt}",
                defer_s=max(0.0, (expires_ts - now) / 1000),
                order_id=order.id,
            )

    async def _settle(self, order: Order, trade: Trade, attempt: int) -> ExitState:
        now = self._clock.now_ms()
        attached = None
        async with self._sessions.begin() as session:
            done = await store.finish(session, order_id=order.id, status=FILLED, now_ms=now)
            if done and order.side == "buy":
                # A buy carrying an exit plan (a rule's TP/SL) gets it at its own fill price.
                attached = await attach_exits_from_fill(
                    session, order=order, trade=trade, now_ms=now
                )
        if attached is not None and self.on_attached is not None:
            await self.on_attached(attached.parent_id)
        if done:
            await self._notifier.notify(
                OrderNotice.about(
                    order,
                    "order_filled",
                    f"filled:{order.id}",
                    side=order.side,
                    amount_in=trade.in_amount,
                    quoted_out=trade.out_amount,
                    attempt=attempt,
                )
            )
        return ExitState(order.id, "filled", attempt, trade.id)

    async def _give_up(self, order: Order, attempt: int) -> ExitState:
        async with self._sessions.begin() as session:
            done = await store.finish(
                session, order_id=order.id, status=EXPIRED, now_ms=self._clock.now_ms()
            )
        if done:
            logger.info("order %s expired after %d unsigned exits", order.id, attempt)
            await self._notifier.notify(
                OrderNotice.about(
                    order,
                    "exit_expired",
                    f"expired:{order.id}",
                    attempt=attempt,
                )
            )
        return ExitState(order.id, "expired", attempt)

    async def sweep(self) -> list[ExitState]:
        """Advance every triggered order (the safety net: repairs, re-prices, settles)."""
        async with self._sessions() as session:
            ids = [o.id for o in await store.triggered_orders(session)]
        states = []
        for order_id in ids:
            try:
                states.append(await self.advance(order_id))
            except Exception:
                # One broken exit must not hold back the others; it is retried next sweep.
                logger.exception("advancing the exit of order %s failed", order_id)
        return states


def _ready_event(kind: str, attempt: int) -> str:
    if kind == AUTO_BUY:
        return "confirm_buy"
    return "exit_ready" if attempt == 1 else "exit_repriced"


async def exit_for_link(session: AsyncSession, *, user_id: int, order_id: int) -> dict[str, Any]:
    """What the Mini App's exit page needs: the priced swap and the key to submit it with."""
    order = await store.get_order(session, order_id)
    if order is None or order.user_id != user_id or order.status != TRIGGERED:
        raise LookupError(f"no exit awaiting a signature for order {order_id}")
    ex = order.params.get("exit") or {}
    if not ex:
        raise LookupError(f"the exit of order {order_id} is still being priced")
    return {
        "order_id": order.id,
        "kind": order.kind,
        "mint": order.mint,
        "side": order.side,
        "amount_in": int(order.params["trigger"]["amount"]),
        "quoted_out": ex["quoted_out"],
        "min_out": ex["min_out"],
        "slippage_bps": ex["slippage_bps"],
        "price_impact_bps": ex["price_impact_bps"],
        "attempt": ex["attempt"],
        "expires_ts": ex["expires_ts"],
        "idempotency_key": ex.get("idempotency_key") or exit_key(order.id, int(ex["attempt"])),
        "reason": order.params["trigger"].get("reason", ""),
    }
