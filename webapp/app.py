"""The FastAPI application: built by ``create_app`` around an already-open ``Deps``.

REST routers live in ``webapp.api`` (thin: parse, call ``engine.services`` / ``engine.trade``,
answer a schema of ``webapp.schemas``), the WebSocket stream in ``webapp.stream``, auth and rate
limits in ``webapp.auth``. The Mini App's pages are included when ``webapp.miniapp`` is present.
Every error, whatever raised it, leaves in one shape: ``{"error": {"code", "message"},
"request_id"}``.
"""

from __future__ import annotations

import asyncio
import contextlib
import importlib
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Final

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from engine.deps import Deps
from engine.services.errors import ServiceError
from engine.trade.jupiter import JupiterClient, JupiterError
from webapp.api import admin, market, me, rules, trade, wallets
from webapp.api.deps import DepsDep, too_many
from webapp.auth import AuthError, RateLimiter
from webapp.errors import errors
from webapp.schemas import ReadinessPublic
from webapp.stream import StreamHub
from webapp.stream import router as stream_router

log = logging.getLogger(__name__)

UNLIMITED_PREFIXES: Final = ("/ops/liveness", "/app/static/")
READINESS_TIMEOUT_S: Final = 2.0
"""Each readiness check fails after this long: a silent database must not hang the probe."""
_STATUS_CODES: Final = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    429: "rate_limited",
}


def error_body(request: Request, code: str, message: str) -> dict[str, Any]:
    """The one error shape of the API."""
    return {
        "error": {"code": code, "message": message},
        "request_id": getattr(request.state, "request_id", None),
    }


def _client_ip(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def create_app(deps: Deps, *, jupiter: JupiterClient | None = None) -> FastAPI:
    """Build the API over open resources (the caller opens and closes them).

    ``jupiter`` defaults to a client for ``SOLAI_JUPITER_URL``, closed with the app.
    """
    settings = deps.settings
    owns_jupiter = jupiter is None
    if jupiter is None:
        key = settings.jupiter_api_key.get_secret_value() if settings.jupiter_api_key else None
        jupiter = JupiterClient(
            settings.jupiter_url, api_key=key, timeout_s=settings.jupiter_timeout_s
        )
    hub = StreamHub(deps)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hub.stop()
            if owns_jupiter:
                await app.state.jupiter.aclose()

    app = FastAPI(
        title="SolAI Signals API",
        version="0.1.0",
        description=(
            "Signals, tokens, smart money and non-custodial trading for Solana memecoins. "
            "Authenticate with `Authorization: tma <initData>` (Telegram Mini App), "
            "`Authorization: Bearer <api key>` or `X-API-Key`. Timestamps are ms UTC; money is "
            "integer lamports / raw token units. Errors: "
            '`{"error": {"code", "message"}, "request_id"}`.'
        ),
        lifespan=lifespan,
        responses=errors(429),
    )
    app.state.deps = deps
    app.state.jupiter = jupiter
    app.state.hub = hub
    app.state.ip_limiter = RateLimiter(settings.api_rate_per_ip_per_s, settings.api_burst_per_ip)
    app.state.key_limiter = RateLimiter(settings.api_rate_per_key_per_s, settings.api_burst_per_key)

    @app.middleware("http")
    async def ip_rate_limit(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        path = request.url.path
        if not path.startswith(UNLIMITED_PREFIXES):
            wait = app.state.ip_limiter.take(f"ip:{_client_ip(request)}")
            if wait is not None:
                exc = too_many(wait)
                return JSONResponse(
                    error_body(request, exc.code, str(exc.detail)),
                    status_code=429,
                    headers=exc.headers,
                )
        return await call_next(request)

    @app.middleware("http")
    async def request_id(
        request: Request, call_next: Callable[[Request], Awaitable[Response]]
    ) -> Response:
        rid = request.headers.get("x-request-id") or uuid.uuid4().hex
        request.state.request_id = rid[:64]
        response = await call_next(request)
        response.headers["x-request-id"] = request.state.request_id
        return response

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = getattr(exc, "code", None) or _STATUS_CODES.get(exc.status_code, "http_error")
        return JSONResponse(
            error_body(request, code, str(exc.detail)),
            status_code=exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(ServiceError)
    async def service_error(request: Request, exc: ServiceError) -> JSONResponse:
        return JSONResponse(error_body(request, exc.code, str(exc)), status_code=exc.status)

    @app.exception_handler(AuthError)
    async def auth_error(request: Request, exc: AuthError) -> JSONResponse:
        return JSONResponse(
            error_body(request, exc.code, exc.message),
            status_code=401,
            headers={"WWW-Authenticate": "tma, Bearer"},
        )

    @app.exception_handler(JupiterError)
    async def jupiter_error(request: Request, exc: JupiterError) -> JSONResponse:
        # Nothing was recorded for the trade: the user can simply try again.
        return JSONResponse(error_body(request, exc.code, str(exc)), status_code=exc.status)

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": "invalid request"}
        where = ".".join(str(p) for p in first.get("loc", ()))
        return JSONResponse(
            error_body(request, "invalid_request", f"{where}: {first.get('msg')}"),
            status_code=422,
        )

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return JSONResponse(
            error_body(request, "internal", "internal error; quote the request id"),
            status_code=500,
        )

    @app.get("/ops/liveness", tags=["ops"])
    async def liveness() -> dict[str, str]:
        """The process is up."""
        return {"status": "ok"}

    @app.get(
        "/ops/readiness",
        tags=["ops"],
        response_model=ReadinessPublic,
        responses={503: {"model": ReadinessPublic, "description": "A dependency is down"}},
    )
    async def readiness(deps: DepsDep) -> JSONResponse:
        """Storage and (in production) Redis answer; 503 with the failing part otherwise.

        The checks run concurrently, each bounded by ``READINESS_TIMEOUT_S``: a database that
        is away answers 503 within that time, not after a driver's connect timeout.
        """

        async def database() -> None:
            async with deps.db.connect() as conn:
                await conn.execute(text("SELECT 1"))

        async def redis() -> None:
            await deps.redis.ping()

        probes = {"database": database}
        if deps.redis is not None:
            probes["redis"] = redis
        results = await asyncio.gather(*(_probe(p) for p in probes.values()))
        checks = dict(zip(probes, results, strict=True))
        ok = all(v == "ok" for v in checks.values())
        mode = "embedded" if deps.settings.embedded else "production"
        return JSONResponse(
            {"status": "ready" if ok else "degraded", "mode": mode, "checks": checks},
            status_code=200 if ok else 503,
        )

    @app.get("/metrics", tags=["ops"], include_in_schema=False)
    async def metrics() -> Response:
        """Prometheus exposition of the ``solai_*`` metrics of this process."""
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        from engine.observability.metrics import REGISTRY

        return Response(generate_latest(REGISTRY), media_type=CONTENT_TYPE_LATEST)

    for module in (market, wallets, rules, trade, me, admin):
        app.include_router(module.router)
    app.include_router(stream_router)
    _include_miniapp(app)
    return app


async def _probe(check: Callable[[], Awaitable[None]]) -> str:
    """``ok``, or ``error: <exception type>`` (a timeout is ``error: TimeoutError``)."""
    try:
        async with asyncio.timeout(READINESS_TIMEOUT_S):
            await check()
    except Exception as exc:
        return f"error: {type(exc).__name__}"
    return "ok"


def _include_miniapp(app: FastAPI) -> None:
    """The Mini App's pages and static files, when that package is present."""
    try:
        routes = importlib.import_module("webapp.miniapp.routes")
    except ImportError as exc:
        if exc.name not in ("webapp.miniapp", "webapp.miniapp.routes"):
            raise
        log.debug("no Mini App package: serving the API only")
        return
    # The router serves its own static files (with caching headers): no mount needed.
    app.include_router(routes.router)
