"""The caller's watchlist of wallets: list, track, update, untrack, import a CSV/JSON file."""

from __future__ import annotations

from typing import Annotated, Final

from fastapi import APIRouter, Path, Request, Response

from engine.services import watchlist
from engine.services.errors import InvalidInput, NotFound
from engine.smartmoney.registry import WalletFileError, parse_wallets
from engine.storage.repos import wallets as wallet_repo
from webapp.api.deps import DepsDep, UserDep
from webapp.errors import errors
from webapp.schemas import (
    RowErrorPublic,
    WalletCreate,
    WalletImportPublic,
    WalletPublic,
    WalletUpdate,
)

router = APIRouter(prefix="/wallets", tags=["wallets"], responses=errors(401, 422, 429))

MAX_IMPORT_BYTES: Final = 1 << 20
AddressPath = Annotated[str, Path(min_length=32, max_length=44)]


def _public(w: watchlist.WatchedWallet) -> WalletPublic:
    return WalletPublic(
        address=w.address,
        alias=w.alias,
        tags=list(w.tags),
        monitors=w.monitors,
        balance_lamports=w.balance_lamports,
    )


@router.get("", response_model=list[WalletPublic])
async def list_wallets(deps: DepsDep, user: UserDep) -> list[WalletPublic]:
    """The caller's tracked wallets with monitor counts and SOL balances."""
    return [_public(w) for w in await watchlist.list_watched(deps, user_id=user.id)]


@router.post("", response_model=WalletPublic, status_code=201, responses=errors(400))
async def track_wallet(body: WalletCreate, deps: DepsDep, user: UserDep) -> WalletPublic:
    """Track a wallet (or update its alias and tags)."""
    async with deps.sessions.begin() as session:
        w = await watchlist.watch_wallet(
            session,
            user_id=user.id,
            address=body.address,
            now_ms=deps.clock.now_ms(),
            alias=body.alias,
            tags=body.tags,
        )
    return _public(w)


@router.patch("/{address}", response_model=WalletPublic, responses=errors(400, 404))
async def update_wallet(
    address: AddressPath, body: WalletUpdate, deps: DepsDep, user: UserDep
) -> WalletPublic:
    """Change the alias or add tags of a wallet on the caller's watchlist."""
    addr = watchlist.check_address(address)
    async with deps.sessions.begin() as session:
        listed = {e.address for e, _ in await wallet_repo.watchlist(session, user_id=user.id)}
        if addr not in listed:
            raise NotFound("not_watched", f"{addr} is not on your watchlist", value=addr)
        w = await watchlist.watch_wallet(
            session,
            user_id=user.id,
            address=addr,
            now_ms=deps.clock.now_ms(),
            alias=body.alias,
            tags=body.tags,
        )
    return _public(w)


@router.delete("/{address}", status_code=204, responses=errors(400, 404))
async def untrack_wallet(address: AddressPath, deps: DepsDep, user: UserDep) -> Response:
    """Stop tracking a wallet."""
    async with deps.sessions.begin() as session:
        await watchlist.unwatch_wallet(session, user_id=user.id, address=address)
    return Response(status_code=204)


@router.post(
    "/import",
    response_model=WalletImportPublic,
    responses=errors(400, 413),
    openapi_extra={
        "requestBody": {
            "required": True,
            "description": "CSV `address,alias,tags` (header optional) or a JSON list.",
            "content": {
                "text/csv": {"schema": {"type": "string"}},
                "application/json": {"schema": {"type": "array", "items": {}}},
            },
        }
    },
)
async def import_wallets(request: Request, deps: DepsDep, user: UserDep) -> WalletImportPublic:
    """Import wallets: valid rows are tracked, each bad row is reported with its line."""
    body = await request.body()
    if len(body) > MAX_IMPORT_BYTES:
        raise InvalidInput(
            "file_too_large", "the file is larger than 1 MiB; split it", field="body"
        )
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise InvalidInput("not_utf8", "the file is not UTF-8 text", field="body") from None
    kind = request.headers.get("content-type", "")
    try:
        parsed = parse_wallets(text, filename="upload.json" if "json" in kind else "upload.csv")
    except WalletFileError as exc:
        raise InvalidInput("bad_file", str(exc), field="body") from None
    async with deps.sessions.begin() as session:
        imported, refused = await watchlist.import_watchlist(
            session, user_id=user.id, rows=parsed.rows, now_ms=deps.clock.now_ms()
        )
    errors_out = [
        RowErrorPublic(line=e.line, message=e.message) for e in (*parsed.errors, *refused)
    ]
    errors_out.sort(key=lambda e: e.line)
    return WalletImportPublic(imported=imported, errors=errors_out)
