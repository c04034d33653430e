"""A user's tracked wallets: watch, unwatch, and the list with balances and monitor counts."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from sqlalchemy.ext.asyncio import AsyncSession

from engine.deps import Deps
from engine.services.errors import InvalidInput, NotFound
from engine.smartmoney.registry import (
    MAX_ALIAS,
    RowError,
    WalletRow,
    import_rows,
    parse_tags,
    valid_address,
)
from engine.storage.repos import users as user_repo
from engine.storage.repos import wallets as wallet_repo

logger = logging.getLogger(__name__)

MAX_WATCHED: Final = 200
BALANCE_TIMEOUT_S: Final = 3.0


@dataclass(frozen=True, slots=True)
class WatchedWallet:
    """One row of ``/list``: alias and tags are the user's own; balance None when unknown."""

    address: str
    alias: str | None
    tags: tuple[str, ...]
    monitors: int
    """How many users watch this address."""
    balance_lamports: int | None


def check_address(address: str, *, field: str = "address") -> str:
    """The address itself when it is a valid Solana public key, else InvalidInput."""
    value = address.strip()
    if not valid_address(value):
        raise InvalidInput(
            "not_address", f"not a Solana address: {value[:60]!r}", field=field, value=value[:60]
        )
    return value


def check_alias(alias: str | None) -> str | None:
    """A trimmed alias of at most 64 characters (None when empty)."""
    if alias is None:
        return None
    value = " ".join(alias.split())
    if len(value) > MAX_ALIAS:
        raise InvalidInput(
            "alias_too_long",
            f"alias is {len(value)} characters; at most {MAX_ALIAS}",
            field="alias",
            length=len(value),
            limit=MAX_ALIAS,
        )
    return value or None


def check_tags(tags: str | Sequence[str] | None) -> tuple[str, ...]:
    """Validated lowercase tags."""
    parsed, err = parse_tags(tags)
    if err:
        raise InvalidInput("bad_tag", err, field="tags", reason=err)
    return parsed


async def watch_wallet(
    session: AsyncSession,
    *,
    user_id: int,
    address: str,
    now_ms: int,
    alias: str | None = None,
    tags: str | Sequence[str] | None = None,
) -> WatchedWallet:
    """Track a wallet (or update its alias and tags); returns it with its monitor count."""
    addr = check_address(address)
    clean_alias = check_alias(alias)
    clean_tags = check_tags(tags)
    await lock_watchlist(session, user_id=user_id)
    current = {e.address for e, _ in await wallet_repo.watchlist(session, user_id=user_id)}
    if addr not in current and len(current) >= MAX_WATCHED:
        raise InvalidInput(
            "too_many_wallets",
            f"you already watch {len(current)} wallets; at most {MAX_WATCHED}",
            field="address",
            limit=MAX_WATCHED,
        )
    entry = await wallet_repo.watch(
        session,
        user_id=user_id,
        address=addr,
        now_ms=now_ms,
        alias=clean_alias,
        tags=clean_tags,
    )
    monitors = await wallet_repo.monitor_count(session, address=addr)
    return WatchedWallet(addr, entry.alias, tuple(entry.tags), monitors, None)


async def lock_watchlist(session: AsyncSession, *, user_id: int) -> None:
    """Serialize changes to one user's watchlist until the transaction ends.

    The cap is read, then written: two concurrent adds (a /watch and an import, two imports)
    would each see room for one more. Locking the user's row (``users.lock_user``) makes the
    second wait for the first to commit.
    """
    await user_repo.lock_user(session, user_id=user_id)


async def import_watchlist(
    session: AsyncSession, *, user_id: int, rows: Sequence[WalletRow], now_ms: int
) -> tuple[int, list[RowError]]:
    """Track the rows up to the cap, in one locked transaction: (imported, rows refused).

    Rows already on the list update it and take no room; new ones past the cap are refused,
    each with its line.
    """
    await lock_watchlist(session, user_id=user_id)
    current = {e.address for e, _ in await wallet_repo.watchlist(session, user_id=user_id)}
    room = max(0, MAX_WATCHED - len(current))
    keep = [r for r in rows if r.address in current]
    refused: list[RowError] = []
    for row in (r for r in rows if r.address not in current):
        if room > 0:
            keep.append(row)
            room -= 1
        else:
            refused.append(RowError(row.line, f"watchlist is full ({MAX_WATCHED} wallets)"))
    imported = await import_rows(session, rows=keep, now_ms=now_ms, user_id=user_id)
    return imported, refused


async def unwatch_wallet(session: AsyncSession, *, user_id: int, address: str) -> str:
    """Stop tracking a wallet; NotFound when it was not on the list. Returns the address."""
    addr = check_address(address)
    if not await wallet_repo.unwatch(session, user_id=user_id, address=addr):
        raise NotFound("not_watched", f"{addr} is not on your watchlist", value=addr)
    return addr


async def list_watched(deps: Deps, *, user_id: int) -> list[WatchedWallet]:
    """The user's watchlist with monitor counts and SOL balances (None when RPC is down)."""
    async with deps.sessions() as session:
        rows = await wallet_repo.watchlist(session, user_id=user_id)
    addresses = [e.address for e, _ in rows]
    balances = await balances_of(deps, addresses)
    return [
        WatchedWallet(e.address, e.alias, tuple(e.tags), n, balances.get(e.address))
        for e, n in rows
    ]


async def balances_of(deps: Deps, addresses: Sequence[str]) -> dict[str, int]:
    """SOL balances in lamports by address; empty when no RPC is configured or it fails."""
    if not addresses or deps.rpc is None:
        return {}
    try:
        async with asyncio.timeout(BALANCE_TIMEOUT_S):
            accounts = await deps.rpc.get_multiple_accounts(list(addresses))
    except Exception as exc:
        # A list without balances beats no list: the RPC is optional for this view.
        logger.warning("balances unavailable: %s", exc)
        return {}
    return {
        addr: (acct.lamports if acct is not None else 0)
        for addr, acct in zip(addresses, accounts, strict=True)
    }
