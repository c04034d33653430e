"""The ingest supervisor: chain → normalized events on the bus, with nothing lost or doubled.

It follows the providers in priority order. On each it subscribes to the logs of every watched
program (plus slots, for the head and the lag), and turns notifications into events: pump.fun
events are complete in the logs; PumpSwap and Raydium need the transaction's accounts, so those
are fetched over HTTP. When the feed drops, stalls or throws a burst of errors, the provider goes
into a jittered back-off, the next one takes over, and the gap is backfilled over HTTP
(``getSignaturesForAddress`` back to the last signature seen per program, then
``getTransaction``). A health probe moves ingestion back to a preferred provider once it answers
again. Duplicates (the overlap of live and backfill, replays after a reconnect) are dropped by
signature. Events go to the bus stream ``events``, keyed (partitioned) by mint.

At ``processed`` (opt-in) the logs subscriptions use ``processed`` and the events are published
at once; a :class:`~workers.confirmations.ConfirmationTracker` then confirms each transaction or
publishes a retraction for it on the same stream. HTTP reads stay at ``confirmed``.

Backfill works from a checkpoint per program, not from the last notification seen: a provider
can silently skip a notification in the middle of a healthy session, and later notifications
would carry a "last seen" marker past the hole. The checkpoint is the newest signature up to
which everything has been verified; reconciliation pages ``getSignaturesForAddress`` back to it,
fetches whatever the seen-set lacks, then advances it. It runs on every (re)connect and every
``reconcile_interval_s`` while connected, skipping the last ``reconcile_grace_slots`` slots
(their notifications may simply not have arrived yet).

The bus (Redis) may be away or come back empty; events already marked seen must survive that,
since the chain will not send them again. They go through a :class:`BusPublisher`: a bounded,
ordered in-memory buffer that one task publishes with capped back-off, and a ring of what was
published in the last seconds, sent again when the bus says it lost its data. The chain is read
on meanwhile; past the buffer's bound live notifications are left unprocessed (not marked seen)
until half of it is published, and then a reconcile fetches them from the checkpoint (one
``getTransaction`` each: slower, nothing lost).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from itertools import islice
from typing import Any

from engine.bus.base import Bus, BusError
from engine.bus.redis import RedisError
from engine.chain import programs as P
from engine.chain.decode import (
    DecodeError,
    DecodeStats,
    PoolBook,
    decode_logs,
    decode_transaction,
)
from engine.chain.rpc import Commitment, RpcClient, RpcError
from engine.chain.ws import LogsNotification, SlotNotification, WsClient, WsError
from engine.clock import Clock
from engine.events import ChainEvent, Retraction
from engine.observability import metrics as M
from engine.settings import RpcProvider
from workers.confirmations import ConfirmationTracker

log = logging.getLogger(__name__)

EVENTS_STREAM = "events"

WATCHED_PROGRAMS = (
    P.PUMP_PROGRAM,
    P.PUMPSWAP_PROGRAM,
    P.RAYDIUM_AMM_V4_PROGRAM,
    P.RAYDIUM_CPMM_PROGRAM,
)
# Top-level programs that leave a pump.fun transaction complete in its logs: anything else at
# the top (a router, an AMM) means accounts or the real wallet are needed, so it is fetched.
_LOGS_SUFFICE = frozenset(
    {
        P.PUMP_PROGRAM,
        P.COMPUTE_BUDGET_PROGRAM,
        P.SYSTEM_PROGRAM,
        P.TOKEN_PROGRAM,
        P.TOKEN_2022_PROGRAM,
        P.ASSOCIATED_TOKEN_PROGRAM,
    }
)


_DIRECT_AMM = _LOGS_SUFFICE | {P.PUMPSWAP_PROGRAM}


def top_level_programs(logs: Sequence[str]) -> set[str]:
    """The programs the transaction invoked directly (``invoke [1]``)."""
    return {
        line[8:-11] for line in logs if line.endswith(" invoke [1]") and line.startswith("Program ")
    }


def needs_transaction(logs: Sequence[str]) -> bool:
    """True unless every top-level program in the logs is pump.fun or plumbing."""
    return not top_level_programs(logs) <= _LOGS_SUFFICE


class ErrorBurst(RuntimeError):
    """Too many errors in a short window on one provider: time to fail over."""


@dataclass
class IngestCounters:
    """What the supervisor has done; exported as metrics and printed by ``solai ingest``."""

    notifications: int = 0
    events: int = 0
    failed_transactions: int = 0
    duplicates: int = 0
    backfilled: int = 0
    decode_errors: int = 0
    fetch_errors: int = 0
    malformed_frames: int = 0
    reconnects: int = 0
    failovers: int = 0
    bus_buffered: int = 0
    """Events waiting for the bus now (Redis away or slow)."""
    bus_buffered_max: int = 0
    bus_errors: int = 0
    bus_data_lost: int = 0
    republished: int = 0
    """Events sent again because the bus lost its data."""
    feed_pauses: int = 0
    """Times the bus buffer filled up and live notifications were left to the reconcile."""
    dropped_while_full: int = 0
    """Live notifications not processed while the buffer was full (backfilled afterwards)."""
    retractions: int = 0
    """Retractions published (at ``processed``: events of transactions never confirmed)."""
    head_slot: int = 0
    last_event_slot: int = 0
    provider: str = ""

    @property
    def lag_slots(self) -> int:
        """How far behind the provider's head the last processed notification is."""
        if not self.head_slot or not self.last_event_slot:
            return 0
        return max(0, self.head_slot - self.last_event_slot)

    def snapshot(self) -> dict[str, Any]:
        """A JSON-ready copy, lag included."""
        return {**asdict(self), "lag_slots": self.lag_slots}


class SeenSignatures:
    """A bounded set of signatures, oldest forgotten first."""

    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[str, None] = OrderedDict()

    def add(self, signature: str) -> bool:
        """Record a signature; False when it was already there."""
        if signature in self._items:
            return False
        self._items[signature] = None
        if len(self._items) > self._capacity:
            self._items.popitem(last=False)
        return True

    def discard(self, signature: str) -> None:
        """Forget a signature (its processing failed; a later backfill may retry it)."""
        self._items.pop(signature, None)

    def __contains__(self, signature: object) -> bool:
        return signature in self._items


_Item = tuple[str, bytes, str]
"""(mint, event JSON, venue): one event as the bus publishes it."""
BUS_DOWN = (BusError, RedisError, OSError)
"""What an unreachable bus raises (Redis connection errors are RedisErrors)."""


RETRACTION = ""
"""The venue slot of a retraction in the publisher's buffer (not counted as an event)."""


class BusPublisher:
    """Ingest's one way onto the bus: in order, buffered through outages, re-sent after a loss.

    ``put`` never waits: events are appended to the buffer and one task (``run``) publishes it
    in batches of up to ``batch``, retrying with capped, jittered back-off while the bus fails.
    After every failure and every ``check_s`` it asks the bus whether it lost its data; if so,
    the ring (events published in the last ``ring_s``, at most ``ring_max``) goes back in front
    of the buffer and is sent again: the scorer's unique keys and windows drop what it had seen.
    A scorer further behind than the ring when Redis loses its data misses the older events.

    ``full`` is set when the buffer holds ``max_buffer`` events and cleared when it is back to
    half: meanwhile the supervisor leaves live notifications unprocessed (not seen), and the
    reconcile it runs once there is room again fetches them from the checkpoint.
    """

    def __init__(
        self,
        bus: Bus,
        stream: str,
        counters: IngestCounters,
        *,
        on_published: Callable[[Sequence[_Item]], None],
        on_room: Callable[[], None] = lambda: None,
        max_buffer: int = 100_000,
        ring_s: float = 30.0,
        ring_max: int = 50_000,
        batch: int = 1000,
        backoff_base_s: float = 0.05,
        backoff_max_s: float = 5.0,
        check_s: float = 5.0,
        rng: random.Random | None = None,
    ) -> None:
        self._bus = bus
        self._stream = stream
        self.counters = counters
        self._on_published = on_published
        self._on_room = on_room
        self._max = max_buffer
        self._resume = max_buffer // 2
        self._ring_s = ring_s
        self._batch = batch
        self._base = backoff_base_s
        self._backoff_max = backoff_max_s
        self._check_s = check_s
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self._buffer: deque[_Item] = deque()
        self._ring: deque[tuple[float, _Item]] = deque(maxlen=ring_max)
        self._wake = asyncio.Event()
        self._closing = False
        self._suspect = True  # the first check learns the bus's epoch
        self._next_check = 0.0
        self._failures = 0
        self.full = asyncio.Event()

    def __len__(self) -> int:
        return len(self._buffer)

    def put(self, events: Sequence[ChainEvent]) -> None:
        """Queue events for the bus, in order; never waits (see ``full``)."""
        buf = self._buffer
        for e in events:
            buf.append((e.mint, e.to_json(), e.venue))
        self._sized()
        self._wake.set()

    def put_retractions(self, retractions: Sequence[Retraction]) -> None:
        """Queue retractions, behind the events they retract (same stream, same keys)."""
        buf = self._buffer
        for r in retractions:
            buf.append((r.mint, r.to_json(), RETRACTION))
        self._sized()
        self._wake.set()

    def _sized(self) -> None:
        n = len(self._buffer)
        c = self.counters
        c.bus_buffered = n
        c.bus_buffered_max = max(c.bus_buffered_max, n)
        M.INGEST_BUS_BUFFERED.set(n)
        if n >= self._max and not self.full.is_set():
            self.full.set()
            c.feed_pauses += 1
            log.warning(
                "bus buffer full (%d events): live notifications are left to the reconcile", n
            )
        elif n <= self._resume and self.full.is_set():
            self.full.clear()
            log.warning("bus buffer down to %d events: reading the chain again", n)
            self._on_room()

    async def run(self) -> None:
        """Publish until ``close``; bus failures are retried here, never raised."""
        self._closing = False
        while True:
            if not self._buffer:
                if self._closing:
                    return
                self._trim_ring()
                due = self._next_check - time.monotonic()
                if not self._ring or (due > 0 and not self._suspect):
                    # Idle: wake for new events, or when the ring is due a data-loss check.
                    self._wake.clear()
                    timeout = max(due, 0.01) if self._ring else None
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._wake.wait(), timeout)
                    continue
            try:
                if self._suspect or time.monotonic() >= self._next_check:
                    await self._check()
                if self._buffer:
                    await self._send()
            except BUS_DOWN as exc:
                await self._failed(exc)
                continue
            if self._failures:
                log.warning(
                    "bus back after %d failed attempts; %d events still buffered",
                    self._failures,
                    len(self._buffer),
                )
                self._failures = 0

    async def _check(self) -> None:
        lost = await self._bus.lost_data()
        self._trim_ring()
        self._suspect = False
        self._next_check = time.monotonic() + self._check_s
        if not lost:
            return
        again = [item for _, item in self._ring]
        self._ring.clear()
        self._buffer.extendleft(reversed(again))
        self.counters.bus_data_lost += 1
        self.counters.republished += len(again)
        M.INGEST_REPUBLISHED.inc(len(again))
        self._sized()
        log.error(
            "the bus lost its data (Redis restarted empty?): re-sending %d events", len(again)
        )

    async def _send(self) -> None:
        batch = list(islice(self._buffer, self._batch))
        await self._bus.publish_many(self._stream, [(mint, data) for mint, data, _ in batch])
        buf = self._buffer
        for _ in batch:
            buf.popleft()
        now = time.monotonic()
        self._ring.extend((now, item) for item in batch)
        self._trim_ring()
        self._sized()
        self._on_published(batch)

    def _trim_ring(self) -> None:
        ring, horizon = self._ring, time.monotonic() - self._ring_s
        while ring and ring[0][0] < horizon:
            ring.popleft()

    async def _failed(self, exc: BaseException) -> None:
        self._failures += 1
        self._suspect = True
        self.counters.bus_errors += 1
        delay = min(self._backoff_max, self._base * 2 ** min(self._failures - 1, 16))
        delay *= 0.5 + self._rng.random()
        log.log(
            logging.WARNING if self._failures == 1 else logging.DEBUG,
            "bus unavailable (%s): %d events buffered, retry in %.2fs",
            type(exc).__name__ if not str(exc) else f"{type(exc).__name__}: {exc}",
            len(self._buffer),
            delay,
        )
        await asyncio.sleep(delay)

    async def close(self, task: asyncio.Task[None], timeout_s: float) -> int:
        """Publish what is buffered within ``timeout_s``, then stop; returns the events dropped."""
        self._closing = True
        self._wake.set()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(task), timeout_s)
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        dropped = len(self._buffer)
        if dropped:
            log.error("stopping with the bus away: %d buffered events dropped", dropped)
        return dropped


@dataclass
class _Provider:
    config: RpcProvider
    priority: int
    rpc: RpcClient
    failures: int = 0
    down_until: float = 0.0
    errors: deque[float] = field(default_factory=deque)

    @property
    def name(self) -> str:
        return self.config.name


class IngestSupervisor:
    """Runs ingestion across providers until stopped; see the module docstring."""

    def __init__(
        self,
        providers: Sequence[RpcProvider],
        bus: Bus,
        *,
        clock: Clock,
        programs: Sequence[str] = WATCHED_PROGRAMS,
        commitment: Commitment = "confirmed",
        rpc_timeout_s: float = 10.0,
        stall_timeout_s: float = 10.0,
        health_interval_s: float = 2.0,
        backoff_base_s: float = 0.25,
        backoff_max_s: float = 15.0,
        error_burst: int = 50,
        error_window_s: float = 10.0,
        fetch_concurrency: int = 16,
        fetch_tries: int = 4,
        backfill_page: int = 1000,
        dedupe_capacity: int = 1_000_000,
        reconcile_interval_s: float = 5.0,
        reconcile_grace_slots: int = 4,
        bus_buffer: int = 100_000,
        republish_s: float = 30.0,
        republish_max: int = 50_000,
        bus_backoff_max_s: float = 5.0,
        bus_check_s: float = 5.0,
        drain_timeout_s: float = 5.0,
        confirm_expiry_slots: int = 150,
        confirm_poll_s: float = 0.4,
        rng: random.Random | None = None,
    ) -> None:
        if not providers:
            raise ValueError("at least one RPC provider is needed")
        if not programs:
            raise ValueError("at least one program to watch is needed")
        self._providers = [
            _Provider(
                p,
                i,
                # getTransaction and getSignaturesForAddress refuse `processed`: HTTP reads
                # stay at `confirmed` whatever the subscriptions use.
                RpcClient.from_provider(
                    p,
                    timeout_s=rpc_timeout_s,
                    commitment="confirmed" if commitment == "processed" else commitment,
                ),
            )
            for i, p in enumerate(providers)
        ]
        self._bus = bus
        self._programs = list(programs)
        self.decode_stats = DecodeStats()
        self.pools = PoolBook()
        """PumpSwap pools' mints, learned from fetched transactions: later swaps need no fetch."""
        self._clock = clock
        self._commitment: Commitment = commitment
        self._stall_s = stall_timeout_s
        self._health_s = health_interval_s
        self._backoff_base = backoff_base_s
        self._backoff_max = backoff_max_s
        self._error_burst = error_burst
        self._error_window = error_window_s
        self._fetch_sem = asyncio.Semaphore(fetch_concurrency)
        self._fetch_tries = fetch_tries
        self._page = backfill_page
        self._reconcile_s = reconcile_interval_s
        self._grace = reconcile_grace_slots
        self._reconcile_lock = asyncio.Lock()
        self._rng = rng or random.Random()  # noqa: S311 - jitter, not cryptography
        self.seen = SeenSignatures(dedupe_capacity)
        self.counters = IngestCounters()
        self._catch_up = asyncio.Event()
        """Set when the bus buffer has room again: reconcile now, not at the next interval."""
        self.publisher = BusPublisher(
            bus,
            EVENTS_STREAM,
            self.counters,
            on_published=self._published,
            on_room=self._catch_up.set,
            max_buffer=bus_buffer,
            ring_s=republish_s,
            ring_max=republish_max,
            backoff_max_s=bus_backoff_max_s,
            check_s=bus_check_s,
            rng=self._rng,
        )
        self._drain_timeout_s = drain_timeout_s
        self._active: _Provider = self._providers[0]
        self.confirmations: ConfirmationTracker | None = None
        """At ``processed``: what was published and awaits confirmation (else None)."""
        if commitment == "processed":
            self.confirmations = ConfirmationTracker(
                lambda sigs: self._active.rpc.get_signature_statuses(sigs),
                self.publisher.put_retractions,
                lambda: self.counters.head_slot,
                expiry_slots=confirm_expiry_slots,
                poll_s=confirm_poll_s,
                # A fetched transaction that never confirms would be retried by every reconcile.
                on_expired=lambda signature: self.retry.pop(signature, None),
            )
        self.checkpoint: dict[str, tuple[int, str]] = {}
        """Per program: (slot, signature) up to which every transaction has been handled."""
        self._tasks: set[asyncio.Task[Any]] = set()
        self._fetches: set[asyncio.Task[Any]] = set()
        self.retry: dict[str, str] = {}
        """Signatures whose fetch failed (signature → program); the next backfill retries them."""
        self._stop = asyncio.Event()
        self.connected = asyncio.Event()
        """Set while subscribed on some provider (tests wait on it)."""

    # -- lifecycle --------------------------------------------------------------------------

    def stop(self) -> None:
        """Ask ``run`` to return after the current step."""
        self._stop.set()

    async def aclose(self) -> None:
        """Close the HTTP clients."""
        for p in self._providers:
            await p.rpc.aclose()

    async def run(self) -> None:
        """Ingest until ``stop()``; provider and bus failures are handled here, never raised."""
        publishing = asyncio.create_task(self.publisher.run())
        confirming = (
            asyncio.create_task(self.confirmations.run())
            if self.confirmations is not None
            else None
        )
        try:
            while not self._stop.is_set():
                provider = await self._next_provider()
                if provider is None:
                    return
                try:
                    await self._session(provider)
                except (WsError, RpcError, ErrorBurst, OSError) as exc:
                    self._mark_down(provider, exc)
        finally:
            self.connected.clear()
            if confirming is not None:
                confirming.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await confirming
            await self._drain_tasks()
            await self.publisher.close(publishing, self._drain_timeout_s)

    async def _next_provider(self) -> _Provider | None:
        while not self._stop.is_set():
            now = time.monotonic()
            for p in self._providers:
                if p.down_until <= now:
                    return p
            wake = min(p.down_until for p in self._providers)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), max(0.0, wake - now))
        return None

    def _mark_down(self, p: _Provider, exc: BaseException) -> None:
        p.failures += 1
        delay = min(self._backoff_max, self._backoff_base * 2 ** (p.failures - 1))
        delay *= 0.5 + self._rng.random()  # jitter: providers are not stampeded in lockstep
        p.down_until = time.monotonic() + delay
        self.counters.reconnects += 1
        M.INGEST_RECONNECTS.labels(p.name).inc()
        log.warning("provider %s failed (%s); retrying it in %.2fs", p.name, exc, delay)

    # -- one provider -----------------------------------------------------------------------

    async def _session(self, p: _Provider) -> None:
        ws = WsClient(p.config.ws_url, name=p.name, idle_timeout_s=self._stall_s)
        await ws.connect()
        try:
            subs: dict[int, str] = {}
            for program in self._programs:
                sub = await ws.logs_subscribe(program, commitment=self._commitment)
                subs[sub] = program
            await ws.slot_subscribe()
            if self.counters.provider and self.counters.provider != p.name:
                self.counters.failovers += 1
            self.counters.provider = p.name
            self._active = p
            log.info("ingesting from %s (%d programs)", p.name, len(subs))
            self.connected.set()
            # The session's reconciler finishes the pass it is in and ends with the session
            # (cancelling it mid-fetch could drop a signature already marked seen).
            session_over = asyncio.Event()
            self._spawn(self._reconcile_loop(p, session_over))
            preferred = self._spawn(self._wait_for_preferred(p))
            reader = self._spawn(self._read(p, ws, subs))
            stopping = self._spawn(self._stop.wait())
            done, _ = await asyncio.wait(
                {reader, preferred, stopping}, return_when=asyncio.FIRST_COMPLETED
            )
            session_over.set()
            for t in (reader, preferred, stopping):
                if t not in done:
                    t.cancel()
            if reader in done:
                reader.result()  # re-raise the feed's failure for the failover above
            p.failures = 0
        finally:
            self.connected.clear()
            self.counters.malformed_frames += ws.malformed_frames
            await ws.close()

    async def _read(self, p: _Provider, ws: WsClient, subs: dict[int, str]) -> None:
        malformed_seen = 0
        while True:
            note = await ws.recv()
            if ws.malformed_frames > malformed_seen:
                for _ in range(ws.malformed_frames - malformed_seen):
                    self._error(p, "malformed frame")
                malformed_seen = ws.malformed_frames
            if isinstance(note, SlotNotification):
                self.counters.head_slot = max(self.counters.head_slot, note.slot)
                M.INGEST_LAG_SLOTS.set(self.counters.lag_slots)
                continue
            program = subs.get(note.subscription)
            if program is None:
                continue
            if self.publisher.full.is_set():
                # The bus buffer is full: not processed, so not seen; the reconcile that runs
                # once there is room fetches it from the checkpoint.
                self.counters.dropped_while_full += 1
                continue
            await self._on_logs(p, program, note)
            p.failures = 0

    async def _wait_for_preferred(self, current: _Provider) -> None:
        """Return once a provider ranked above the current one answers its health check."""
        better = [p for p in self._providers if p.priority < current.priority]
        if not better:
            await asyncio.Event().wait()  # nothing to return to: wait forever (cancelled)
        while True:
            await asyncio.sleep(self._health_s)
            for p in better:
                try:
                    if await p.rpc.get_health() == "ok":
                        p.down_until = 0.0
                        p.failures = 0
                        log.info("provider %s is healthy again; moving back", p.name)
                        return
                except (RpcError, OSError):
                    continue

    def _error(self, p: _Provider, what: str) -> None:
        now = time.monotonic()
        p.errors.append(now)
        while p.errors and p.errors[0] < now - self._error_window:
            p.errors.popleft()
        if len(p.errors) >= self._error_burst:
            p.errors.clear()
            raise ErrorBurst(f"{self._error_burst} errors in {self._error_window}s ({what})")

    # -- notifications ----------------------------------------------------------------------

    async def _on_logs(self, p: _Provider, program: str, note: LogsNotification) -> None:
        self.counters.notifications += 1
        M.INGEST_NOTIFICATIONS.labels(p.name).inc()
        self.counters.last_event_slot = max(self.counters.last_event_slot, note.slot)
        if note.err is not None:
            # A failed transaction changed nothing on chain; remember it so backfill skips it.
            self.seen.add(note.signature)
            self.counters.failed_transactions += 1
            return
        if not self.seen.add(note.signature):
            self.counters.duplicates += 1
            M.INGEST_DUPLICATES.inc()
            return
        tops = top_level_programs(note.logs)
        # pump.fun alone: the logs hold everything. PumpSwap called directly (the event's user is
        # the wallet): the logs suffice once the pool's mints are known. Anything else: fetch.
        direct = tops <= _DIRECT_AMM
        if direct:
            try:
                events = decode_logs(
                    note.signature,
                    note.slot,
                    note.logs,
                    ts_ms=self._clock.now_ms(),
                    stats=self.decode_stats,
                    pools=self.pools,
                )
            except DecodeError as exc:
                self.counters.decode_errors += 1
                M.INGEST_DECODE_ERRORS.inc()
                log.debug("cannot decode %s: %s", note.signature, exc)
                return
            if not self.pools.missed:
                await self._publish(events)
                if self.confirmations is not None and events:
                    # At processed the transaction may yet be dropped: confirm or retract it.
                    self.confirmations.track(note.signature, note.slot, (e.mint for e in events))
                return
        if self.confirmations is not None:
            # Fetched at `confirmed`, so its events need no retraction; but if it never
            # confirms, its failed fetch must not be retried forever.
            self.confirmations.track(note.signature, note.slot, ())
        task = self._spawn(self._fetch_and_publish(p, note.signature, program, backfill=False))
        self._fetches.add(task)
        task.add_done_callback(self._fetches.discard)

    async def _publish(self, events: Sequence[ChainEvent]) -> None:
        if events:
            self.publisher.put(events)

    def _published(self, items: Sequence[_Item]) -> None:
        for _, _, venue in items:
            if venue == RETRACTION:
                self.counters.retractions += 1
                continue
            self.counters.events += 1
            M.INGEST_EVENTS.labels(venue).inc()

    async def _fetch_and_publish(
        self, p: _Provider, signature: str, program: str, *, backfill: bool
    ) -> bool:
        """Fetch, decode and publish one transaction; on failure forget it so it can be retried."""
        async with self._fetch_sem:
            tx: dict[str, Any] | None = None
            for attempt in range(self._fetch_tries):
                try:
                    got = await p.rpc.get_transaction(signature)
                except RpcError as exc:
                    self.counters.fetch_errors += 1
                    log.debug("getTransaction %s on %s: %s", signature, p.name, exc)
                    got = None
                if got is not None:
                    tx = dict(got)
                    break
                # At `processed` the node may not serve the transaction yet: wait a slot or two.
                await asyncio.sleep(0.2 * (attempt + 1))
            if tx is None:
                self.seen.discard(signature)
                self.retry[signature] = program
                return False
        self.retry.pop(signature, None)
        try:
            events = decode_transaction(
                tx, receipt_ts_ms=self._clock.now_ms(), stats=self.decode_stats, pools=self.pools
            )
        except DecodeError as exc:
            self.counters.decode_errors += 1
            log.debug("cannot decode transaction %s: %s", signature, exc)
            return True
        await self._publish(events)
        if backfill:
            self.counters.backfilled += 1
            M.INGEST_BACKFILLED.inc()
        return True

    # -- backfill ---------------------------------------------------------------------------

    async def _reconcile_loop(self, p: _Provider, session_over: asyncio.Event) -> None:
        """Reconcile now (the gap of a reconnect), then every ``reconcile_interval_s`` and
        whenever the bus buffer has room again after being full."""
        while not session_over.is_set():
            self._catch_up.clear()
            await self.reconcile(p)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(_either(session_over, self._catch_up), self._reconcile_s)

    async def reconcile(self, p: _Provider) -> None:
        """Fetch every transaction since each program's checkpoint that was not seen live."""
        async with self._reconcile_lock:
            for sig, program in list(self.retry.items()):
                if sig not in self.seen:
                    self.seen.add(sig)
                    await self._fetch_and_publish(p, sig, program, backfill=True)
            for program in self._programs:
                try:
                    await self._reconcile_program(p, program)
                except RpcError as exc:
                    log.warning("reconcile of %s on %s failed: %s", program, p.name, exc)

    async def _reconcile_program(self, p: _Provider, program: str) -> None:
        last = self.checkpoint.get(program)
        if last is None:
            # First start: anchor at the chain's newest transaction; live takes it from here.
            # A program without any yet anchors at the start of its history (no signature),
            # so what a pause of the feed drops before its first transaction is found too.
            newest = await p.rpc.get_signatures_for_address(program, limit=1)
            self.checkpoint[program] = (newest[0].slot, newest[0].signature) if newest else (0, "")
            return
        found = await self._signatures_since(p, program, last[1] or None)
        horizon = self.counters.head_slot - self._grace
        ready = [
            (slot, sig, err) for slot, sig, err in found if self._grace == 0 or slot <= horizon
        ]
        fetched = 0
        verified: tuple[int, str] | None = None
        for slot, sig, err in reversed(ready):  # oldest first
            if self.publisher.full.is_set():
                break  # the bus buffer is full: the next pass goes on from the checkpoint
            if self.seen.add(sig) and err is None:
                await self._fetch_and_publish(p, sig, program, backfill=True)
                fetched += 1
            verified = (slot, sig)
        if verified is not None:
            # The checkpoint moves to the newest verified signature (all of ``ready`` unless
            # the pass stopped early).
            self.checkpoint[program] = verified
        if fetched:
            log.info("backfilled %d transactions of %s from %s", fetched, program, p.name)

    async def _signatures_since(
        self, p: _Provider, program: str, until: str | None
    ) -> list[tuple[int, str, Any]]:
        out: list[tuple[int, str, Any]] = []
        before: str | None = None
        while True:
            page = await p.rpc.get_signatures_for_address(
                program, until=until, before=before, limit=self._page
            )
            out.extend((s.slot, s.signature, s.err) for s in page)
            if len(page) < self._page:
                return out
            before = page[-1].signature

    # -- tasks ------------------------------------------------------------------------------

    def _spawn(self, coro: Any) -> asyncio.Task[Any]:
        task = asyncio.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def _drain_tasks(self) -> None:
        pending = [t for t in self._tasks if not t.done()]
        # In-flight fetches hold accepted work: let them finish; cancel everything else.
        for t in pending:
            if t not in self._fetches:
                t.cancel()
        await asyncio.gather(*pending, return_exceptions=True)


async def _either(a: asyncio.Event, b: asyncio.Event) -> None:
    """Wait until one of two events is set."""
    waits = [asyncio.create_task(a.wait()), asyncio.create_task(b.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for t in waits:
            t.cancel()
