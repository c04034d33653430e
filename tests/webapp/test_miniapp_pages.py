"""The Mini App pages: each renders (EN/FR, escaped), startapp routing, static files, catalogues,
and, in Chromium, the scripts: Solana wire format, hostile token text, charts, prefills.

The browser tests serve the pages over loopback and answer the API calls with canned JSON in
the shapes of ``webapp/schemas.py`` (Playwright routes), so they test the scripts alone.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import re
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any, Literal

import base58
import httpx
import jinja2
import pytest
import uvicorn
from fastapi import FastAPI
from solders.hash import Hash
from solders.instruction import AccountMeta, Instruction
from solders.keypair import Keypair
from solders.message import Message, MessageV0, to_bytes_versioned
from solders.pubkey import Pubkey
from solders.transaction import VersionedTransaction

from engine.settings import load_settings
from engine.storage.models import Token
from tests.conftest import Db
from webapp.miniapp import strings
from webapp.miniapp.i18n import LANGUAGES, catalogue_path, pick_language, translations
from webapp.miniapp.routes import STATIC_DIR, TEMPLATES_DIR, router

CHROMIUM = os.environ.get("SOLAI_TEST_CHROMIUM") or "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Belt and braces for "no external network": no host name resolves except localhost.
    "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE localhost, EXCLUDE 127.0.0.1",
]
MINT = "8EC66Yer3pS3FC8NZHanTkJar3249hwayWP8dHh9KNc7"
HOSTILE = '<img src=x onerror="window.__pwned=1">'
HOSTILE_NAME = '"><script>window.__pwned=2</script>'


# -- helpers shared with test_miniapp_browser.py -------------------------------------------------


def chromium_or_skip() -> str:
    """Debian's Chromium, or skip (fail under CI, where .ci/run installs it)."""
    if Path(CHROMIUM).is_file() and os.access(CHROMIUM, os.X_OK):
        return CHROMIUM
    if IN_CI:
        pytest.fail(f"Chromium not found at {CHROMIUM}: under CI the browser tests must run")
    pytest.skip(
        f"Chromium not found at {CHROMIUM} (apt-get install chromium, or set SOLAI_TEST_CHROMIUM)"
    )


class _Server(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        # Inside pytest's event loop: leave Ctrl-C to pytest.
        yield


@contextlib.asynccontextmanager
async def serve(app: Any, *, lifespan: Literal["auto", "on", "off"] = "off") -> AsyncIterator[str]:
    """Serve an ASGI app with uvicorn on an ephemeral loopback port; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    server = _Server(
        uvicorn.Config(app, log_level="warning", lifespan=lifespan, ws="websockets-sansio")
    )
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        for _ in range(500):
            if server.started:
                break
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await asyncio.wait_for(task, 10)
        sock.close()


@contextlib.asynccontextmanager
async def browser(tmp_path: Path, *, locale: str = "en-US") -> AsyncIterator[Any]:
    """A headless Chromium context with a fresh user-data-dir; page errors fail the test."""
    from playwright.async_api import async_playwright

    executable = chromium_or_skip()
    async with async_playwright() as pw:
        context = await pw.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=executable,
            headless=True,
            args=CHROMIUM_ARGS,
            locale=locale,
            viewport={"width": 420, "height": 860},
            device_scale_factor=2,
        )
        try:
            yield context
        finally:
            await context.close()


def watch_errors(page: Any) -> list[str]:
    """Collect uncaught page errors and console errors."""
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(f"pageerror: {exc}"))

    def on_console(msg: Any) -> None:
        # Failed loads (telegram.org, unresolvable on purpose; refused API calls) are expected.
        if msg.type == "error" and "Failed to load resource" not in msg.text:
            errors.append(f"console: {msg.text}")

    page.on("console", on_console)
    return errors


def bare_app(deps: Any = None) -> FastAPI:
    """An app with only the Mini App router (the API is answered by Playwright routes)."""
    app = FastAPI()
    app.include_router(router)
    if deps is not None:
        app.state.deps = deps
    return app


# -- server-side rendering -------------------------------------------------------------------------


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=bare_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


PAGES = [
    "/app",
    f"/app/token/{MINT}",
    f"/app/trade?mint={MINT}&side=buy&sol=0.1",
    "/app/order/7",
    "/app/watchlist",
    "/app/rules",
    "/app/phantom",
]


def _config(html: str) -> dict[str, Any]:
    m = re.search(r'<script type="application/json" id="solai-config">(.*?)</script>', html)
    assert m, "page has no config"
    return dict(json.loads(m.group(1)))


def _strings(html: str) -> dict[str, str]:
    m = re.search(r'<script type="application/json" id="solai-strings">(.*?)</script>', html)
    assert m, "page has no strings"
    return dict(json.loads(m.group(1)))


@pytest.mark.parametrize("path", PAGES)
async def test_every_page_renders_in_english_and_french(
    client: httpx.AsyncClient, path: str
) -> None:
    en = await client.get(path)
    assert en.status_code == 200, en.text
    assert en.headers["content-type"].startswith("text/html")
    csp = en.headers["content-security-policy"]
    assert "script-src 'self' https://telegram.org" in csp and "object-src 'none'" in csp
    assert '<html lang="en"' in en.text
    assert '<script src="https://telegram.org/js/telegram-web-app.js"></script>' in en.text
    assert _config(en.text)["lang"] == "en"
    assert _strings(en.text)["buy"] == "Buy"

    fr = await client.get(path, headers={"accept-language": "fr-FR,fr;q=0.9,en;q=0.8"})
    assert fr.status_code == 200
    assert '<html lang="fr"' in fr.text
    assert ">Signaux</a>" in fr.text and ">Règles</a>" in fr.text
    assert _strings(fr.text)["buy"] == "Acheter"
    assert _config(fr.text)["lang"] == "fr"


async def test_lang_parameter_beats_accept_language(client: httpx.AsyncClient) -> None:
    r = await client.get("/app?lang=en", headers={"accept-language": "fr"})
    assert '<html lang="en"' in r.text
    assert 'href="/app/watchlist?lang=en"' in r.text  # links keep the chosen language


def test_pick_language() -> None:
    assert pick_language(None, None) == "en"
    assert pick_language("fr_CA", "en") == "fr"
    assert pick_language("de", "de-DE,fr;q=0.5,en;q=0.4") == "fr"
    assert pick_language(None, "en;q=0.2, fr;q=0.9") == "fr"
    assert pick_language(None, "es, de;q=0.8") == "en"
    assert pick_language(None, "fr;q=0, en") == "en"
    assert pick_language(None, "fr;q=bad") == "en"


async def test_token_page_escapes_a_hostile_name(db: Db, tmp_path: Path) -> None:
    async with db.sessions() as session, session.begin():
        session.add(
            Token(mint=MINT, name=HOSTILE_NAME, symbol=HOSTILE, venue="pumpfun", updated_ts=1)
        )
    deps = SimpleNamespace(sessions=db.sessions, settings=load_settings(database_url=db.url))
    transport = httpx.ASGITransport(app=bare_app(deps))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        for path in (f"/app/token/{MINT}", f"/app/trade?mint={MINT}&side=buy"):
            html = (await c.get(path)).text
            assert "<img src=x" not in html and "<script>window" not in html
            assert "&lt;img src=x onerror=&#34;window.__pwned=1&#34;&gt;" in html
            assert "&#34;&gt;&lt;script&gt;window.__pwned=2&lt;/script&gt;" in html


async def test_unknown_mint_and_bad_paths(client: httpx.AsyncClient) -> None:
    r = await client.get("/app/token/not-a-mint<script>")
    assert r.status_code == 404 and "<script>" not in r.text.split("</head>")[1]
    assert (await client.get("/app/order/abc")).status_code == 422


@pytest.mark.parametrize(
    ("start", "target"),
    [
        (f"buy_{MINT}_100000000", f"/app/trade?side=buy&mint={MINT}&lamports=100000000&lang=en"),
        (f"sell_{MINT}_5000", f"/app/trade?side=sell&mint={MINT}&bps=5000&lang=en"),
        (f"token_{MINT}", f"/app/token/{MINT}?lang=en"),
        ("order_42", "/app/order/42?lang=en"),
    ],
)
async def test_startapp_links_open_their_page(
    client: httpx.AsyncClient, start: str, target: str
) -> None:
    r = await client.get(f"/app?tgWebAppStartParam={start}")
    assert r.status_code == 303
    assert r.headers["location"] == target


async def test_unknown_startapp_shows_the_signal_list(client: httpx.AsyncClient) -> None:
    for start in ("hello", f"buy_{MINT}_1", "sell_x_5"):
        r = await client.get("/app", params={"tgWebAppStartParam": start})
        assert r.status_code == 200 and _config(r.text)["page"] == "signals"


async def test_trade_page_prefill_from_query(client: httpx.AsyncClient) -> None:
    cfg = _config((await client.get(f"/app/trade?mint={MINT}&side=buy&sol=0.25")).text)
    assert cfg["mint"] == MINT and cfg["prefill"] == {"side": "buy", "lamports": 250_000_000}
    cfg = _config((await client.get(f"/app/trade?mint={MINT}&side=sell&bps=2500")).text)
    assert cfg["prefill"] == {"side": "sell", "bps": 2500}
    cfg = _config((await client.get("/app/trade?mint=nope&sol=1e9")).text)
    assert cfg["mint"] is None and cfg["prefill"]["invalid_amount"] == "1e9"


async def test_static_files(client: httpx.AsyncClient) -> None:
    r = await client.get("/app/static/js/core.js")
    assert r.status_code == 200
    assert r.headers["content-type"].startswith("text/javascript")  # module scripts need it
    assert r.headers["x-content-type-options"] == "nosniff"
    again = await client.get("/app/static/js/core.js", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304
    css = await client.get("/app/static/css/app.css")
    assert css.headers["content-type"].startswith("text/css")
    for bad in (
        "/app/static/..%2Froutes.py",
        "/app/static/%2e%2e/routes.py",
        "/app/static/nope.js",
    ):
        assert (await client.get(bad)).status_code == 404


def test_no_script_inserts_html() -> None:
    # Token text is attacker-controlled: scripts build DOM with text nodes only.
    for js in STATIC_DIR.rglob("*.js"):
        sink = re.search(
            r"\.(inner|outer)HTML\s*\+?=|insertAdjacentHTML\(|document\.write|\beval\(|"
            r"new Function\(|DOMParser|createContextualFragment",
            js.read_text(),
        )
        assert sink is None, f"{js.name} uses {sink and sink.group(0)}"


# -- catalogues ----------------------------------------------------------------------------------


def _template_msgids() -> set[str]:
    env = jinja2.Environment(extensions=["jinja2.ext.i18n"])
    ids: set[str] = set()
    for path in TEMPLATES_DIR.glob("*.html"):
        # extract_translations is added to the environment by the i18n extension.
        extract = env.extract_translations  # type: ignore[attr-defined]
        for _lineno, _func, message in extract(path.read_text()):
            if isinstance(message, str):
                ids.add(message)
    return ids


def test_every_string_has_a_french_translation() -> None:
    from babel.messages.pofile import read_po

    wanted = _template_msgids() | set(strings.JS_STRINGS.values())
    assert len(wanted) > 100
    for lang in LANGUAGES:
        with catalogue_path(lang).open("rb") as fh:
            catalog = read_po(fh, locale=lang)
        present = {m.id for m in catalog if m.id}
        assert not wanted - present, f"{lang}: missing {sorted(wanted - present)}"
        if lang == "fr":
            untranslated = [m.id for m in catalog if m.id and (not m.string or m.fuzzy)]
            assert not untranslated, f"untranslated in fr: {untranslated}"
    fr = translations("fr")
    # Placeholders survive translation (the scripts fill them by name).
    for msgid in wanted:
        names = set(re.findall(r"%\((\w+)\)s", msgid))
        assert set(re.findall(r"%\((\w+)\)s", fr.gettext(msgid))) == names, msgid


# -- scripts, in Chromium --------------------------------------------------------------------------


def _page_url(base: str, path: str) -> str:
    return f"{base}{path}"


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[str]:
    async with serve(bare_app()) as base:
        yield base


async def test_solana_wire_format_matches_solders(site: str, tmp_path: Path) -> None:
    payer, other = Keypair(), Keypair()
    program = Pubkey.from_string("11111111111111111111111111111111")
    ix = Instruction(
        program,
        bytes([2, 0, 0, 0]) + (5000).to_bytes(8, "little"),
        [AccountMeta(payer.pubkey(), True, True), AccountMeta(other.pubkey(), True, True)],
    )
    blockhash = Hash.new_unique()
    v0 = MessageV0.try_compile(payer.pubkey(), [ix], [], blockhash)
    legacy = Message.new_with_blockhash([ix], payer.pubkey(), blockhash)
    signed_v0 = VersionedTransaction(v0, [payer, other])
    # An unsigned transaction as the server sends it: zeroed signature slots.
    zero = bytes(64)
    unsigned_v0 = bytes([2]) + zero + zero + bytes(to_bytes_versioned(v0))
    unsigned_legacy = bytes([2]) + zero + zero + bytes(legacy)
    msg_bytes = bytes(to_bytes_versioned(v0))
    sig_other = bytes(other.sign_message(msg_bytes))
    async with browser(tmp_path) as ctx:
        page = await ctx.new_page()
        errors = watch_errors(page)
        await page.goto(_page_url(site, "/app/rules"))
        result = await page.evaluate(
            """async ([v0, legacy, payer, other, sigOther, sigPayer]) => {
              const m = await import('/app/static/js/solana.js');
              const b = (x) => m.base64ToBytes(x);
              const out = {};
              const p = m.parseTransaction(b(v0));
              out.version = p.version;
              out.header = p.header;
              out.keys = p.accountKeys.map(m.base58Encode);
              out.blockhash = m.base58Encode(p.recentBlockhash);
              out.slotOther = m.signerIndex(p, m.base58Decode(other));
              out.slotPayer = m.signerIndex(p, m.base58Decode(payer));
              let signed = m.withSignature(b(v0), m.base58Decode(other), b(sigOther));
              signed = m.withSignature(signed, m.base58Decode(payer), b(sigPayer));
              out.signed = m.bytesToBase64(signed);
              out.sameMessage = m.sameMessage(b(v0), signed);
              out.unsignedId = m.signatureOf(b(v0));
              out.id = m.signatureOf(signed);
              const l = m.parseTransaction(b(legacy));
              out.legacyVersion = l.version;
              out.legacyKeys = l.accountKeys.map(m.base58Encode);
              out.shortvec = [0, 1, 127, 128, 255, 16383, 16384, 65535].map((n) => {
                const e = m.encodeShortVec(n);
                return [Array.from(e), m.decodeShortVec(e, 0)];
              });
              const bad = [];
              for (const raw of [[0x80, 0x00], [0xff, 0xff, 0xff], [0x80, 0x80, 0x04], [0x80]]) {
                try { m.decodeShortVec(Uint8Array.from(raw), 0); bad.push('accepted'); }
                catch (e) { bad.push('refused'); }
              }
              out.bad = bad;
              try {
                m.withSignature(b(v0), new Uint8Array(32), b(sigOther));
                out.stranger = 'signed';
              } catch (e) { out.stranger = 'refused'; }
              out.b58zeros = m.base58Encode(Uint8Array.from([0, 0, 1, 2]));
              out.b58back = Array.from(m.base58Decode(out.b58zeros));
              return out;
            }""",
            [
                base64.b64encode(unsigned_v0).decode(),
                base64.b64encode(unsigned_legacy).decode(),
                str(payer.pubkey()),
                str(other.pubkey()),
                base64.b64encode(sig_other).decode(),
                base64.b64encode(bytes(payer.sign_message(msg_bytes))).decode(),
            ],
        )
        assert not errors, errors
    assert result["version"] == 0 and result["legacyVersion"] == "legacy"
    assert result["header"] == {
        "numRequiredSignatures": 2,
        "numReadonlySigned": 0,
        "numReadonlyUnsigned": 1,
    }
    assert result["keys"] == [str(k) for k in v0.account_keys]
    assert result["legacyKeys"] == [str(k) for k in legacy.account_keys]
    assert result["blockhash"] == str(blockhash)
    assert (result["slotPayer"], result["slotOther"]) == (0, 1)
    # Placing both signatures gives byte for byte what solders signs.
    assert base64.b64decode(result["signed"]) == bytes(signed_v0)
    assert result["sameMessage"] is True
    assert result["unsignedId"] == ""
    assert result["id"] == str(signed_v0.signatures[0])
    expected_shortvec = {0: [0], 1: [1], 127: [127], 128: [128, 1], 255: [255, 1]}
    for n, (enc, (value, used)) in zip(
        [0, 1, 127, 128, 255, 16383, 16384, 65535], result["shortvec"], strict=True
    ):
        assert value == n and used == len(enc)
        if n in expected_shortvec:
            assert enc == expected_shortvec[n]
    assert result["shortvec"][-1][0] == [255, 255, 3]
    assert result["bad"] == ["refused"] * 4
    assert result["stranger"] == "refused"
    assert result["b58zeros"] == base58.b58encode(bytes([0, 0, 1, 2])).decode()
    assert result["b58back"] == [0, 0, 1, 2]


def _signal(i: int, now: int, **over: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "id": 100 + i,
        "ts": now - 60_000 * (i + 1),
        "mint": MINT,
        "symbol": HOSTILE,
        "name": HOSTILE_NAME,
        "strength": 2.31 - i * 0.4,
        "components": {"smart_burst": 2.8, "momentum": 2.1, "liquidity": 1.4, "risk": 3.0},
        "rules": [
            {
                "name": "smart_burst",
                "kind": "smart_burst",
                "title": "Smart-money burst",
                "role": "trigger",
                "passed": True,
                "summary": "3 smart wallets bought 4.2 SOL within 2 min",
            }
        ],
        "risk": {
            "known": True,
            "level": "low",
            "badges": ["sell_unverified"],
            "blocks_buy": False,
            "checked_ts": now - 30_000,
        },
        "narrative": f"{HOSTILE} is pumping",
        "explanation": None,
    }
    base.update(over)
    return base


def _points(now: int, n: int = 60) -> list[dict[str, Any]]:
    out = []
    price = 30.0
    for i in range(n):
        price *= 1.0 + (0.02 if i % 7 < 5 else -0.03)
        out.append(
            {
                "ts": now - (n - i) * 60_000,
                "price": price / 1e6,
                "mcap": int(price * 1e9),
                "volume": None,
                "trades": None,
            }
        )
    return out


def _token(now: int) -> dict[str, Any]:
    return {
        "mint": MINT,
        "name": HOSTILE_NAME,
        "symbol": HOSTILE,
        "venue": "pumpfun",
        "complete": False,
        "created_ts": now - 3_600_000,
        "decimals": 6,
        "supply": "1000000000000000",
        "price_lamports_per_token": 0.000031,
        "market_cap_lamports": 31_000_000_000,
        "liquidity_lamports": 42_000_000_000,
        "volume_24h_lamports": 120_000_000_000,
        "risk": _signal(0, now)["risk"],
        "signal": _signal(0, now),
        "smart_buys": [
            {"wallet": MINT, "alias": HOSTILE, "lamports": 1_500_000_000, "ts": now - 90_000}
        ],
        "near_miss": None,
    }


async def _mock_api(ctx: Any, calls: list[tuple[str, str, dict[str, str]]]) -> None:
    now = int(time.time() * 1000)

    async def handle(route: Any) -> None:
        req = route.request
        path = req.url.split("/", 3)[3].split("?")[0]
        calls.append((req.method, "/" + path, dict(req.headers)))
        body: Any
        status = 200
        if path == "signals":
            body = {"items": [_signal(i, now) for i in range(3)], "next_cursor": None}
        elif path == f"tokens/{MINT}":
            body = _token(now)
        elif path == f"tokens/{MINT}/timeseries":
            body = {
                "mint": MINT,
                "since_ts": now - 3_600_000,
                "until_ts": now,
                "interval_ms": 60_000,
                "fields": ["price", "mcap"],
                "points": _points(now),
            }
        elif path == "me":
            body = {"error": {"code": "bad_hash", "message": "initData hash mismatch"}}
            status = 401
        elif path == "smart-activity":
            body = {"items": [], "next_cursor": None}
        elif path == "trade/quote":
            body = {"error": {"code": "unauthorized", "message": "sign in"}}
            status = 401
        else:
            body = {"error": {"code": "not_found", "message": path}}
            status = 404
        await route.fulfill(status=status, content_type="application/json", body=json.dumps(body))

    api = re.compile(r"^http://127\.0\.0\.1:\d+/(signals|tokens|me|smart-activity|trade)\b")
    await ctx.route(api, handle)


async def test_hostile_token_text_is_shown_as_text(site: str, tmp_path: Path) -> None:
    calls: list[tuple[str, str, dict[str, str]]] = []
    async with browser(tmp_path) as ctx:
        await _mock_api(ctx, calls)
        page = await ctx.new_page()
        errors = watch_errors(page)
        await page.goto(_page_url(site, "/app"))
        await page.wait_for_selector(".card")
        assert await page.locator(".card").count() == 3
        first = page.locator(".card").first
        assert await first.locator(".sym").text_content() == f"${HOSTILE}"
        assert await first.locator(".name").text_content() == HOSTILE_NAME
        assert await first.locator(".str").text_content() == "2.31"
        await page.wait_for_selector(".card .spark path.spark-line")

        await page.goto(_page_url(site, f"/app/token/{MINT}"))
        await page.wait_for_selector("#chart svg path.chart-line")
        assert await page.locator("#token-symbol").text_content() == f"${HOSTILE}"
        assert await page.locator("#narrative").text_content() == f"{HOSTILE} is pumping"
        assert await page.locator("#smart-table tbody td").first.text_content() == HOSTILE
        assert await page.locator(".bar").count() == 4
        # The chart switches series and window.
        await page.click("#chart-field button[data-field=mcap]")
        await page.wait_for_selector("#chart svg path.chart-line")
        pwned = await page.evaluate("window.__pwned")
        injected = await page.evaluate("document.querySelectorAll('main img, main script').length")
        assert pwned is None and injected == 0
        # No initData here: anonymous calls carry no Authorization header.
        assert all("authorization" not in h for _, _, h in calls)
        assert not [e for e in errors if "401" not in e], errors


async def test_refused_init_data_is_shown_and_french_strings_are_used(
    site: str, tmp_path: Path
) -> None:
    calls: list[tuple[str, str, dict[str, str]]] = []
    stub = """window.Telegram = {WebApp: {initData: 'user=%7B%22id%22%3A1%7D&hash=bad',
        initDataUnsafe: {user: {id: 1, language_code: 'fr'}}, colorScheme: 'dark',
        themeParams: {bg_color: '#101820', text_color: '#f0f0f0', button_color: '#ff8800'},
        ready() {}, expand() {}, onEvent() {},
        BackButton: {show() {}, hide() {}, onClick() {}}}};"""
    async with browser(tmp_path) as ctx:
        await ctx.add_init_script(stub)
        await _mock_api(ctx, calls)
        page = await ctx.new_page()
        await page.goto(_page_url(site, f"/app/trade?mint={MINT}&side=buy&sol=0.1"))
        # Telegram says French: the page reloads itself with ?lang=fr.
        await page.wait_for_url(re.compile(r"lang=fr"))
        await page.wait_for_selector("#banner:not([hidden])")
        text = await page.locator("#banner").text_content()
        assert text is not None and "La connexion Telegram a été refusée" in text
        assert "initData hash mismatch" in text
        assert await page.input_value("#amount") == "0.1"
        assert (
            await page.locator("#side button[data-side=buy]").get_attribute("aria-pressed")
            == "true"
        )
        # Telegram's theme became our CSS variables.
        bg = await page.evaluate("getComputedStyle(document.body).backgroundColor")
        assert bg == "rgb(16, 24, 32)"
        auth = [h.get("authorization") for _, p, h in calls if p == "/me"]
        assert auth and auth[-1] == "tma user=%7B%22id%22%3A1%7D&hash=bad"
        assert await page.locator("#submit").is_disabled()


async def test_start_param_from_telegram_opens_the_trade_page(site: str, tmp_path: Path) -> None:
    stub = f"""window.Telegram = {{WebApp: {{initData: '', initDataUnsafe: {{
        start_param: 'buy_{MINT}_250000000'}}, themeParams: {{}},
        ready() {{}}, expand() {{}}}}}};"""
    async with browser(tmp_path) as ctx:
        await ctx.add_init_script(stub)
        await _mock_api(ctx, [])
        page = await ctx.new_page()
        await page.goto(_page_url(site, "/app"))
        await page.wait_for_url(re.compile(r"/app/trade\?"))
        assert await page.input_value("#amount") == "0.25"


async def test_phantom_deeplink_bridge_round_trips(site: str, tmp_path: Path) -> None:
    wallet = str(Keypair().pubkey())
    seen: list[tuple[str, dict[str, Any], dict[str, str]]] = []
    answers: dict[str, Any] = {
        "trade/phantom/connect": {"url": "https://phantom.app/ul/v1/connect?x=1", "state": "S1"},
        "trade/phantom/connected": {"public_key": wallet, "session": "SESS", "state": "S2"},
        "trade/prepare": {"prepared_id": "P1", "wallet": wallet, "transaction": "VFg="},
        "trade/phantom/sign": {"url": "https://phantom.app/ul/v1/signTransaction?y=2"},
        "trade/phantom/signed": {"signed_transaction": "U1RY"},
        "trade/submit": {"id": 9, "status": "confirmed"},
    }

    async def handle(route: Any) -> None:
        req = route.request
        path = req.url.split("/", 3)[3].split("?")[0]
        seen.append((path, json.loads(req.post_data or "null") or {}, dict(req.headers)))
        await route.fulfill(content_type="application/json", body=json.dumps(answers[path]))

    async with browser(tmp_path) as ctx:
        await ctx.route(re.compile(r"^http://127\.0\.0\.1:\d+/trade/"), handle)
        page = await ctx.new_page()
        errors = watch_errors(page)
        await page.goto(
            f"{site}/app/phantom?mint={MINT}&side=buy&amount=100000000&lang=en#tgWebAppData=a%3D1"
        )
        await page.wait_for_selector("#phantom-go:not([hidden])")
        assert (
            await page.get_attribute("#phantom-go", "href")
            == answers["trade/phantom/connect"]["url"]
        )
        redirect = seen[0][1]["redirect_link"]
        assert redirect.startswith(f"{site}/app/phantom?step=connected&flow=")
        assert seen[0][2]["authorization"] == "tma a=1"

        # Phantom comes back (a new tab of the same browser) with its encrypted answer.
        page2 = await ctx.new_page()
        await page2.goto(f"{redirect}&phantom_encryption_public_key=PK&nonce=N1&data=D1")
        await page2.wait_for_selector("#phantom-go[href*=signTransaction]")
        bodies = {p: b for p, b, _ in seen}
        assert bodies["trade/phantom/connected"] == {
            "state": "S1",
            "phantom_encryption_public_key": "PK",
            "nonce": "N1",
            "data": "D1",
        }
        assert bodies["trade/prepare"] == {
            "mint": MINT,
            "side": "buy",
            "amount": 100_000_000,
            "priority_fee_lamports": 0,
        }
        sign = bodies["trade/phantom/sign"]
        assert (sign["state"], sign["session"], sign["transaction"]) == ("S2", "SESS", "VFg=")
        assert sign["redirect_link"].replace("step=signed", "step=connected") == redirect

        await page2.goto(f"{sign['redirect_link']}&nonce=N2&data=D2")
        await page2.wait_for_selector("#phantom-go[href*='/app/order/9']")
        assert await page2.text_content("#phantom-status") == "Confirmed"
        submit = next(h for p, _, h in seen if p == "trade/submit")
        assert re.fullmatch(r"[0-9a-f-]{36}", submit["idempotency-key"])
        assert {p: b for p, b, _ in seen}["trade/submit"] == {
            "prepared_id": "P1",
            "signed_transaction": "U1RY",
        }
        assert all(h.get("authorization") == "tma a=1" for _, _, h in seen)

        # The flow is over: replaying the redirect finds nothing to continue.
        await page2.goto(f"{sign['redirect_link']}&nonce=N2&data=D2")
        await page2.wait_for_selector("#banner:not([hidden])")
        assert "unknown or expired" in (await page2.text_content("#banner") or "")
        assert not errors, errors
