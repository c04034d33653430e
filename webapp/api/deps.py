"""Dependencies of the API routes: resources, the caller, roles and the per-key rate limit."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import Depends, Request, Security
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from starlette.requests import HTTPConnection

from engine.deps import Deps
from engine.storage.models import User
from engine.trade.jupiter import JupiterClient
from webapp.auth import ANONYMOUS, AuthError, Principal, RateLimiter, authenticate, credentials
from webapp.errors import ApiError


def get_deps(conn: HTTPConnection) -> Deps:
    """The process's resources, attached to the app at creation."""
    deps: Deps = conn.app.state.deps
    return deps


def get_jupiter(request: Request) -> JupiterClient:
    """The Jupiter client of this app."""
    client: JupiterClient = request.app.state.jupiter
    return client


DepsDep = Annotated[Deps, Depends(get_deps)]
JupiterDep = Annotated[JupiterClient, Depends(get_jupiter)]


def too_many(wait_s: float) -> ApiError:
    """The 429 of an exhausted bucket, with Retry-After in whole seconds."""
    retry = max(1, math.ceil(wait_s))
    return ApiError(
        429,
        "rate_limited",
        f"too many requests; retry in {retry}s",
        headers={"Retry-After": str(retry)},
    )


async def resolve_principal(conn: HTTPConnection, deps: Deps) -> Principal:
    """Authenticate the connection's credentials (anonymous without any); AuthError on bad ones."""
    found = credentials(conn.headers)
    if found is None:
        return ANONYMOUS
    return await authenticate(deps, *found)


# Declared for the OpenAPI document only (auto_error off): ``credentials`` reads the headers.
_TMA = APIKeyHeader(
    name="Authorization",
    scheme_name="TelegramInitData",
    description="`tma <initData>`: the Mini App's raw Telegram.WebApp.initData.",
    auto_error=False,
)
_BEARER = HTTPBearer(scheme_name="ApiKeyBearer", description="`Bearer <api key>`", auto_error=False)
_API_KEY = APIKeyHeader(
    name="X-API-Key", scheme_name="ApiKey", description="An API key.", auto_error=False
)


async def get_principal(
    request: Request,
    deps: DepsDep,
    _tma: Annotated[str | None, Security(_TMA)] = None,
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)] = None,
    _key: Annotated[str | None, Security(_API_KEY)] = None,
) -> Principal:
    """The caller, with the per-user / per-key request budget taken."""
    principal = await resolve_principal(request, deps)
    if principal.rate_key is not None:
        limiter: RateLimiter = request.app.state.key_limiter
        wait = limiter.take(principal.rate_key)
        if wait is not None:
            raise too_many(wait)
    return principal


PrincipalDep = Annotated[Principal, Depends(get_principal)]


async def require_user(principal: PrincipalDep) -> User:
    """The authenticated user; 401 for anonymous callers."""
    if principal.user is None:
        raise AuthError(
            "auth_required",
            "sign in: send 'Authorization: tma <initData>' or an API key",
        )
    return principal.user


async def require_admin(principal: PrincipalDep) -> User:
    """The authenticated admin; 401 for anonymous, 403 for other users."""
    user = await require_user(principal)
    if not principal.at_least("admin"):
        raise ApiError(403, "admin_only", "this needs the admin role")
    return user


UserDep = Annotated[User, Depends(require_user)]
AdminDep = Annotated[User, Depends(require_admin)]
