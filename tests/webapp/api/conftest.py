"""The API under test: real storage, bus and in-process jobs, a fixed clock, signed initData,
and (for trading) the chain simulator with the local Jupiter-compatible server on loopback."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from solders.keypair import Keypair

from engine.chain import programs as P
from engine.clock import FixedClock
from engine.deps import Deps
from engine.events import ChainEvent
from engine.risk.model import RiskView
from engine.settings import load_settings
from engine.sim.jupiter import LocalJupiter
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import tokens as token_repo
from engine.trade.jupiter import JupiterClient
from webapp.app import create_app
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps

BOT_TOKEN = "4242:TEST-token-for-the-api"
NOW_MS = 1_767_225_600_000


def sign_init_data(
    user: dict[str, Any] | None, *, auth_date: int, bot_token: str = BOT_TOKEN, **extra: str
) -> str:
    """Mini App initData signed the way Telegram does (independent of webapp.auth)."""
    fields = {"auth_date": str(auth_date), "query_id": "AAE-test", **extra}
    if user is not None:
        fields["user"] = json.dumps(user, separators=(",", ":"))
    check = "\n".join(f"{k}={v}" for k, v in sorted(fields.items()))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def tma(telegram_id: int = 1001, *, auth_date: int | None = None, **user: Any) -> dict[str, str]:
    """Authorization headers of a Telegram user opening the Mini App now."""
    when = NOW_MS // 1000 - 5 if auth_date is None else auth_date
    body = {"id": telegram_id, "first_name": "Ann", "username": f"u{telegram_id}", **user}
    return {"Authorization": f"tma {sign_init_data(body, auth_date=when)}"}


@dataclass
class Api:
    """A running API: its resources, its HTTP client and what backs it."""

    deps: Deps
    app: FastAPI
    client: httpx.AsyncClient
    clock: FixedClock
    sim: SimServer | None = None
    jupiter: LocalJupiter | None = None


ApiFactory = Callable[..., contextlib.AbstractAsyncContextManager[Api]]


@pytest.fixture
def make_api(isolated_env: Any, tmp_sqlite: str) -> ApiFactory:
    """Open an API over a fresh database; ``with_chain`` adds the simulator and local Jupiter."""

    @contextlib.asynccontextmanager
    async def factory(*, with_chain: bool = False, **overrides: Any) -> AsyncIterator[Api]:
        clock = FixedClock(NOW_MS)
        await upgrade_async(tmp_sqlite)
        async with contextlib.AsyncExitStack() as stack:
            sim = jup = None
            if with_chain:
                sim = await stack.enter_async_context(
                    SimServer(load_scenario("demo"), seed=7, autostart=False)
                )
                await sim.emit(50)
                jup = await stack.enter_async_context(LocalJupiter(sim))
                overrides.setdefault(
                    "rpc_providers",
                    [{"name": "sim", "http_url": sim.http_url, "ws_url": sim.ws_url}],
                )
                overrides.setdefault("jupiter_url", jup.url)
            else:
                # Nothing listens there: RPC-backed extras (balances) degrade, quickly.
                overrides.setdefault(
                    "rpc_providers",
                    [
                        {
                            "name": "none",
                            "http_url": "http://127.0.0.1:9",
                            "ws_url": "ws://127.0.0.1:9",
                        }
                    ],
                )
                overrides.setdefault("jupiter_url", "http://127.0.0.1:9/swap/v1")
            overrides.setdefault("rpc_timeout_s", 2.0)
            overrides.setdefault("telegram_token", BOT_TOKEN)
            overrides.setdefault("trade_confirm_poll_s", 0.2)
            settings = load_settings(database_url=tmp_sqlite, **overrides)
            deps = await stack.enter_async_context(
                open_deps(settings, default_registry(), clock=clock)
            )
            jupiter = JupiterClient(settings.jupiter_url, timeout_s=settings.jupiter_timeout_s)
            stack.push_async_callback(jupiter.aclose)
            app = create_app(deps, jupiter=jupiter)
            transport = httpx.ASGITransport(app=app)
            client = await stack.enter_async_context(
                httpx.AsyncClient(transport=transport, base_url="http://test")
            )
            yield Api(deps, app, client, clock, sim, jup)

    return factory


@pytest.fixture
async def api(make_api: ApiFactory) -> AsyncIterator[Api]:
    """An API without a chain behind it."""
    async with make_api() as a:
        yield a


def expect_error(response: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """Assert the one error shape with this status and code; returns the body."""
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "request_id"}, body
    assert body["error"]["code"] == code, body
    assert body["error"]["message"]
    return body


# -- seeding -----------------------------------------------------------------------------------


async def put_risk(
    deps: Deps, mint: str, *, freeze: str | None = None, known: bool = True, ttl_ms: int = 3_600_000
) -> None:
    """Store a risk report for ``mint``: clean, freezable (critical) or unverified."""
    view = RiskView(
        mint=mint,
        checked_ts=NOW_MS,
        freeze_authority=freeze,
        sellable=True,
        known=frozenset({"mint", "sellability"} if known else set()),
    )
    from engine.risk.verdict import judge

    verdict = judge(view)
    async with deps.sessions.begin() as session:
        await signal_repo.put_risk_report(
            session,
            mint=mint,
            level=verdict.level,
            badges=list(verdict.badges),
            data={"view": view.to_dict()},
            checked_ts=NOW_MS,
            ttl_ms=ttl_ms,
        )


def tick(mint: str, i: int, *, ts: int, side: str = "buy", sol: int = 100_000_000) -> ChainEvent:
    """A pump.fun trade event."""
    return ChainEvent(
        kind="trade",
        venue="pumpfun",
        signature=f"sig{mint[:6]}{i:06d}",
        slot=1000 + i,
        ts=ts,
        mint=mint,
        index=0,
        trader=str(Keypair.from_seed(bytes([i % 250 + 1]) * 32).pubkey()),
        side=side,
        sol_lamports=sol,
        token_amount=3_000_000_000,
        virtual_sol_reserves=30_000_000_000 + i * 100_000_000,
        virtual_token_reserves=1_073_000_000_000_000 - i * 3_000_000_000,
    )


async def seed_market(deps: Deps, mint: str, *, symbol: str = "TEST", n_signals: int = 3) -> None:
    """A token with a launch, ticks over the last hour and ``n_signals`` signals."""
    create = ChainEvent(
        kind="create",
        venue="pumpfun",
        signature=f"create{mint[:8]}",
        slot=900,
        ts=NOW_MS - 3_600_000,
        mint=mint,
        name=f"{symbol} coin",
        symbol=symbol,
        creator=str(Keypair.from_seed(bytes([9]) * 32).pubkey()),
    )
    async with deps.sessions.begin() as session:
        await token_repo.upsert_token_from_create(session, event=create, now_ms=NOW_MS)
        await token_repo.insert_ticks(
            session, events=[tick(mint, i, ts=NOW_MS - 3_000_000 + i * 60_000) for i in range(40)]
        )
        for i in range(n_signals):
            await signal_repo.add_signal(
                session,
                id=abs(hash((mint, i))) % (1 << 40) + i,
                ts=NOW_MS - 600_000 + i * 60_000,
                mint=mint,
                strength=1.0 + i * 0.5,
                components={"momentum": 1.0, "smart": 0.5 + i * 0.1},
                inputs={"explanation": f"signal {i}"},
                rules=[
                    {
                        "name": "push_time",
                        "kind": "push_time",
                        "title": "Push Time",
                        "role": "trigger",
                        "passed": True,
                        "summary": "net buying 2 SOL/min",
                    }
                ],
            )


def mint_of(seed: int) -> str:
    """A deterministic valid mint address."""
    return str(Keypair.from_seed(bytes([seed]) * 32).pubkey())


async def link_wallet(api: Api, keypair: Keypair, headers: dict[str, str]) -> None:
    """Link ``keypair``'s wallet to the caller through the challenge endpoints."""
    r = await api.client.post("/me/wallet/challenge", headers=headers)
    assert r.status_code == 200, r.text
    c = r.json()
    sig = keypair.sign_message(c["message"].encode())
    r = await api.client.post(
        "/me/wallet",
        headers=headers,
        json={"address": str(keypair.pubkey()), "nonce": c["nonce"], "signature": str(sig)},
    )
    assert r.status_code == 200, r.text
    assert r.json()["wallet"] == str(keypair.pubkey())


def curve_mint(sim: SimServer) -> str:
    """A mint with an open bonding curve in the simulator."""
    return next(m for m, c in sim.chain.curves.items() if not c.complete)


@contextlib.asynccontextmanager
async def serve(app: FastAPI) -> AsyncIterator[str]:
    """Serve ``app`` with uvicorn on an ephemeral loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="on")
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()
            await asyncio.sleep(0.01)
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()


async def eventually(check: Callable[[], Awaitable[bool]], *, timeout: float = 10.0) -> None:
    """Wait until ``check`` is true."""
    async with asyncio.timeout(timeout):
        while not await check():
            await asyncio.sleep(0.05)


WSOL = P.WSOL_MINT
