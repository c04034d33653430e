"""End to end in Chromium: open the Mini App with valid Telegram initData, pick a signal, buy
0.1 SOL, the injected test wallet signs, and the swap confirms on the chain simulator; the same
with tampered initData is refused on the page.

Everything real runs on loopback: the simulator (``engine.sim``, demo scenario), the local
Jupiter server over its pools, and the API (``create_app`` over ``open_deps``) under uvicorn. The
database is seeded from the simulator's own transactions: tokens and ticks through the
repositories, signals from the real scorer, risk reports from the real verdict rules over facts
that match the scenario's story. The wallet is a fresh ed25519 keypair funded on the simulator;
in the page it signs with WebCrypto's Ed25519, playing Phantom's injected provider.

Screenshots of the signal list, the token page and the trade panel go to the test's temp dir;
with SOLAI_UPDATE_SCREENSHOTS=1 they refresh docs/screenshots/ (a test never edits the repo).
"""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
import json
import os
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import pytest
from solders.keypair import Keypair
from sqlalchemy import select, update

from engine.clock import FixedClock
from engine.events import ChainEvent
from engine.ids import IdMaker
from engine.risk.model import RiskVerdict, RiskView
from engine.risk.verdict import judge
from engine.settings import RpcProvider, load_settings
from engine.signals.scorer import Scorer
from engine.signals.store import save_signal
from engine.sim.jupiter import LocalJupiter
from engine.sim.scenario import load_scenario
from engine.sim.server import SimServer
from engine.storage.models import Token, Trade
from engine.storage.repos import signals as signal_repo
from engine.storage.repos import tokens as token_repo
from engine.storage.repos import wallets as wallet_repo
from tests.webapp.test_miniapp_pages import browser, serve, watch_errors
from webapp.app import create_app
from workers.jobs.registry import default_registry
from workers.migrate import upgrade_async
from workers.runtime import open_deps

pytestmark = pytest.mark.timeout(90)

REPO = Path(__file__).resolve().parents[2]
DOC_SHOTS = REPO / "docs" / "screenshots"
BOT_TOKEN = "7000000001:AAtest-token-of-the-browser-test-bot"
LAMPORTS = 1_000_000_000
# Telegram's own dark theme, as its clients pass it in themeParams.
TELEGRAM_DARK = {
    "bg_color": "#17212b",
    "secondary_bg_color": "#232e3c",
    "section_bg_color": "#1d2733",
    "text_color": "#f5f5f5",
    "hint_color": "#708499",
    "link_color": "#6ab3f3",
    "button_color": "#5288c1",
    "button_text_color": "#ffffff",
    "section_separator_color": "#111921",
}


def signed_init_data(bot_token: str, user: dict[str, Any], auth_date: int) -> str:
    """initData as Telegram signs it: HMAC-SHA256 under HMAC("WebAppData", bot token) of the
    sorted key=value lines."""
    fields = {
        "auth_date": str(auth_date),
        "query_id": "AAHdF6IQAAAAAN0XohDhrOrc",
        "user": json.dumps(user, separators=(",", ":")),
    }
    check = "\n".join(f"{k}={fields[k]}" for k in sorted(fields))
    secret = hmac.new(b"WebAppData", bot_token.encode(), hashlib.sha256).digest()
    fields["hash"] = hmac.new(secret, check.encode(), hashlib.sha256).hexdigest()
    return urlencode(fields)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def telegram_and_wallet_stub(init_data: str, user: dict[str, Any], wallet: Keypair) -> str:
    """Telegram.WebApp carrying initData, and window.phantom.solana signing with WebCrypto."""
    cfg = {
        "initData": init_data,
        "user": user,
        "theme": TELEGRAM_DARK,
        "address": str(wallet.pubkey()),
        # The keypair as a JWK: the 32-byte seed (d) and the public key (x).
        "d": _b64url(bytes(wallet)[:32]),
        "x": _b64url(bytes(wallet.pubkey())),
    }
    return (
        "(() => { const cfg = "
        + json.dumps(cfg)
        + """;
  const noop = () => {};
  window.Telegram = {WebApp: {
    initData: cfg.initData, initDataUnsafe: {user: cfg.user}, version: '8.0',
    platform: 'tdesktop', colorScheme: 'dark', themeParams: cfg.theme,
    ready: noop, expand: noop, onEvent: noop, BackButton: {show: noop, hide: noop, onClick: noop},
    HapticFeedback: {notificationOccurred: noop},
    showConfirm: (text, cb) => cb(true), openLink: (url) => { window.__opened = url; },
  }};
  const key = crypto.subtle.importKey('jwk', {kty: 'OKP', crv: 'Ed25519', d: cfg.d, x: cfg.x},
    {name: 'Ed25519'}, false, ['sign']);
  const sign = async (bytes) =>
    new Uint8Array(await crypto.subtle.sign('Ed25519', await key, bytes));
  const publicKey = {toBase58: () => cfg.address, toString: () => cfg.address};
  window.__walletCalls = [];
  window.phantom = {solana: {
    isPhantom: true, publicKey: null, isConnected: false,
    async connect() { this.publicKey = publicKey; this.isConnected = true; return {publicKey}; },
    async signMessage(message) {
      window.__walletCalls.push('signMessage');
      return {signature: await sign(message), publicKey};
    },
    // As Phantom does: sign the transaction's message bytes, return the signed transaction.
    async signTransaction(tx) {
      window.__walletCalls.push('signTransaction');
      tx.addSignature(cfg.address, await sign(tx.message.serialize()));
      return tx;
    },
  }};
})();"""
    )


def _verdicts(mints: dict[str, str], now: int) -> dict[str, RiskVerdict]:
    """Risk facts that match the demo scenario's story, judged by the real rules."""
    checked = frozenset({"mint", "holders", "sellability", "lp", "dev"})

    def view(token: str, **facts: Any) -> RiskView:
        known = facts.pop("known", checked)
        return RiskView(mint=mints[token], checked_ts=now, known=known, decimals=6, **facts)

    views = [
        view("MOON", top_holder_pct=7.5, top10_pct=34.0, sellable=True, round_trip_loss_pct=2.1),
        view("RUG", top_holder_pct=12.0, dev_sold_pct=92.0, sellable=True),
        view("TRAP", freeze_authority=mints["TRAP"], sellable=False),
        view("CALM", top_holder_pct=9.0, known=checked - {"sellability"}),
        view("FEE", transfer_fee_bps=1000, sellable=True, round_trip_loss_pct=11.0),
    ]
    return {v.mint: judge(v) for v in views}


async def _seed(deps: Any, sim: SimServer, events: list[ChainEvent], now: int) -> str:
    """Tokens, ticks, smart money, risk reports and signals from the simulator's transactions;
    returns the mint of the graduating pump (MOON)."""
    gen = sim.generator
    mints = {tid: t.mint for tid, t in gen.tokens.items()}
    whales = list(gen.groups.get("whale", []))
    verdicts = _verdicts(mints, now)
    scorer = Scorer(risk=verdicts.get, smart={w: f"whale-{i + 1}" for i, w in enumerate(whales)})
    fired = list(scorer.feed(events))
    async with deps.sessions.begin() as s:
        for ev in events:
            if ev.kind == "create":
                await token_repo.upsert_token_from_create(s, event=ev, now_ms=now)
        for mint in mints.values():
            await token_repo.ensure_token(s, mint=mint, now_ms=now)
        await s.execute(update(Token).values(decimals=6, supply=1_000_000_000_000_000))
        await token_repo.insert_ticks(s, events=events)
        for i, w in enumerate(whales):
            await wallet_repo.ensure_wallet(
                s, address=w, alias=f"whale-{i + 1}", tags=["smart"], featured=True, now_ms=now
            )
        await wallet_repo.record_smart_trades(
            s, events=[e for e in events if e.trader in set(whales) and e.side]
        )
        for verdict in verdicts.values():
            await signal_repo.put_risk_report(
                s,
                mint=verdict.view.mint,
                level=verdict.level,
                badges=list(verdict.badges),
                data={"view": verdict.view.to_dict(), "penalties": verdict.penalties},
                checked_ts=now,
                ttl_ms=3_600_000,
            )
        for sig in fired:
            await save_signal(s, signal=sig, ids=IdMaker(FixedClock(sig.ts), node=1))
    assert any(sig.mint == mints["MOON"] for sig in fired), "the demo pump did not signal"
    return mints["MOON"]


async def test_buy_from_a_signal_confirms_on_the_simulator(
    isolated_env: Path, tmp_sqlite: str, tmp_path: Path
) -> None:
    update_docs = os.environ.get("SOLAI_UPDATE_SCREENSHOTS") == "1"
    SHOTS = DOC_SHOTS if update_docs else tmp_path / "screenshots"
    now = int(time.time() * 1000)
    # The scenario started ten minutes ago, so its trades fall in the charts' last hour.
    scenario = dataclasses.replace(load_scenario("demo"), start_unix_ms=now - 10 * 60_000)
    wallet = Keypair()
    user = {"id": 424242, "first_name": "Ada", "username": "ada_trades", "language_code": "en"}
    good = signed_init_data(BOT_TOKEN, user, now // 1000)
    # Tampered: the same fields and hash, but another user id (an attacker's edit).
    tampered = good.replace("%22id%22%3A424242", "%22id%22%3A1")
    assert tampered != good

    async with SimServer(scenario, seed=7, autostart=False) as sim, LocalJupiter(sim) as jup:
        txs = await sim.emit(600)
        events = [ev for tx in txs for ev in tx.intended]
        sim.chain.fund(str(wallet.pubkey()), 2 * LAMPORTS)
        settings = load_settings(
            database_url=tmp_sqlite,
            rpc_providers=[RpcProvider(name="sim", http_url=sim.http_url, ws_url=sim.ws_url)],
            jupiter_url=jup.url,
            telegram_token=BOT_TOKEN,
            trade_confirm_poll_s=0.2,
        )
        await upgrade_async(settings.database_url)
        async with open_deps(settings, default_registry()) as deps:
            moon = await _seed(deps, sim, events, now)
            app = create_app(deps)
            async with serve(app, lifespan="on") as base, browser(tmp_path) as ctx:
                page = await ctx.new_page()
                errors = watch_errors(page)
                await page.add_init_script(telegram_and_wallet_stub(good, user, wallet))

                # The signal list: pick the demo pump's signal.
                await page.goto(f"{base}/app")
                card = page.locator(f'.card[data-mint="{moon}"]').first
                await card.wait_for()
                await page.wait_for_selector(f'.card[data-mint="{moon}"] .spark path.spark-line')
                SHOTS.mkdir(parents=True, exist_ok=True)
                await page.screenshot(path=str(SHOTS / "miniapp-signals.png"))
                assert (SHOTS / "miniapp-signals.png").stat().st_size > 10_000

                # Its token page: chart, signal, risk, smart money.
                await card.click()
                await page.wait_for_url(f"**/app/token/{moon}**")
                await page.wait_for_selector("#chart svg path.chart-line")
                await page.wait_for_selector("#smart-table tbody tr")
                await page.screenshot(path=str(SHOTS / "miniapp-token.png"), full_page=True)

                # Buy 0.1 SOL.
                await page.click("#buy-link")
                await page.wait_for_url("**/app/trade?**")
                await page.click("#amount-presets button:has-text('0.1 SOL')")
                await page.wait_for_selector("#quote dd")
                await page.wait_for_selector("#submit:not([disabled])")
                await page.screenshot(path=str(SHOTS / "miniapp-trade.png"))
                await page.click("#submit")
                result = page.locator("#result")
                await result.wait_for(timeout=30_000)
                status = await result.get_attribute("data-status")
                banner = await page.locator("#banner").text_content()
                assert status == "confirmed", f"{status}: {banner}"
                calls = await page.evaluate("window.__walletCalls")
                assert calls == ["signMessage", "signTransaction"]
                assert not errors, errors

                # The API and the simulator agree: one trade, landed, tokens in the wallet.
                auth = {"Authorization": f"tma {good}"}
                async with httpx.AsyncClient(base_url=base, headers=auth) as api:
                    me = (await api.get("/me")).json()
                    assert me["wallet"] == str(wallet.pubkey())
                    trades = (await api.get("/trades")).json()
                assert len(trades) == 1
                trade = trades[0]
                assert trade["status"] == "confirmed" and trade["mint"] == moon
                assert trade["in_amount"] == LAMPORTS // 10
                landed = sim.ledger.get(trade["signature"])
                assert landed is not None and landed.err is None
                assert sim.chain.balance(str(wallet.pubkey()), moon) == trade["out_amount"] > 0
                spent = 2 * LAMPORTS - sim.chain.lamports_of(str(wallet.pubkey()))
                assert LAMPORTS // 10 <= spent < LAMPORTS // 10 + 10_000_000

                # Tampered initData: the page shows the refusal; nothing is traded.
                bad = await ctx.new_page()
                await bad.add_init_script(telegram_and_wallet_stub(tampered, user, wallet))
                await bad.goto(f"{base}/app/trade?mint={moon}&side=buy&sol=0.1")
                await bad.wait_for_selector("#banner:not([hidden])")
                text = await bad.locator("#banner").text_content()
                assert text is not None and "Telegram sign-in was refused" in text
                assert await bad.locator("#submit").is_disabled()
                refused = await bad.evaluate(
                    """async ([init, mint]) => (await fetch('/trade/prepare', {method: 'POST',
                        headers: {Authorization: 'tma ' + init, 'Content-Type': 'application/json'},
                        body: JSON.stringify({mint, side: 'buy', amount: 100000000})})).status""",
                    [tampered, moon],
                )
                assert refused == 401
                async with deps.sessions() as s:
                    assert len((await s.scalars(select(Trade))).all()) == 1
