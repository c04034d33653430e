"""The Telegram Mini App: jinja2 pages under ``/app`` and their static files.

Pages are shells rendered in the user's language; their scripts fetch data from the REST API
with ``Authorization: tma <initData>`` and draw it with DOM text nodes, so attacker-controlled
token text is never parsed as HTML. The token and trade pages also render the token's name on
the server (autoescaped) for a meaningful first paint and title.

Telegram opens the app at ``/app``; a ``t.me/<bot>/<app>?startapp=…`` link arrives as
``tgWebAppStartParam`` and is routed here: ``buy_<mint>_<lamports>``, ``sell_<mint>_<bps>``,
``token_<mint>``, ``order_<id>``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import mimetypes
import re
from pathlib import Path
from typing import Any, Final
from urllib.parse import urlencode, urlsplit

import jinja2
from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from engine.services.errors import ServiceError
from engine.services.trade import parse_startapp
from engine.smartmoney.registry import valid_address
from webapp.miniapp import strings
from webapp.miniapp.i18n import LANGUAGES, pick_language, translations

logger = logging.getLogger(__name__)

HERE: Final = Path(__file__).resolve().parent
STATIC_DIR: Final = HERE / "static"
TEMPLATES_DIR: Final = HERE / "templates"
DEFAULT_TELEGRAM_JS: Final = "https://telegram.org/js/telegram-web-app.js"
_MEDIA: Final = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml"}
_START_TOKEN: Final = re.compile(r"^token_([1-9A-HJ-NP-Za-km-z]{32,44})$")
_START_ORDER: Final = re.compile(r"^order_(\d{1,18})$")
_MINT_LIKE: Final = re.compile(r"^[1-9A-HJ-NP-Za-km-z]{32,44}$")

router = APIRouter(prefix="/app", include_in_schema=False)


@functools.cache
def templates() -> jinja2.Environment:
    """The page templates; autoescape is on for every template, whatever its extension."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES_DIR),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        extensions=["jinja2.ext.i18n"],
    )
    return env


@functools.cache
def static_version() -> str:
    """A hash of the static files: changes on deploy, so browsers fetch the new entry files."""
    digest = hashlib.sha256()
    for path in sorted(STATIC_DIR.rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(STATIC_DIR).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def _settings_value(request: Request, name: str, default: Any) -> Any:
    deps = getattr(request.app.state, "deps", None)
    settings = getattr(deps, "settings", None)
    return getattr(settings, name, default) if settings is not None else default


def telegram_js_url(request: Request) -> str:
    """Where telegram-web-app.js comes from (setting ``telegram_webapp_js_url``; empty: none)."""
    url = _settings_value(request, "telegram_webapp_js_url", DEFAULT_TELEGRAM_JS)
    return str(url or "")


def _csp(telegram_js: str) -> str:
    script_src = "'self'"
    if telegram_js:
        parts = urlsplit(telegram_js)
        if parts.scheme and parts.netloc:
            script_src += f" {parts.scheme}://{parts.netloc}"
    # Telegram Web shows Mini Apps in an iframe of web.telegram.org; nobody else may frame us.
    return (
        "default-src 'self'; "
        f"script-src {script_src}; "
        "style-src 'self'; img-src 'self' data:; connect-src 'self'; "
        "base-uri 'none'; form-action 'self'; object-src 'none'; "
        "frame-ancestors 'self' https://web.telegram.org"
    )


def render(
    request: Request,
    template: str,
    *,
    page: str,
    title: str,
    lang: str,
    data: dict[str, Any] | None = None,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    """Render a page in ``lang`` with the config and strings its script reads."""
    tr = translations(lang)
    telegram_js = telegram_js_url(request)
    config = {
        "page": page,
        "lang": lang,
        "languages": list(LANGUAGES),
        "apiBase": "",
        "publicUrl": str(_settings_value(request, "public_url", "")),
        "botUsername": _settings_value(request, "telegram_bot_username", None),
        "appName": _settings_value(request, "telegram_webapp_name", "app"),
        **(data or {}),
    }
    version = static_version()

    def link(path: str, **params: Any) -> str:
        query = {k: v for k, v in params.items() if v is not None}
        query["lang"] = lang
        return f"{path}?{urlencode(query)}"

    html = (
        templates()
        .get_template(template)
        .render(
            _=tr.gettext,
            gettext=tr.gettext,
            ngettext=tr.ngettext,
            lang=lang,
            page=page,
            title=title,
            config=config,
            strings=strings.for_js(tr),
            telegram_js=telegram_js,
            demo_wallet=bool(_settings_value(request, "demo_wallet", False)),
            static=lambda p: f"/app/static/{p}?v={version}",
            link=link,
            **context,
        )
    )
    return HTMLResponse(
        html,
        status_code=status_code,
        headers={
            "Content-Security-Policy": _csp(telegram_js),
            "Cache-Control": "no-store",
            "Referrer-Policy": "no-referrer",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _lang(request: Request, lang: str | None) -> str:
    return pick_language(lang, request.headers.get("accept-language"))


async def _token_names(request: Request, mint: str) -> tuple[str | None, str | None]:
    """(symbol, name) from storage for the first paint; (None, None) when unknown or no DB."""
    deps = getattr(request.app.state, "deps", None)
    if deps is None or not valid_address(mint):
        return None, None
    from engine.services.signals import token_info

    try:
        async with deps.sessions() as session:
            info = await token_info(session, mint=mint)
    except Exception as exc:
        # The page still works: its script loads the token from the API.
        logger.warning("token %s not readable for the page: %s", mint, exc)
        return None, None
    return info.symbol, info.name


def _start_redirect(start: str, lang: str) -> str | None:
    """The page a ``startapp`` value opens, or None when it is not one of ours."""
    m = _START_TOKEN.match(start)
    if m:
        return f"/app/token/{m.group(1)}?{urlencode({'lang': lang})}"
    m = _START_ORDER.match(start)
    if m:
        return f"/app/order/{m.group(1)}?{urlencode({'lang': lang})}"
    try:
        intent = parse_startapp(start)
    except ServiceError:
        return None
    return f"/app/trade?{intent.query()}&{urlencode({'lang': lang})}"


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def signals_page(
    request: Request,
    lang: str | None = None,
    start: str | None = Query(default=None, alias="tgWebAppStartParam", max_length=512),
) -> Response:
    """The signal list (and the entry point that routes a Telegram ``startapp`` link)."""
    language = _lang(request, lang)
    if start:
        target = _start_redirect(start, language)
        if target:
            # 303 keeps the #tgWebAppData fragment: browsers carry it across redirects.
            return RedirectResponse(target, status_code=303)
    tr = translations(language)
    return render(
        request, "signals.html", page="signals", title=tr.gettext("Signals"), lang=language
    )


@router.get("/token/{mint}", response_class=HTMLResponse)
async def token_page(request: Request, mint: str, lang: str | None = None) -> Response:
    """A token: price / market-cap chart, signal, risk, narrative and smart-money activity."""
    language = _lang(request, lang)
    tr = translations(language)
    if not _MINT_LIKE.match(mint):
        return render(
            request,
            "notfound.html",
            page="notfound",
            title=tr.gettext("Not found"),
            lang=language,
            status_code=404,
        )
    symbol, name = await _token_names(request, mint)
    return render(
        request,
        "token.html",
        page="token",
        title=symbol or tr.gettext("Token"),
        lang=language,
        data={"mint": mint},
        mint=mint,
        symbol=symbol,
        name=name,
    )


def _prefill(
    side: str | None,
    sol: str | None,
    lamports: int | None,
    bps: int | None,
    tokens: str | None,
) -> dict[str, Any]:
    prefill: dict[str, Any] = {"side": "sell" if side == "sell" else "buy"}
    if lamports is not None:
        prefill["lamports"] = lamports
    elif sol:
        from engine.services.trade import parse_sol

        try:
            prefill["lamports"] = parse_sol(sol)
        except ServiceError:
            prefill["invalid_amount"] = sol[:24]
    if bps is not None:
        prefill["bps"] = bps
    if tokens:
        prefill["tokens"] = tokens[:40]
    return prefill


@router.get("/trade", response_class=HTMLResponse)
async def trade_page(
    request: Request,
    mint: str | None = Query(default=None, max_length=64),
    side: str | None = Query(default=None, max_length=8),
    sol: str | None = Query(default=None, max_length=24),
    lamports: int | None = Query(default=None, ge=0, lt=1 << 63),
    bps: int | None = Query(default=None, ge=1, le=10_000),
    tokens: str | None = Query(default=None, max_length=40),
    lang: str | None = None,
) -> Response:
    """The buy / sell panel, prefilled from the query (``mint``, ``side``, ``sol`` | ``lamports``
    | ``bps`` | ``tokens``)."""
    language = _lang(request, lang)
    tr = translations(language)
    clean_mint = mint if mint and _MINT_LIKE.match(mint) else None
    symbol, name = await _token_names(request, clean_mint) if clean_mint else (None, None)
    prefill = _prefill(side, sol, lamports, bps, tokens)
    return render(
        request,
        "trade.html",
        page="trade",
        title=tr.gettext("Trade"),
        lang=language,
        data={"mint": clean_mint, "prefill": prefill},
        mint=clean_mint,
        symbol=symbol,
        name=name,
        side=prefill["side"],
    )


@router.get("/order/{trade_id}", response_class=HTMLResponse)
async def order_page(request: Request, trade_id: int, lang: str | None = None) -> Response:
    """One order's status, followed until it confirms, fails or expires."""
    language = _lang(request, lang)
    tr = translations(language)
    return render(
        request,
        "order.html",
        page="order",
        title=tr.gettext("Order"),
        lang=language,
        data={"tradeId": trade_id},
        trade_id=trade_id,
    )


@router.get("/watchlist", response_class=HTMLResponse)
async def watchlist_page(request: Request, lang: str | None = None) -> Response:
    """The user's tracked wallets: balance, monitor count, add and remove."""
    language = _lang(request, lang)
    tr = translations(language)
    return render(
        request, "watchlist.html", page="watchlist", title=tr.gettext("Watchlist"), lang=language
    )


@router.get("/rules", response_class=HTMLResponse)
async def rules_page(request: Request, lang: str | None = None) -> Response:
    """The user's effective signal rules, each with an on/off switch."""
    language = _lang(request, lang)
    tr = translations(language)
    return render(request, "rules.html", page="rules", title=tr.gettext("Rules"), lang=language)


@router.get("/phantom", response_class=HTMLResponse)
async def phantom_page(request: Request, lang: str | None = None) -> Response:
    """The Phantom deeplink bridge: connect, sign and the redirects back, outside Telegram."""
    language = _lang(request, lang)
    tr = translations(language)
    return render(
        request, "phantom.html", page="phantom", title=tr.gettext("Phantom"), lang=language
    )


@functools.lru_cache(maxsize=256)
def _static_body(target: Path) -> tuple[bytes, str]:
    """A static file's bytes and ETag, read and hashed once per process (like
    :func:`static_version`: the files ship with the release)."""
    body = target.read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:16] + '"'


@router.get("/static/{path:path}")
async def static_file(request: Request, path: str) -> Response:
    """A static file of the Mini App (CSS, JS modules), revalidated by ETag."""
    target = (STATIC_DIR / path).resolve()
    if not target.is_relative_to(STATIC_DIR) or not target.is_file():
        return Response("not found", status_code=404, media_type="text/plain")
    body, etag = _static_body(target)
    headers = {
        "ETag": etag,
        # Module imports carry no version in their URL: always revalidate (a 304 is cheap).
        "Cache-Control": "no-cache",
        "X-Content-Type-Options": "nosniff",
    }
    if request.headers.get("if-none-match") == etag:
        return Response(status_code=304, headers=headers)
    media = _MEDIA.get(target.suffix) or mimetypes.guess_type(target.name)[0]
    return Response(body, media_type=media or "application/octet-stream", headers=headers)
