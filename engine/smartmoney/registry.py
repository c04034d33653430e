"""Import and export tracked wallets: CSV (``address,alias,tags``) or JSON, row by row.

Bad rows are reported one by one with their line number and what is wrong; good rows are kept.
Addresses are validated as 32-byte base58 public keys; aliases are clipped text (they are shown
in chat and escaped there); tags are short lowercase words.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from solders.pubkey import Pubkey
from sqlalchemy.ext.asyncio import AsyncSession

from engine.storage.repos import wallets as wallet_repo

MAX_ROWS = 5_000
MAX_ALIAS = 64
KNOWN_TAGS = frozenset({"kol", "smart", "mm", "whale", "sniper", "dev", "insider", "fund"})
_TAG = re.compile(r"^[a-z0-9][a-z0-9_-]{0,23}$")
_TAG_SPLIT = re.compile(r"[;|\s]+")


class WalletFileError(ValueError):
    """The whole file is unusable (wrong header, too many rows, not CSV/JSON)."""


@dataclass(frozen=True, slots=True)
class WalletRow:
    """One valid wallet to track."""

    line: int
    address: str
    alias: str | None
    tags: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class RowError:
    """One rejected row: where it is and what is wrong with it."""

    line: int
    message: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.message}"


@dataclass(frozen=True, slots=True)
class ParsedWallets:
    """The outcome of parsing a file: rows to keep and rows rejected."""

    rows: list[WalletRow]
    errors: list[RowError]


def valid_address(address: str) -> bool:
    """True for a base58 string that decodes to a 32-byte public key."""
    if not 32 <= len(address) <= 44:
        return False
    try:
        Pubkey.from_string(address)
    except ValueError:
        return False
    return True


def parse_tags(raw: str | Iterable[str] | None) -> tuple[tuple[str, ...], str | None]:
    """Split and validate tags; returns (tags, error message or None)."""
    if raw is None:
        return (), None
    items = _TAG_SPLIT.split(raw) if isinstance(raw, str) else list(raw)
    tags: list[str] = []
    for item in items:
        if not isinstance(item, str):
            return (), f"tag {item!r} is not text"
        tag = item.strip().lower()
        if not tag:
            continue
        if not _TAG.match(tag):
            return (), f"tag {tag[:30]!r} must be 1-24 of a-z, 0-9, _ or -"
        if tag not in tags:
            tags.append(tag)
    return tuple(tags), None


def _row(line: int, address: Any, alias: Any, tags: Any) -> WalletRow | RowError:
    if not isinstance(address, str) or not address.strip():
        return RowError(line, "address is missing")
    address = address.strip()
    if not valid_address(address):
        return RowError(line, f"address {address[:50]!r} is not a valid Solana public key")
    if alias is not None and not isinstance(alias, str):
        return RowError(line, "alias must be text")
    alias = (alias or "").strip() or None
    if alias is not None and len(alias) > MAX_ALIAS:
        return RowError(line, f"alias is {len(alias)} characters; at most {MAX_ALIAS}")
    parsed, err = parse_tags(tags)
    if err:
        return RowError(line, err)
    return WalletRow(line, address, alias, parsed)


def parse_csv(text: str) -> ParsedWallets:
    """Parse ``address,alias,tags`` CSV (header optional; tags split by ``;``, ``|`` or spaces)."""
    reader = csv.reader(io.StringIO(text))
    rows: list[WalletRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    count = 0
    for record in reader:
        line = reader.line_num
        if not record or all(not c.strip() for c in record):
            continue
        if line == 1 and record[0].strip().lower() == "address":
            continue
        count += 1
        if count > MAX_ROWS:
            raise WalletFileError(f"more than {MAX_ROWS} rows; split the file")
        if len(record) > 3:
            errors.append(RowError(line, f"expected at most 3 columns, got {len(record)}"))
            continue
        address, alias, tags = [*record, "", ""][:3]
        _collect(_row(line, address, alias, tags), rows, errors, seen)
    return ParsedWallets(rows, errors)


def parse_json(text: str) -> ParsedWallets:
    """Parse a JSON list of ``{"address", "alias", "tags"}`` objects (or of address strings)."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise WalletFileError(f"not JSON: {exc.msg} at line {exc.lineno}") from exc
    if isinstance(data, dict) and isinstance(data.get("wallets"), list):
        data = data["wallets"]
    if not isinstance(data, list):
        raise WalletFileError("expected a JSON list of wallets")
    if len(data) > MAX_ROWS:
        raise WalletFileError(f"more than {MAX_ROWS} wallets; split the file")
    rows: list[WalletRow] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    for i, item in enumerate(data, start=1):
        if isinstance(item, str):
            item = {"address": item}
        if not isinstance(item, dict):
            errors.append(RowError(i, "each wallet must be an object or an address string"))
            continue
        _collect(
            _row(i, item.get("address"), item.get("alias"), item.get("tags")), rows, errors, seen
        )
    return ParsedWallets(rows, errors)


def parse_wallets(text: str, *, filename: str = "") -> ParsedWallets:
    """Parse CSV or JSON, chosen by file extension or by the first character."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if filename.lower().endswith(".json") or stripped[:1] in ("[", "{"):
        return parse_json(stripped)
    return parse_csv(text.lstrip("\ufeff"))


def _collect(
    result: WalletRow | RowError,
    rows: list[WalletRow],
    errors: list[RowError],
    seen: dict[str, int],
) -> None:
    if isinstance(result, RowError):
        errors.append(result)
        return
    first = seen.get(result.address)
    if first is not None:
        errors.append(RowError(result.line, f"duplicate of line {first}"))
        return
    seen[result.address] = result.line
    rows.append(result)


async def import_rows(
    session: AsyncSession,
    *,
    rows: Sequence[WalletRow],
    now_ms: int,
    user_id: int | None = None,
    featured: bool = False,
) -> int:
    """Track the rows: in a user's watchlist, or (no user) in the global registry."""
    for row in rows:
        if user_id is None:
            await wallet_repo.ensure_wallet(
                session,
                address=row.address,
                now_ms=now_ms,
                alias=row.alias,
                tags=row.tags,
                featured=featured or None,
            )
        else:
            await wallet_repo.watch(
                session,
                user_id=user_id,
                address=row.address,
                now_ms=now_ms,
                alias=row.alias,
                tags=row.tags,
            )
    return len(rows)


async def export_csv(session: AsyncSession, *, user_id: int) -> str:
    """A user's watchlist as ``address,alias,tags`` CSV (re-importable)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(["address", "alias", "tags"])
    for entry, _count in await wallet_repo.watchlist(session, user_id=user_id):
        writer.writerow([entry.address, _csv_safe(entry.alias or ""), ";".join(entry.tags)])
    return buf.getvalue()


def _csv_safe(text: str) -> str:
    # A cell starting with = + - @ runs as a formula in spreadsheets: neutralize it.
    return "'" + text if text[:1] in ("=", "+", "-", "@") else text
