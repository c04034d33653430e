"""The scoring consumer: bus ``events`` → windows, rules, Strength → stored signals and jobs.

One consumer owns a set of partitions, hence every event of the mints in them, in order. Per
batch, in one database transaction: launches go to ``tokens``, trades to ``ticks``, fills of
tracked wallets to ``smart_trades``, fired signals to ``signals``; only after the commit are the
messages acked and the signals announced (bus ``signals`` and the fan-out/narrative jobs), so a
crash between the two re-delivers the batch, and the stores' unique keys absorb the replay.

Database away: a batch is scored once (the scorer's windows and cooldowns have then absorbed
it), and its write is retried with capped back-off until the database answers, from the kept
result, never by scoring again. Meanwhile nothing is acked and no new batch is consumed: the bus
holds the backlog. ``storage_status()`` (the worker's ``/ops/readiness``) and the
``solai_scorer_write_pending`` gauge say so while it lasts.

Redis away: reads are retried with capped back-off, never fatal. After the commit a failed ack
leaves the batch pending (re-claimed after ``claim_idle_ms``; the stores and the windows absorb
it), a failed publish waits for the next batch, a failed enqueue for the outbox relay. The
batch's jobs are rows of ``job_outbox`` written in its transaction (``engine.jobs.outbox``), so
jobs Redis loses with its data are re-enqueued; when the bus says it lost its data (checked
after every error and every ``BUS_CHECK_S``) the consumer group is re-created, and ingest
re-sends its recent events.

Risk: the first event of a mint, a sell by its creator and a migration enqueue a ``risk_check``
job (idempotent per mint and time bucket); verdicts are read back from ``risk_reports`` into an
in-memory map the scorer consults synchronously. Until a verdict exists the scorer fails closed.

Retractions (ingest at ``processed``): a ``{"type": "retract"}`` message on ``events`` names a
transaction the cluster never confirmed; in the batch's transaction its ticks and smart trades
are deleted and the live signals whose ``inputs["signatures"]`` include it become
``retracted``, with a ``retract_signal`` job through the outbox (see ``_retract``).

Warm start: on start the windows are refilled from the stored ticks of the last
``warm_start_ms``, so a restarted consumer scores like the one it replaces.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import orjson
from sqlalchemy import delete, select, update

from engine.bus.base import BusError, Message, NoGroup, partition_for
from engine.bus.redis import RedisError
from engine.chain.programs import PUMP_TOKEN_TOTAL_SUPPLY
from engine.deps import Deps
from engine.events import ChainEvent, EventFormatError, Retraction, parse_bus_event
from engine.ids import IdMaker
from engine.jobs import outbox
from engine.observability import metrics as M
from engine.risk.engine import verdict_from_report
from engine.risk.model import RiskVerdict
from engine.signals.rules import load_rule_set
from engine.signals.scorer import Scorer, Signal
from engine.storage.db import is_unavailable
from engine.storage.models import RiskReport, SmartTrade, Tick, Token, Wallet, WatchlistEntry
from engine.storage.models import Signal as StoredSignal
from engine.storage.repos import signals as signal_repo
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
"""How often new order groups (attached by the API or a bot) are picked up."""
ORDERS_FULL_RELOAD_S = 60.0
"""How often every open group is reloaded (cancellations elsewhere, out-of-order ids)."""
CHECK_ORDERS_EVERY_MS = 60_000
RISK_BUCKET_MS = 10_000
"""Re-checks for the same mint and reason within this much event time share one job."""
WRITE_RETRY_MIN_S = 0.1
WRITE_RETRY_MAX_S = 2.0
"""Back-off between attempts to store a batch while the database is unavailable."""
WRITE_TIMEOUT_S = 30.0
"""One attempt to store a batch gives up after this long (a silent network, not a slow write)."""
BUS_RETRY_MIN_S = 0.1
BUS_RETRY_MAX_S = 2.0
"""Back-off between attempts to read the bus while it (Redis) is unreachable."""
BUS_CHECK_S = 5.0
"""How often the bus is asked whether it lost its data, besides after every error."""
BUS_DOWN = (BusError, RedisError, OSError)
"""What an unreachable bus or job queue raises (Redis connection errors are RedisErrors)."""
SIGNAL_JOBS = ("narrate_signal", "fanout_signal", "auto_trade")
RETRACT_JOB = "retract_signal"
RETRACT_LOOKBACK = 50
"""Live signals of a mint examined for a retracted signature (the newest; it is seconds old)."""


@dataclass
class ScoringCounters:
    """What the consumer has done (metrics; printed by ``solai score``)."""

    batches: int = 0
    events: int = 0
    bad_messages: int = 0
    reclaimed: int = 0
    signals: int = 0
    risk_jobs: int = 0
    bus_errors: int = 0
    bus_data_lost: int = 0

    def snapshot(self) -> dict[str, int]:
        """A JSON-ready copy."""
        return asdict(self)


@dataclass(slots=True)
class _Scored:
    """One batch after scoring, before storage: kept whole while the database is away."""

    messages: Sequence[Message]
    events: list[ChainEvent]
    tokens: list[tuple[str, ChainEvent]]
    """("create" | "complete" | "ensure", event) in event order."""
    smart: list[ChainEvent]
    fired: list[tuple[int, Signal]]
    """Fired signals with their ids, fixed at scoring so every attempt writes the same rows."""
    risk_mints: dict[tuple[str, str], int] = field(default_factory=dict)
    jobs: list[outbox.OutboxJob] = field(default_factory=list)
    """The batch's jobs: stored in ``job_outbox`` with it, enqueued after the commit."""
    retractions: list[Retraction] = field(default_factory=list)
    """Transactions published at ``processed`` and never confirmed (see ``_retract``)."""
    retracted: list[tuple[int, int]] = field(default_factory=list)
    """(id, ts) of the signals the retractions retracted, found by the last write attempt."""
    retract_jobs: list[outbox.OutboxJob] = field(default_factory=list)


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
        outbox_after_s: float = 30.0,
        outbox_every_s: float = 5.0,
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
        self._next_claim = 0.0
        self._next_orders_full_reload = time.monotonic() + ORDERS_FULL_RELOAD_S  # start() loads
        self._last_check_bucket = -1
        self.signals: list[Signal] = []
        """The most recent fired signals (bounded; for tests and the console)."""
        self.relay = outbox.OutboxRelay(
            deps.sessions, deps.jobs, deps.clock, after_s=outbox_after_s, every_s=outbox_every_s
        )
        """Re-enqueues the batches' jobs the queue lost (Redis restarted without its data)."""
        self._bus_failures = 0
        self._bus_suspect = True  # the first check only learns the bus's epoch
        self._next_bus_check = 0.0
        self.running = False
        """True while ``run`` consumes (readiness: a consumer that died is not ready)."""
        self.write_pending_since: float | None = None
        """``time.monotonic()`` when the pending batch's first write failed; None when none is."""
        self.storage_error: str | None = None
        """The last database failure, until a database operation succeeds again."""
        self.write_retries = 0

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

    def storage_status(self) -> str:
        """``ok``, or why the database is not usable now (the worker's readiness check)."""
        if self.storage_error is None:
            return "ok"
        if self.write_pending_since is None:
            return f"error: {self.storage_error}"
        waited = time.monotonic() - self.write_pending_since
        return f"error: {self.storage_error} (a batch waits to be stored for {waited:.0f} s)"

    async def run(self) -> None:
        """Consume until ``stop()``."""
        await self.start()
        bus = self._deps.bus
        self.running = True
        try:
            await self._loop(bus)
        finally:
            self.running = False

    async def _loop(self, bus: Any) -> None:
        while not self._stop.is_set():
            try:
                await self._check_bus()
                await self._step(bus)
            except BUS_DOWN as exc:
                if await self._bus_failed(exc):
                    break
                continue
            if self._bus_failures:
                log.warning("bus back after %d failed attempts", self._bus_failures)
                self._bus_failures = 0
            await self.relay.maybe_run()
        await self._trading.aclose()

    async def _step(self, bus: Any) -> None:
        """Re-claim what a dead consumer left, read new messages, process them, housekeeping."""
        now = time.monotonic()
        if now >= self._next_claim:
            # One XAUTOCLAIM per partition: not on every read (it cost ~5% of the loop at
            # 5k events/s), a few times per idle period is enough.
            self._next_claim = now + min(1.0, self._claim_idle_ms / 4000)
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

    async def _check_bus(self) -> None:
        """After a bus error, and every ``BUS_CHECK_S``: did Redis lose its data (or our group)?

        Then the consumer group is re-created (from the start of the new streams): ingest
        re-sends its recent events and the job outbox re-enqueues the lost jobs; the stores and
        the windows absorb what arrives twice.
        """
        now = time.monotonic()
        if not self._bus_suspect and now < self._next_bus_check:
            return
        bus = self._deps.bus
        lost = await bus.lost_data()
        if lost:
            self.counters.bus_data_lost += 1
            log.error("the bus lost its data (Redis restarted empty?): re-creating group %s", GROUP)
        if lost or self._bus_suspect:
            await bus.ensure_group(EVENTS_STREAM, GROUP)
        self._bus_suspect = False
        self._next_bus_check = now + BUS_CHECK_S

    async def _bus_failed(self, exc: BaseException) -> bool:
        """Count a bus failure and wait a capped back-off; True when stopped meanwhile."""
        self.counters.bus_errors += 1
        self._bus_failures += 1
        self._bus_suspect = True
        delay = min(BUS_RETRY_MAX_S, BUS_RETRY_MIN_S * 2 ** min(self._bus_failures - 1, 8))
        if isinstance(exc, NoGroup):
            log.warning("%s: re-creating it", exc)
        else:
            log.warning("bus unavailable (%s): retry in %.1f s", _reason(exc), delay)
        return await self._stopped_within(delay)

    async def process(self, messages: Sequence[Message]) -> list[Signal]:
        """Score one batch, store it, then ack it and announce its signals.

        Scoring moves the scorer's state, so it happens once, before the write; the write is
        retried from its kept result while the database is unavailable (see the module
        docstring). Returns ``[]`` without acking when ``stop()`` comes during such a wait: the
        batch stays pending on the bus for whoever consumes the partition next.
        """
        events: list[ChainEvent] = []
        retractions: list[Retraction] = []
        for m in messages:
            try:
                item = parse_bus_event(m.payload)
            except EventFormatError as exc:
                # A poison message is counted and acked: retrying cannot make it valid.
                self.counters.bad_messages += 1
                M.SCORER_BAD_MESSAGES.inc()
                log.warning("bad event %s on partition %d: %s", m.id, m.partition, exc)
                continue
            if isinstance(item, Retraction):
                retractions.append(item)
            else:
                events.append(item)
        batch = self._score(messages, events)
        batch.retractions = retractions
        if not await self._store(batch):
            return []
        fired = [sig for _, sig in batch.fired]
        self._fills.extend(batch.smart)
        self._outbox.extend(batch.fired)
        deps = self._deps
        # Redis away after the commit: nothing here may lose the batch. Unacked messages are
        # re-claimed after claim_idle_ms (the stores absorb the replay), unpublished ones wait
        # for the next batch, jobs not enqueued are re-enqueued from the outbox.
        try:
            await deps.bus.ack(GROUP, messages)
        except BUS_DOWN as exc:
            self._bus_trouble(exc, "ack (the batch stays pending)")
        try:
            await self._announce()
        except BUS_DOWN as exc:
            self._bus_trouble(exc, "announce (kept for the next batch)")
        await self._enqueue_jobs(batch.jobs + batch.retract_jobs)
        if batch.retracted:
            M.SCORER_RETRACTED.inc(len(batch.retracted))
            log.warning(
                "retracted %d signal(s): %s",
                len(batch.retracted),
                ", ".join(str(i) for i, _ in batch.retracted),
            )
        if self.monitor is not None:
            try:
                for e in events:
                    await self.monitor.on_event(e)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                # The legs' compare-and-set keeps this safe to redo: check_orders catches up.
                self._storage_failed(exc)
                log.warning("order monitor skipped a batch: database unavailable")
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

    def _score(self, messages: Sequence[Message], events: list[ChainEvent]) -> _Scored:
        """Everything the batch will write, and its signals: in memory, no I/O."""
        batch = _Scored(messages, events, tokens=[], smart=[], fired=[])
        risk_mints = batch.risk_mints
        for e in events:
            if e.kind == "create":
                batch.tokens.append(("create", e))
                if e.creator:
                    self._creators[e.mint] = e.creator
            elif e.kind in ("complete", "migrate"):
                batch.tokens.append(("complete", e))
                risk_mints[(e.mint, "migration")] = e.ts
            elif e.mint not in self._known:
                batch.tokens.append(("ensure", e))
            if e.mint not in self._known:
                self._known.add(e.mint)
                risk_mints[(e.mint, "first")] = e.ts
            if e.side == "sell" and e.trader and e.trader == self._creators.get(e.mint):
                risk_mints[(e.mint, "dev_sell")] = e.ts  # the verdict may change
        aliases = self.scorer.aliases
        batch.smart = [e for e in events if e.trader is not None and e.trader in aliases]
        batch.fired = [(self._ids.next_id(), sig) for sig in self.scorer.feed(events)]
        batch.jobs = self._plan_jobs(batch)
        return batch

    def _plan_jobs(self, batch: _Scored) -> list[outbox.OutboxJob]:
        """The batch's jobs, with ids that a replayed batch maps to again."""
        deps = self._deps
        jobs: list[outbox.OutboxJob] = []
        if batch.smart and _registered(deps, "fanout_fill"):
            for e in batch.smart:
                kwargs = {"signature": e.signature, "idx": e.index}
                jobs.append(
                    outbox.OutboxJob(f"fanout_fill:{e.signature}:{e.index}", "fanout_fill", kwargs)
                )
        for signal_id, sig in batch.fired:
            for name in SIGNAL_JOBS:
                if _registered(deps, name):
                    kwargs = {"signal_id": signal_id, "ts": sig.ts}
                    jobs.append(outbox.OutboxJob(f"{name}:{signal_id}", name, kwargs))
        for (mint, reason), ts in batch.risk_mints.items():
            # Keyed by the event's own time: a replayed batch maps to the same job, not a new one.
            bucket = ts // RISK_BUCKET_MS
            jobs.append(
                outbox.OutboxJob(f"risk:{mint}:{reason}:{bucket}", "risk_check", {"mint": mint})
            )
            self._pending_risk.add(mint)
        return jobs

    async def _enqueue_jobs(self, jobs: Sequence[outbox.OutboxJob]) -> None:
        """Enqueue a committed batch's jobs; on a queue error the outbox relay does the rest."""
        for job in jobs:
            try:
                got = await self._deps.jobs.enqueue(job.name, job_id=job.job_id, **job.kwargs)
            except BUS_DOWN as exc:
                self._bus_trouble(exc, "enqueue (the outbox relay re-enqueues later)")
                return
            if got is not None and job.name == "risk_check":
                self.counters.risk_jobs += 1

    def _bus_trouble(self, exc: BaseException, what: str) -> None:
        self.counters.bus_errors += 1
        self._bus_suspect = True
        log.warning("bus unavailable during %s: %s", what, _reason(exc))

    async def _write(self, batch: _Scored, *, after_failure: bool) -> None:
        """Store a scored batch in one transaction."""
        now = self._deps.clock.now_ms()
        async with self._deps.sessions.begin() as session:
            if after_failure and batch.fired:
                # A commit whose answer was lost may have landed: its first signal tells.
                first_id, first = batch.fired[0]
                if await session.get(StoredSignal, (first_id, first.ts)) is not None:
                    return
            for op, e in batch.tokens:
                if op == "create":
                    await token_repo.upsert_token_from_create(session, event=e, now_ms=now)
                elif op == "complete":
                    await token_repo.mark_complete(session, mint=e.mint, now_ms=now)
                else:
                    await token_repo.ensure_token(session, mint=e.mint, now_ms=now)
            await token_repo.insert_ticks(session, events=batch.events)
            if batch.smart:
                await wallet_repo.record_smart_trades(session, events=batch.smart)
            for signal_id, sig in batch.fired:
                await signal_repo.add_signal(session, id=signal_id, **sig.storage_kwargs())
            await self._retract(session, batch)
            await outbox.add(session, batch.jobs + batch.retract_jobs, now_ms=now)

    async def _retract(self, session: Any, batch: _Scored) -> None:
        """Undo what the batch's retractions name, in the batch's transaction.

        A retracted transaction's ticks and tracked-wallet fills are deleted; live signals whose
        evidence (``inputs["signatures"]``) includes it become ``retracted`` and get a
        ``retract_signal`` job (through the outbox like every signal job) that edits the alerts
        already sent. The windows keep the event's contribution until it rolls out of them:
        they have no cheap removal, and the signal it fired is what users act on.
        """
        batch.retracted = []
        batch.retract_jobs = []
        if not batch.retractions:
            return
        by_mint: dict[str, set[str]] = {}
        for r in batch.retractions:
            by_mint.setdefault(r.mint, set()).add(r.signature)
        for mint, signatures in by_mint.items():
            await session.execute(
                delete(Tick).where(Tick.mint == mint, Tick.signature.in_(signatures))
            )
            await session.execute(
                delete(SmartTrade).where(
                    SmartTrade.signature.in_(signatures), SmartTrade.mint == mint
                )
            )
            rows = await session.execute(
                select(StoredSignal.id, StoredSignal.ts, StoredSignal.inputs)
                .where(StoredSignal.mint == mint, StoredSignal.status == "live")
                .order_by(StoredSignal.ts.desc())
                .limit(RETRACT_LOOKBACK)
            )
            for signal_id, ts, inputs in rows:
                evidence = inputs.get("signatures") if isinstance(inputs, dict) else None
                if isinstance(evidence, list) and signatures.intersection(evidence):
                    batch.retracted.append((signal_id, ts))
        if not batch.retracted:
            return
        for signal_id, ts in batch.retracted:
            await session.execute(
                update(StoredSignal)
                .where(StoredSignal.id == signal_id, StoredSignal.ts == ts)
                .values(status="retracted")
            )
            if _registered(self._deps, RETRACT_JOB):
                batch.retract_jobs.append(
                    outbox.OutboxJob(
                        f"{RETRACT_JOB}:{signal_id}",
                        RETRACT_JOB,
                        {"signal_id": signal_id, "ts": ts},
                    )
                )

    async def _store(self, batch: _Scored) -> bool:
        """Write the batch, retrying while the database is unavailable; False if stopped first.

        Any other error (a constraint, a bug) propagates: retrying it could never succeed.
        """
        delay = WRITE_RETRY_MIN_S
        failed = False
        while True:
            try:
                async with asyncio.timeout(WRITE_TIMEOUT_S):
                    await self._write(batch, after_failure=failed)
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                if not failed:
                    failed = True
                    self.write_pending_since = time.monotonic()
                    M.SCORER_WRITE_PENDING.set(1)
                self._storage_failed(exc)
                self.write_retries += 1
                M.SCORER_WRITE_RETRIES.inc()
                log.warning(
                    "database unavailable (%s): %d scored events kept unacked, retry in %.1f s",
                    self.storage_error,
                    len(batch.events),
                    delay,
                )
                if await self._stopped_within(delay):
                    return False
                delay = min(delay * 2, WRITE_RETRY_MAX_S)
                continue
            if failed:
                waited = time.monotonic() - (self.write_pending_since or 0.0)
                log.warning("database back: the batch kept for %.1f s is stored", waited)
            self.write_pending_since = None
            self.storage_error = None
            M.SCORER_WRITE_PENDING.set(0)
            return True

    def _storage_answered(self) -> None:
        """A read worked: the database is back, unless a batch still waits to be written."""
        if self.write_pending_since is None:
            self.storage_error = None

    def _storage_failed(self, exc: BaseException) -> None:
        reason = str(exc).splitlines()[0][:160] if str(exc) else ""
        self.storage_error = f"{type(exc).__name__}: {reason}" if reason else type(exc).__name__

    async def _stopped_within(self, seconds: float) -> bool:
        try:
            await asyncio.wait_for(self._stop.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def _announce(self) -> None:
        """After the commit: publish the fills and signals (kept until a publish succeeds)."""
        if self._fills:
            await self._deps.bus.publish_many(
                SMART_STREAM, [(e.mint, orjson.dumps(self._fill_body(e))) for e in self._fills]
            )
            self._fills = []
        if self._outbox:
            items = [
                (s.mint, orjson.dumps({"id": signal_id, **s.to_dict()}))
                for signal_id, s in self._outbox
            ]
            await self._deps.bus.publish_many(SIGNALS_STREAM, items)
            self._outbox = []

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

    async def _refresh_risk(self, *, force: bool = False) -> None:
        """Pull finished verdicts of pending mints from ``risk_reports`` (at most every 1 s)."""
        if not self._pending_risk:
            return
        now = time.monotonic()
        if not force and now < self._next_refresh:
            return
        self._next_refresh = now + self._refresh_s
        try:
            async with self._deps.sessions() as session:
                rows = await session.scalars(
                    select(RiskReport).where(RiskReport.mint.in_(list(self._pending_risk)))
                )
                for r in rows:
                    self._risk[r.mint] = verdict_from_report(r.data)
                    self._pending_risk.discard(r.mint)
        except Exception as exc:
            if not is_unavailable(exc):
                raise
            self._storage_failed(exc)  # verdicts are read again on the next refresh
            return
        self._storage_answered()

    async def _orders_housekeeping(self) -> None:
        """Pick up orders attached elsewhere; run time-driven legs; schedule the safety net."""
        if self.monitor is None:
            return
        now = time.monotonic()
        if now >= self._next_orders_reload:
            self._next_orders_reload = now + ORDERS_RELOAD_S
            try:
                if now >= self._next_orders_full_reload:
                    self._next_orders_full_reload = now + ORDERS_FULL_RELOAD_S
                    await self.monitor.load()
                else:
                    await self.monitor.load_new()
                await self.monitor.tick()
            except Exception as exc:
                if not is_unavailable(exc):
                    raise
                self._storage_failed(exc)  # tried again at the next reload
            else:
                self._storage_answered()
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


def _reason(exc: BaseException) -> str:
    text = str(exc).splitlines()[0][:160] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__
