"""The scoring consumer: bus ``events`` → windows, rules, Strength → stored signals and jobs.

One consumer owns a set of partitions, hence every event of the mints in them, in order. Per
batch, in one database transaction: launches go to ``tokens``, trades to ``ticks``, fills of
tracked wallets to ``smart_trades``, fired signals to ``signals``; only after the commit are the
messages acked and the signals announced (bus ``signals`` and the fan-out/narrative jobs), so a
crash between the two re-delivers the batch, and the stores' unique keys absorb the replay.

Risk: the first event of a mint, a sell by its creator and a migration enqueue a ``risk_check``
job (idempotent per mint and time bucket); verdicts are read back from ``risk_reports`` into an
in-memory map the scorer consults synchronously. Until a verdict exists the scorer fails closed.

Warm start: on start the windows are refilled from the stored ticks of the last
``warm_start_ms``, so a restarted consumer scores like the one it replaces.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import orjson
from sqlalchemy import select

from engine.bus.base import Message, partition_for
from engine.chain.programs import PUMP_TOKEN_TOTAL_SUPPLY
from engine.deps import Deps
from engine.events import ChainEvent, EventFormatError
from engine.ids import IdMaker
from engine.observability import metrics as M
from engine.risk.engine import verdict_from_report
from engine.risk.model import RiskVerdict
from engine.signals.rules import load_rule_set
from engine.signals.scorer import Scorer, Signal
from engine.signals.store import save_signal
from engine.storage.models import RiskReport, Tick, Token, Wallet, WatchlistEntry
from engine.storage.repos import tokens as token_repo
from engine.storage.repos import wallets as wallet_repo
from engine.trading.jobs import CHECK_ORDERS, DefaultRuntime, enqueue_exit
from engine.trading.monitor import PriceMonitor

log = logging.getLogger(__name__)

EVENTS_STREAM = "events"
SIGNALS_STREAM = "signals"
SMART_STREAM = "smart_activity"
GROUP = "scorer"
ORDERS_RELOAD_S = 5.0
CHECK_ORDERS_EVERY_MS = 60_000
RISK_BUCKET_MS = 10_000
"""Re-checks for the same mint and reason within this much event time share one job."""


@dataclass
class ScoringCounters:
    """What the consumer has done (metrics; printed by ``solai score``)."""

    batches: int = 0
    events: int = 0
    bad_messages: int = 0
    reclaimed: int = 0
    signals: int = 0
    risk_jobs: int = 0

    def snapshot(self) -> dict[str, int]:
        """A JSON-ready copy."""
        return asdict(self)


class ScoringConsumer:
    """Consumes ``events`` for its partitions and produces signals."""

    def __init__(
        self,
        deps: Deps,
        *,
        consumer: str = "scorer-1",
        partitions: Sequence[int] | None = None,
        batch: int = 500,
        block_ms: int = 200,
        claim_idle_ms: int = 30_000,
        warm_start_ms: int = 30 * 60_000,
        refresh_s: float = 1.0,
    ) -> None:
        self._deps = deps
        self._consumer = consumer
        self._partitions = list(partitions) if partitions is not None else None
        self._batch = batch
        self._block_ms = block_ms
        self._claim_idle_ms = claim_idle_ms
        self._warm_ms = warm_start_ms
        self._refresh_s = refresh_s
        self._ids = IdMaker(deps.clock)
        self._risk: dict[str, RiskVerdict] = {}
        self._pending_risk: set[str] = set()
        self._creators: dict[str, str] = {}
        self._known: set[str] = set()
        self._next_refresh = 0.0
        self.scorer = Scorer(risk=self._risk.get)
        self.counters = ScoringCounters()
        self._stop = asyncio.Event()
        self._outbox: list[tuple[int, Signal]] = []
        self._fills: list[ChainEvent] = []
        self._trading = DefaultRuntime()
        self.monitor: PriceMonitor | None = None
        self._next_orders_reload = 0.0
        self._last_check_bucket = -1
        self.signals: list[Signal] = []
        """The most recent fired signals (bounded; for tests and the console)."""

    def stop(self) -> None:
        """Ask ``run`` to return after the current batch."""
        self._stop.set()

    def _mine(self, mint: str) -> bool:
        if self._partitions is None:
            return True
        return partition_for(mint, self._deps.bus.partitions) in self._partitions

    async def start(self) -> None:
        """Create the group, load rules, tracked wallets, known risk, and warm the windows."""
        await self._deps.bus.ensure_group(EVENTS_STREAM, GROUP)
        async with self._deps.sessions() as session:
            self.scorer.rules = await load_rule_set(session, user_id=None)
            await self._load_smart(session)
            reports = await session.scalars(select(RiskReport))
            for r in reports:
                if self._mine(r.mint):  # a partitioned consumer only ever scores its own mints
                    self._risk[r.mint] = verdict_from_report(r.data)
            for mint, creator in await session.execute(
                select(Token.mint, Token.creator).where(Token.creator.is_not(None))
            ):
                if not self._mine(mint):
                    continue
                if creator is not None:
                    self._creators[mint] = creator
                self._known.add(mint)
            await self._warm_start(session)
        # Open TP/SL/trailing/DCA orders are checked on every tick of their mint, here.
        self.monitor = self._trading(self._deps).monitor(
            after_trigger=enqueue_exit(self._deps.jobs)
        )
        await self.monitor.load()

    async def _load_smart(self, session: Any) -> None:
        aliases: dict[str, str] = {}
        for w in await session.scalars(select(Wallet)):
            if w.featured:
                aliases[w.address] = w.alias or ""
        for e in await session.scalars(select(WatchlistEntry)):
            aliases.setdefault(e.address, e.alias or "")
        self.scorer.set_smart_wallets(aliases)

    async def reload_smart_wallets(self) -> None:
        """Re-read the tracked wallets (after a /watch or an import)."""
        async with self._deps.sessions() as session:
            await self._load_smart(session)

    async def _warm_start(self, session: Any) -> None:
        newest = (await session.execute(select(Tick.ts).order_by(Tick.ts.desc()).limit(1))).first()
        if newest is None:
            return
        since = newest[0] - self._warm_ms
        rows = await session.scalars(
            select(Tick).where(Tick.ts >= since).order_by(Tick.ts, Tick.signature, Tick.idx)
        )
        n = 0
        for t in rows:
            if not self._mine(t.mint):
                continue
            self.scorer.windows.add(token_repo.tick_event(t))
            n += 1
        if n:
            log.info("warm start: %d ticks since %d refilled the windows", n, since)

    async def run(self) -> None:
        """Consume until ``stop()``."""
        await self.start()
        bus = self._deps.bus
        while not self._stop.is_set():
            stale = await bus.claim_stale(
                EVENTS_STREAM,
                GROUP,
                self._consumer,
                min_idle_ms=self._claim_idle_ms,
                partitions=self._partitions,
                count=self._batch,
            )
            if stale:
                self.counters.reclaimed += len(stale)
                await self.process(stale)
            messages = await bus.consume(
                EVENTS_STREAM,
                GROUP,
                self._consumer,
                partitions=self._partitions,
                count=self._batch,
                block_ms=self._block_ms,
            )
            if messages:
                await self.process(messages)
            await self._refresh_risk()
            await self._orders_housekeeping()
        await self._trading.aclose()

    async def process(self, messages: Sequence[Message]) -> list[Signal]:
        """Score and store one batch, then ack it and announce its signals."""
        events: list[ChainEvent] = []
        for m in messages:
            try:
                events.append(ChainEvent.from_json(m.payload))
            except EventFormatError as exc:
                # A poison message is counted and acked: retrying cannot make it valid.
                self.counters.bad_messages += 1
                M.SCORER_BAD_MESSAGES.inc()
                log.warning("bad event %s on partition %d: %s", m.id, m.partition, exc)
        fired: list[Signal] = []
        risk_mints: dict[tuple[str, str], int] = {}
        deps = self._deps
        now = deps.clock.now_ms()
        async with deps.sessions.begin() as session:
            for e in events:
                if e.kind == "create":
                    await token_repo.upsert_token_from_create(session, event=e, now_ms=now)
                    if e.creator:
                        self._creators[e.mint] = e.creator
                elif e.kind in ("complete", "migrate"):
                    await token_repo.mark_complete(session, mint=e.mint, now_ms=now)
                    risk_mints[(e.mint, "migration")] = e.ts
                elif e.mint not in self._known:
                    await token_repo.ensure_token(session, mint=e.mint, now_ms=now)
                if e.mint not in self._known:
                    self._known.add(e.mint)
                    risk_mints[(e.mint, "first")] = e.ts
                if e.side == "sell" and e.trader and e.trader == self._creators.get(e.mint):
                    risk_mints[(e.mint, "dev_sell")] = e.ts  # the verdict may change
            await token_repo.insert_ticks(session, events=events)
            smart = [e for e in events if e.trader is not None and e.trader in self.scorer.aliases]
            if smart:
                await wallet_repo.record_smart_trades(session, events=smart)
                self._fills.extend(smart)
            for e in events:
                signal = self.scorer.on_event(e)
                if signal is not None:
                    row = await save_signal(session, signal=signal, ids=self._ids)
                    fired.append(signal)
                    self._outbox.append((row.id, signal))
        await deps.bus.ack(GROUP, messages)
        await self._announce()
        if self.monitor is not None:
            for e in events:
                await self.monitor.on_event(e)
        for (mint, reason), ts in risk_mints.items():
            await self._enqueue_risk(mint, reason, ts)
        self.counters.batches += 1
        self.counters.events += len(events)
        self.counters.signals += len(fired)
        M.SCORER_EVENTS.inc(len(events))
        M.SCORER_SIGNALS.inc(len(fired))
        stored_at = deps.clock.now_ms()
        for sig in fired:
            M.SIGNAL_LATENCY_MS.observe(max(0, stored_at - sig.ts))
        self.signals = (self.signals + fired)[-200:]
        return fired

    async def _announce(self) -> None:
        """After the commit: publish the batch's fills and signals, and enqueue their jobs."""
        fills, self._fills = self._fills, []
        if fills:
            await self._deps.bus.publish_many(
                SMART_STREAM, [(e.mint, orjson.dumps(self._fill_body(e))) for e in fills]
            )
            if _registered(self._deps, "fanout_fill"):
                for e in fills:
                    await self._deps.jobs.enqueue(
                        "fanout_fill",
                        job_id=f"fanout_fill:{e.signature}:{e.index}",
                        signature=e.signature,
                        idx=e.index,
                    )
        outbox, self._outbox = self._outbox, []
        if not outbox:
            return
        deps = self._deps
        items = []
        for signal_id, s in outbox:
            body = {"id": signal_id, **s.to_dict()}
            items.append((s.mint, orjson.dumps(body)))
            for name in ("narrate_signal", "fanout_signal", "auto_trade"):
                if _registered(deps, name):
                    await deps.jobs.enqueue(
                        name, job_id=f"{name}:{signal_id}", signal_id=signal_id, ts=s.ts
                    )
        await deps.bus.publish_many(SIGNALS_STREAM, items)

    def _fill_body(self, e: ChainEvent) -> dict[str, Any]:
        """A tracked wallet's fill, shaped like the API's SmartActivityPublic."""
        sol, tokens = e.sol_lamports or 0, e.token_amount or 0
        return {
            "ts": e.ts,
            "wallet": e.trader,
            "alias": self.scorer.aliases.get(e.trader or "") or None,
            "mint": e.mint,
            "symbol": None,
            "side": e.side,
            "sol_lamports": sol,
            "token_amount": tokens,
            "price_lamports_per_token": sol / tokens if tokens else 0.0,
            "market_cap_lamports": sol * PUMP_TOKEN_TOTAL_SUPPLY // tokens if tokens else 0,
            "signature": e.signature,
        }

    async def _enqueue_risk(self, mint: str, reason: str, event_ts: int) -> None:
        # Keyed by the event's own time: a replayed batch maps to the same job, not a new one.
        bucket = event_ts // RISK_BUCKET_MS
        job_id = await self._deps.jobs.enqueue(
            "risk_check", job_id=f"risk:{mint}:{reason}:{bucket}", mint=mint
        )
        self._pending_risk.add(mint)
        if job_id is not None:
            self.counters.risk_jobs += 1

    async def _refresh_risk(self, *, force: bool = False) -> None:
        """Pull finished verdicts of pending mints from ``risk_reports`` (at most every 1 s)."""
        if not self._pending_risk:
            return
        now = time.monotonic()
        if not force and now < self._next_refresh:
            return
        self._next_refresh = now + self._refresh_s
        async with self._deps.sessions() as session:
            rows = await session.scalars(
                select(RiskReport).where(RiskReport.mint.in_(list(self._pending_risk)))
            )
            for r in rows:
                self._risk[r.mint] = verdict_from_report(r.data)
                self._pending_risk.discard(r.mint)

    async def _orders_housekeeping(self) -> None:
        """Pick up orders attached elsewhere; run time-driven legs; schedule the safety net."""
        if self.monitor is None:
            return
        now = time.monotonic()
        if now >= self._next_orders_reload:
            self._next_orders_reload = now + ORDERS_RELOAD_S
            await self.monitor.load()
            await self.monitor.tick()
        bucket = self._deps.clock.now_ms() // CHECK_ORDERS_EVERY_MS
        if bucket != self._last_check_bucket:
            # One job id per minute: every consumer may ask, the queue runs it once (a cron).
            self._last_check_bucket = bucket
            if _registered(self._deps, CHECK_ORDERS):
                await self._deps.jobs.enqueue(CHECK_ORDERS, job_id=f"{CHECK_ORDERS}:{bucket}")

    async def refresh_risk_now(self) -> None:
        """Read back every finished verdict now (tests and the demo's console)."""
        await self._refresh_risk(force=True)


def _registered(deps: Deps, name: str) -> bool:
    registry = getattr(deps.jobs, "_registry", None)
    return registry is None or name in registry
