"""``solai bench pipeline``: simulator → ingest → bus → scorer → signals → alerts, measured.

The simulator runs in its own process (``solai sim --scenario bench --rate R --prebuild N
--start-on-subscribe``), as a provider would; ingest, the scoring consumer, the job runner and
the alert fan-out run in this process against the configured mode: embedded (SQLite file,
in-process bus) by default, Redis Streams + PostgreSQL with ``--redis`` and ``--database`` (a
fresh database ``solai_bench_<hex>`` and a unique key prefix, both removed afterwards). Jobs
(risk checks, fan-out) run in-process in both modes, so arq is not measured here.

Alerts go through the real Telegram sender into :class:`bot.local_botapi.LocalBotApi`, which
enforces Telegram's published limits with 429s; ``--chats`` private chats are subscribed to
every signal. Latencies start at the simulator's ``emitted_ns`` (``time.monotonic_ns()``, the
same clock in both processes) of the transaction that triggered the signal, and end when the
scorer's batch holding it has committed (``signal_*``) or when the Bot API accepted the message
(``alert_*``, every chat). ``event_*`` is the same for every event (its batch committed).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import select

from bot.fanout import Fanout, Outcome, attached
from bot.limits import TELEGRAM_LIMITS, ChatLimiter
from bot.local_botapi import LocalBotApi
from bot.telegram_adapter import open_telegram_sender
from engine.chain.rpc import Commitment
from engine.clock import SystemClock
from engine.deps import Deps
from engine.events import ChainEvent
from engine.settings import RpcProvider, load_settings
from engine.sim.generator import Generator
from engine.sim.scenario import load_scenario
from engine.storage.models import Chat, RiskReport, Subscription
from engine.storage.repos import wallets as wallet_repo
from workers.ingest import IngestSupervisor
from workers.jobs.inprocess import InProcessJobs
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps
from workers.scoring import ScoringConsumer

logger = logging.getLogger(__name__)

TOKEN = "7000000001:bench-local-token"  # noqa: S105 - the local server's, not a secret


def register(subparsers: Any) -> None:
    """Add ``bench pipeline``."""
    parser = subparsers.add_parser(
        "pipeline",
        help="end-to-end events/s and latency: simulator → ingest → scorer → alerts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--rate", type=float, default=5000, help="transactions per second")
    parser.add_argument("--duration", type=float, default=5.0, help="seconds of emission")
    parser.add_argument("--chats", type=int, default=60, help="subscribed private chats")
    parser.add_argument(
        "--min-strength",
        type=float,
        default=0.0,
        help="the chats' subscription threshold (0: every signal; one chat takes 1 message/s)",
    )
    parser.add_argument("--drain", type=float, default=20.0, help="seconds to let alerts finish")
    parser.add_argument("--batch", type=int, default=500, help="scorer batch per partition")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--scenario",
        default="bench",
        help="simulator scenario (default: bench: a smart-money burst every 1.5 s of its time)",
    )
    parser.add_argument("--redis", default=None, help="Redis URL (with --database)")
    parser.add_argument("--database", default=None, help="PostgreSQL URL (with --redis)")
    parser.add_argument(
        "--commitment",
        choices=["confirmed", "processed"],
        default="confirmed",
        help="ingest's commitment (processed: alert first, confirm or retract after)",
    )
    parser.add_argument(
        "--confirm-delay-ms",
        type=int,
        default=0,
        help="the simulator confirms a transaction this long after emitting it (processed)",
    )
    parser.add_argument(
        "--split",
        action="store_true",
        help="Redis mode: run ingest as its own process (`solai ingest`), as deployed",
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.set_defaults(func=run)


def pct(values: Sequence[float], q: float) -> float | None:
    """The q-quantile (nearest rank) of ``values``, None when empty."""
    if not values:
        return None
    s = sorted(values)
    return round(s[min(len(s) - 1, max(0, round(q * (len(s) - 1))))], 1)


@dataclass
class Probe:
    """Monotonic timestamps collected while the pipeline runs."""

    events_done: dict[str, int] = field(default_factory=dict)
    """signature → ns when the scorer's batch holding it committed."""
    signal_done: dict[int, tuple[str, int]] = field(default_factory=dict)
    """signal id → (triggering signature, ns stored)."""
    alert_sent: dict[str, list[int]] = field(default_factory=dict)
    """alert key → ns of every accepted send."""
    scored_in_window: int = 0


def instrument(consumer: ScoringConsumer, probe: Probe) -> None:
    """Record when each event's and each signal's batch committed (no change to the consumer)."""
    scorer = consumer.scorer
    on_event = scorer.on_event
    trigger: dict[int, str] = {}

    def traced_on_event(e: ChainEvent) -> Any:
        s = on_event(e)
        if s is not None:
            trigger[id(s)] = e.signature
        return s

    scorer.on_event = traced_on_event  # type: ignore[method-assign,assignment]
    process = consumer.process
    outbox_ids: dict[int, int] = {}
    announce = consumer._announce

    async def traced_announce() -> None:
        for signal_id, s in consumer._outbox:
            outbox_ids[id(s)] = signal_id
        await announce()

    consumer._announce = traced_announce  # type: ignore[method-assign]

    async def traced_process(messages: Any) -> Any:
        fired = await process(messages)
        now = time.monotonic_ns()
        for m in messages:
            probe.events_done.setdefault(_signature(m.payload), now)
        for s in fired:
            sid = outbox_ids.pop(id(s), None)
            if sid is not None:
                probe.signal_done[sid] = (trigger.pop(id(s), ""), now)
        return fired

    consumer.process = traced_process  # type: ignore[method-assign]


_SIG = re.compile(rb'"signature":\s*"([1-9A-Za-z]+)"')


def _signature(payload: bytes) -> str:
    m = _SIG.search(payload)
    return m.group(1).decode() if m else ""


@contextlib.asynccontextmanager
async def simulator(args: argparse.Namespace, n: int) -> AsyncIterator[tuple[str, str]]:
    """``solai sim`` in a subprocess; yields (http_url, ws_url)."""
    cmd = [
        sys.executable,
        "-c",
        "from workers.cli import main; raise SystemExit(main())",
        "sim",
        "--scenario",
        args.scenario,
        "--seed",
        str(args.seed),
        "--rate",
        str(args.rate),
        "--prebuild",
        str(n),
        "--start-on-subscribe",
        "--http-port",
        "0",
        "--ws-port",
        "0",
        "--jupiter-port",
        "-1",
        "--confirm-delay-ms",
        str(args.confirm_delay_ms),
        "--history",
        str(max(n + 1000, 100_000)),
    ]
    proc = await asyncio.create_subprocess_exec(
        *cmd, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL
    )
    try:
        assert proc.stdout is not None
        line = (await asyncio.wait_for(proc.stdout.readline(), 600)).decode()
        m = re.search(r"http=(\S+) ws=(\S+)", line)
        if not m:
            raise RuntimeError(f"simulator did not start: {line!r}")
        yield m.group(1), m.group(2)
    finally:
        if proc.returncode is None:
            proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(proc.wait(), 10)
            if proc.returncode is None:
                proc.kill()
                await proc.wait()


async def sim_call(http: httpx.AsyncClient, url: str, action: str, **cfg: Any) -> Any:
    """One ``simControl`` call."""
    body = {
        "jsonrpc": "2.0",
        "id": 1,
        "method": "simControl",
        "params": [{"action": action, **cfg}],
    }
    resp = await http.post(url, json=body, timeout=60)
    return resp.json()["result"]


@contextlib.asynccontextmanager
async def fresh_database(url: str, *, prefix: str = "solai_bench_") -> AsyncIterator[str]:
    """A new PostgreSQL database on the server of ``url``, dropped afterwards (with
    ``FORCE``: a killed subprocess may still hold connections). Benchmarks and the tests whose
    subprocesses cannot be put on a test schema use it."""
    import asyncpg  # type: ignore[import-untyped]
    from sqlalchemy.engine import make_url

    norm = load_settings(database_url=url).database_url
    base = make_url(norm)
    dsn = base.set(drivername="postgresql").render_as_string(hide_password=False)
    name = f"{prefix}{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
        yield base.set(database=name).render_as_string(hide_password=False)
    finally:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.close()


@contextlib.asynccontextmanager
async def storage(args: argparse.Namespace) -> AsyncIterator[str]:
    """The database URL for the run (migrated), removed afterwards."""
    if args.database:
        async with fresh_database(args.database) as url:
            await upgrade_async(url)
            yield url
    else:
        with tempfile.TemporaryDirectory(prefix="solai-bench-") as tmp:
            url = f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
            await upgrade_async(url)
            yield url


async def seed(deps: Deps, whales: Sequence[str], chats: int, *, min_strength: float = 0.0) -> None:
    """Tracked whales, and ``chats`` private chats subscribed to signals of ``min_strength``."""
    now = deps.clock.now_ms()
    async with deps.sessions.begin() as s:
        for i, w in enumerate(whales):
            await wallet_repo.ensure_wallet(
                s, address=w, alias=f"whale{i}", tags=["smart"], featured=True, now_ms=now
            )
        rows = [
            Chat(
                platform="telegram",
                external_id=str(50_000 + i),
                kind="private",
                language="en",
                created_ts=now,
            )
            for i in range(chats)
        ]
        s.add_all(rows)
        await s.flush()
        s.add_all(
            Subscription(
                chat_id=c.id,
                kind="signals",
                min_strength=min_strength,
                filters={},
                enabled=True,
                created_ts=now,
            )
            for c in rows
        )


async def _bench(args: argparse.Namespace) -> dict[str, Any]:
    n = int(args.rate * args.duration)
    whales = Generator(load_scenario(args.scenario), args.seed, rate=args.rate).groups["whale"]
    probe = Probe()
    prefix = f"solai-bench-{uuid.uuid4().hex[:8]}:"
    mode = "redis+postgresql" if args.redis else "embedded"
    if args.split:
        mode += ", ingest in its own process"
    started = time.monotonic()
    async with (
        simulator(args, n) as (http_url, ws_url),
        storage(args) as db_url,
        httpx.AsyncClient() as http,
        LocalBotApi(token=TOKEN, limits=TELEGRAM_LIMITS) as api,
    ):
        prebuild_s = time.monotonic() - started
        settings = load_settings(
            database_url=db_url,
            redis_url=args.redis,
            rpc_providers=[RpcProvider(name="sim", http_url=http_url, ws_url=ws_url)],
            telegram_token=TOKEN,
        )
        for i in range(args.chats):
            api.add_chat(50_000 + i, "private", first_name=f"user{i}")
        registry = default_registry()
        async with open_deps(
            settings, registry, clock=SystemClock(), bus_prefix=prefix, queue_name=prefix + "jobs"
        ) as deps:
            jobs = deps.jobs
            if args.redis:
                # Per-alert jobs in-process here too: the bench measures the pipeline, not arq.
                jobs = InProcessJobs(registry)
                jobs.deps = deps
                deps.jobs = jobs
                await jobs.start()
            try:
                await seed(deps, whales, args.chats, min_strength=args.min_strength)
                limiter = ChatLimiter(TELEGRAM_LIMITS)
                async with open_telegram_sender(
                    settings, limiter, base_url=api.base_url, token=TOKEN
                ) as sender:
                    fanout = TimedFanout(deps, {"telegram": sender}, probe=probe)
                    with attached(deps, fanout):
                        result = await _drive(args, deps, http, http_url, probe, n, prefix)
            finally:
                if args.redis:
                    assert isinstance(jobs, InProcessJobs)
                    await jobs.close()
                    if deps.redis is not None:
                        keys = [k async for k in deps.redis.scan_iter(match=prefix + "*")]
                        for i in range(0, len(keys), 500):
                            await deps.redis.delete(*keys[i : i + 500])
        emitted = {sig: ns for sig, _seq, ns in await sim_call(http, http_url, "emissionTimes")}
        result.update(_latencies(probe, emitted, api))
    result.update(
        mode=mode,
        rate=args.rate,
        duration_s=args.duration,
        chats=args.chats,
        min_strength=args.min_strength,
        commitment=args.commitment,
        confirm_delay_ms=args.confirm_delay_ms,
        prebuild_s=round(prebuild_s, 1),
        python=platform.python_version(),
        machine=f"{platform.machine()} {os.cpu_count()} cpu(s)",
    )
    return result


class TimedFanout(Fanout):
    """The fan-out, noting when each chat's message was accepted."""

    def __init__(self, *a: Any, probe: Probe, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.probe = probe

    async def _deliver_one(self, alert: Any, recipient: Any, report: Any) -> Outcome:
        out = await super()._deliver_one(alert, recipient, report)
        if out.status == "sent":
            self.probe.alert_sent.setdefault(alert.key, []).append(time.monotonic_ns())
        return out


class _InProcessIngest:
    """Ingest on this process's event loop (embedded mode, and Redis mode without --split)."""

    def __init__(self, deps: Deps, commitment: Commitment) -> None:
        self.sup = IngestSupervisor(
            deps.settings.rpc_providers,
            deps.bus,
            clock=deps.clock,
            commitment=commitment,
            reconcile_interval_s=3600,
            stall_timeout_s=60,
        )
        self._task: asyncio.Task[None] | None = None

    async def start(self, http: httpx.AsyncClient, http_url: str) -> None:
        self._task = asyncio.create_task(self.sup.run())  # subscribing starts the emission
        await asyncio.wait_for(self.sup.connected.wait(), 30)

    async def events(self) -> int:
        return self.sup.counters.events

    def notifications(self) -> int | None:
        return self.sup.counters.notifications

    async def stop(self) -> dict[str, Any]:
        self.sup.stop()
        if self._task is not None:
            _done, pending = await asyncio.wait({self._task}, timeout=10)
            for t in pending:
                logger.warning("ingest did not stop in 10 s: %s", t)
                t.cancel()
        await self.sup.aclose()
        return self.sup.counters.snapshot()


class _ProcessIngest:
    """``solai ingest`` in its own process, publishing to this run's Redis key prefix."""

    def __init__(self, deps: Deps, prefix: str, commitment: Commitment) -> None:
        self._deps = deps
        self._prefix = prefix
        self._commitment = commitment
        self._proc: asyncio.subprocess.Process | None = None

    async def start(self, http: httpx.AsyncClient, http_url: str) -> None:
        s = self._deps.settings
        env = {k: v for k, v in os.environ.items() if not k.startswith("SOLAI_")} | {
            "SOLAI_DATABASE_URL": s.database_url,
            "SOLAI_REDIS_URL": s.redis_url or "",
            "SOLAI_BUS_PREFIX": self._prefix,
            "SOLAI_JOB_QUEUE": self._prefix + "jobs",
            "SOLAI_RPC_PROVIDERS": json.dumps([p.model_dump() for p in s.rpc_providers]),
            "SOLAI_RPC_COMMITMENT": self._commitment,
        }
        self._proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            "from workers.cli import main; raise SystemExit(main())",
            "ingest",
            "--stats-every",
            "3600",
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        async with asyncio.timeout(60):  # the simulator starts emitting on the subscription
            while int((await sim_call(http, http_url, "stats"))["emitted"]) == 0:
                if self._proc.returncode is not None:
                    raise RuntimeError("solai ingest exited before subscribing")
                await asyncio.sleep(0.01)

    async def events(self) -> int:
        redis = self._deps.redis
        assert redis is not None
        parts = self._deps.bus.partitions
        pipe = redis.pipeline(transaction=False)
        for p in range(parts):
            pipe.xlen(f"{self._prefix}events:{p}")
        return sum(int(n) for n in await pipe.execute())

    def notifications(self) -> int | None:
        return None  # in the other process; its counters come back at stop()

    async def stop(self) -> dict[str, Any]:
        proc = self._proc
        if proc is None:
            return {}
        if proc.returncode is None:
            proc.terminate()
        try:
            out, _ = await asyncio.wait_for(proc.communicate(), 15)
        except TimeoutError:
            proc.kill()
            out, _ = await proc.communicate()
        lines = out.decode().strip().splitlines()
        try:
            return dict(json.loads(lines[-1])) if lines else {}
        except json.JSONDecodeError:
            return {}


async def _drive(
    args: argparse.Namespace,
    deps: Deps,
    http: httpx.AsyncClient,
    http_url: str,
    probe: Probe,
    n: int,
    prefix: str,
) -> dict[str, Any]:
    ingest: _InProcessIngest | _ProcessIngest = (
        _ProcessIngest(deps, prefix, args.commitment)
        if args.split
        else _InProcessIngest(deps, args.commitment)
    )
    consumer = ScoringConsumer(deps, batch=args.batch, block_ms=20, refresh_s=0.5)
    instrument(consumer, probe)
    tasks = [asyncio.create_task(consumer.run())]
    await asyncio.sleep(0.2)
    await ingest.start(http, http_url)
    t0 = time.monotonic()
    await asyncio.sleep(args.duration)
    t_end = time.monotonic()
    # Stop emission: the drain below then measures catching up on the window's transactions
    # only (past the prebuilt ones the simulator would keep generating, as fast as it can).
    await sim_call(http, http_url, "pause")
    scored = consumer.counters.events
    stats = await sim_call(http, http_url, "stats")
    backlog = await deps.bus.backlog("events", "scorer") + await deps.bus.pending_count(
        "events", "scorer"
    )
    notified = ingest.notifications()
    in_flight = None if notified is None else max(0, int(stats["emitted"]) - notified)
    # Drain: everything published scored (published stops growing), then the alerts delivered.
    deadline = time.monotonic() + 60
    published, steady_since = -1, time.monotonic()
    while time.monotonic() < deadline:
        now_published = await ingest.events()
        if now_published != published:
            published, steady_since = now_published, time.monotonic()
        if consumer.counters.events >= published and time.monotonic() - steady_since > 0.3:
            break
        await asyncio.sleep(0.05)
    drain_scored = time.monotonic()
    logger.info("scored: %s", consumer.counters.snapshot())
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(deps.jobs.join(timeout_s=args.drain), args.drain + 1)  # type: ignore[attr-defined]
    logger.info("jobs joined")
    ingest_counters = await ingest.stop()
    consumer.stop()
    _done, pending = await asyncio.wait(tasks, timeout=10)
    for t in pending:
        logger.warning("task did not stop in 10 s: %s", t)
        t.cancel()
    logger.info("stopped")
    async with deps.sessions() as session:
        levels = Counter(
            (await session.scalars(select(RiskReport.level))).all()
        )  # a run with no signals is often a run whose risk verdicts blocked them all
    window = t_end - t0
    return {
        "emitted": int(stats["emitted"]),
        "ingested_events": published,
        "scored_events": consumer.counters.events,
        "signals": consumer.counters.signals,
        "events_per_s": round(scored / window),
        "events_per_s_incl_drain": round(consumer.counters.events / (drain_scored - t0)),
        "backlog": backlog + (in_flight or 0),
        "backlog_bus": backlog,
        "backlog_ws": in_flight,
        "drain_s": round(drain_scored - t_end, 2),
        "decode_errors": ingest_counters.get("decode_errors"),
        "duplicates": ingest_counters.get("duplicates"),
        "target_events": n,
        "risk_levels": dict(sorted(levels.items())),
    }


def _latencies(probe: Probe, emitted: dict[str, int], api: Any) -> dict[str, Any]:
    ev = [(done - emitted[sig]) / 1e6 for sig, done in probe.events_done.items() if sig in emitted]
    sig_ms: list[float] = []
    alert_ms: list[float] = []
    first_user: list[float] = []
    last_user: list[float] = []
    for sid, (sig, done) in probe.signal_done.items():
        if sig not in emitted:
            continue
        e = emitted[sig]
        sig_ms.append((done - e) / 1e6)
        sends = probe.alert_sent.get(f"signal:{sid}", [])
        alert_ms.extend((t - e) / 1e6 for t in sends)
        if sends:
            first_user.append((min(sends) - e) / 1e6)
            last_user.append((max(sends) - e) / 1e6)
    # The run's first signal meets an idle Bot API pipe: its first and last user show what one
    # signal to --chats users costs (later ones queue behind it: 1 message/s per chat).
    first_signal = min(
        (item for item in probe.signal_done.items() if item[1][0] in emitted),
        key=lambda item: item[1][1],
        default=None,
    )
    one_first = one_last = None
    if first_signal is not None:
        sid, (sig, _done) = first_signal
        sends = probe.alert_sent.get(f"signal:{sid}", [])
        if sends:
            one_first = round((min(sends) - emitted[sig]) / 1e6, 1)
            one_last = round((max(sends) - emitted[sig]) / 1e6, 1)
    calls = [c for c in api.calls if c.method == "sendMessage" and c.ok]
    times = sorted(c.at for c in calls)
    # Sustained alert rate: accepted sends over the busy span (first to last accepted send).
    span = times[-1] - times[0] if len(times) > 1 else 0.0
    alerts_per_s = round((len(times) - 1) / span, 2) if span > 0 else 0.0
    return {
        "event_p50_ms": pct(ev, 0.5),
        "event_p95_ms": pct(ev, 0.95),
        "event_p99_ms": pct(ev, 0.99),
        "signals_measured": len(sig_ms),
        "signal_p50_ms": pct(sig_ms, 0.5),
        "signal_p95_ms": pct(sig_ms, 0.95),
        "signal_p99_ms": pct(sig_ms, 0.99),
        "alerts_sent": len(calls),
        "alert_p50_ms": pct(alert_ms, 0.5),
        "alert_p95_ms": pct(alert_ms, 0.95),
        "alert_p99_ms": pct(alert_ms, 0.99),
        "alerts_per_s": alerts_per_s,
        "alerts_pct_of_telegram_limit": round(100 * alerts_per_s / 30, 1),
        "bot_api_429": len(api.rejected_429),
        "first_user_p50_ms": pct(first_user, 0.5),
        "first_user_max_ms": pct(first_user, 1.0),
        "last_user_p50_ms": pct(last_user, 0.5),
        "last_user_max_ms": pct(last_user, 1.0),
        "first_signal_first_user_ms": one_first,
        "first_signal_last_user_ms": one_last,
    }


def run(args: argparse.Namespace) -> int:
    """Run the pipeline once and print the figures."""
    if bool(args.redis) != bool(args.database):
        print("solai bench pipeline: --redis and --database go together", file=sys.stderr)
        return 2
    if args.split and not args.redis:
        print("solai bench pipeline: --split needs --redis and --database", file=sys.stderr)
        return 2
    for name in ("bot.fanout", "httpx", "uvicorn.error", "engine.chain.rpc", "workers.ingest"):
        logging.getLogger(name).setLevel(logging.WARNING)
    result = asyncio.run(_bench(args))
    if args.json:
        print(json.dumps(result))
    else:
        width = max(len(k) for k in result)
        for key, value in result.items():
            print(f"{key:<{width}}  {value}")
    return 0
