"""The simulated Solana node: JSON-RPC over HTTP (a raw ASGI app served by uvicorn) and PubSub
over WebSocket (the ``websockets`` server), fed by a scenario :class:`Generator`.

Start it in-process on ephemeral ports and read the bound ports back::

    async with SimServer(load_scenario("demo"), seed=7, rate=200) as sim:
        client = RpcClient(sim.http_url)
        ws = WsClient(sim.ws_url)

Emission: each transaction is published to the ledger (so HTTP can serve it) and pushed to every
matching ``logsSubscribe``; a transaction dropped on the WebSocket side by a fault is still in
the ledger, which is how an ingest backfills. Each published transaction records
``emitted_ns`` (``time.monotonic_ns()``) for latency benchmarks.

Commitment: with ``confirm_delay_ms`` (default 0: everything at once, as before) a transaction
reaches ``logsSubscribe`` subscribers at commitment ``processed`` when it is emitted, and is
*confirmed* ``confirm_delay_ms`` later: only then do ``confirmed``/``finalized`` subscribers get
it and do ``getTransaction`` and ``getSignaturesForAddress`` know it (``getSignatureStatuses``
answers ``processed`` meanwhile). ``drop_next(n)`` (``simControl dropNext``) makes the next
``n`` emitted transactions processed-only: seen at ``processed``, never confirmed, the way a
fork the cluster abandons loses them. The chain state the simulator keeps (balances, curves)
still includes their effects: only what RPC serves about the transactions themselves forgets
them.

Timing: without ``rate`` transactions come out at scenario time (``speed`` scales it); with
``rate`` the i-th transaction is stamped and emitted at i/rate seconds. With
``autostart=False`` nothing moves until :meth:`SimServer.emit` is called (tests step it).
Slots advance every 400 ms of simulated time and are announced to ``slotSubscribe``.

Throughput: generating a transaction costs ~0.25 ms, sending a pre-encoded one a few µs
(frames are written in batches of up to 512 per flush). For rates beyond ~3k/s, ``prebuild``
the transactions first (~8 KB each); ``start_on_subscribe`` holds the clock until the first
``logsSubscribe`` so a benchmark client misses nothing.

Faults (:class:`Faults`, or the ``simControl`` JSON-RPC method): drop all WebSocket connections,
stall them (stop sending without closing), lag them, send malformed frames, drop the next N
notifications, answer the next N HTTP requests with 429/5xx or a malformed body, report the
node as behind in ``getHealth``, answer for an account as if it did not exist yet (a node that
has not caught up with a brand-new mint) for its next N reads or for T seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections import OrderedDict, deque
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass, field
from typing import Any, Final

import orjson
from websockets.asyncio.server import Server, ServerConnection, serve
from websockets.exceptions import ConnectionClosed

from engine.net.loopback import LoopbackServer
from engine.sim.chain import SLOT_MS, Chain
from engine.sim.generator import Generator
from engine.sim.ledger import Ledger
from engine.sim.methods import RpcFault, RpcMethods
from engine.sim.scenario import Scenario
from engine.sim.tx import SimTx

logger = logging.getLogger(__name__)

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

_LOGS_PREFIX: Final = b'{"jsonrpc":"2.0","method":"logsNotification","params":{"result":'
_SLOT_PREFIX: Final = b'{"jsonrpc":"2.0","method":"slotNotification","params":{"result":'
# A client this far behind is cut off, as providers do with slow consumers.
_MAX_QUEUED_BYTES: Final = 512 * 1024 * 1024
_MALFORMED: Final = (
    b'{"jsonrpc":"2.0","method":"logsNotification","params":{"result":{"context":{"slot":',
    b"not json at all",
    b'{"jsonrpc":"2.0","method":"logsNotification","params":{"subscription":1}}',
    b'["an","array"]',
    b'{"jsonrpc":"2.0","method":"slotNotification","params":{"result":{"slot":"x"},"subscription":1}}',
)


@dataclass(slots=True)
class Faults:
    """Runtime fault injection, shared by the HTTP and WebSocket sides."""

    ws_stalled: bool = False
    ws_lag_ms: int = 0
    ws_drop_next: int = 0
    never_confirm_next: int = 0
    """The next N emitted transactions are processed-only (never confirmed)."""
    http_errors: deque[tuple[int, float | None]] = field(default_factory=deque)
    http_malformed: deque[str] = field(default_factory=deque)
    rpc_errors: deque[tuple[int, str]] = field(default_factory=deque)
    unhealthy_slots: int = 0
    http_limit: tuple[float, float] | None = None
    """(requests per second, burst): answer 429 beyond it, as a provider's limiter does."""
    http_limit_retry_after: float = 1.0
    hidden_reads: dict[str, int] = field(default_factory=dict)
    """address -> account reads still answered ``null`` (the account "does not exist yet")."""
    hidden_until: dict[str, float] = field(default_factory=dict)
    """address -> ``time.monotonic()`` until which the account reads as ``null``."""
    _limit_tokens: float = 0.0
    _limit_at: float = 0.0

    def hides(self, address: str, now: float, *, consume: bool = True) -> bool:
        """True when ``address`` must read as absent now; ``consume`` counts it as a read."""
        left = self.hidden_reads.get(address, 0)
        if left > 0:
            if consume:
                if left == 1:
                    del self.hidden_reads[address]
                else:
                    self.hidden_reads[address] = left - 1
            return True
        until = self.hidden_until.get(address)
        if until is not None:
            if now < until:
                return True
            del self.hidden_until[address]
        return False

    def over_limit(self, now: float) -> bool:
        """Take one request from the provider-side budget; True when it is exhausted."""
        if self.http_limit is None:
            return False
        rate, burst = self.http_limit
        self._limit_tokens = min(burst, self._limit_tokens + (now - self._limit_at) * rate)
        self._limit_at = now
        if self._limit_tokens < 1:
            return True
        self._limit_tokens -= 1
        return False


class _Conn:
    """One WebSocket client: its subscriptions and an outbox drained by its own sender task,
    so a slow client never holds up the emitter or the other clients."""

    def __init__(self, ws: ServerConnection, server: SimServer) -> None:
        self.ws = ws
        self.server = server
        self.logs_subs: dict[int, tuple[str | None, bytes, bool]] = {}
        """sub id -> (mentioned address or None for all, frame suffix, at ``processed``)."""
        self.slot_subs: dict[int, bytes] = {}
        self.outbox: deque[tuple[float, bytes]] = deque()
        self.queued_bytes = 0
        self.wake = asyncio.Event()
        self.sent = 0
        self.cut_off = False

    def queue(self, frame: bytes) -> None:
        if self.cut_off:
            return
        self.outbox.append((time.monotonic(), frame))
        self.queued_bytes += len(frame)
        if self.queued_bytes > _MAX_QUEUED_BYTES:
            logger.warning(
                "cutting off a slow WebSocket consumer (%d frames queued)", len(self.outbox)
            )
            self.cut_off = True
            self.outbox.clear()
            self.queued_bytes = 0
            self.ws.transport.abort()
        self.wake.set()

    async def sender(self) -> None:
        outbox = self.outbox
        ws = self.ws
        faults = self.server.faults
        while True:
            await self.wake.wait()
            self.wake.clear()
            while outbox:
                lag = faults.ws_lag_ms
                if lag:
                    queued_at, frame = outbox[0]
                    delay = queued_at + lag / 1000 - time.monotonic()
                    if delay > 0:
                        await asyncio.sleep(delay)
                    outbox.popleft()
                    self.queued_bytes -= len(frame)
                    await ws.send(frame, text=True)
                    self.sent += 1
                    continue
                # Write a batch of frames and flush once: one drain per batch instead of one
                # per frame is what lets a single connection carry tens of thousands a second.
                n = min(len(outbox), 512)
                async with ws.send_context():
                    for _ in range(n):
                        frame = outbox.popleft()[1]
                        self.queued_bytes -= len(frame)
                        ws.protocol.send_text(frame)
                self.sent += n


class SimServer:
    """A local Solana RPC + PubSub node driven by a scenario."""

    def __init__(
        self,
        scenario: Scenario,
        *,
        seed: int = 0,
        rate: float | None = None,
        speed: float = 1.0,
        host: str = "127.0.0.1",
        http_port: int = 0,
        ws_port: int = 0,
        autostart: bool = True,
        prebuild: int = 0,
        history_limit: int = 100_000,
        batch: int = 256,
        start_on_subscribe: bool = False,
        confirm_delay_ms: int = 0,
    ) -> None:
        if rate is not None and rate <= 0:
            raise ValueError("rate must be positive")
        if speed <= 0:
            raise ValueError("speed must be positive")
        if confirm_delay_ms < 0:
            raise ValueError("confirm_delay_ms must not be negative")
        self.confirm_delay_ms = confirm_delay_ms
        self.scenario = scenario
        self.seed = seed
        self.rate = rate
        self.speed = speed
        self.host = host
        self._want_http_port = http_port
        self._want_ws_port = ws_port
        self.autostart = autostart
        self.start_on_subscribe = start_on_subscribe
        self.prebuild = prebuild
        self.batch = batch
        self.generator = Generator(scenario, seed, rate=rate)
        self.chain: Chain = self.generator.chain
        self.ledger = Ledger(history_limit)
        self.faults = Faults()
        self.methods = RpcMethods(self)
        self._pending: deque[SimTx] = deque()
        self.unconfirmed: dict[str, SimTx] = {}
        """Emitted, processed, not confirmed yet (``getSignatureStatuses`` says processed)."""
        self.dropped: OrderedDict[str, None] = OrderedDict()
        """Processed-only transactions (``drop_next``), newest last, bounded by the history."""
        self._confirm_handles: set[asyncio.TimerHandle] = set()
        self._exhausted = False
        self._conns: set[_Conn] = set()
        self._sub_ids = 0
        self._ws_server: Server | None = None
        self._http = LoopbackServer(
            self._asgi,
            host=host,
            port=http_port,
            name="simulator JSON-RPC",
            backlog=512,
            interface="asgi3",
        )
        self._emit_task: asyncio.Task[None] | None = None
        self.http_port = 0
        self.ws_port = 0
        self._slot = scenario.start_slot
        self._announced_slot = scenario.start_slot
        self._clock_origin: float | None = None
        self._clock_offset_ms = 0.0
        self._paused = asyncio.Event()
        self._paused.set()  # set = running
        self._emitted_event = asyncio.Event()
        self.stats: dict[str, int] = {
            "emitted": 0,
            "ws_dropped": 0,
            "http_requests": 0,
            "http_429": 0,
            "ws_connections": 0,
            "accounts_hidden": 0,
            "confirmed": 0,
            "never_confirmed": 0,
        }
        self.done = asyncio.Event()

    # -- lifecycle ------------------------------------------------------------------------

    async def __aenter__(self) -> SimServer:
        await self.start()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.stop()

    @property
    def http_url(self) -> str:
        """The bound HTTP JSON-RPC URL."""
        return f"http://{self.host}:{self.http_port}"

    @property
    def ws_url(self) -> str:
        """The bound WebSocket PubSub URL."""
        return f"ws://{self.host}:{self.ws_port}"

    async def start(self) -> None:
        """Prebuild, bind both ports, and start emitting if ``autostart``."""
        if self.prebuild:
            await self._prebuild(self.prebuild)
        self.http_port = await self._http.start()
        self._ws_server = await serve(
            self._ws_handler,
            self.host,
            self._want_ws_port,
            ping_interval=20,
            ping_timeout=20,
            max_size=1 << 20,
            compression=None,
        )
        self.ws_port = next(iter(self._ws_server.sockets)).getsockname()[1]
        logger.info(
            "simulator up: http %s ws %s (scenario %s, seed %d, rate %s)",
            self.http_url,
            self.ws_url,
            self.scenario.name,
            self.seed,
            self.rate,
        )
        if self.autostart and not self.start_on_subscribe:
            self.start_emitting()

    def start_emitting(self) -> None:
        """Start the emission clock (called by ``start`` when ``autostart``)."""
        if self._emit_task is None:
            self._clock_origin = asyncio.get_running_loop().time()
            self._emit_task = asyncio.get_running_loop().create_task(self._emit_loop())

    async def stop(self) -> None:
        """Stop emitting, close every connection and both listeners."""
        for handle in self._confirm_handles:
            handle.cancel()
        self._confirm_handles.clear()
        if self._emit_task is not None:
            self._emit_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._emit_task
            self._emit_task = None
        if self._ws_server is not None:
            self._ws_server.close()
            await self._ws_server.wait_closed()
            self._ws_server = None
        await self._http.stop()

    # -- clock and emission ---------------------------------------------------------------

    @property
    def current_slot(self) -> int:
        """The node's slot: the latest slot reached by the clock or by an emitted tx."""
        return max(self._slot, self.ledger.slot)

    @property
    def current_t_ms(self) -> int:
        """Simulated milliseconds since the scenario start."""
        return (self.current_slot - self.scenario.start_slot) * SLOT_MS

    def _sim_ms(self) -> float:
        if self._clock_origin is None:
            return self._clock_offset_ms
        elapsed = asyncio.get_running_loop().time() - self._clock_origin
        return self._clock_offset_ms + elapsed * 1000 * (1.0 if self.rate else self.speed)

    def pause(self) -> None:
        """Freeze the emission clock (slots stop too)."""
        if self._paused.is_set():
            self._clock_offset_ms = self._sim_ms()
            self._clock_origin = None
            self._paused.clear()

    def resume(self) -> None:
        """Restart the emission clock where it stopped."""
        if not self._paused.is_set():
            self._clock_origin = asyncio.get_running_loop().time()
            self._paused.set()

    def _next(self) -> SimTx | None:
        if self._pending:
            return self._pending[0]
        if self._exhausted:
            return None
        tx = self.generator.next_tx()
        if tx is None:
            self._exhausted = True
            return None
        self._pending.append(tx)
        return tx

    async def _prebuild(self, n: int) -> None:
        started = time.monotonic()
        while len(self._pending) < n and not self._exhausted:
            for _ in range(min(512, n - len(self._pending))):
                tx = self.generator.next_tx()
                if tx is None:
                    self._exhausted = True
                    break
                self._pending.append(tx)
            # The prebuilt transactions live until emitted: move them out of the cyclic GC's
            # sight, or every collection re-walks them and generation slows down as it grows.
            gc.freeze()
            await asyncio.sleep(0)
        logger.info(
            "prebuilt %d transactions in %.1fs", len(self._pending), time.monotonic() - started
        )

    async def _emit_loop(self) -> None:
        scale = 1.0 if self.rate else self.speed
        start_slot = self.scenario.start_slot
        loop = asyncio.get_running_loop()
        warned = 0.0
        last_t_ms = 0
        while True:
            await self._paused.wait()
            now_ms = self._sim_ms()
            self._advance_slot(start_slot + int(now_ms // SLOT_MS))
            sent = generated = 0
            # Generating costs ~0.2 ms a transaction: yield often when not prebuilt, so a
            # rate beyond what generation can sustain degrades to "as fast as possible"
            # without starving the connections' senders and the HTTP handlers.
            while sent < self.batch and generated < 32:
                if not self._pending:
                    generated += 1
                tx = self._next()
                if tx is None or tx.t_ms > now_ms:
                    break
                self._pending.popleft()
                self.publish_now(tx)
                sent += 1
                last_t_ms = tx.t_ms
            if sent:
                behind = now_ms - last_t_ms
                if behind > 1000 and loop.time() - warned > 10:
                    warned = loop.time()
                    logger.warning(
                        "emitter %.1fs behind schedule (raise --prebuild)", behind / 1000
                    )
                # Give connection senders and HTTP handlers a turn before the next batch.
                await asyncio.sleep(0)
                continue
            nxt = self._next()
            if nxt is None:
                self.done.set()
            next_slot_ms = (int(now_ms // SLOT_MS) + 1) * SLOT_MS
            target = next_slot_ms if nxt is None else min(nxt.t_ms, next_slot_ms)
            await asyncio.sleep(min(max(0.0, (target - now_ms) / 1000 / scale), 0.05))

    def _advance_slot(self, slot: int) -> None:
        if slot <= self._slot:
            return
        self._slot = slot
        self._announce_slot(slot)

    def _announce_slot(self, slot: int) -> None:
        if slot <= self._announced_slot:
            return
        # Announce at most a few skipped slots: a client that was away gets the current one.
        first = max(self._announced_slot + 1, slot - 3)
        self._announced_slot = slot
        if self.faults.ws_stalled:
            return
        for s in range(first, slot + 1):
            body = b'{"parent":%d,"root":%d,"slot":%d}' % (s - 1, s - 32, s)
            for conn in self._conns:
                for suffix in conn.slot_subs.values():
                    conn.queue(_SLOT_PREFIX + body + suffix)

    def publish_now(self, tx: SimTx) -> None:
        """Put a transaction on the simulated chain and push it to matching subscribers.

        Processed now; confirmed now too without ``confirm_delay_ms``, else that much later
        (never, for a transaction ``drop_next`` caught). See the module docstring.
        """
        emitted_ns = time.monotonic_ns()
        self.stats["emitted"] += 1
        if tx.slot > self._slot:
            self._slot = tx.slot
            self._announce_slot(tx.slot)
        faults = self.faults
        never = faults.never_confirm_next > 0
        if never:
            faults.never_confirm_next -= 1
        on_ws = True
        if faults.ws_stalled:
            self.stats["ws_dropped"] += 1
            on_ws = False
        elif faults.ws_drop_next:
            faults.ws_drop_next -= 1
            self.stats["ws_dropped"] += 1
            on_ws = False
        if never:
            tx.emitted_ns = emitted_ns
            self.dropped[tx.signature] = None
            while len(self.dropped) > self.ledger.history_limit:
                self.dropped.popitem(last=False)
            self.stats["never_confirmed"] += 1
            if on_ws:
                self._notify(tx, processed=True, confirmed=False)
        elif self.confirm_delay_ms == 0:
            self.ledger.publish(tx, emitted_ns)
            self.stats["confirmed"] += 1
            if on_ws:
                self._notify(tx, processed=True, confirmed=True)
        else:
            tx.emitted_ns = emitted_ns
            self.unconfirmed[tx.signature] = tx
            if on_ws:
                self._notify(tx, processed=True, confirmed=False)
            loop = asyncio.get_running_loop()
            holder: list[asyncio.TimerHandle] = []
            handle = loop.call_later(
                self.confirm_delay_ms / 1000, self._confirm, tx, on_ws, emitted_ns, holder
            )
            holder.append(handle)
            self._confirm_handles.add(handle)
        self._emitted_event.set()

    def _confirm(
        self, tx: SimTx, on_ws: bool, emitted_ns: int, holder: list[asyncio.TimerHandle]
    ) -> None:
        """The cluster confirmed ``tx``: RPC readers and confirmed subscribers see it now."""
        for handle in holder:
            self._confirm_handles.discard(handle)
        self.unconfirmed.pop(tx.signature, None)
        self.ledger.publish(tx, emitted_ns)
        self.stats["confirmed"] += 1
        if on_ws and not self.faults.ws_stalled:
            self._notify(tx, processed=False, confirmed=True)

    def _notify(self, tx: SimTx, *, processed: bool, confirmed: bool) -> None:
        """Queue ``tx``'s logsNotification to the subscribers of the given commitments."""
        body = tx.ws_body
        keys = tx.account_keys
        for conn in self._conns:
            for mention, suffix, at_processed in conn.logs_subs.values():
                if (processed if at_processed else confirmed) and (
                    mention is None or mention in keys
                ):
                    conn.queue(_LOGS_PREFIX + body + suffix)

    async def emit(self, n: int = 1) -> list[SimTx]:
        """Publish the next ``n`` transactions now, whatever their time (test stepping)."""
        out: list[SimTx] = []
        for _ in range(n):
            tx = self._next()
            if tx is None:
                break
            self._pending.popleft()
            self._advance_slot(tx.slot)
            self.publish_now(tx)
            out.append(tx)
        await asyncio.sleep(0)
        return out

    async def emit_until(
        self, predicate: Callable[[SimTx], bool], *, limit: int = 100_000
    ) -> SimTx:
        """Publish transactions until one satisfies ``predicate``; returns it."""
        for _ in range(limit):
            tx = self._next()
            if tx is None:
                break
            self._pending.popleft()
            self._advance_slot(tx.slot)
            self.publish_now(tx)
            if predicate(tx):
                await asyncio.sleep(0)
                return tx
        raise LookupError("no transaction matched")

    def advance_slots(self, n: int) -> int:
        """Move the slot clock ``n`` slots on without any transaction (a quiet chain; tests
        that step emission); announced to ``slotSubscribe``. Returns the new slot."""
        self._advance_slot(self.current_slot + max(0, n))
        return self.current_slot

    async def wait_emitted(self, count: int) -> None:
        """Wait until at least ``count`` transactions have been published (bound it with
        ``asyncio.timeout``)."""
        while self.stats["emitted"] < count:
            self._emitted_event.clear()
            await self._emitted_event.wait()

    # -- faults ---------------------------------------------------------------------------

    async def drop_ws_connections(self) -> int:
        """Cut every WebSocket connection at the TCP level (clients see an abnormal close)."""
        conns = list(self._conns)
        for conn in conns:
            conn.ws.transport.abort()
        await asyncio.sleep(0)
        return len(conns)

    def stall_ws(self, stalled: bool = True) -> None:
        """Stop (or restart) sending anything on WebSockets, without closing them."""
        self.faults.ws_stalled = stalled

    def lag_ws(self, ms: int) -> None:
        """Delay every WebSocket frame by ``ms`` milliseconds (0 to stop)."""
        self.faults.ws_lag_ms = max(0, ms)

    def drop_next(self, count: int) -> None:
        """Make the next ``count`` emitted transactions processed-only: delivered to
        ``processed`` subscribers, never confirmed (absent from confirmed notifications,
        ``getTransaction``, ``getSignaturesForAddress``; ``null`` in ``getSignatureStatuses``).
        Their effects stay in the simulated chain state."""
        self.faults.never_confirm_next += count

    def drop_next_ws(self, count: int) -> None:
        """Skip the next ``count`` transactions on WebSockets (they stay retrievable)."""
        self.faults.ws_drop_next += count

    def send_malformed_ws(self, count: int) -> None:
        """Push ``count`` malformed frames to every WebSocket client."""
        for conn in self._conns:
            for i in range(count):
                conn.queue(_MALFORMED[i % len(_MALFORMED)])

    def fail_http(self, status: int, count: int, retry_after: float | None = None) -> None:
        """Answer the next ``count`` HTTP requests with ``status`` (429 carries Retry-After)."""
        for _ in range(count):
            self.faults.http_errors.append((status, retry_after))

    def fail_rpc(self, code: int, message: str, count: int) -> None:
        """Answer the next ``count`` JSON-RPC calls with this error (e.g. -32005 node behind)."""
        for _ in range(count):
            self.faults.rpc_errors.append((code, message))

    def limit_http(
        self, requests_per_s: float | None, burst: float = 1.0, retry_after: float = 1.0
    ) -> None:
        """Enforce a provider-style request limit (429 beyond it); None removes it."""
        self.faults.http_limit = None if requests_per_s is None else (requests_per_s, burst)
        self.faults.http_limit_retry_after = retry_after
        self.faults._limit_tokens = burst
        self.faults._limit_at = time.monotonic()

    def malformed_http(self, count: int, kind: str = "not_json") -> None:
        """Answer the next ``count`` requests with a broken body: not_json, not_jsonrpc,
        no_result, wrong_id or bad_field."""
        for _ in range(count):
            self.faults.http_malformed.append(kind)

    def hide_account(
        self, address: str, *, reads: int | None = None, seconds: float | None = None
    ) -> None:
        """Answer ``null`` for ``address`` (getAccountInfo, getMultipleAccounts) for its next
        ``reads`` reads and/or for ``seconds``; its token queries fail as for an unknown mint.

        What a node behind the cluster does with a mint created a moment ago. ``reads=0`` and
        ``seconds=0`` make it visible again.
        """
        if reads is not None:
            if reads > 0:
                self.faults.hidden_reads[address] = reads
            else:
                self.faults.hidden_reads.pop(address, None)
        if seconds is not None:
            if seconds > 0:
                self.faults.hidden_until[address] = time.monotonic() + seconds
            else:
                self.faults.hidden_until.pop(address, None)

    def account_hidden(self, address: str, *, consume: bool = True) -> bool:
        """Whether a read of ``address`` must answer as if it did not exist (see above)."""
        if not (self.faults.hidden_reads or self.faults.hidden_until):
            return False
        hidden = self.faults.hides(address, time.monotonic(), consume=consume)
        if hidden and consume:
            self.stats["accounts_hidden"] += 1
        return hidden

    def control(self, action: str, cfg: dict[str, Any]) -> Any:
        """The ``simControl`` JSON-RPC method."""
        if action == "dropWs":
            n = len(self._conns)
            for conn in list(self._conns):
                conn.ws.transport.abort()
            return {"dropped": n}
        if action == "stallWs":
            self.stall_ws(bool(cfg.get("stalled", True)))
            return True
        if action == "lagWs":
            self.lag_ws(int(cfg["ms"]))
            return True
        if action == "dropNextWs":
            self.drop_next_ws(int(cfg["count"]))
            return True
        if action == "dropNext":
            self.drop_next(int(cfg["count"]))
            return True
        if action == "malformedWs":
            self.send_malformed_ws(int(cfg["count"]))
            return True
        if action == "httpErrors":
            self.fail_http(int(cfg["status"]), int(cfg["count"]), cfg.get("retryAfter"))
            return True
        if action == "rpcErrors":
            self.fail_rpc(int(cfg["code"]), str(cfg.get("message", "")), int(cfg["count"]))
            return True
        if action == "httpLimit":
            rate = cfg.get("requestsPerS")
            self.limit_http(None if rate is None else float(rate), float(cfg.get("burst", 1)))
            return True
        if action == "httpMalformed":
            self.malformed_http(int(cfg["count"]), str(cfg.get("kind", "not_json")))
            return True
        if action == "unhealthy":
            self.faults.unhealthy_slots = int(cfg.get("slots", 0))
            return True
        if action == "hideAccount":
            reads, seconds = cfg.get("reads"), cfg.get("seconds")
            self.hide_account(
                str(cfg["address"]),
                reads=None if reads is None else int(reads),
                seconds=None if seconds is None else float(seconds),
            )
            return True
        if action == "pause":
            self.pause()
            return True
        if action == "resume":
            self.resume()
            return True
        if action == "stats":
            return {**self.stats, "slot": self.current_slot, "pending": len(self._pending)}
        if action == "emissionTimes":
            since = int(cfg.get("sinceSeq", 0))
            return [[tx.signature, tx.seq, tx.emitted_ns] for tx in self.ledger if tx.seq >= since]
        raise ValueError(f"unknown action {action!r}")

    def emission_time_ns(self, signature: str) -> int | None:
        """When a transaction was published (``time.monotonic_ns()``), if known."""
        tx = self.ledger.get(signature)
        return tx.emitted_ns if tx is not None else None

    # -- HTTP -----------------------------------------------------------------------------

    async def _asgi(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.stats["http_requests"] += 1
        if scope["method"] == "GET" and scope["path"] == "/health":
            await _respond(send, 200, b"ok", content_type=b"text/plain")
            return
        if scope["method"] != "POST":
            await _respond(
                send, 405, b"Used HTTP Method is not allowed. POST or OPTIONS is required"
            )
            return
        body = bytearray()
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        faults = self.faults
        if faults.over_limit(time.monotonic()):
            self.stats["http_429"] += 1
            limit_retry = str(faults.http_limit_retry_after).encode()
            await _respond(
                send, 429, b'{"error":"rate limited"}', extra=[(b"retry-after", limit_retry)]
            )
            return
        if faults.http_errors:
            status, retry_after = faults.http_errors.popleft()
            if status == 429:
                self.stats["http_429"] += 1
            headers = []
            if retry_after is not None:
                headers.append((b"retry-after", str(retry_after).encode()))
            await _respond(send, status, b'{"error":"simulated failure"}', extra=headers)
            return
        try:
            request = orjson.loads(body)
        except orjson.JSONDecodeError:
            await _respond(send, 200, _error(None, -32700, "Parse error"))
            return
        if isinstance(request, list):
            if not request:
                await _respond(send, 200, _error(None, -32600, "Invalid request"))
                return
            replies = [self._handle(r) for r in request]
            await _respond(send, 200, b"[" + b",".join(replies) + b"]")
            return
        reply = self._handle(request)
        if faults.http_malformed:
            reply = _corrupt(faults.http_malformed.popleft(), request)
        await _respond(send, 200, reply)

    def _handle(self, request: Any) -> bytes:
        if not isinstance(request, dict) or request.get("jsonrpc") != "2.0":
            return _error(
                request.get("id") if isinstance(request, dict) else None, -32600, "Invalid request"
            )
        request_id = request.get("id")
        method = request.get("method")
        if not isinstance(method, str):
            return _error(request_id, -32600, "Invalid request")
        if self.faults.rpc_errors and method != "simControl":
            code, message = self.faults.rpc_errors.popleft()
            return _error(request_id, code, message)
        try:
            result = self.methods.call(method, request.get("params"))
        except RpcFault as fault:
            return _error(request_id, fault.code, fault.message, fault.data)
        except Exception:
            logger.exception("simulator method %s failed", method)
            return _error(request_id, -32603, "Internal error")
        return orjson.dumps({"jsonrpc": "2.0", "result": result, "id": request_id})

    # -- WebSocket ------------------------------------------------------------------------

    async def _ws_handler(self, ws: ServerConnection) -> None:
        conn = _Conn(ws, self)
        self._conns.add(conn)
        self.stats["ws_connections"] += 1
        sender = asyncio.get_running_loop().create_task(conn.sender())
        try:
            async for message in ws:
                self._ws_request(conn, message)
        except ConnectionClosed:
            pass
        finally:
            self._conns.discard(conn)
            sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionClosed):
                await sender

    def _ws_request(self, conn: _Conn, message: str | bytes) -> None:
        try:
            request = orjson.loads(message)
        except orjson.JSONDecodeError:
            conn.queue(_error(None, -32700, "Parse error"))
            return
        if not isinstance(request, dict):
            conn.queue(_error(None, -32600, "Invalid request"))
            return
        request_id = request.get("id")
        method = request.get("method")
        params = request.get("params") or []
        if not isinstance(params, list):
            conn.queue(_error(request_id, -32602, "Invalid params"))
            return
        if method == "logsSubscribe":
            filt = params[0] if params else None
            mention: str | None
            if filt in ("all", "allWithVotes"):
                mention = None
            elif isinstance(filt, dict) and isinstance(filt.get("mentions"), list):
                mentions = filt["mentions"]
                if len(mentions) != 1 or not isinstance(mentions[0], str):
                    conn.queue(
                        _error(request_id, -32602, "Invalid Request: Only 1 address supported")
                    )
                    return
                mention = mentions[0]
            else:
                conn.queue(_error(request_id, -32602, "Invalid params: unknown filter"))
                return
            cfg = params[1] if len(params) > 1 and isinstance(params[1], dict) else {}
            commitment = cfg.get("commitment", "finalized")
            if commitment not in ("processed", "confirmed", "finalized"):
                conn.queue(_error(request_id, -32602, "Invalid params: unknown commitment"))
                return
            sub = self._new_sub_id()
            conn.logs_subs[sub] = (
                mention,
                b',"subscription":%d}}' % sub,
                commitment == "processed",
            )
            conn.queue(orjson.dumps({"jsonrpc": "2.0", "result": sub, "id": request_id}))
            if self.start_on_subscribe and self.autostart and self._emit_task is None:
                # Benchmarks: the clock starts with the first subscriber, so nothing is missed.
                self.start_emitting()
        elif method == "slotSubscribe":
            sub = self._new_sub_id()
            conn.slot_subs[sub] = b',"subscription":%d}}' % sub
            conn.queue(orjson.dumps({"jsonrpc": "2.0", "result": sub, "id": request_id}))
        elif method in ("logsUnsubscribe", "slotUnsubscribe"):
            subs: dict[int, Any] = conn.logs_subs if method == "logsUnsubscribe" else conn.slot_subs
            sub_id = params[0] if params else None
            if sub_id not in subs:
                conn.queue(_error(request_id, -32602, "Invalid subscription id."))
                return
            del subs[sub_id]
            conn.queue(orjson.dumps({"jsonrpc": "2.0", "result": True, "id": request_id}))
        else:
            conn.queue(_error(request_id, -32601, "Method not found"))

    def _new_sub_id(self) -> int:
        self._sub_ids += 1
        return self._sub_ids


def _error(request_id: Any, code: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"code": code, "message": message}
    if data is not None:
        error["data"] = data
    return orjson.dumps({"jsonrpc": "2.0", "error": error, "id": request_id})


def _corrupt(kind: str, request: Any) -> bytes:
    request_id = request.get("id") if isinstance(request, dict) else None
    if kind == "not_json":
        return b"<html><body>502 Bad Gateway</body></html>"
    if kind == "not_jsonrpc":
        return orjson.dumps({"status": "ok"})
    if kind == "no_result":
        return orjson.dumps({"jsonrpc": "2.0", "id": request_id})
    if kind == "wrong_id":
        return orjson.dumps({"jsonrpc": "2.0", "result": 1, "id": 987654321})
    if kind == "bad_field":
        return orjson.dumps(
            {
                "jsonrpc": "2.0",
                "result": {"context": {"slot": "soon"}, "value": None},
                "id": request_id,
            }
        )
    raise ValueError(f"unknown malformed kind {kind!r}")


async def _respond(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = b"application/json",
    extra: list[tuple[bytes, bytes]] | None = None,
) -> None:
    headers = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if extra:
        headers += extra
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
