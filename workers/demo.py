"""The embedded demo: the whole product in one process, on a laptop, with no accounts.

The chain simulator plays the demo scenario (a launch frenzy, a smart-money burst that turns into
a real pump, a dev rug, a freeze-authority honeypot, a transfer-tax coin) over real Solana
JSON-RPC and PubSub on loopback; ingestion, the scorer, the risk jobs and the API run against it
exactly as they run against mainnet; storage is a SQLite file and the bus and jobs are
in-process. ``run_demo`` returns a summary; ``solai demo`` prints it (``--headless``) or runs the
console chat (interactive).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import hashlib
import hmac
import io
import json
import logging
import os
import re
import secrets
import socket
import sys
import time
import webbrowser
from collections.abc import Awaitable, Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import quote, urlencode

from fastapi import Request, Response
from pydantic import SecretStr
from sqlalchemy import func, select

from bot.console import ConsoleChat, render_plain
from bot.context import Caller, Place
from bot.core import CommandCore
from bot.fanout import Fanout, Sender, Target, attached, fanout_senders_from_settings
from bot.limits import ChatLimiter, PlatformLimits, Rate
from bot.reply import Reply
from engine.clock import SystemClock
from engine.deps import Deps
from engine.net.loopback import LoopbackServer
from engine.settings import RpcProvider, Settings, load_settings
from engine.sim.jupiter import LocalJupiter
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.storage.models import AlertDelivery, RiskReport, Signal, Token, Trade, User
from engine.storage.repos import wallets as wallet_repo
from webapp.app import create_app
from workers.ingest import IngestSupervisor
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps
from workers.scoring import ScoringConsumer

log = logging.getLogger(__name__)

DEMO_DB = Path("var") / "demo.db"
DEMO_TELEGRAM_ID = 777_000_001
"""The Telegram user the console person plays: the Mini App signs in as them, so a buy there
shows in the console chat's /positions."""
DEMO_FUNDING_LAMPORTS = 5_000_000_000
"""Simulated SOL given to a demo wallet when it is linked."""


def mint_init_data(bot_token: str, user_id: int, *, username: str, now_s: int) -> str:
    """Mini App initData signed as Telegram signs it (HMAC-SHA256 under HMAC("WebAppData",
    bot token) of the sorted key=value lines): the demo plays Telegram for its own bot."""
    user = {"id": user_id, "first_name": "Demo", "username": username, "language_code": "en"}
    fields = {
        "auth_date": str(now_s),
        "query_id": "demo",
        "user": json.dumps(user, separators=(",", ":")),
    }
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def _random_bot_token() -> str:
    # The shape of a BotFather token; it only signs this process's own initData.
    return f"{secrets.randbelow(9 * 10**9) + 10**9}:{secrets.token_urlsafe(26)}"


@dataclass
class DemoSummary:
    """What happened, for scripts and CI (``solai demo --headless`` prints it as JSON)."""

    events: int = 0
    signals: int = 0
    alerts: int = 0
    trades: int = 0
    errors: int = 0
    sim_seconds: float = 0.0
    story: dict[str, bool] = field(default_factory=dict)
    """The scenario's beats: did each one happen and get called what it is?"""

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        return asdict(self)


@dataclass
class DemoConfig:
    """How to run the demo."""

    seed: int = 7
    speed: float = 1.0
    duration_s: float | None = None
    api_host: str = "127.0.0.1"
    api_port: int = 8000
    db_path: Path = DEMO_DB
    fresh: bool = True
    console: bool = False
    """Run the interactive console chat on stdin/stdout (alerts print there)."""


class ConsoleSender:
    """Alerts for the demo's console chat: printed above the prompt (or only counted)."""

    platform = "console"

    def __init__(
        self,
        public_url: str,
        *,
        out: TextIO | None,
        sign_links: Callable[[str], str] = lambda text: text,
    ) -> None:
        # A terminal has no published limits; keep the limiter's shape with generous rates.
        self.limiter = ChatLimiter(
            PlatformLimits(overall=Rate(100, 1.0), per_chat=Rate(100, 1.0), per_group=None)
        )
        self._url = public_url
        self._out = out
        self._sign_links = sign_links
        self.sent = 0

    async def send(self, target: Target, reply: Reply, *, skip: int = 0) -> str:
        """Print the alert (interactive) or just count it (headless); one part, never skipped."""
        self.sent += 1
        if self._out is not None:
            text, _ = render_plain(reply, self._url)
            print(f"\n[alert] {self._sign_links(text)}\n", file=self._out, flush=True)
        return str(self.sent)


class DemoConsoleChat(ConsoleChat):
    """The console chat with Mini App links that sign the reader in (``#tgWebAppData=``)."""

    def __init__(
        self,
        *args: Any,
        sign_links: Callable[[str], str],
        open_browser: bool = False,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self._sign_links = sign_links
        self._open_browser = open_browser

    def _print(self, text: str) -> str:
        signed = self._sign_links(text)
        if self._open_browser:
            found = _TRADE_LINK.search(signed)
            if found:
                # /buy "opens the Mini App": on a desktop, really open it.
                with contextlib.suppress(Exception):
                    webbrowser.open(found.group(0))
        return super()._print(signed)


_TRADE_LINK = re.compile(r"https?://[^\s\]]+/app/trade\?[^\s\]]+")


def has_display() -> bool:
    """True where a browser window can open (macOS, Windows, or an X11/Wayland session)."""
    if sys.platform in ("darwin", "win32"):
        return True
    return bool(os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"))


def reset_db(db: Path) -> None:
    """Remove the demo's SQLite file (and its WAL) so each run tells the story from the start."""
    for suffix in ("", "-wal", "-shm"):
        Path(f"{db}{suffix}").unlink(missing_ok=True)


def free_port(preferred: int, host: str = "127.0.0.1") -> int:
    """``preferred`` if nothing listens there, else any free port."""
    for port in (preferred, 0):
        with socket.socket() as s:
            try:
                s.bind((host, port))
            except OSError:
                continue
            return int(s.getsockname()[1])
    raise OSError("no free port")


class Demo:
    """The running demo: its parts, their counters, and an orderly stop."""

    def __init__(self, config: DemoConfig) -> None:
        self.config = config
        self.summary = DemoSummary()
        self.sim: SimServer | None = None
        self.deps: Deps | None = None
        self.ingest: IngestSupervisor | None = None
        self.scorer: ScoringConsumer | None = None
        self.api_url = ""
        self.settings: Settings | None = None
        self.whales: list[str] = []
        self.tokens: dict[str, str] = {}
        """Scenario token id → mint (MOON, RUG, TRAP, CALM, FEE)."""
        self._stop = asyncio.Event()
        self._errors = 0
        self.chat: ConsoleChat | None = None
        self.console_sender: ConsoleSender | None = None
        self.jupiter: LocalJupiter | None = None
        self.funded: set[str] = set()
        """Demo wallets given simulated SOL (each once, when linked)."""
        self.fills_seen: set[int] = set()
        self.fill_lines: list[str] = []
        """Confirmed trades as printed in the console ("[fill] …"), for tests too."""
        self._bot_token = ""

    def stop(self) -> None:
        """Ask the demo to wind down (Ctrl-C, end of --duration)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """True once a stop was asked for."""
        return self._stop.is_set()

    async def run(
        self,
        on_ready: Callable[[Demo], Awaitable[None]] | None = None,
        on_tick: Callable[[Demo], None] | None = None,
    ) -> DemoSummary:
        """Start every part, run until stopped or the duration ends, stop them in reverse."""
        cfg = self.config
        db = cfg.db_path
        if cfg.fresh:
            await asyncio.to_thread(reset_db, db)
        url = f"sqlite+aiosqlite:///{db}"
        await upgrade_async(url)
        # The story happens now: the chain's clock starts at the wall clock, so "2 min ago" and
        # "24h volume" read as a person expects.
        scenario = dataclasses.replace(
            load_scenario("demo"), start_unix_ms=SystemClock().now_ms() // 1000 * 1000
        )
        sim = SimServer(
            scenario,
            seed=cfg.seed,
            speed=cfg.speed,
            start_on_subscribe=True,
        )
        await sim.start()
        self.sim = sim
        try:
            async with LocalJupiter(sim) as jupiter:
                self.jupiter = jupiter
                # demo_wallet goes through validation: SOLAI_ENV=production refuses it.
                self.settings = load_settings(
                    database_url=url,
                    rpc_providers=[
                        RpcProvider(name="simulator", http_url=sim.http_url, ws_url=sim.ws_url)
                    ],
                    jupiter_url=jupiter.url,
                    jupiter_api_key=None,
                    demo_wallet=True,
                    trade_confirm_poll_s=0.5,
                )
                async with open_deps(
                    self.settings, default_registry(), clock=SystemClock()
                ) as deps:
                    self.deps = deps
                    await self._seed(deps, sim)
                    await self._run_parts(deps, on_ready, on_tick)
        finally:
            await sim.stop()
        return self.summary

    async def _seed(self, deps: Deps, sim: SimServer) -> None:
        """The demo's smart-money list: the scenario's whales, as a KOL list would name them."""
        gen = sim.generator
        self.whales = list(gen.groups.get("whale", []))
        self.tokens = {tid: t.mint for tid, t in gen.tokens.items()}
        async with deps.sessions.begin() as s:
            for i, address in enumerate(self.whales):
                await wallet_repo.ensure_wallet(
                    s,
                    address=address,
                    alias=f"whale-{i + 1}",
                    tags=["smart", "kol"],
                    featured=True,
                    now_ms=deps.clock.now_ms(),
                )

    async def _run_parts(
        self,
        deps: Deps,
        on_ready: Callable[[Demo], Awaitable[None]] | None,
        on_tick: Callable[[Demo], None] | None,
    ) -> None:
        assert self.settings is not None
        cfg = self.config
        self.ingest = IngestSupervisor(
            self.settings.rpc_providers,
            deps.bus,
            clock=deps.clock,
            reconcile_grace_slots=2,
            stall_timeout_s=30,
        )
        self.scorer = ScoringConsumer(deps, block_ms=100, refresh_s=0.5)
        port = free_port(cfg.api_port, cfg.api_host)
        self.api_url = f"http://{cfg.api_host}:{port}"
        # Links in chat replies and alerts open this process's Mini App.
        deps.settings = deps.settings.model_copy(
            update={"public_url": self.api_url, "telegram_webapp_js_url": ""}
        )
        stack = contextlib.AsyncExitStack()
        # Real bots only for real tokens: the senders are built before the demo's own token.
        real = await stack.enter_async_context(fanout_senders_from_settings(deps))
        real_token = deps.settings.telegram_token
        self._bot_token = (
            real_token.get_secret_value() if real_token is not None else _random_bot_token()
        )
        deps.settings = deps.settings.model_copy(
            update={"telegram_token": SecretStr(self._bot_token)}
        )
        out = sys.stdout if cfg.console else None
        self.console_sender = ConsoleSender(self.api_url, out=out, sign_links=self.sign_links)
        senders: dict[str, Sender] = {"console": self.console_sender}
        senders.update(real)
        if "telegram" not in senders:
            # The console person is the demo's Telegram user (one account for chat and Mini
            # App); with no real bot their "Telegram" chat is this terminal.
            senders["telegram"] = self.console_sender
        stack.enter_context(attached(deps, Fanout(deps, senders)))
        self.chat = DemoConsoleChat(
            CommandCore(deps),
            out=out or io.StringIO(),
            sign_links=self.sign_links,
            open_browser=cfg.console and has_display(),
        )
        if "telegram" not in real:
            self.chat.caller = Caller("telegram", str(DEMO_TELEGRAM_ID), "console", "en")
            self.chat.place = Place(str(DEMO_TELEGRAM_ID), "private", "console")
        await self.chat.say("/start")
        await self.chat.say("/alerts on")
        app = create_app(deps)
        app.middleware("http")(self._fund_on_link)
        server = LoopbackServer(
            app,
            host=cfg.api_host,
            port=port,
            name="API",
            ws="auto",  # WS /stream
            lifespan="on",  # the app closes its Jupiter client on shutdown
        )
        await server.start()
        tasks = {
            asyncio.create_task(self.ingest.run(), name="ingest"),
            asyncio.create_task(self.scorer.run(), name="scorer"),
        }
        chat_task = (
            asyncio.create_task(self._chat_until_eof(), name="chat") if cfg.console else None
        )
        started = time.monotonic()
        try:
            if on_ready is not None:
                await on_ready(self)
            while not self._stop.is_set():
                failed = [t for t in tasks if t.done()]
                if failed:
                    for t in failed:
                        if t.exception() is not None:
                            self._errors += 1
                            log.error("demo part %s stopped: %r", t.get_name(), t.exception())
                    break
                await self._refresh_summary(deps)
                await self._push_fills(deps)
                if on_tick is not None:
                    on_tick(self)
                if cfg.duration_s is not None and time.monotonic() - started >= cfg.duration_s:
                    break
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stop.wait(), 1.0)
        finally:
            self.ingest.stop()
            self.scorer.stop()
            await server.stop()
            if chat_task is not None:
                chat_task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            await stack.aclose()
            await self.ingest.aclose()
            with contextlib.suppress(Exception):
                await deps.jobs.join(timeout_s=10)  # type: ignore[attr-defined]
            await self.scorer.refresh_risk_now()
            await self._refresh_summary(deps, final=True)

    def mini_app_link(self, path: str = "/app") -> str:
        """A Mini App URL that signs its reader in as the console's Telegram user."""
        init = mint_init_data(
            self._bot_token,
            DEMO_TELEGRAM_ID,
            username="console",
            now_s=SystemClock().now_ms() // 1000,
        )
        return f"{self.api_url}{path}#tgWebAppData={quote(init, safe='')}"

    def sign_links(self, text: str) -> str:
        """Mini App links in chat text, signed in (Telegram passes initData the same way)."""
        if not self.api_url or not self._bot_token:
            return text
        pattern = re.escape(self.api_url) + r"(/app[^\s\]#]*)"
        return re.sub(pattern, lambda m: self.mini_app_link(m.group(1)), text)

    async def _fund_on_link(
        self, request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        """After a wallet is linked (``POST /me/wallet``), give it simulated SOL once."""
        response = await call_next(request)
        if (
            request.method == "POST"
            and request.url.path == "/me/wallet"
            and response.status_code == 200
        ):
            await self.fund_linked_wallets()
        return response

    async def fund_linked_wallets(self) -> None:
        """Fund every linked wallet not funded yet (the demo chain's faucet)."""
        deps, sim = self.deps, self.sim
        if deps is None or sim is None:
            return
        async with deps.sessions() as session:
            users = await session.scalars(select(User))
            wallets = {
                str(u.settings.get("wallet")) for u in users if (u.settings or {}).get("wallet")
            }
        for address in sorted(wallets - self.funded):
            sim.chain.fund(address, DEMO_FUNDING_LAMPORTS)
            self.funded.add(address)
            log.info("demo wallet %s funded with %d lamports", address, DEMO_FUNDING_LAMPORTS)

    async def _push_fills(self, deps: Deps) -> None:
        """Print newly confirmed trades in the console: the fill arrives where the buy began."""
        async with deps.sessions() as session:
            rows = (
                await session.execute(
                    select(Trade, Token)
                    .join(Token, Token.mint == Trade.mint, isouter=True)
                    .where(Trade.status == "confirmed")
                )
            ).all()
        for trade, token in rows:
            if trade.id in self.fills_seen:
                continue
            self.fills_seen.add(trade.id)
            symbol = f"${token.symbol}" if token is not None and token.symbol else trade.mint[:8]
            decimals = token.decimals if token is not None and token.decimals is not None else 6
            if trade.side == "buy":
                amount = (trade.out_amount or 0) / 10**decimals
                line = (
                    f"[fill] bought {amount:,.0f} {symbol} for {trade.in_amount / 1e9:g} SOL "
                    f"(order {trade.id}); /positions shows it"
                )
            else:
                line = f"[fill] sold {symbol} for {(trade.out_amount or 0) / 1e9:g} SOL"
            self.fill_lines.append(line)
            if self.config.console:
                print(f"\n{line}\n", flush=True)

    async def _chat_until_eof(self) -> None:
        assert self.chat is not None
        await self.chat.run()
        self.stop()  # Ctrl-D leaves the chat and ends the demo

    async def _refresh_summary(self, deps: Deps, *, final: bool = False) -> None:
        sim, ingest, scorer = self.sim, self.ingest, self.scorer
        assert sim is not None and ingest is not None and scorer is not None
        s = self.summary
        s.events = ingest.counters.events
        s.sim_seconds = round(sim.current_t_ms / 1000, 1)
        s.errors = (
            self._errors
            + ingest.counters.decode_errors
            + scorer.counters.bad_messages
            + getattr(getattr(deps.jobs, "counters", None), "failed", 0)
        )
        async with deps.sessions() as session:
            s.signals = int(
                (await session.execute(select(func.count()).select_from(Signal))).scalar_one()
            )
            s.trades = int(
                (await session.execute(select(func.count()).select_from(Trade))).scalar_one()
            )
            s.alerts = int(
                (
                    await session.execute(
                        select(func.count())
                        .select_from(AlertDelivery)
                        .where(AlertDelivery.status == "sent")
                    )
                ).scalar_one()
            )
            if final or s.signals:
                s.story = await self._story(session)

    async def _story(self, session: Any) -> dict[str, bool]:
        moon, rug, trap = (self.tokens.get(t, "") for t in ("MOON", "RUG", "TRAP"))
        reports = {
            r.mint: r
            for r in await session.scalars(
                select(RiskReport).where(RiskReport.mint.in_([rug, trap]))
            )
        }
        bursts = await session.scalars(select(Signal).where(Signal.mint == moon))
        burst = any(any(r.get("name") == "smart_buy_burst" for r in sig.rules) for sig in bursts)
        rug_report, trap_report = reports.get(rug), reports.get(trap)
        return {
            "smart_money_burst_signalled": burst,
            "dev_rug_flagged": rug_report is not None and "dev_selling" in rug_report.badges,
            "honeypot_flagged": trap_report is not None and trap_report.level == "critical",
        }


def progress_line(demo: Demo) -> str:
    """One line: the simulator's clock, events ingested, signals, alerts."""
    s = demo.summary
    return (
        f"sim {s.sim_seconds:6.1f}s | events {s.events:6d} | signals {s.signals:4d} | "
        f"alerts {s.alerts:4d} | trades {s.trades:3d} | errors {s.errors}"
    )
