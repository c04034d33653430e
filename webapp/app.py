"""The FastAPI application: built by ``create_app`` around an already-open ``Deps``."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import text
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from engine.deps import Deps

log = logging.getLogger(__name__)


def error_body(request: Request, code: str, message: str) -> dict[str, Any]:
    """The one error shape of the API."""
    return {
        "error": {"code": code, "message": message},
        "request_id": getattr(request.state, "request_id", None),
    }


def get_deps(request: Request) -> Deps:
    """The process's resources, attached to the app at creation."""
    deps: Deps = request.app.state.deps
    return deps


DepsDep = Annotated[Deps, Depends(get_deps)]


def create_app(deps: Deps) -> FastAPI:
    """Build the API over open resources (the caller opens and closes them)."""
    app = FastAPI(
        title="SolAI Signals API",
        version="0.1.0",
        description="Signals, tokens, smart money and non-custodial trading for Solana memecoins.",
    )
    app.state.deps = deps

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
        code = {404: "not_found", 405: "method_not_allowed", 401: "unauthorized"}.get(
            exc.status_code, "http_error"
        )
        return JSONResponse(error_body(request, code, str(exc.detail)), status_code=exc.status_code)

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

    @app.get("/ops/readiness", tags=["ops"])
    async def readiness(deps: DepsDep) -> JSONResponse:
        """Storage and (in production) Redis answer; 503 with the failing part otherwise."""
        checks: dict[str, str] = {}
        try:
            async with deps.db.connect() as conn:
                await conn.execute(text("SELECT 1"))
            checks["database"] = "ok"
        except Exception as exc:
            checks["database"] = f"error: {type(exc).__name__}"
        if deps.redis is not None:
            try:
                await deps.redis.ping()
                checks["redis"] = "ok"
            except Exception as exc:
                checks["redis"] = f"error: {type(exc).__name__}"
        ok = all(v == "ok" for v in checks.values())
        mode = "embedded" if deps.settings.embedded else "production"
        return JSONResponse(
            {"status": "ready" if ok else "degraded", "mode": mode, "checks": checks},
            status_code=200 if ok else 503,
        )

    return app
