"""Redis killed under the pipeline: restarted with its data, restarted empty, away long enough
to fill ingest's buffer. Nothing is lost, nothing is doubled, signals are those of a run that
was never interrupted, and jobs Redis lost run once, from the outbox.

Each test runs its own ``redis-server`` (a subprocess on a free port, SIGKILLed and restarted by
the test; never the shared one), the simulator over real sockets, and PostgreSQL. The bus has one
partition, so the scorer sees the chain's order, and the scenario prefix used is pump.fun only
(decoded from the logs, nothing fetched), so ingest publishes in chain order too: an
uninterrupted reference is a plain :class:`Scorer` fed those logs' events. Ingest's clock is
fixed (a curve's ``complete`` event carries no block time and takes the receipt time, which
would otherwise be wall time far from the scenario's).
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import socket
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import asyncpg
import orjson
import pytest
from redis.asyncio import Redis
from sqlalchemy import select
from sqlalchemy.engine import make_url

from engine.bus.redis import RedisBus
from engine.chain import programs as P
from engine.chain.decode import decode_logs
from engine.clock import FixedClock, SystemClock
from engine.deps import Deps
from engine.events import ChainEvent
from engine.jobs.base import JobContext, JobRegistry
from engine.settings import RpcProvider, load_settings
from engine.signals.rules import RuleSet
from engine.signals.scorer import Scorer
from engine.sim.generator import Generator
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.storage.models import JobOutbox, Tick
from engine.storage.models import Signal as StoredSignal
from engine.storage.repos import wallets as wallet_repo
from tests.conftest import pg_test_schema
from workers.ingest import EVENTS_STREAM, IngestSupervisor, needs_transaction
from workers.jobs.arq import build_worker
from workers.migrate import upgrade_async
from workers.runtime import connect_redis, open_deps
from workers.scoring import GROUP, SIGNAL_JOBS, ScoringConsumer

pytestmark = [pytest.mark.chaos, pytest.mark.timeout(120)]

REDIS_SERVER = shutil.which("redis-server")
SEED = 1
SMART_CROWD = 100
RECEIPT_MS = 1_777_680_000_000
"""Ingest's fixed clock: the burst scenario's start."""
"""Crowd wallets tracked as smart money besides the whales: enough signals to compare."""


# -- a private redis-server ------------------------------------------------------------------


class PrivateRedis:
    """A redis-server subprocess on a free loopback port, killed and restarted at will."""

    def __init__(self, workdir: Path, *, persistent: bool) -> None:
        self.workdir = workdir
        self.persistent = persistent
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    async def start(self, data_dir: Path) -> None:
        """Start on the same port with ``data_dir`` (the old one: its data; a new one: none)."""
        assert REDIS_SERVER is not None
        args = ["--port", str(self.port), "--bind", "127.0.0.1"]
        args += ["--dir", str(data_dir), "--save", "", "--daemonize", "no"]
        args += ["--logfile", str(self.workdir / f"redis-{self.starts}.log")]
        if self.persistent:
            args += ["--appendonly", "yes", "--appendfsync", "always"]
        else:
            args += ["--appendonly", "no"]
        self.proc = await asyncio.create_subprocess_exec(
            REDIS_SERVER,
            *args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        self.starts += 1
        async with asyncio.timeout(10):
            while True:
                with contextlib.suppress(OSError):
                    reader, writer = await asyncio.open_connection("127.0.0.1", self.port)
                    writer.write(b"PING\r\n")
                    await writer.drain()
                    line = await reader.readline()
                    writer.close()
                    if line.startswith(b"+PONG"):
                        return
                await asyncio.sleep(0.02)

    async def kill(self) -> None:
        """SIGKILL: no shutdown, no save; whatever was not fsynced is gone."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        await asyncio.wait_for(self.proc.wait(), 10)
        self.proc = None


@pytest.fixture
async def private_redis(tmp_path: Path) -> AsyncIterator[Any]:
    if REDIS_SERVER is None:
        pytest.skip("redis-server is not installed: these tests start and kill their own")
    for name in ("data-0", "data-1"):  # the second is the empty dir of a restart without data
        (tmp_path / name).mkdir()
    made: list[PrivateRedis] = []

    async def make(*, persistent: bool) -> PrivateRedis:
        server = PrivateRedis(tmp_path, persistent=persistent)
        await server.start(tmp_path / "data-0")
        made.append(server)
        return server

    try:
        yield make
    finally:
        for server in made:
            if server.proc is not None:
                await server.kill()


# -- the scenario and its uninterrupted reference ---------------------------------------------


@dataclass
class Story:
    """The pump.fun-only prefix of the burst scenario: how long it is, what it should give."""

    smart: dict[str, str]
    per_tx: list[list[ChainEvent]]
    """The intended events of each transaction."""
    decoded: list[ChainEvent]
    """What ingest decodes from the same transactions' logs, receipt time ``RECEIPT_MS``."""

    @property
    def n_tx(self) -> int:
        return len(self.per_tx)

    def ticks(self, n_tx: int | None = None) -> Counter[TickContent]:
        """Every trade the first ``n_tx`` transactions carry, as a tick would store it."""
        return Counter(
            _content(e.signature, e.mint, e.side, e.trader, e.sol_lamports, e.token_amount)
            for per_tx in self.per_tx[:n_tx]
            for e in per_tx
            if e.side and e.trader
        )

    def reference_signals(self) -> list[tuple[object, ...]]:
        """What an uninterrupted scorer fires on these events, in this order."""
        scorer = Scorer(rules=RuleSet.defaults(), smart=self.smart)
        return sorted(_signal_key(s.storage_kwargs()) for s in scorer.feed(self.decoded))


def burst_story() -> Story:
    gen = Generator(load_scenario("burst"), SEED)
    smart = {w: f"whale{i}" for i, w in enumerate(gen.groups["whale"])}
    smart |= {w: f"crowd{i}" for i, w in enumerate(gen.groups["crowd"][:SMART_CROWD])}
    per_tx: list[list[ChainEvent]] = []
    decoded: list[ChainEvent] = []
    for tx in gen:
        logs = orjson.loads(tx.ws_body)["value"]["logs"]
        if needs_transaction(logs) or any(e.venue != "pumpfun" for e in tx.intended):
            break
        per_tx.append(list(tx.intended))
        decoded.extend(decode_logs(tx.signature, tx.slot, logs, ts_ms=RECEIPT_MS))
    return Story(smart, per_tx, decoded)


TickContent = tuple[str, str, str, str, int, int]
"""What a trade is and moves (an intended event's index is not the decoded log position)."""


def _content(
    signature: str, mint: str, side: Any, trader: Any, sol: int | None, tokens: int | None
) -> TickContent:
    return (signature, mint, str(side), str(trader), sol or 0, tokens or 0)


def _event_content(e: ChainEvent) -> tuple[object, ...]:
    fields = (e.kind, e.venue, e.mint, e.trader, e.side, e.sol_lamports, e.token_amount)
    return (e.signature, *fields)


def _signal_key(kw: dict[str, Any]) -> tuple[object, ...]:
    return (
        kw["mint"],
        kw["ts"],
        kw["strength"],
        orjson.dumps(kw["components"], option=orjson.OPT_SORT_KEYS),
        tuple(sorted(r["name"] for r in kw["rules"])),
    )


# -- the pipeline ----------------------------------------------------------------------------


@dataclass
class Pipeline:
    sim: SimServer
    deps: Deps
    ingest: IngestSupervisor
    scorer: ScoringConsumer
    probe: RedisBus
    """A bus on its own client, for the test's questions (pending, backlog)."""
    dsn: str
    schema: str

    async def pg(self) -> asyncpg.Connection:
        """A plain connection to the test's schema (to hold a lock the scorer waits on)."""
        return await asyncpg.connect(self.dsn, server_settings={"search_path": self.schema})

    async def stored_ticks(self) -> list[tuple[tuple[str, int], TickContent]]:
        """((signature, idx), content) of every stored tick."""
        async with self.deps.sessions() as s:
            rows = await s.execute(
                select(
                    Tick.signature,
                    Tick.idx,
                    Tick.mint,
                    Tick.side,
                    Tick.trader,
                    Tick.sol_lamports,
                    Tick.token_amount,
                )
            )
            return [((r[0], r[1]), _content(r[0], *r[2:])) for r in rows]

    async def stored_signals(self) -> list[tuple[object, ...]]:
        async with self.deps.sessions() as s:
            rows = (await s.scalars(select(StoredSignal))).all()
        return sorted(
            _signal_key(
                {
                    "mint": r.mint,
                    "ts": r.ts,
                    "strength": r.strength,
                    "components": r.components,
                    "rules": r.rules,
                }
            )
            for r in rows
        )

    async def outbox(self) -> list[JobOutbox]:
        async with self.deps.sessions() as s:
            return list((await s.scalars(select(JobOutbox))).all())

    async def settled(self, want: Counter[TickContent], timeout: float = 30) -> None:
        """Wait until the wanted ticks are stored and the bus holds nothing more."""
        state: dict[str, object] = {}
        try:
            async with asyncio.timeout(timeout):
                while True:
                    stored = Counter(c for _, c in await self.stored_ticks())
                    state = {
                        "missing": sum((want - stored).values()),
                        "extra": sum((stored - want).values()),
                        "buffered": len(self.ingest.publisher),
                        "pending": await self.probe.pending_count(EVENTS_STREAM, GROUP),
                        "backlog": await self.probe.backlog(EVENTS_STREAM, GROUP),
                    }
                    if not any(state.values()):
                        return
                    await asyncio.sleep(0.05)
        except TimeoutError:
            ingest, scorer = self.ingest.counters.snapshot(), self.scorer.counters.snapshot()
            raise AssertionError(
                f"not settled: {state}; ingest {ingest}; scorer {scorer}"
            ) from None


async def until(check: Callable[[], Awaitable[bool] | bool], timeout: float = 20) -> None:
    async with asyncio.timeout(timeout):
        while True:
            got = check()
            if not isinstance(got, bool):
                got = await got
            if got:
                return
            await asyncio.sleep(0.02)


@contextlib.asynccontextmanager
async def pipeline(
    pg_url: str, redis: PrivateRedis, story: Story, **scorer_kw: Any
) -> AsyncIterator[Pipeline]:
    """Simulator → ingest → private Redis → scorer → PostgreSQL, running until the block ends."""
    prefix = f"chaos:{uuid.uuid4().hex[:8]}:"
    async with (
        SimServer(load_scenario("burst"), seed=SEED, autostart=False) as sim,
        pg_test_schema(pg_url) as (url, schema),
    ):
        await upgrade_async(url, schema=schema)
        providers = [
            RpcProvider(name="sim", http_url=sim.http_url, ws_url=sim.ws_url, requests_per_s=2000)
        ]
        settings = load_settings(
            database_url=url, redis_url=redis.url, bus_partitions=1, rpc_providers=providers
        )
        async with open_deps(
            settings,
            JobRegistry(),
            bus_prefix=prefix,
            queue_name=f"{prefix}jobs",
            db_schema=schema,
        ) as deps:
            async with deps.sessions.begin() as s:
                for address, alias in story.smart.items():
                    await wallet_repo.ensure_wallet(
                        s, address=address, alias=alias, featured=True, now_ms=1
                    )
            # Ingest has its own connection, as the separate process it is in production.
            ingest_redis = Redis.from_url(redis.url)
            probe_redis = Redis.from_url(redis.url)
            ingest = IngestSupervisor(
                providers,
                RedisBus(ingest_redis, 1, prefix=prefix),
                clock=FixedClock(RECEIPT_MS),
                reconcile_grace_slots=0,
                reconcile_interval_s=60,
                stall_timeout_s=30,
                bus_backoff_max_s=0.2,
                bus_check_s=0.5,
            )
            scorer = ScoringConsumer(
                deps,
                block_ms=50,
                claim_idle_ms=300,
                outbox_after_s=1.0,
                outbox_every_s=0.2,
                **scorer_kw,
            )
            dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
            pipe = Pipeline(
                sim, deps, ingest, scorer, RedisBus(probe_redis, 1, prefix=prefix), dsn, schema
            )
            tasks = [asyncio.create_task(ingest.run()), asyncio.create_task(scorer.run())]
            try:
                await asyncio.wait_for(ingest.connected.wait(), 10)
                yield pipe
            finally:
                ingest.stop()
                scorer.stop()
                await asyncio.wait_for(asyncio.gather(*tasks, return_exceptions=True), 20)
                await ingest.aclose()
                await ingest_redis.aclose()
                await probe_redis.aclose()
            for t in tasks:
                if not t.cancelled() and t.exception() is not None:
                    raise t.exception()  # type: ignore[misc]


WAITING_ON_TICKS = """
    SELECT count(*) FROM pg_locks l
    JOIN pg_class c ON c.oid = l.relation JOIN pg_namespace n ON n.oid = c.relnamespace
    WHERE NOT l.granted AND c.relname = 'ticks' AND n.nspname = $1
"""
"""Sessions waiting for a lock on this test's ``ticks`` (others may run beside it)."""


def assert_exactly_once(
    stored: list[tuple[tuple[str, int], TickContent]], want: Counter[TickContent]
) -> None:
    doubled = [k for k, n in Counter(k for k, _ in stored).items() if n > 1]
    assert not doubled, f"{len(doubled)} ticks stored twice"
    got = Counter(c for _, c in stored)
    assert not want - got, f"{sum((want - got).values())} ticks lost"
    assert got == want


def assert_same_signals(got: list[tuple[object, ...]], want: list[tuple[object, ...]]) -> None:
    missing = [k[:3] for k in want if k not in got]
    extra = [k[:3] for k in got if k not in want]
    assert got == want, f"signals missing {missing}, extra {extra}"


# -- the tests -------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_redis_killed_and_restarted_with_its_data_loses_and_doubles_nothing(
    private_redis: Any, pg_url: str, isolated_env: Path
) -> None:
    redis: PrivateRedis = await private_redis(persistent=True)
    story = burst_story()
    reference = story.reference_signals()
    assert len(reference) >= 10  # the comparison below means something
    first, second, third = 250, 120, 150
    async with pipeline(pg_url, redis, story) as p:
        await p.sim.emit(first)
        await p.settled(story.ticks(first))

        # The scorer takes a batch and is held in its transaction (ticks locked by the test):
        # the batch is delivered, unacked, when Redis dies under it.
        lock = await p.pg()
        try:
            tx = lock.transaction()
            await tx.start()
            await lock.execute("LOCK TABLE ticks IN EXCLUSIVE MODE")
            await p.sim.emit(second)
            await until(lambda: lock.fetchval(WAITING_ON_TICKS, p.schema))
            pending = await p.probe.pending_count(EVENTS_STREAM, GROUP)
            assert pending > 0
            await redis.kill()

            # The burst goes on with Redis away: ingest keeps reading and buffers.
            await p.sim.emit(third)
            await until(lambda: len(p.ingest.publisher) > 0 and p.ingest.counters.bus_errors > 0)
            await tx.rollback()  # the scorer commits; its ack fails
            await until(lambda: p.scorer.counters.bus_errors > 0)
        finally:
            await lock.close()  # also releases the lock if the test failed holding it

        await redis.start(redis.workdir / "data-0")  # same dir: its data comes back
        await p.sim.emit(story.n_tx - first - second - third)
        want = story.ticks()
        await p.settled(want)
        stored = await p.stored_ticks()
        signals = await p.stored_signals()

    assert_exactly_once(stored, want)
    assert_same_signals(signals, reference)
    # The batch pending at the kill was re-claimed after the restart (and changed nothing).
    assert p.scorer.counters.reclaimed >= pending
    assert p.ingest.counters.bus_buffered_max > 0
    assert p.ingest.counters.bus_data_lost == 0 and p.ingest.counters.republished == 0
    assert p.scorer.counters.bus_data_lost == 0


@pytest.mark.postgres
async def test_redis_restarted_empty_loses_nothing_and_lost_jobs_run_once(
    private_redis: Any, pg_url: str, isolated_env: Path
) -> None:
    redis: PrivateRedis = await private_redis(persistent=False)
    story = burst_story()
    reference = story.reference_signals()
    runs: Counter[str] = Counter()
    registry = JobRegistry()

    def recorder(name: str) -> Any:
        async def job(ctx: JobContext, **kwargs: Any) -> str:
            runs[ctx.job_id] += 1
            return name

        return job

    for name in ("risk_check", "fanout_fill", "check_orders", *SIGNAL_JOBS):
        registry.job(name, timeout_s=10, max_tries=2)(recorder(name))

    first, second = 300, 150
    async with pipeline(pg_url, redis, story) as p:
        # No worker yet: the jobs of these batches wait in Redis, as they would behind a queue.
        await p.sim.emit(first)
        await p.settled(story.ticks(first))
        before = await p.outbox()
        lost_signal_jobs = {r.job_id for r in before if r.name in SIGNAL_JOBS}
        assert lost_signal_jobs, "no signal in the first batches: nothing to lose"
        assert all(r.done_ts is None for r in before)

        await redis.kill()
        await p.sim.emit(second)
        await until(lambda: len(p.ingest.publisher) > 0)
        await redis.start(redis.workdir / "data-1")  # a new, empty dir: everything is gone

        await until(lambda: p.ingest.counters.bus_data_lost > 0)
        await p.sim.emit(story.n_tx - first - second)
        want = story.ticks()
        await p.settled(want)

        worker_redis = await connect_redis(redis.url)
        worker = build_worker(
            registry,
            worker_redis,
            queue_name=f"{p.probe._prefix}jobs",
            poll_delay=0.02,
            handle_signals=False,
            ctx={"deps": p.deps},
        )
        work = asyncio.create_task(worker.async_run())
        try:

            async def all_done() -> bool:
                rows = await p.outbox()
                return bool(rows) and all(r.done_ts is not None for r in rows)

            await until(all_done, timeout=30)
            # Nothing is left to relay, and nothing ran twice.
            assert await p.scorer.relay.run_once() == 0
        finally:
            work.cancel()
            await asyncio.gather(work, return_exceptions=True)
            await worker.close()
        rows = await p.outbox()
        stored = await p.stored_ticks()
        signals = await p.stored_signals()

    assert_exactly_once(stored, want)
    assert_same_signals(signals, reference)
    assert p.ingest.counters.republished > 0
    assert p.scorer.counters.bus_errors > 0
    # The signal jobs enqueued before the loss were gone with Redis: the relay put them back.
    assert p.scorer.relay.counters.relayed >= len(lost_signal_jobs)
    assert lost_signal_jobs <= {jid for jid, n in runs.items() if n}
    assert {r.job_id for r in rows} <= set(runs)
    assert max(runs.values()) == 1, [jid for jid, n in runs.items() if n > 1]


async def test_buffer_full_pauses_the_feed_and_backfill_catches_up(
    private_redis: Any, isolated_env: Path
) -> None:
    redis: PrivateRedis = await private_redis(persistent=True)
    bound = 100
    prefix = f"chaos:{uuid.uuid4().hex[:8]}:"
    client = Redis.from_url(redis.url)
    bus = RedisBus(client, 1, prefix=prefix)
    await bus.ensure_group(EVENTS_STREAM, "check")
    async with SimServer(load_scenario("burst"), seed=SEED, autostart=False) as sim:
        sup = IngestSupervisor(
            [
                RpcProvider(
                    name="sim", http_url=sim.http_url, ws_url=sim.ws_url, requests_per_s=2000
                )
            ],
            bus,
            clock=SystemClock(),
            reconcile_grace_slots=0,
            reconcile_interval_s=0.3,
            stall_timeout_s=30,
            bus_buffer=bound,
            bus_backoff_max_s=0.2,
            bus_check_s=0.5,
        )
        task = asyncio.create_task(sup.run())
        got: Counter[tuple[object, ...]] = Counter()
        try:
            await asyncio.wait_for(sup.connected.wait(), 10)
            before = await sim.emit(30)
            await until(lambda: sup.counters.events >= sum(len(t.intended) for t in before))
            await until(lambda: P.PUMP_PROGRAM in sup.checkpoint)  # backfill starts from it
            await redis.kill()
            during = await sim.emit(150)
            await until(lambda: sup.counters.dropped_while_full > 0)
            held = len(sup.publisher)
            await redis.start(redis.workdir / "data-0")
            want = Counter(_event_content(e) for t in (*before, *during) for e in t.intended)
            async with asyncio.timeout(30):
                while got != want and not got - want:
                    for m in await bus.consume(
                        EVENTS_STREAM, "check", "c", block_ms=100, count=500
                    ):
                        got[_event_content(ChainEvent.from_json(m.payload))] += 1
            # Anything sent twice would be right behind.
            for m in await bus.consume(EVENTS_STREAM, "check", "c", block_ms=300, count=500):
                got[_event_content(ChainEvent.from_json(m.payload))] += 1
        finally:
            sup.stop()
            await asyncio.wait_for(task, 20)
            await sup.aclose()
            await client.aclose()
    assert got == want  # every event once: what the buffer held, and what backfill fetched
    # The buffer stopped at its bound (a notification's events go in whole), the rest was left
    # to the chain and backfilled once Redis was back, on the same connection.
    assert bound <= held <= bound + 1
    assert sup.counters.feed_pauses == 1
    assert sup.counters.backfilled == sup.counters.dropped_while_full > 0
    assert sup.counters.reconnects == 0
    assert sup.counters.bus_data_lost == 0
