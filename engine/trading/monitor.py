"""The price monitor: open orders checked on every tick of their mint, not on a slow poll.

An in-memory index ``mint → {group id: state machine}`` is loaded from the database and fed by
the events the scorer sees (``on_event``) or by prices (``on_price``). A tick of a mint with no
open order costs one dict lookup. When a machine says a leg fires, the trigger is made durable by
the database compare-and-set (``store.trigger``); only the winner hands the outcome on
(``after_trigger``: prepare the exit inline, or enqueue it). A loser reloads the group, since
someone else (another monitor, the safety net) changed it.

Time-driven work (DCA slices falling due on a quiet token, DCA deadlines) runs in ``tick``; the
``check_orders`` job runs :meth:`PriceMonitor.reconcile` as the production safety net: reload
from the database, price every watched mint from its newest stored tick, tick, and advance every
triggered order's exit.

The trailing high since entry is kept in memory and saved at most every ``high_flush_ms`` per
group; on load it is caught up from the stored ticks, so a restart does not forget a high.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from engine.clock import Clock
from engine.events import ChainEvent
from engine.trading import store
from engine.trading.orders import Bracket, Dca, Fire, Machine, TriggerOutcome
from engine.trading.price import Price, event_price

logger = logging.getLogger(__name__)

AfterTrigger = Callable[[TriggerOutcome], Awaitable[object]]


@dataclass
class MonitorCounters:
    """What the monitor has done (metrics and tests)."""

    prices: int = 0
    checked: int = 0
    triggered: int = 0
    lost: int = 0
    after_trigger_errors: int = 0


class PriceMonitor:
    """Checks open orders against every price of their mint; triggers each leg exactly once."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        clock: Clock,
        *,
        after_trigger: AfterTrigger | None = None,
        high_flush_ms: int = 1000,
    ) -> None:
        self._sessions = sessions
        self._clock = clock
        self._after = after_trigger
        self._flush_ms = high_flush_ms
        self._index: dict[str, dict[int, Machine]] = {}
        self._last: dict[str, tuple[Price, int]] = {}
        self._saved_at: dict[int, int] = {}
        self._lock = asyncio.Lock()
        self._newest_parent = 0
        self.counters = MonitorCounters()

    # -- the index ------------------------------------------------------------------------

    @property
    def mints(self) -> list[str]:
        """Mints with at least one open order."""
        return sorted(self._index)

    def machines(self, mint: str) -> list[Machine]:
        """The open groups of ``mint``."""
        return list(self._index.get(mint, {}).values())

    def _put(self, machine: Machine) -> None:
        if machine.closed:
            self._drop(machine.mint, machine.parent_id)
        else:
            self._index.setdefault(machine.mint, {})[machine.parent_id] = machine

    def _drop(self, mint: str, parent_id: int) -> None:
        groups = self._index.get(mint)
        if groups is not None:
            groups.pop(parent_id, None)
            if not groups:
                del self._index[mint]
        self._saved_at.pop(parent_id, None)

    async def load(self) -> int:
        """(Re)load every open group from the database; returns how many."""
        machines = await self._read()
        self._index.clear()
        self._adopt(machines)
        logger.info("monitor watches %d order groups on %d mints", len(machines), len(self._index))
        return len(machines)

    async def load_new(self) -> int:
        """Start watching groups opened since the last load (by the API, a bot); returns how many.

        Cheap enough to run every few seconds: one indexed query when nothing is new, and the
        high catch-up only for the new groups. A group whose id is below the newest seen (two
        transactions committing out of order) waits for the next full ``load``.
        """
        found = await self._read(after_id=self._newest_parent)
        self._adopt(found)
        if found:
            logger.info("monitor picked up %d new order groups", len(found))
        return len(found)

    async def track(self, parent_id: int) -> bool:
        """Start watching one group (after it was attached); False when it is not open."""
        found = await self._read(parent_ids=[parent_id])
        self._adopt(found)
        return bool(found)

    async def _read(
        self, *, parent_ids: list[int] | None = None, after_id: int | None = None
    ) -> list[Machine]:
        """Open groups (all, given, or newer than ``after_id``), highs caught up from the ticks."""
        async with self._sessions() as session:
            machines = await store.load_machines(session, parent_ids=parent_ids, after_id=after_id)
            for m in machines:
                await _catch_up_high(session, m)
        return machines

    def _adopt(self, machines: Iterable[Machine]) -> None:
        for m in machines:
            self._put(m)
            self._newest_parent = max(self._newest_parent, m.parent_id)

    def forget(self, mint: str, parent_id: int) -> None:
        """Stop watching a group (cancelled by the user)."""
        self._drop(mint, parent_id)

    async def _reload(self, machine: Machine) -> None:
        self._drop(machine.mint, machine.parent_id)
        await self.track(machine.parent_id)

    # -- prices ---------------------------------------------------------------------------

    async def on_event(self, ev: ChainEvent) -> list[TriggerOutcome]:
        """Feed one chain event (the scorer's tick); returns the triggers it caused."""
        if ev.mint not in self._index:
            return []
        price = event_price(ev)
        if price is None:
            return []
        return await self.on_price(ev.mint, price, ev.ts)

    async def on_price(self, mint: str, price: Price, ts: int) -> list[TriggerOutcome]:
        """Check the open orders of ``mint`` at ``price`` (event time ``ts``)."""
        if mint not in self._index:
            return []
        self.counters.prices += 1
        last = self._last.get(mint)
        if last is None or ts >= last[1]:
            self._last[mint] = (price, ts)
        async with self._lock:
            outcomes: list[TriggerOutcome] = []
            for machine in self.machines(mint):
                self.counters.checked += 1
                fires = machine.observe(price, ts)
                if fires:
                    outcomes += await self._fire(machine, fires)
                await self._maybe_save_high(machine)
        return outcomes

    async def tick(self, now_ms: int | None = None) -> list[TriggerOutcome]:
        """Time-driven checks: DCA slices due at the last known price, DCA deadlines."""
        now = self._clock.now_ms() if now_ms is None else now_ms
        outcomes: list[TriggerOutcome] = []
        async with self._lock:
            for mint in self.mints:
                last = self._last.get(mint)
                for machine in self.machines(mint):
                    if isinstance(machine, Dca):
                        if machine.past_deadline(now):
                            await self._expire(machine, now)
                            continue
                        fires = machine.observe(last[0] if last else None, now)
                        if fires:
                            outcomes += await self._fire(machine, fires)
                    await self._maybe_save_high(machine, force=True)
        return outcomes

    async def reconcile(self) -> list[TriggerOutcome]:
        """The safety net: reload, price each mint from its newest stored tick, then tick."""
        await self.load()
        outcomes: list[TriggerOutcome] = []
        for mint in self.mints:
            async with self._sessions() as session:
                found = await store.latest_price(session, mint=mint)
            if found is not None:
                outcomes += await self.on_price(mint, found[0], found[1])
        outcomes += await self.tick()
        return outcomes

    # -- firing ---------------------------------------------------------------------------

    async def _fire(self, machine: Machine, fires: list[Fire]) -> list[TriggerOutcome]:
        outcomes: list[TriggerOutcome] = []
        for fire in fires:
            async with self._sessions.begin() as session:
                outcome = await store.trigger(session, fire, now_ms=self._clock.now_ms())
            if outcome is None:
                # Someone else changed this group: our view is stale, re-read it.
                self.counters.lost += 1
                logger.info("order %s was already handled elsewhere; reloading", fire.order_id)
                await self._reload(machine)
                break
            self.counters.triggered += 1
            machine.apply(outcome)
            outcomes.append(outcome)
            if outcome.group_closed or machine.closed:
                self._drop(machine.mint, machine.parent_id)
            await self._hand_on(outcome)
        return outcomes

    async def _hand_on(self, outcome: TriggerOutcome) -> None:
        if self._after is None:
            return
        try:
            await self._after(outcome)
        except Exception:
            # The trigger is durable; check_orders prepares the exit if this failed.
            self.counters.after_trigger_errors += 1
            logger.exception("handing on the trigger of order %s failed", outcome.order_id)

    async def _expire(self, machine: Dca, now: int) -> None:
        async with self._sessions.begin() as session:
            cancelled = await store.expire_group(session, parent_id=machine.parent_id, now_ms=now)
        logger.info("DCA %s expired; cancelled slices %s", machine.parent_id, cancelled)
        self._drop(machine.mint, machine.parent_id)

    async def _maybe_save_high(self, machine: Machine, *, force: bool = False) -> None:
        if not isinstance(machine, Bracket) or not machine.high_dirty:
            return
        now = self._clock.now_ms()
        if not force and now - self._saved_at.get(machine.parent_id, -self._flush_ms) < (
            self._flush_ms
        ):
            return
        async with self._sessions.begin() as session:
            await store.save_high(
                session,
                parent_id=machine.parent_id,
                high=machine.high,
                high_ts=machine.high_ts,
                now_ms=now,
            )
        machine.high_dirty = False
        self._saved_at[machine.parent_id] = now


async def _catch_up_high(session: AsyncSession, machine: Machine) -> None:
    """Raise a bracket's high to the best stored tick since the high was last saved."""
    if not isinstance(machine, Bracket):
        return
    found = await store.high_since(session, mint=machine.mint, since_ts=machine.high_ts)
    if found is not None and found[0] > machine.high:
        machine.high, machine.high_ts, machine.high_dirty = found[0], found[1], True
